/**
 * A column-oriented copy of a trace for the timeline: typed arrays instead
 * of one object per task, region and log, so that a trace of a million
 * events decodes, lays out and paints in well under two seconds.
 *
 * The events come from the reader's {@linkcode TraceDecoder}; which end
 * closes which region, and how deep each region sits in its async chain,
 * come from the reader's own rules ({@linkcode RegionNesting},
 * lib/read/region_nesting.ts), the ones the trace model applies. The
 * columns keep the model's order (lib/read/trace_model.ts: tasks by start
 * then id, regions by start, logs by time): index `i` of each column is
 * index `i` of `trace.tasks`, `trace.regions` or `trace.logs` in the model
 * that `parseTrace` builds from the same bytes, as a test checks. The page
 * builds that model in the background for the details panel and the Tasks
 * and Regions pages, and both speak of items by the same indices.
 *
 * @module
 */

import {
  type EventVisitor,
  TraceDecoder,
  type TraceEvent,
  type TraceHeader,
} from "../../format/decoder.ts";
import { RegionNesting } from "../../read/region_nesting.ts";
import { IdIndex } from "./id_index.ts";

/** Tasks, by index in creation-model order (start time, then id). */
export interface TaskColumns {
  n: number;
  id: Float64Array;
  parent: Float64Array;
  /** Index into {@linkcode Columns.names}. */
  type: Int32Array;
  /** NaN if the task began before the trace. */
  start: Float64Array;
  /** NaN if the task did not end inside the trace. */
  end: Float64Array;
  /** Subtask indices of task `i`: `children.slice(childStart[i], childStart[i + 1])`. */
  childStart: Int32Array;
  children: Int32Array;
}

/** Regions, in start order. */
export interface RegionColumns {
  n: number;
  id: Float64Array;
  task: Float64Array;
  type: Int32Array;
  thread: Float64Array;
  lane: Float64Array;
  /**
   * The region's async chain (its thread, task and lane; see
   * lib/read/region_nesting.ts), numbered from 0 in order of first region.
   */
  chain: Int32Array;
  /** Open regions of its chain around it when it began (0: outermost). */
  depth: Int32Array;
  start: Float64Array;
  /** NaN if the region did not end inside the trace. */
  end: Float64Array;
}

/** Logs, in time order. */
export interface LogColumns {
  n: number;
  time: Float64Array;
  thread: Float64Array;
  task: Float64Array;
  /** Index into {@linkcode Columns.names}. */
  category: Int32Array;
  message: string[];
}

/** Samples of one counter on one thread, in time order. */
export interface CounterSeries {
  /** Such as `heap.used` (bytes) or `eventloop.utilization` (0 to 1). */
  name: string;
  thread: number;
  time: Float64Array;
  value: Float64Array;
  /** Largest value, for the chart's scale. */
  max: number;
}

/** Garbage collections, in start order (the model's `gcs` order). */
export interface GcColumns {
  n: number;
  start: Float64Array;
  end: Float64Array;
  thread: Float64Array;
  /** 1 if inferred from a heap drop between samples: the span is that window. */
  inferred: Uint8Array;
  /** Bytes the heap shrank by. */
  freed: Float64Array;
}

/** Event-loop stalls, in start order (the model's `stalls` order). */
export interface StallColumns {
  n: number;
  start: Float64Array;
  end: Float64Array;
  thread: Float64Array;
  /** Region open at the stall's midpoint, 0 if none. */
  region: Float64Array;
  task: Float64Array;
}

/** A whole trace in columns. */
export interface Columns {
  header: TraceHeader;
  /** Task types, region types and log categories, each once. */
  names: string[];
  tasks: TaskColumns;
  regions: RegionColumns;
  logs: LogColumns;
  /** Runtime events, when the recording had them. */
  counters: CounterSeries[];
  gcs: GcColumns;
  stalls: StallColumns;
  /** Threads by id, with their last name. */
  threads: Map<number, string>;
  /** Task index by task id (-1 if none). */
  taskIndex: IdIndex;
  events: number;
  duration: number;
  truncated: boolean;
  lost: number;
}

/** A growable column of numbers. */
class Col {
  a: Float64Array = new Float64Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
}

