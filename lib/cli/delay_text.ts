/**
 * How the delay analysis reads in a terminal, shared by `runtrace why`,
 * `runtrace stalls` and `runtrace tasks`: a stall's culprit, a task's four
 * states as rows, shares as percentages.
 *
 * @module
 */

import { bucketOf, bucketStart } from "../read/analysis.ts";
import type { StallCause, TaskDelay } from "../read/delay.ts";
import { dur, table } from "./table.ts";
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

/**
 * One line under a task instance: where its time went, with the stall that
 * blocked it most.
 *
 * @example
 * ```ts
 * import { delayLine } from "./delay_text.ts";
 * import type { TaskDelay } from "../read/delay.ts";
 * declare const d: TaskDelay;
 * delayLine(d); // "regions 19.0ms (10.9%), blocked 156ms (89.1%) by report.build (report.daily #701), ..."
 * ```
 */
export function delayLine(d: TaskDelay): string {
  const by = d.blockedBy.length > 0 ? ` by ${culprit(d.blockedBy[0].stall)}` : "";
  return `regions ${dur(d.inRegions)} (${pct(d.inRegions, d.duration)}), blocked ${
    dur(d.blocked)
  } (${pct(d.blocked, d.duration)})${by}, GC ${dur(d.gc)} (${pct(d.gc, d.duration)}), waiting ${
    dur(d.waiting)
  } (${pct(d.waiting, d.duration)})`;
}

/** The four states summed over the tasks of one latency bucket. */
export interface BucketDelay {
  /** The bucket (see `bucketOf` in lib/read/analysis.ts). */
  bucket: number;
  /** Smallest duration in the bucket, ns. */
  start: number;
  /** Smallest duration of the next bucket, ns. */
  end: number;
  /** Complete tasks in the bucket. */
  tasks: number;
  /** Their total duration and its four parts, ns. */
  duration: number;
  inRegions: number;
  blocked: number;
  gc: number;
  waiting: number;
}

/**
 * The complete tasks' four states summed per latency bucket (Go's
 * histogram buckets), fastest first: what the slow buckets spend their time
 * on that the fast ones do not.
 *
 * @example
 * ```ts
 * import { delayByBucket } from "./delay_text.ts";
 * import type { TaskDelay } from "../read/delay.ts";
 * declare const delays: TaskDelay[];
 * for (const b of delayByBucket(delays)) console.log(b.start, b.blocked / b.duration);
 * ```
 */
export function delayByBucket(delays: Iterable<TaskDelay>): BucketDelay[] {
  const out = new Map<number, BucketDelay>();
  for (const d of delays) {
    if (!d.complete) continue;
    const b = bucketOf(d.duration);
    let s = out.get(b);
    if (!s) {
      out.set(
        b,
        s = {
          bucket: b,
          start: bucketStart(b),
          end: bucketStart(b + 1),
          tasks: 0,
          duration: 0,
          inRegions: 0,
          blocked: 0,
          gc: 0,
          waiting: 0,
        },
      );
    }
    s.tasks++;
    s.duration += d.duration;
    s.inRegions += d.inRegions;
    s.blocked += d.blocked;
    s.gc += d.gc;
    s.waiting += d.waiting;
  }
  return [...out.values()].sort((a, b) => a.bucket - b.bucket);
}

/** The per-bucket table of `runtrace tasks --type T`: shares of each bucket's time. */
export function bucketDelayTable(buckets: readonly BucketDelay[], indent = "  "): string {
  return table(
    ["Latency", "Tasks", "Regions", "Blocked", "GC", "Waiting"],
    buckets.map((b) => [
      `${dur(b.start)} ≤ d < ${dur(b.end)}`,
      String(b.tasks),
      pct(b.inRegions, b.duration),
      pct(b.blocked, b.duration),
      pct(b.gc, b.duration),
      pct(b.waiting, b.duration),
    ]),
    ["r", "r", "r", "r", "r", "r"],
    indent,
  );
}
