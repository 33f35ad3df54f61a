/**
 * The files of a trace split into parts: `trace.out.000`, `trace.out.001`, …
 * beside each other, the earlier recording's replaced, the oldest deleted
 * beyond the retention.
 *
 * @module
 */

import { readdirSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * The path of part `n` of the trace at `path`: the number in at least three
 * digits, so that up to a thousand parts also sort by name.
 *
 * @example
 * ```ts
 * import { partPath } from "./part_files.ts";
 * partPath("trace.out", 2); // "trace.out.002"
 * ```
 */
export function partPath(path: string, n: number): string {
  return `${path}.${String(n).padStart(3, "0")}`;
}

/** The parts of one split trace on disk: which exist, and deleting the old ones. */
export class PartFiles {
  /** The trace's path, without a part number. */
  readonly path: string;
  /** Parts kept on disk (Infinity: all). */
  private keep: number;
  /** The newest part's number, -1 before the first. */
  private newest = -1;

  /** Parts of the trace at `path`, of which the newest `keep` stay. */
  constructor(path: string, keep: number) {
    this.path = path;
    this.keep = keep;
  }

  /**
   * Deletes what an earlier recording to the same path left: the file
   * `path` and its parts. A reader would otherwise take the old file for the
   * trace, or old parts for its continuation. Files that cannot be deleted
   * are left (a reader checks that parts belong to one recording).
   */
  clearEarlier(): void {
    const dir = dirname(this.path), base = basename(this.path);
    removeQuietly(this.path);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith(base + ".") && /^\d{3,}$/.test(name.slice(base.length + 1))) {
        removeQuietly(join(dir, name));
      }
    }
  }

  /** Part `n` was opened: the part that falls out of the retention is deleted. */
  opened(n: number): void {
    this.newest = n;
    const old = n - this.keep;
    if (old >= 0) removeQuietly(partPath(this.path, old));
  }

  /** The paths of the parts on disk, oldest first. */
  list(): string[] {
    const out: string[] = [];
    for (let n = Math.max(0, this.newest - this.keep + 1); n <= this.newest; n++) {
      out.push(partPath(this.path, n));
    }
    return out;
  }
}

/** Deletes a file; one already gone, or that cannot be deleted, is left alone. */
function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already, a directory, or not ours to delete.
  }
}
