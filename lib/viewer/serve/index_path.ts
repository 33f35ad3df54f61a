/**
 * Where a trace's index lives: beside the trace as `FILE.idx`, or, where
 * that directory is not writable, in the user's cache directory
 * (`$XDG_CACHE_HOME/runtrace/index/`, else `~/.cache/runtrace/index/`) under
 * a name made from the trace's absolute path. An index that is missing, of
 * another version, or older than the trace is built again.
 *
 * @module
 */

import { accessSync, constants, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import process from "node:process";
import { buildIndex, type BuildIndexOptions } from "./index_builder.ts";
import { TraceIndex } from "./trace_index.ts";

/** What {@linkcode openIndex} returns. */
export interface OpenedIndex {
  index: TraceIndex;
  /** Where the index file is. */
  path: string;
  /** It was built now (true) or reused (false). */
  built: boolean;
  /** ms spent building it (0 if reused). */
  buildMs: number;
}

/** A short stable hash of a string (FNV-1a, 32 bits), in hex. */
function hashOf(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * The cache-directory path of the index of `tracePath`.
 *
 * @example
 * ```ts
 * import { cachedIndexPath } from "./index_path.ts";
 * cachedIndexPath("/srv/trace.out"); // ~/.cache/runtrace/index/trace.out-1a2b3c4d.idx
 * ```
 */
export function cachedIndexPath(tracePath: string): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const abs = resolve(tracePath);
  return join(base, "runtrace", "index", `${basename(abs)}-${hashOf(abs)}.idx`);
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens the current index of `tracePath`, building it first if there is
 * none (beside the trace, or in the cache directory when that is not
 * writable). Throws the reader's error for a file that is not a trace.
 *
 * @example
 * ```ts
 * import { openIndex } from "./index_path.ts";
 * const { index, built } = openIndex("trace.out");
 * console.log(built ? "indexed" : "reused", index.meta.events);
 * index.close();
 * ```
 */
export function openIndex(tracePath: string, options: BuildIndexOptions = {}): OpenedIndex {
  const beside = `${tracePath}.idx`;
  const cached = cachedIndexPath(tracePath);
  for (const path of [beside, cached]) {
    if (TraceIndex.readMeta(path, tracePath)) {
      return { index: TraceIndex.open(path, tracePath), path, built: false, buildMs: 0 };
    }
  }
  let path = beside;
  if (!writable(dirname(resolve(tracePath)))) {
    path = cached;
    mkdirSync(dirname(cached), { recursive: true });
  }
  const t0 = performance.now();
  buildIndex(tracePath, path, options);
  const buildMs = performance.now() - t0;
  return { index: TraceIndex.open(path, tracePath), path, built: true, buildMs };
}
