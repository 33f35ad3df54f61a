/**
 * What delayed one instance of a histogram bucket, in the terms of the
 * reader's delay attribution (lib/read/delay.ts), from the stalls and GCs
 * of its thread that overlap it: the time its thread's event loop was
 * stalled by *other* work (a stall whose culprit is another task, or none),
 * and the time in garbage collection outside any stall. Without its
 * regions the index cannot tell the rest apart, so this is the "stall
 * overlap" and "delayed by" of the served page's instance lists; the focus
 * data has the full breakdown.
 *
 * @module
 */

/** A stall or GC over an instance, clipped or not. */
export interface OverItem {
  start: number;
  end: number;
  /** A stall (else a GC). */
  stall: boolean;
  /** A stall's culprit task (0: none). */
  task: number;
}

/** What {@linkcode overlapOf} finds. */
export interface Overlap {
  /** ns stalled by other work. */
  blocked: number;
  /** ns in GC, outside stalls. */
  gc: number;
  /** Index in the items of the stall of other work with the largest share, -1 if none. */
  by: number;
  /** That share, ns. */
  byDelay: number;
}

/** Total length of the union of the intervals `[s, e)` (modified: sorted in place). */
function unionLength(spans: [number, number][]): number {
  spans.sort((a, b) => a[0] - b[0]);
  let total = 0, s = -Infinity, e = -Infinity;
  for (const [a, b] of spans) {
    if (a > e) {
      total += e - s > 0 ? e - s : 0;
      s = a;
      e = b;
    } else if (b > e) e = b;
  }
  return total + (e - s > 0 ? e - s : 0);
}

/**
 * The stall and GC time of the instance [start, end] of task `self` (for a
 * region, its task) from `items`, the stalls and GCs of its thread that
 * overlap it. As in the reader's attribution, a stall of its own is not a
 * delay, and a stall wins over a GC where both are.
 *
 * @example
 * ```ts
 * import { overlapOf } from "./stall_overlap.ts";
 * overlapOf(0, 100, 7, [{ start: 50, end: 150, stall: true, task: 3 }]).blocked; // 50
 * ```
 */
export function overlapOf(start: number, end: number, self: number, items: OverItem[]): Overlap {
  const own: [number, number][] = [], stalls: [number, number][] = [];
  const gcs: [number, number][] = [], others: number[] = [];
  items.forEach((it, i) => {
    const a = Math.max(start, it.start), b = Math.min(end, it.end);
    if (b <= a) return;
    if (!it.stall) return gcs.push([a, b]);
    stalls.push([a, b]);
    if (it.task === self && self !== 0) own.push([a, b]);
    else others.push(i);
  });
  const stalled = unionLength([...stalls]);
  const gc = gcs.length ? unionLength([...gcs, ...stalls]) - stalled : 0;
  const ownLength = unionLength([...own]);
  // A stall's share: its part outside the task's own stalls (stalls of one thread do not overlap).
  let by = -1, byDelay = 0;
  for (const i of others) {
    const a = Math.max(start, items[i].start), b = Math.min(end, items[i].end);
    const share = own.length ? unionLength([[a, b], ...own]) - ownLength : b - a;
    if (share > byDelay) {
      by = i;
      byDelay = share;
    }
  }
  return { blocked: stalled - ownLength, gc, by, byDelay };
}
