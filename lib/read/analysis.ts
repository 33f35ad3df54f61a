/**
 * The analysis model behind `runtrace tasks`, `runtrace regions`, `runtrace
 * stats` and the HTML viewer: latency summaries per task type and per region
 * type, Go's latency histogram, task timelines and streaming trace statistics.
 *
 * Everything here is a pure function (or a small accumulator) over the
 * {@linkcode Trace} model or over decoded events, with no runtime-specific
 * API, so that browsers can import it too. Durations are nanoseconds.
 *
 * @example Latency per task type
 * ```ts
 * import { parseTrace } from "./trace_model.ts";
 * import { summarizeTaskTypes } from "./analysis.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * for (const s of summarizeTaskTypes(trace)) {
 *   console.log(s.type, s.complete, s.latency?.p99);
 * }
 * ```
 *
 * @module
 */

import type { EventVisitor, TraceEvent, TraceHeader } from "../format/decoder.ts";
import { IntMap, threadKey } from "./int_map.ts";
import type { LogRecord, RegionRecord, TaskRecord, Trace } from "./trace_model.ts";

// ---------------------------------------------------------------------------
// Histogram

/** Go's latency histograms have five buckets per power of ten. */
export const BUCKETS_PER_DECADE = 5;

/**
 * The histogram bucket of a duration: bucket `b` holds durations `d` with
 * `10^(b/5) ≤ d < 10^((b+1)/5)` ns, as in Go's `cmd/trace`. Durations below
 * 1ns (including 0) fall in bucket 0.
 *
 * @example
 * ```ts
 * import { bucketOf } from "./analysis.ts";
 * bucketOf(1_000_000); // 30: 1ms starts bucket 30
 * bucketOf(1_500_000); // 30: the next bucket starts at 1.58ms
 * ```
 */
export function bucketOf(ns: number): number {
  if (!(ns >= 1)) return 0;
  // log10 can be off in its last bit (and differently per engine): check the
  // estimate against the bucket bounds, which are exact integers.
  let b = Math.floor(BUCKETS_PER_DECADE * Math.log10(ns));
  if (b < 0) b = 0;
  if (ns >= bucketStart(b + 1)) b++;
  else if (b > 0 && ns < bucketStart(b)) b--;
  return b;
}

/**
 * The smallest whole-nanosecond duration in bucket `b`: `10^(b/5)` rounded
 * up.
 *
 * @example
 * ```ts
 * import { bucketStart } from "./analysis.ts";
 * bucketStart(30); // 1000000 (1ms)
 * bucketStart(31); // 1584894 (1.58ms)
 * ```
 */
export function bucketStart(b: number): number {
  // Computed once per bucket: histograms of streamed traces call this per duration.
  if (b >= 0 && b < 128 && Number.isInteger(b)) return BUCKET_STARTS[b] ??= startOf(b);
  return startOf(b);
}

const BUCKET_STARTS: number[] = [];

function startOf(b: number): number {
  const v = Math.pow(10, b / BUCKETS_PER_DECADE);
  // Durations are whole nanoseconds: the first one inside the bucket.
  return b % BUCKETS_PER_DECADE === 0 ? Math.round(v) : Math.ceil(v);
}

/** One bucket of a latency histogram. */
export interface HistogramBucket {
  /** Bucket index, see {@linkcode bucketOf}. */
  bucket: number;
  /** Smallest duration in the bucket, ns (inclusive). */
  start: number;
  /** Smallest duration of the next bucket, ns (exclusive). */
  end: number;
  /** Durations that fell in the bucket. */
  count: number;
}

/**
 * Go's high-dynamic-range latency histogram: log scale, five buckets per
 * power of ten. Add durations, then read the buckets between the lowest
 * and the highest one used (empty ones included, so bars line up).
 *
 * @example
 * ```ts
 * import { LatencyHistogram } from "./analysis.ts";
 * const h = new LatencyHistogram();
 * for (const d of [1e6, 1.2e6, 3e6]) h.add(d);
 * h.buckets().map((b) => b.count); // [2, 0, 1]
 * ```
 */
export class LatencyHistogram {
  /** Durations added. */
  count = 0;
  /** Count per bucket index (durations up to 10^25 ns have fewer than 128). */
  private counts: number[] = [];
  private lo = Infinity;
  private hi = -Infinity;

