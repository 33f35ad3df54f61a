/**
 * How the delay analysis reads in a terminal, shared by `runtrace why`,
 * `runtrace stalls` and `runtrace tasks`: a stall's culprit, a task's four
 * states as rows, shares as percentages.
 *
 * @module
 */

import type { StallCause, TaskDelay } from "../read/delay.ts";
import { dur } from "./table.ts";
import { oneLine } from "./tasks.ts";

/** Thread names by id, from the trace's THREAD batches. */
export type ThreadNames = ReadonlyMap<number, string>;

/** A thread as people say it: its name, or `thread N`. */
export function threadName(names: ThreadNames, id: number): string {
  const n = names.get(id);
  return n ? oneLine(n) : `thread ${id}`;
}

/**
 * What a stall was running: `report.build (report.daily #701)`, or what is
 * known of it when the region or task is not in the trace.
 *
 * @example
 * ```ts
 * import { culprit } from "./delay_text.ts";
 * import type { StallCause } from "../read/delay.ts";
 * declare const s: StallCause;
 * console.log(`delayed by a stall in ${culprit(s)}`);
 * ```
 */
export function culprit(s: StallCause): string {
  if (s.region === 0) return "no region (code outside any region)";
  const region = s.regionType !== undefined ? oneLine(s.regionType) : `region ${s.region}`;
  if (s.task === 0) return `${region} (background)`;
  return `${region} (${s.taskType ? oneLine(s.taskType) + " " : "task "}#${s.task})`;
}

/** `part` as a percentage of `whole`, one decimal. */
export function pct(part: number, whole: number): string {
  return whole > 0 ? `${(100 * part / whole).toFixed(1)}%` : "-";
}

/** The four states' labels, in the order they are shown. */
export const STATE_LABELS = {
  inRegions: "in its own regions",
  blocked: "blocked by other work",
  gc: "in garbage collection",
  waiting: "waiting, loop free",
} as const;

/** The four states of a task as table rows: label, time, share, note. */
export function breakdownRows(d: TaskDelay): string[][] {
  const stalls = d.blockedBy.map((b) => `stall in ${culprit(b.stall)}`);
  const note = stalls.length === 0
    ? ""
    : stalls.length === 1
    ? stalls[0]
    : `${stalls[0]} and ${stalls.length - 1} more`;
  return (Object.keys(STATE_LABELS) as (keyof typeof STATE_LABELS)[]).map((k) => [
    STATE_LABELS[k],
    dur(d[k]),
    pct(d[k], d.duration),
    k === "blocked" ? note : "",
  ]);
}
