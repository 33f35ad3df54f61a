/**
 * Whether a module is the program's entry point, in every runtime runtrace
 * supports: the CLI and the viewer run their command only then.
 *
 * @module
 */

import { realpathSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

/**
 * Whether the module whose `import.meta` is `meta` is the program's entry
 * point: `import.meta.main` where the runtime has it (Deno, Bun, Node ≥ 24.2);
 * on older Node, whether `process.argv[1]` is this module's file, compared by
 * real path so that a bin symlink (`node_modules/.bin/runtrace`) counts.
 */
export function isEntryPoint(meta: ImportMeta): boolean {
  const main = (meta as { main?: unknown }).main;
  if (typeof main === "boolean") return main;
  const script = process.argv?.[1];
  if (!script || !meta.url.startsWith("file:")) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(meta.url));
  } catch {
    return false;
  }
}