  /** Adds one duration, ns. */
  add(ns: number): void {
    this.addToBucket(bucketOf(ns), 1);
  }

  /**
   * Adds `n` durations known to fall in bucket `b` (see {@linkcode bucketOf}):
   * for callers that found the bucket a cheaper way.
   */
  addToBucket(b: number, n: number): void {
    this.counts[b] = (this.counts[b] ?? 0) + n;
    if (b < this.lo) this.lo = b;
    if (b > this.hi) this.hi = b;
    this.count += n;
  }

  /** Adds the counts of `other`. */
  merge(other: LatencyHistogram): void {
    other.counts.forEach((n, b) => this.counts[b] = (this.counts[b] ?? 0) + n);
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    this.count += other.count;
  }

  /** The buckets from the lowest to the highest used; empty if none. */
  buckets(): HistogramBucket[] {
    const out: HistogramBucket[] = [];
    for (let b = this.lo; b <= this.hi; b++) {
      out.push({
        bucket: b,
        start: bucketStart(b),
        end: bucketStart(b + 1),
        count: this.counts[b] ?? 0,
      });
    }
    return out;
  }
}

// ---------------------------------------------------------------------------
// Latency summaries

/** Percentiles and histogram of a set of durations, ns. */
export interface LatencySummary {
  /** Durations summarised. */
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Arithmetic mean, rounded to whole ns. */
  mean: number;
  /** Sum of all durations. */
  total: number;
  /** Go's histogram of the durations. */
  histogram: HistogramBucket[];
  /**
   * Present when p50, p90 and p99 are estimates (a row of more durations
   * than a streaming command keeps): their largest relative error, such as
   * 0.005. Absent when they are exact.
   */
  relativeError?: number;
}

/**
 * The nearest-rank percentile `p` (0–100) of ascending `sorted` durations:
 * the smallest value with at least p% of the values at or below it.
 *
 * @example
 * ```ts
 * import { percentile } from "./analysis.ts";
 * percentile([1, 2, 3, 4], 50); // 2
 * ```
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/**
 * Summarises durations (ns): percentiles, mean and histogram. Returns
 * `undefined` for an empty list, so callers print "-" rather than NaN.
 *
 * @example
 * ```ts
 * import { summarizeLatencies } from "./analysis.ts";
 * summarizeLatencies([3e6, 1e6, 2e6])?.p50; // 2000000
 * ```
 */
export function summarizeLatencies(durations: readonly number[]): LatencySummary | undefined {
  if (durations.length === 0) return undefined;
  const sorted = Float64Array.from(durations).sort();
  const h = new LatencyHistogram();
  let total = 0;
  for (const d of sorted) {
    h.add(d);
    total += d;
  }
  const list = Array.from(sorted);
  return {
    count: list.length,
    min: list[0],
    p50: percentile(list, 50),
    p90: percentile(list, 90),
    p99: percentile(list, 99),
    max: list[list.length - 1],
    mean: Math.round(total / list.length),
    total,
    histogram: h.buckets(),
  };
}

// ---------------------------------------------------------------------------
// Tasks

/** Label for region and log statistics of task 0. */
export const BACKGROUND = "(background)";
/** Label for a task whose creation is not in the trace. */
export const UNKNOWN_TYPE = "(unknown)";

/** A task's span, as the analysis sees it. */
export interface TaskSpan {
  /** Start, ns; 0 if the task began before the trace. */
  start: number;
  /** End, ns; the trace's end if the task did not end inside it. */
  end: number;
  /** `end - start`. */
  duration: number;
  /** The trace holds both the task's beginning and its end. */
  complete: boolean;
}

/**
 * The span of a task. An incomplete task (begun before the trace, or not
 * ended inside it) is measured to the edge of the trace, as Go does.
 *
 * @example
 * ```ts
 * import { parseTrace } from "./trace_model.ts";
 * import { taskSpan } from "./analysis.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * const slowest = Math.max(...trace.tasks.map((t) => taskSpan(trace, t).duration));
 * ```
 */