/** `src` reordered by `order`. */
function permute(src: Float64Array, order: Int32Array): Float64Array {
  const out = new Float64Array(order.length);
  for (let i = 0; i < order.length; i++) out[i] = src[order[i]];
  return out;
}

function permuteInt(src: Float64Array, order: Int32Array): Int32Array {
  const out = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) out[i] = src[order[i]];
  return out;
}

/** Indices 0..n-1 sorted by `key`, ties in index order (a stable sort, as the model's). */
function sortedOrder(n: number, key: (i: number) => number, tie?: (i: number) => number) {
  const order = new Int32Array(n);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    order[i] = i;
    keys[i] = key(i);
  }
  const ties = tie ? Float64Array.from(order, tie) : undefined;
  // Most traces arrive (nearly) in order: check before paying for a sort.
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) {
    const d = keys[i] - keys[i - 1];
    if (d < 0 || (d === 0 && ties && ties[i] < ties[i - 1])) sorted = false;
  }
  return sorted ? order : mergeRuns(keys, ties);
}

/**
 * Indices 0..n-1 sorted by `keys`, then `ties`, then index: a natural merge
 * sort, since batches from a few threads make long sorted runs. Merging
 * typed arrays, it takes a fifth of the time of an Array's sort with a
 * comparator (which boxes and calls it for every pair) at a million items.
 */
function mergeRuns(keys: Float64Array, ties: Float64Array | undefined): Int32Array {
  const n = keys.length;
  let src = new Int32Array(n), dst = new Int32Array(n);
  for (let i = 0; i < n; i++) src[i] = i;
  const less = (a: number, b: number) =>
    keys[a] < keys[b] || (keys[a] === keys[b] && ties !== undefined && ties[a] < ties[b]);
  let runs = [0];
  for (let i = 1; i < n; i++) if (less(i, i - 1)) runs.push(i);
  runs.push(n);
  // Adjacent runs merge pairwise, each pass halving them; a left run's indices are all below
  // its right neighbour's, so taking the left one on a tie keeps the index order.
  while (runs.length > 2) {
    const next = [0];
    for (let r = 0; r + 1 < runs.length; r += 2) {
      const lo = runs[r], mid = runs[r + 1], hi = r + 2 < runs.length ? runs[r + 2] : mid;
      let i = lo, j = mid, k = lo;
      while (i < mid && j < hi) dst[k++] = less(src[j], src[i]) ? src[j++] : src[i++];
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
      next.push(hi);
    }
    [src, dst] = [dst, src];
    runs = next;
  }
  return src;
}

/**
 * Log messages as their UTF-8 bytes, end to end, made strings at the end:
 * by one decode of the whole when it is ASCII (as most are), cut by their
 * byte lengths, else one by one.
 */
class MessageBytes {
  private bytes = new Uint8Array(1 << 16);
  private n = 0;
  private ends = new Col();

  add(src: Uint8Array, start: number, end: number): void {
    const k = end - start;
    if (this.n + k > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.n + k));
      grown.set(this.bytes.subarray(0, this.n));
      this.bytes = grown;
    }
    this.bytes.set(src.subarray(start, end), this.n);
    this.n += k;
    this.ends.push(this.n);
  }

  /** The messages, in the order added. */
  strings(): string[] {
    const { bytes, n, ends } = this;
    const out = new Array<string>(ends.n);
    const utf8 = new TextDecoder();
    let ascii = true;
    for (let i = 0; i < n && ascii; i++) ascii = bytes[i] < 0x80;
    const whole = ascii ? utf8.decode(bytes.subarray(0, n)) : "";
    for (let i = 0, at = 0; i < ends.n; i++) {
      const end = ends.a[i];
      out[i] = ascii ? whole.slice(at, end) : utf8.decode(bytes.subarray(at, end));
      at = end;
    }
    return out;
  }
}

/** What the nesting rules need of a region, and where its columns are. */
interface OpenRegion {
  id: number;
  type: string;
  task: number;
  index: number;
}

