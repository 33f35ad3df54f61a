/**
 * `--csv` output of `runtrace tasks` and `runtrace regions`: their tables as
 * RFC 4180 comma-separated values, durations in whole nanoseconds, for a
 * spreadsheet or a script.
 *
 * @module
 */

import type { RegionTypeSummary, TaskTypeSummary } from "../read/analysis.ts";
import type { TaskDelay } from "../read/delay.ts";
import { culprit } from "./delay_text.ts";

/**
 * One CSV record: cells quoted when they hold a comma, a quote or a line
 * break (quotes doubled); `undefined` is an empty cell.
 *
 * @example
 * ```ts
 * import { csvLine } from "./csv.ts";
 * csvLine(["a,b", 1, undefined]); // '"a,b",1,\r\n'
 * ```
 */
export function csvLine(cells: readonly (string | number | boolean | undefined)[]): string {
  return cells.map((c) => {
    const s = c === undefined || (typeof c === "number" && Number.isNaN(c)) ? "" : String(c);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  }).join(",") + "\r\n";
}

const LATENCY = ["p50_ns", "p90_ns", "p99_ns", "max_ns", "mean_ns"];

/**
 * The task-type table as CSV: one record per type.
 *
 * @example
 * ```ts
 * import { taskTypesCsv } from "./csv.ts";
 * taskTypesCsv([]); // just the header record
 * ```
 */
export function taskTypesCsv(types: readonly TaskTypeSummary[]): string {
  return csvLine(["task_type", "count", "complete", "incomplete", ...LATENCY]) +
    types.map((t) =>
      csvLine([
        t.type,
        t.count,
        t.complete,
        t.incomplete,
        t.latency?.p50,
        t.latency?.p90,
        t.latency?.p99,
        t.latency?.max,
        t.latency?.mean,
      ])
    ).join("");
}

/**
 * The instances of `runtrace tasks --type T` as CSV, slowest first, with
 * where each one's time went.
 *
 * @example
 * ```ts
 * import { taskDelaysCsv } from "./csv.ts";
 * taskDelaysCsv([]); // just the header record
 * ```
 */
export function taskDelaysCsv(delays: readonly TaskDelay[]): string {
  return csvLine([
    "id",
    "type",
    "parent",
    "thread",
    "start_ns",
    "end_ns",
    "duration_ns",
    "complete",
    "in_regions_ns",
    "blocked_ns",
    "gc_ns",
    "waiting_ns",
    "blocked_most_by",
  ]) + delays.map((d) =>
    csvLine([
      d.id,
      d.type,
      d.parent,
      d.thread,
      d.start,
      d.end,
      d.duration,
      d.complete,
      d.inRegions,
      d.blocked,
      d.gc,
      d.waiting,
      d.blockedBy.length > 0 ? culprit(d.blockedBy[0].stall) : undefined,
    ])
  ).join("");
}

/**
 * The region-type table as CSV: per region type, one record for all its
 * regions (task type `*`) and one per task type.
 *
 * @example
 * ```ts
 * import { regionTypesCsv } from "./csv.ts";
 * regionTypesCsv([]); // just the header record
 * ```
 */
export function regionTypesCsv(types: readonly RegionTypeSummary[]): string {
  const rows = [
    csvLine(["region_type", "task_type", "count", "complete", "incomplete", ...LATENCY]),
  ];
  for (const r of types) {
    for (const s of [{ taskType: "*", ...r }, ...r.byTaskType]) {
      rows.push(csvLine([
        r.type,
        s.taskType,
        s.count,
        s.complete,
        s.incomplete,
        s.latency?.p50,
        s.latency?.p90,
        s.latency?.p99,
        s.latency?.max,
        s.latency?.mean,
      ]));
    }
  }
  return rows.join("");
}