export function taskSpan(trace: Trace, task: TaskRecord): TaskSpan {
  const start = task.start ?? 0;
  const end = task.end ?? trace.duration;
  return {
    start,
    end,
    duration: Math.max(0, end - start),
    complete: task.start !== undefined && task.end !== undefined,
  };
}

/** The display type of a task: its type, or {@linkcode UNKNOWN_TYPE}. */
export function taskTypeOf(task: TaskRecord | undefined): string {
  return task && task.type !== "" ? task.type : UNKNOWN_TYPE;
}

/** Which tasks to look at; every field is optional and they combine (AND). */
export interface TaskFilter {
  /** Only tasks of this type. */
  type?: string;
  /** Only tasks that took at least this long, ns. */
  min?: number;
  /** Only tasks that took at most this long, ns. */
  max?: number;
  /** Only tasks with a log whose message or category contains this text. */
  logText?: string;
}

/**
 * The tasks that pass `filter`, in trace order.
 *
 * @example
 * ```ts
 * import { parseTrace } from "./trace_model.ts";
 * import { filterTasks } from "./analysis.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * const slow = filterTasks(trace, { type: "request", min: 100e6 });
 * ```
 */
export function filterTasks(trace: Trace, filter: TaskFilter = {}): TaskRecord[] {
  return trace.tasks.filter((t) => {
    if (filter.type !== undefined && taskTypeOf(t) !== filter.type) return false;
    if (filter.min !== undefined || filter.max !== undefined) {
      const d = taskSpan(trace, t).duration;
      if (filter.min !== undefined && d < filter.min) return false;
      if (filter.max !== undefined && d > filter.max) return false;
    }
    if (filter.logText !== undefined) {
      const s = filter.logText;
      if (!t.logs.some((l) => l.message.includes(s) || l.category.includes(s))) return false;
    }
    return true;
  });
}

/** Counts and latency of one task type (Go's "User-defined tasks" row). */
export interface TaskTypeSummary {
  type: string;
  /** Tasks of the type. */
  count: number;
  /** Tasks whose beginning and end are both in the trace. */
  complete: number;
  /** `count - complete`. */
  incomplete: number;
  /** Latency of the complete tasks; undefined if none completed. */
  latency: LatencySummary | undefined;
}

/**
 * One row per task type, in order of first appearance: counts and the
 * latency summary of complete tasks. Tasks are those that pass `filter`.
 *
 * @example
 * ```ts
 * import { parseTrace } from "./trace_model.ts";
 * import { summarizeTaskTypes } from "./analysis.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * const rows = summarizeTaskTypes(trace); // [{ type: "makeCappuccino", count: 3, ... }]
 * ```
 */
export function summarizeTaskTypes(trace: Trace, filter: TaskFilter = {}): TaskTypeSummary[] {
  const groups = new Map<string, { count: number; durations: number[] }>();
  for (const t of filterTasks(trace, filter)) {
    const type = taskTypeOf(t);
    let g = groups.get(type);
    if (!g) groups.set(type, g = { count: 0, durations: [] });
    g.count++;
    const span = taskSpan(trace, t);
    if (span.complete) g.durations.push(span.duration);
  }
  return [...groups].map(([type, g]) => ({
    type,
    count: g.count,
    complete: g.durations.length,
    incomplete: g.count - g.durations.length,
    latency: summarizeLatencies(g.durations),
  }));
}

/** One entry of a task's timeline; `time` is ns since the trace start. */
export type TimelineEntry =
  | { kind: "region"; time: number; region: RegionRecord }
  | { kind: "log"; time: number; log: LogRecord }
  | { kind: "subtask"; time: number; task: TaskRecord };

/**
 * A task's regions, logs and direct subtasks in time order (Go's per-task
 * page). Entries at the same time keep that order: regions, logs, subtasks.
 *
 * @example
 * ```ts
 * import { parseTrace } from "./trace_model.ts";
 * import { taskTimeline } from "./analysis.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * for (const e of taskTimeline(trace, trace.tasks[0])) console.log(e.time, e.kind);
 * ```
 */