/** Collects the decoder's events into growable columns, in file order. */
class ColumnsBuilder implements EventVisitor {
  names: string[] = [];
  private nameIndex = new Map<string, number>();
  tIndex = new IdIndex();
  tId = new Col();
  tParent = new Col();
  tType = new Col();
  tStart = new Col();
  tEnd = new Col();
  r = { id: new Col(), task: new Col(), type: new Col(), thread: new Col(), lane: new Col() };
  rChain = new Col();
  rDepth = new Col();
  rStart = new Col();
  rEnd = new Col();
  private nesting = new RegionNesting<OpenRegion>();
  private chains = new Map<string, number>();
  /** The last chain of each lane, and each chain's thread and task. */
  private laneChain = new IdIndex();
  private chainThread = new Col();
  private chainTask = new Col();
  l = { time: new Col(), thread: new Col(), task: new Col(), category: new Col() };
  /** The log messages' UTF-8, in file order. */
  text = new MessageBytes();
  g = {
    start: new Col(),
    end: new Col(),
    thread: new Col(),
    inferred: new Col(),
    freed: new Col(),
  };
  s = { start: new Col(), end: new Col(), thread: new Col(), region: new Col(), task: new Col() };
  series = new Map<string, { name: string; thread: number; time: Col; value: Col }>();
  threads = new Map<number, string>();
  header: TraceHeader | undefined;
  events = 0;
  duration = 0;
  truncated = false;
  lost = 0;

  /** Regions and logs counted, when only the tasks are read. */
  regionCount = 0;
  logCount = 0;

  /**
   * With `tasksOnly`, regions and logs are only counted (their names and
   * tasks noted, as the whole reading does, so names and task indices are
   * the same): the first screen's quick pass.
   */
  constructor(private tasksOnly = false) {
    this.name("");
  }

  name(s: string): number {
    let i = this.nameIndex.get(s);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(s);
      this.nameIndex.set(s, i);
    }
    return i;
  }

  /** The task's column index, made on first reference (the model's creation order). */
  taskFor(id: number): number {
    let i = this.tIndex.get(id);
    if (i < 0) {
      i = this.tId.n;
      this.tIndex.set(id, i);
      this.tId.push(id);
      this.tParent.push(0);
      this.tType.push(0);
      this.tStart.push(NaN);
      this.tEnd.push(NaN);
    }
    return i;
  }

  // The reader's visitor (EventVisitor): the four kinds of a million-event trace come as
  // arguments, without an event object each (a third of the decoder's time).

  regionBegin: EventVisitor["regionBegin"] = (time, thread, region, task, type, _parent, lane) => {
    if (this.tasksOnly) {
      this.regionCount++;
      this.name(type);
      if (task !== 0) this.taskFor(task);
      return;
    }
    const index = this.r.id.n;
    const place = this.nesting.begin(thread, region, { id: region, type, task, index }, lane);
    this.r.id.push(region);
    this.r.task.push(task);
    this.r.type.push(this.name(type));
    this.r.thread.push(thread);
    this.r.lane.push(lane);
    this.rDepth.push(place.depth);
    this.rChain.push(this.chainOf(thread, task, lane));
    this.rStart.push(time);
    this.rEnd.push(NaN);
    if (task !== 0) this.taskFor(task);
  };

  regionEnd: EventVisitor["regionEnd"] = (time, thread, region) => {
    if (this.tasksOnly) return;
    const r = this.nesting.end(thread, region, time);
    if (r) this.rEnd.a[r.index] = time;
  };

  taskBegin: EventVisitor["taskBegin"] = (time, _thread, task, parent, type) => {
    const i = this.taskFor(task);
    this.tParent.a[i] = parent;
    this.tType.a[i] = this.name(type);
    this.tStart.a[i] = time;
    if (parent !== 0) this.taskFor(parent);
  };

  taskEnd: EventVisitor["taskEnd"] = (time, _thread, task) => {
    const i = this.taskFor(task);
    if (Number.isNaN(this.tEnd.a[i])) this.tEnd.a[i] = time;
  };

  log: EventVisitor["log"] = (time, thread, task, category, bytes, start, end) => {
    if (this.tasksOnly) {
      this.logCount++;
      this.name(category);
      if (task !== 0) this.taskFor(task);
      return;
    }
    this.l.time.push(time);
    this.l.thread.push(thread);
    this.l.task.push(task);
    this.l.category.push(this.name(category));
    this.text.add(bytes, start, end);
    if (task !== 0) this.taskFor(task);
  };

  /** Every other event (the rarer kinds), as the reader's event objects. */
  other = (e: TraceEvent): void => this.addOther(e);

  /** The number of the async chain (thread, task, lane), in order of first sight. */
  private chainOf(thread: number, task: number, lane: number): number {
    // Lanes are mostly unique to one chain: a lane's last chain, checked, spares a map of
    // every chain (its look-ups were most of the decoding time). Only the chains of lanes
    // shared by several chains are in the map.
    const last = this.laneChain.get(lane);
    if (last >= 0 && this.chainThread.a[last] === thread && this.chainTask.a[last] === task) {
      return last;
    }
    let c: number | undefined;
    if (last >= 0) {
      this.chains.set(`${this.chainThread.a[last]}:${this.chainTask.a[last]}:${lane}`, last);
      c = this.chains.get(`${thread}:${task}:${lane}`);
    }
    if (c === undefined) {
      c = this.chainThread.n;
      this.chainThread.push(thread);
      this.chainTask.push(task);
      if (last >= 0) this.chains.set(`${thread}:${task}:${lane}`, c);
    }
    this.laneChain.set(lane, c);
    return c;
  }

  /** Logs, threads, runtime events and the header and end. */
  private addOther(e: TraceEvent): void {
    switch (e.kind) {
      case "thread":
        this.threads.set(e.thread, e.name);
        break;
      case "counter": {
        const key = `${e.thread}:${e.name}`;
        let c = this.series.get(key);
        if (!c) {
          c = { name: e.name, thread: e.thread, time: new Col(), value: new Col() };
          this.series.set(key, c);
        }
        c.time.push(e.time);
        c.value.push(e.value);
        break;
      }
      case "gc":
        pushAll(this.g, [e.time, e.time + e.duration, e.thread, e.inferred ? 1 : 0, e.freed]);
        break;
      case "stall":
        pushAll(this.s, [e.time, e.time + e.duration, e.thread, e.region, e.task]);
        break;
      case "header":
        this.header = e.header;
        break;
      case "end":
        this.events = e.events;
        this.duration = e.time;
        this.truncated = e.truncated;
        this.lost = e.lost;
        break;
    }
  }
}

