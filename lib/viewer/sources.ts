/**
 * The source files the page bundle is built from, and their hash: the build
 * records the hash in page_bundle.ts and a test recomputes it, so a bundle
 * that was not rebuilt after a source change fails the tests in either
 * runtime (the two bundlers' outputs differ, their inputs do not).
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (two levels above this file). */
export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The page's entry module. */
export const ENTRY: string = join(ROOT, "lib/viewer/page/main.ts");

const IMPORT = /(?:import|export)\s[^"';]*?from\s*["'](\.{1,2}\/[^"']+)["']/g;

/**
 * Every local module reachable from `entry` by relative imports, as paths
 * relative to the repository root, sorted.
 *
 * @example
 * ```ts
 * import { ENTRY, pageSources } from "./sources.ts";
 * console.log(pageSources(ENTRY)); // ["lib/format/decoder.ts", "lib/format/constants.ts", ...]
 * ```
 */
export function pageSources(entry: string = ENTRY): string[] {
  const seen = new Set<string>();
  const todo = [resolve(entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(IMPORT)) todo.push(resolve(dirname(file), m[1]));
  }
  return [...seen].map((f) => relative(ROOT, f).split("\\").join("/")).sort();
}

/**
 * SHA-256 (hex) over the names and contents of the page's sources, with line
 * endings normalised so a checkout with CRLF gives the same hash.
 *
 * @example
 * ```ts
 * import { sourceHash } from "./sources.ts";
 * console.log(await sourceHash());
 * ```
 */
export async function sourceHash(entry: string = ENTRY): Promise<string> {
  const parts: string[] = [];
  for (const f of pageSources(entry)) {
    parts.push(f, "\0", readFileSync(join(ROOT, f), "utf8").replace(/\r\n/g, "\n"), "\0");
  }
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(parts.join("")),
  );
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * SHA-256 (hex, first 16 digits) of each of the page's sources, so that a
 * stale bundle can name the files that changed since it was built.
 *
 * @example
 * ```ts
 * import { sourceHashes } from "./sources.ts";
 * console.log(await sourceHashes()); // { "lib/format/decoder.ts": "3f2a...", ... }
 * ```
 */
export async function sourceHashes(entry: string = ENTRY): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of pageSources(entry)) {
    const text = readFileSync(join(ROOT, f), "utf8").replace(/\r\n/g, "\n");
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    out[f] = [...new Uint8Array(digest)].slice(0, 8)
      .map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  return out;
}