export function taskTimeline(trace: Trace, task: TaskRecord): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  for (const region of task.regions) out.push({ kind: "region", time: region.start, region });
  for (const log of task.logs) out.push({ kind: "log", time: log.time, log });
  for (const id of task.children) {
    const child = trace.task(id);
    if (child) out.push({ kind: "subtask", time: child.start ?? 0, task: child });
  }
  // Array.prototype.sort is stable, so same-time entries keep the order above.
  return out.sort((a, b) => a.time - b.time);
}

/** A task instance for a list sorted by duration. */
export interface TaskInstance extends TaskSpan {
  task: TaskRecord;
}

/**
 * The tasks that pass `filter`, slowest first (ties in trace order).
 *
 * @example
 * ```ts
 * import { parseTrace } from "./trace_model.ts";
 * import { tasksByDuration } from "./analysis.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * const [slowest] = tasksByDuration(trace, { type: "makeCappuccino" });
 * ```
 */
export function tasksByDuration(trace: Trace, filter: TaskFilter = {}): TaskInstance[] {
  return filterTasks(trace, filter)
    .map((task) => ({ task, ...taskSpan(trace, task) }))
    .sort((a, b) => b.duration - a.duration);
}

// ---------------------------------------------------------------------------
// Regions

/** Counts and latency of the regions of one type inside one task type. */
export interface RegionSplit {
  /** Task type, {@linkcode BACKGROUND} for regions outside tasks. */
  taskType: string;
  count: number;
  complete: number;
  incomplete: number;
  latency: LatencySummary | undefined;
}

/** Counts and latency of one region type, split by task type. */
export interface RegionTypeSummary {
  type: string;
  count: number;
  /** Regions that began and ended inside the trace. */
  complete: number;
  incomplete: number;
  latency: LatencySummary | undefined;
  /** The same figures per task type, in order of first appearance. */
  byTaskType: RegionSplit[];
}

/** Which regions to summarise. */
export interface RegionFilter {
  /** Only regions of this type. */
  type?: string;
  /** Only regions of tasks of this type ({@linkcode BACKGROUND} for task 0). */
  taskType?: string;
}

/** The task type a region belongs to, for grouping. */
export function regionTaskType(trace: Trace, region: RegionRecord): string {
  return region.task === 0 ? BACKGROUND : taskTypeOf(trace.task(region.task));
}

/**
 * One row per region type, in order of first appearance, each split by the
 * type of the task the regions belong to. Latency covers complete regions.
 *
 * @example
 * ```ts
 * import { parseTrace } from "./trace_model.ts";
 * import { summarizeRegionTypes } from "./analysis.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * for (const r of summarizeRegionTypes(trace)) console.log(r.type, r.latency?.p50);
 * ```
 */
export function summarizeRegionTypes(
  trace: Trace,
  filter: RegionFilter = {},
): RegionTypeSummary[] {
  type Group = { count: number; durations: number[] };
  const groups = new Map<string, { all: Group; split: Map<string, Group> }>();
  for (const r of trace.regions) {
    if (filter.type !== undefined && r.type !== filter.type) continue;
    const taskType = regionTaskType(trace, r);
    if (filter.taskType !== undefined && taskType !== filter.taskType) continue;
    let g = groups.get(r.type);
    if (!g) groups.set(r.type, g = { all: { count: 0, durations: [] }, split: new Map() });
    let s = g.split.get(taskType);
    if (!s) g.split.set(taskType, s = { count: 0, durations: [] });
    g.all.count++;
    s.count++;
    if (r.end !== undefined) {
      const d = Math.max(0, r.end - r.start);
      g.all.durations.push(d);
      s.durations.push(d);
    }
  }
  const row = (g: Group) => ({
    count: g.count,
    complete: g.durations.length,
    incomplete: g.count - g.durations.length,
    latency: summarizeLatencies(g.durations),
  });
  return [...groups].map(([type, g]) => ({
    type,
    ...row(g.all),
    byTaskType: [...g.split].map(([taskType, s]) => ({ taskType, ...row(s) })),
  }));
}

// ---------------------------------------------------------------------------
// Logs

/** Which logs to show; fields combine (AND). */
export interface LogFilter {
  /** Only logs of this category. */
  category?: string;
  /** Only logs of this task id (0 for the background). */
  task?: number;
  /** Only logs whose message contains this text. */
  grep?: string;
}