/** Pushes one value onto each column of a record of columns, in key order. */
function pushAll(cols: Record<string, Col>, values: number[]): void {
  let k = 0;
  for (const c of Object.values(cols)) c.push(values[k++]);
}

/** Tasks in the model's order (start, or 0 if before the trace; then id), with subtask lists. */
function taskColumns(b: ColumnsBuilder): { tasks: TaskColumns; taskIndex: IdIndex } {
  const tn = b.tId.n;
  const order = sortedOrder(tn, (i) => {
    const s = b.tStart.a[i];
    return Number.isNaN(s) ? 0 : s;
  }, (i) => b.tId.a[i]);
  const id = permute(b.tId.a, order);
  const taskIndex = new IdIndex();
  for (let i = 0; i < tn; i++) taskIndex.set(id[i], i);
  const parent = permute(b.tParent.a, order);
  // Subtasks here are in start order (the model lists them in order of their begin events).
  const parentAt = Int32Array.from(parent, (p) => p === 0 ? -1 : taskIndex.get(p));
  const childStart = new Int32Array(tn + 1);
  for (let i = 0; i < tn; i++) if (parentAt[i] >= 0) childStart[parentAt[i] + 1]++;
  for (let i = 0; i < tn; i++) childStart[i + 1] += childStart[i];
  const fill = childStart.slice();
  const children = new Int32Array(childStart[tn]);
  for (let i = 0; i < tn; i++) if (parentAt[i] >= 0) children[fill[parentAt[i]]++] = i;
  return {
    tasks: {
      n: tn,
      id,
      parent,
      type: permuteInt(b.tType.a, order),
      start: permute(b.tStart.a, order),
      end: permute(b.tEnd.a, order),
      childStart,
      children,
    },
    taskIndex,
  };
}

/** Regions in start order (stable, as the model's). */
function regionColumns(b: ColumnsBuilder): RegionColumns {
  const order = sortedOrder(b.r.id.n, (i) => b.rStart.a[i]);
  return {
    n: b.r.id.n,
    id: permute(b.r.id.a, order),
    task: permute(b.r.task.a, order),
    type: permuteInt(b.r.type.a, order),
    thread: permute(b.r.thread.a, order),
    lane: permute(b.r.lane.a, order),
    chain: permuteInt(b.rChain.a, order),
    depth: permuteInt(b.rDepth.a, order),
    start: permute(b.rStart.a, order),
    end: permute(b.rEnd.a, order),
  };
}

