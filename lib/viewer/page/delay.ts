/**
 * What held a task up, as far as the page can tell from the trace model:
 * the event-loop stalls caused by other work, and the GCs, that overlap
 * the task's span on the threads it ran on.
 *
 * @module
 */

import type { StallRecord, TaskRecord, Trace } from "../../read/trace_model.ts";
import { formatDuration } from "../../read/duration.ts";

/** A stall that overlapped a task, and for how long. */
export interface StallOverlap {
  /** Index into `trace.stalls`. */
  stall: number;
  /** ns of the task's span the stall covered. */
  overlap: number;
}

/** A task's span split by what overlapped it. */
export interface TaskDelay {
  /** The task's span, ns (to the trace's edge when cut by it). */
  start: number;
  end: number;
  /** Stalls caused by other work, longest overlap first. */
  stalls: StallOverlap[];
  /** ns of the span inside those stalls (they do not overlap each other on one thread). */
  stalled: number;
  /** Indices into `trace.gcs` of collections overlapping the span, and their ns inside it. */
  gcs: number[];
  gc: number;
}

/** Threads the task ran on: those of its regions and logs, else the main thread. */
function threadsOf(task: TaskRecord): Set<number> {
  const out = new Set<number>();
  for (const r of task.regions) out.add(r.thread);
  for (const l of task.logs) out.add(l.thread);
  if (out.size === 0) out.add(1);
  return out;
}

/**
 * The stalls caused by other work and the GCs that overlap `task`. A stall
 * whose running region belongs to the task itself is the task's own work,
 * not a delay.
 *
 * @example
 * ```ts
 * import { parseTrace } from "../../read/trace_model.ts";
 * import { taskDelay } from "./delay.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * const d = taskDelay(trace, trace.tasks[0]);
 * console.log(d.stalled, d.stalls.map((s) => trace.stalls[s.stall].regionType));
 * ```
 */
export function taskDelay(trace: Trace, task: TaskRecord): TaskDelay {
  const start = task.start ?? 0, end = task.end ?? trace.duration;
  const threads = threadsOf(task);
  const out: TaskDelay = { start, end, stalls: [], stalled: 0, gcs: [], gc: 0 };
  const overlap = (s: number, e: number) => Math.max(0, Math.min(e, end) - Math.max(s, start));
  trace.stalls.forEach((st, i) => {
    if (st.start >= end || st.end <= start || !threads.has(st.thread)) return;
    if (st.task === task.id && st.task !== 0) return;
    const o = overlap(st.start, st.end);
    if (o <= 0) return;
    out.stalls.push({ stall: i, overlap: o });
    out.stalled += o;
  });
  out.stalls.sort((a, b) => b.overlap - a.overlap);
  trace.gcs.forEach((g, i) => {
    if (g.start >= end || g.end <= start || !threads.has(g.thread)) return;
    out.gcs.push(i);
    if (!g.inferred) out.gc += overlap(g.start, g.end);
  });
  return out;
}

/**
 * What a stall ran, for a label: its region's type and task.
 *
 * @example
 * ```ts
 * import { parseTrace } from "../../read/trace_model.ts";
 * import { stallCulprit } from "./delay.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * if (trace.stalls[0]) console.log(stallCulprit(trace, trace.stalls[0])); // "report.build (report #701)"
 * ```
 */
export function stallCulprit(trace: Trace, st: StallRecord): string {
  const task = st.task === 0 ? undefined : trace.task(st.task);
  const who = task ? `${task.type || "task"} #${task.id}` : st.task === 0 ? "" : `task #${st.task}`;
  if (st.regionType) return who ? `${st.regionType} (${who})` : st.regionType;
  return who || "code outside any region";
}

/**
 * One line for a stall: its length and what ran.
 *
 * @example
 * ```ts
 * import { parseTrace } from "../../read/trace_model.ts";
 * import { stallLabel } from "./delay.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * if (trace.stalls[0]) console.log(stallLabel(trace, trace.stalls[0])); // "stall 156ms: report.build (report #701)"
 * ```
 */
export function stallLabel(trace: Trace, st: StallRecord): string {
  return `stall ${formatDuration(st.end - st.start)}: ${stallCulprit(trace, st)}`;
}