/**
 * Whether a log passes `filter`. Works on the model's {@linkcode LogRecord}
 * and on streamed `log` events alike.
 *
 * @example
 * ```ts
 * import { logMatches } from "./analysis.ts";
 * logMatches({ task: 3, category: "orderID", message: "42" }, { grep: "4" }); // true
 * ```
 */
export function logMatches(
  log: Pick<LogRecord, "task" | "category" | "message">,
  filter: LogFilter,
): boolean {
  if (filter.category !== undefined && log.category !== filter.category) return false;
  if (filter.task !== undefined && log.task !== filter.task) return false;
  if (filter.grep !== undefined && !log.message.includes(filter.grep)) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Streaming statistics

/** A name and how often it occurred. */
export interface NameCount {
  name: string;
  count: number;
}

/** A thread of the trace and the events it recorded. */
export interface ThreadStats {
  id: number;
  /** Its name, "" if the trace never named it. */
  name: string;
  events: number;
}

/** The overview `runtrace stats` prints. */
export interface TraceStats {
  header: TraceHeader;
  /** Wall time from the trace start to its last event, ns. */
  duration: number;
  /** Events in the trace. */
  events: number;
  /** Size of the trace, in bytes. */
  bytes: number;
  /** Events by kind. */
  kinds: {
    taskBegin: number;
    taskEnd: number;
    regionBegin: number;
    regionEnd: number;
    log: number;
    lost: number;
    counter: number;
    stall: number;
    gc: number;
    threadEnd: number;
  };
  threads: ThreadStats[];
  /** Tasks begun, by type (most frequent first). */
  taskTypes: NameCount[];
  /** Regions begun, by type (most frequent first). */
  regionTypes: NameCount[];
  /** Logs, by category (most frequent first). */
  logCategories: NameCount[];
  /** Counter samples (heap, memory, event loop), by counter name. */
  counters: NameCount[];
  /** Event-loop stalls: how many, their total and the longest, ns. */
  stalls: { count: number; total: number; longest: number };
  /** Garbage collections; `inferred` ones are heap drops between samples. */
  gcs: { count: number; inferred: number; total: number; freed: number };
  /** Tasks begun in the trace and not ended in it. */
  openTasks: number;
  /** Regions begun in the trace and not ended in it. */
  openRegions: number;
  /** Events the recorder lost. Non-zero means the trace is incomplete. */
  lost: number;
  /** The input stopped before the end of the trace. */
  truncated: boolean;
}

/** A count kept as a map's value, bumped in place. */
interface Tally {
  n: number;
}

const EMPTY_BYTES = new Uint8Array(0);

/**
 * Accumulates {@linkcode TraceStats} from events, one at a time, in memory
 * that grows with the number of distinct types and threads, and with the
 * tasks and regions open at once, never with the length of the trace. Feed
 * it every event (`add` is a bound function, usable as a decoder callback).
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { StatsCollector } from "./analysis.ts";
 * const stats = new StatsCollector();
 * const d = new TraceDecoder(stats.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * console.log(stats.result().events);
 * ```
 */
export class StatsCollector {
  private header?: TraceHeader;
  private kinds = {
    taskBegin: 0,
    taskEnd: 0,
    regionBegin: 0,
    regionEnd: 0,
    log: 0,
    lost: 0,
    counter: 0,
    stall: 0,
    gc: 0,
    threadEnd: 0,
  };
  private counterNames = new Map<string, Tally>();
  private stalls = { count: 0, total: 0, longest: 0 };
  private gcs = { count: 0, inferred: 0, total: 0, freed: 0 };
  private threads = new Map<number, ThreadStats>();
  private taskTypes = new Map<string, Tally>();
  private regionTypes = new Map<string, Tally>();
  private categories = new Map<string, Tally>();
  private openTasks = new IntMap<boolean>();
  /** Keys {@linkcode threadKey}`(thread, region)`. */
  private openRegions = new IntMap<boolean>();
  private last?: ThreadStats;
  private end?: Extract<TraceEvent, { kind: "end" }>;

  /**
   * The decoder's fast path for the frequent kinds (no event objects, no
   * log message decoded): `new TraceDecoder(stats.add, stats.visitor)`;
   * `add` alone gives the same result.
   */
  readonly visitor: EventVisitor = {
    taskBegin: (_time, thread, task, _parent, type) => {
      this.kinds.taskBegin++;
      this.bump(this.taskTypes, type);
      this.openTasks.set(task, true);
      this.count(thread);
    },
    taskEnd: (_time, thread, task) => {
      this.kinds.taskEnd++;
      this.openTasks.delete(task);
      this.count(thread);
    },
    regionBegin: (_time, thread, region, _task, type) => {
      this.kinds.regionBegin++;
      this.bump(this.regionTypes, type);
      this.openRegions.set(threadKey(thread, region), true);
      this.count(thread);
    },
    regionEnd: (_time, thread, region) => {
      this.kinds.regionEnd++;
      this.openRegions.delete(threadKey(thread, region));
      this.count(thread);
    },
    log: (_time, thread, _task, category) => {
      this.kinds.log++;
      this.bump(this.categories, category);
      this.count(thread);
    },
  };

  /** Takes the next event. */
  add = (e: TraceEvent): void => {
    const v = this.visitor;
    switch (e.kind) {
      case "taskBegin":
        v.taskBegin(e.time, e.thread, e.task, e.parent, e.type, undefined);
        break;
      case "taskEnd":
        v.taskEnd(e.time, e.thread, e.task);
        break;
      case "regionBegin":
        v.regionBegin(e.time, e.thread, e.region, e.task, e.type, e.parent, e.lane, undefined);
        break;
      case "regionEnd":
        v.regionEnd(e.time, e.thread, e.region);
        break;
      case "log":
        v.log(e.time, e.thread, e.task, e.category, EMPTY_BYTES, 0, 0, e.truncated, undefined);
        break;
      case "lost":
        this.kinds.lost++;
        this.count(e.thread);
        break;
      case "counter":
        this.kinds.counter++;
        this.bump(this.counterNames, e.name);
        this.count(e.thread);
        break;
      case "stall":
        this.kinds.stall++;
        this.stalls.count++;
        this.stalls.total += e.duration;
        if (e.duration > this.stalls.longest) this.stalls.longest = e.duration;
        this.count(e.thread);
        break;
      case "gc":
        this.kinds.gc++;
        this.gcs.count++;
        if (e.inferred) this.gcs.inferred++;
        this.gcs.total += e.duration;
        this.gcs.freed += e.freed;
        this.count(e.thread);
        break;
      case "threadEnd":
        this.kinds.threadEnd++;
        this.count(e.thread);
        break;
      case "thread":
        this.thread(e.thread).name = e.name;
        break;
      case "header":
        this.header = e.header;
        break;
      case "end":
        this.end = e;
        break;
    }
  };

  /** The statistics; call after the `end` event. */
  result(): TraceStats {
    if (!this.header || !this.end) {
      throw new Error("runtrace: StatsCollector.result() before the end event");
    }
    const sorted = (m: Map<string, Tally>): NameCount[] =>
      [...m].map(([name, t]) => ({ name, count: t.n }))
        .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return {
      header: this.header,
      duration: this.end.time,
      events: this.end.events,
      bytes: this.end.bytes,
      kinds: { ...this.kinds },
      threads: [...this.threads.values()].sort((a, b) => a.id - b.id),
      taskTypes: sorted(this.taskTypes),
      regionTypes: sorted(this.regionTypes),
      logCategories: sorted(this.categories),
      counters: sorted(this.counterNames),
      stalls: { ...this.stalls },
      gcs: { ...this.gcs },
      openTasks: this.openTasks.size,
      openRegions: this.openRegions.size,
      lost: this.end.lost,
      truncated: this.end.truncated,
    };
  }

  /** One lookup per event: the count is a field of the map's value. */
  private bump(m: Map<string, Tally>, k: string): void {
    const t = m.get(k);
    if (t !== undefined) t.n++;
    else m.set(k, { n: 1 });
  }

  private thread(id: number): ThreadStats {
    let t = this.threads.get(id);
    if (!t) this.threads.set(id, t = { id, name: "", events: 0 });
    return t;
  }

  private count(id: number): void {
    // The common case is one thread: skip the Map lookup when it repeats.
    if (this.last !== undefined && this.last.id === id) this.last.events++;
    else (this.last = this.thread(id)).events++;
  }
}
