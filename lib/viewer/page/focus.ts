/**
 * The focus view of one task: a layout of the same columns that shows only
 * the task and its subtasks (their regions nested as they ran, lane by lane,
 * and their logs), the stalls and GCs that overlap it drawn across every
 * row, and the regions that caused those stalls, so the culprit is on
 * screen beside its victim.
 *
 * @module
 */

import { formatDuration } from "../../read/duration.ts";
import type { Columns } from "./columns.ts";
import { type Layout, layoutTrace } from "./model.ts";
import type { Band } from "./timeline.ts";
import { type PageModel, stallLabel } from "./delay.ts";

/** A task's focus view: its layout, the bands drawn across it and the range shown first. */
export interface Focus {
  /** Index of the task in the columns and in `trace.tasks`. */
  task: number;
  layout: Layout;
  bands: Band[];
  /** The default zoom: the task and the regions that stalled it, ns. */
  t0: number;
  t1: number;
  /** Indices into `trace.regions` of the regions running during the stalls that delayed it. */
  culprits: number[];
}

/** Indices of task `i` and its subtasks, transitively. */
function familyOf(cols: Columns, i: number): Uint8Array {
  const { tasks } = cols;
  const in_ = new Uint8Array(tasks.n);
  const todo = [i];
  while (todo.length > 0) {
    const t = todo.pop()!;
    if (in_[t]) continue;
    in_[t] = 1;
    for (let k = tasks.childStart[t]; k < tasks.childStart[t + 1]; k++) {
      todo.push(tasks.children[k]);
    }
  }
  return in_;
}

/**
 * Builds the focus view of task `index`.
 *
 * @example
 * ```ts
 * import { decodeColumns } from "./columns.ts";
 * import { focusTask } from "./focus.ts";
 * import type { PageModel } from "./delay.ts";
 * declare const model: PageModel;
 * const f = focusTask(decodeColumns(await Deno.readFile("trace.out")), model, 0);
 * console.log(f.bands.map((b) => b.label));
 * ```
 */
export function focusTask(cols: Columns, model: PageModel, index: number): Focus {
  const { trace, delays } = model;
  const family = familyOf(cols, index);
  const ids = new Set<number>();
  family.forEach((on, i) => on && ids.add(cols.tasks.id[i]));
  const delay = delays.of(trace.tasks[index]);
  const regions = new Uint8Array(cols.regions.n);
  for (let i = 0; i < cols.regions.n; i++) if (ids.has(cols.regions.task[i])) regions[i] = 1;
  const logs = new Uint8Array(cols.logs.n);
  for (let i = 0; i < cols.logs.n; i++) if (ids.has(cols.logs.task[i])) logs[i] = 1;
  const stalls = new Uint8Array(cols.stalls.n);
  const gcs = new Uint8Array(cols.gcs.n);
  const bands: Band[] = [];
  let t0 = delay.start, t1 = delay.end;
  // The regions that ran during the stalls: found in one pass over the regions, not one per stall.
  const wanted = new Set<number>();
  for (const { stall } of delay.blockedBy) {
    const si = delays.stallIndex(stall);
    if (si >= 0) stalls[si] = 1;
    bands.push({ start: stall.start, end: stall.end, kind: "stall", label: stallLabel(stall) });
    if (stall.region !== 0) wanted.add(stall.thread * 4294967296 + stall.region);
  }
  const culprits: number[] = [];
  for (let r = 0; r < cols.regions.n && wanted.size > culprits.length; r++) {
    if (!wanted.has(cols.regions.thread[r] * 4294967296 + cols.regions.id[r])) continue;
    regions[r] = 1;
    culprits.push(r);
    t0 = Math.min(t0, cols.regions.start[r]);
    const end = cols.regions.end[r];
    t1 = Math.max(t1, Number.isNaN(end) ? cols.duration : end);
  }
  trace.gcs.forEach((gc, g) => {
    if (gc.thread !== delay.thread || gc.end <= delay.start || gc.start >= delay.end) return;
    gcs[g] = 1;
    bands.push({
      start: gc.start,
      end: gc.end,
      kind: "gc",
      label: gc.inferred
        ? `GC somewhere in these ${formatDuration(gc.end - gc.start)}`
        : `GC ${formatDuration(gc.end - gc.start)}`,
    });
  });
  const layout = layoutTrace(cols, { tasks: family, regions, logs, stalls, gcs, noCounters: true });
  const pad = Math.max(1000, (t1 - t0) * 0.04);
  return { task: index, layout, bands, t0: Math.max(0, t0 - pad), t1: t1 + pad, culprits };
}
