/**
 * A split trace (`start(path, { split })`) as the one file `view --serve`
 * can index: its parts joined, once, into the cache directory, and joined
 * again only when a part is newer than the joined copy.
 *
 * @module
 */

import { mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import process from "node:process";
import { fileOutput, PART_LIST_SEPARATOR, processIO } from "../../cli/io.ts";
import { writeJoinedParts } from "../../cli/merge.ts";
import { cachedIndexPath } from "./index_path.ts";

/** What {@linkcode joinedTrace} returns. */
export interface JoinedTrace {
  /** The joined file, to be indexed and served. */
  path: string;
  /** It was written now (true) or reused (false). */
  written: boolean;
}

/**
 * The path of one file holding the parts of the split trace `name` (listed
 * in `parts`, in order), joined as `runtrace merge` joins them: written in
 * the cache directory next to the indexes, reused while no part is newer
 * than it. The file is written under a temporary name and renamed, so an
 * interrupted join never leaves a half trace to be indexed.
 *
 * @example
 * ```ts
 * import { joinedTrace } from "./joined_trace.ts";
 * const { path } = await joinedTrace("trace.out", ["trace.out.000", "trace.out.001"]);
 * console.log(`serving ${path}`);
 * ```
 */
export async function joinedTrace(name: string, parts: readonly string[]): Promise<JoinedTrace> {
  const path = cachedIndexPath(name).replace(/\.idx$/, ".joined.trace");
  let newest = 0;
  for (const p of parts) newest = Math.max(newest, statSync(p).mtimeMs);
  try {
    if (statSync(path).mtimeMs >= newest) return { path, written: false };
  } catch {
    // Not joined yet.
  }
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  const file = await fileOutput(temp);
  try {
    await writeJoinedParts(parts.join(PART_LIST_SEPARATOR), file, processIO());
  } catch (e) {
    await file.close();
    rmSync(temp, { force: true });
    throw e;
  }
  await file.close();
  renameSync(temp, path);
  return { path, written: true };
}