/** Counter series by name then thread, each in time order. */
function counterSeries(b: ColumnsBuilder): CounterSeries[] {
  return [...b.series.values()]
    .sort((x, y) => x.name < y.name ? -1 : x.name > y.name ? 1 : x.thread - y.thread)
    .map((c) => {
      const order = sortedOrder(c.time.n, (i) => c.time.a[i]);
      const value = permute(c.value.a, order);
      let max = 0;
      for (const v of value) if (v > max) max = v;
      return { name: c.name, thread: c.thread, time: permute(c.time.a, order), value, max };
    });
}

/**
 * Decodes a whole trace into columns. Throws the decoder's
 * `TraceFormatError` on input that is not a trace.
 *
 * @example
 * ```ts
 * import { decodeColumns } from "./columns.ts";
 * const cols = decodeColumns(await Deno.readFile("trace.out"));
 * console.log(cols.tasks.n, "tasks", cols.regions.n, "regions");
 * ```
 */
export function decodeColumns(bytes: Uint8Array): Columns {
  return columnsOf(decoded(bytes, false));
}

/** The tasks of a trace in columns, and how many regions and logs it has. */
export interface TaskScan {
  /** Columns without regions or logs (both empty), the rest as {@linkcode decodeColumns} makes it. */
  cols: Columns;
  regions: number;
  logs: number;
}

/**
 * Decodes only what the first screen of a large trace (the Overview) needs,
 * in a fifth of the time of {@linkcode decodeColumns}: the tasks (in the
 * same order and with the same names table as it), the stalls, GCs and
 * counters, and the counts of regions and logs.
 *
 * @example
 * ```ts
 * import { decodeTaskColumns } from "./columns.ts";
 * const { cols, regions } = decodeTaskColumns(await Deno.readFile("trace.out"));
 * console.log(cols.tasks.n, "tasks", regions, "regions");
 * ```
 */
export function decodeTaskColumns(bytes: Uint8Array): TaskScan {
  const b = decoded(bytes, true);
  return { cols: columnsOf(b), regions: b.regionCount, logs: b.logCount };
}

function decoded(bytes: Uint8Array, tasksOnly: boolean): ColumnsBuilder {
  const b = new ColumnsBuilder(tasksOnly);
  const d = new TraceDecoder(b.other, b);
  d.push(bytes);
  d.finish();
  return b;
}

/** The columns the builder collected, each in the model's order. */
function columnsOf(b: ColumnsBuilder): Columns {
  const { tasks, taskIndex } = taskColumns(b);
  const messages = b.text.strings();
  const lOrder = sortedOrder(b.l.time.n, (i) => b.l.time.a[i]);
  const gOrder = sortedOrder(b.g.start.n, (i) => b.g.start.a[i]);
  const sOrder = sortedOrder(b.s.start.n, (i) => b.s.start.a[i]);
  return {
    header: b.header!,
    names: b.names,
    tasks,
    regions: regionColumns(b),
    logs: {
      n: b.l.time.n,
      time: permute(b.l.time.a, lOrder),
      thread: permute(b.l.thread.a, lOrder),
      task: permute(b.l.task.a, lOrder),
      category: permuteInt(b.l.category.a, lOrder),
      message: Array.from(lOrder, (i) => messages[i]),
    },
    counters: counterSeries(b),
    gcs: {
      n: b.g.start.n,
      start: permute(b.g.start.a, gOrder),
      end: permute(b.g.end.a, gOrder),
      thread: permute(b.g.thread.a, gOrder),
      inferred: Uint8Array.from(gOrder, (i) => b.g.inferred.a[i]),
      freed: permute(b.g.freed.a, gOrder),
    },
    stalls: {
      n: b.s.start.n,
      start: permute(b.s.start.a, sOrder),
      end: permute(b.s.end.a, sOrder),
      thread: permute(b.s.thread.a, sOrder),
      region: permute(b.s.region.a, sOrder),
      task: permute(b.s.task.a, sOrder),
    },
    threads: b.threads,
    taskIndex,
    events: b.events,
    duration: b.duration,
    truncated: b.truncated,
    lost: b.lost,
  };
}
