/**
 * A column-oriented copy of a trace for the timeline: typed arrays instead
 * of one object per task, region and log, so that a trace of a million
 * events decodes, lays out and paints in well under two seconds.
 *
 * The events come from the reader's {@linkcode TraceDecoder}, and the
 * columns follow the rules of {@linkcode TraceBuilder} (lib/read/trace_model.ts)
 * exactly, including its order: index `i` of each column is index `i` of
 * `trace.tasks`, `trace.regions` or `trace.logs` in the model that
 * `parseTrace` builds from the same bytes. The page builds that model in
 * the background for the details panel and the Tasks and Regions pages, and
 * both speak of items by the same indices.
 *
 * @module
 */

import { TraceDecoder, type TraceEvent, type TraceHeader } from "../../format/decoder.ts";
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
  if (sorted) return order;
  return order.sort((a, b) => keys[a] - keys[b] || (ties ? ties[a] - ties[b] : 0) || a - b);
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
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  const name = (s: string) => {
    let i = nameIndex.get(s);
    if (i === undefined) {
      i = names.length;
      names.push(s);
      nameIndex.set(s, i);
    }
    return i;
  };
  // Tasks in the model's creation order (first reference of any kind).
  const tIndex = new IdIndex();
  const tId = new Col(),
    tParent = new Col(),
    tType = new Col(),
    tStart = new Col(),
    tEnd = new Col();
  const emptyName = name("");
  const taskFor = (id: number): number => {
    let i = tIndex.get(id);
    if (i < 0) {
      i = tId.n;
      tIndex.set(id, i);
      tId.push(id);
      tParent.push(0);
      tType.push(emptyName);
      tStart.push(NaN);
      tEnd.push(NaN);
    }
    return i;
  };
  const rId = new Col(),
    rTask = new Col(),
    rType = new Col(),
    rThread = new Col(),
    rLane = new Col();
  const rStart = new Col(), rEnd = new Col();
  /** Open regions per thread: region id → index (-1 once ended). */
  const open = new Map<number, IdIndex>();
  const lTime = new Col(), lThread = new Col(), lTask = new Col(), lCat = new Col();
  const lMsg: string[] = [];
  const gStart = new Col(), gEnd = new Col(), gThread = new Col(), gInferred = new Col();
  const gFreed = new Col();
  const sStart = new Col(), sEnd = new Col(), sThread = new Col(), sRegion = new Col();
  const sTask = new Col();
  const series = new Map<string, { name: string; thread: number; time: Col; value: Col }>();
  const threads = new Map<number, string>();
  let header: TraceHeader | undefined;
  let events = 0, duration = 0, truncated = false, lost = 0;

  const onEvent = (e: TraceEvent): void => {
    switch (e.kind) {
      case "regionBegin": {
        const i = rId.n;
        rId.push(e.region);
        rTask.push(e.task);
        rType.push(name(e.type));
        rThread.push(e.thread);
        rLane.push(e.lane);
        rStart.push(e.time);
        rEnd.push(NaN);
        if (e.task !== 0) taskFor(e.task);
        let m = open.get(e.thread);
        if (!m) open.set(e.thread, m = new IdIndex());
        m.set(e.region, i);
        break;
      }
      case "regionEnd": {
        const m = open.get(e.thread);
        const i = m ? m.get(e.region) : -1;
        if (i >= 0) {
          m!.set(e.region, -1);
          rEnd.a[i] = e.time;
        }
        break;
      }
      case "taskBegin": {
        const i = taskFor(e.task);
        tParent.a[i] = e.parent;
        tType.a[i] = name(e.type);
        tStart.a[i] = e.time;
        if (e.parent !== 0) taskFor(e.parent);
        break;
      }
      case "taskEnd": {
        const i = taskFor(e.task);
        if (Number.isNaN(tEnd.a[i])) tEnd.a[i] = e.time;
        break;
      }
      case "log":
        lTime.push(e.time);
        lThread.push(e.thread);
        lTask.push(e.task);
        lCat.push(name(e.category));
        lMsg.push(e.message);
        if (e.task !== 0) taskFor(e.task);
        break;
      case "thread":
        threads.set(e.thread, e.name);
        break;
      case "counter": {
        const key = `${e.thread}:${e.name}`;
        let c = series.get(key);
        if (!c) {
          series.set(
            key,
            c = { name: e.name, thread: e.thread, time: new Col(), value: new Col() },
          );
        }
        c.time.push(e.time);
        c.value.push(e.value);
        break;
      }
      case "gc":
        gStart.push(e.time);
        gEnd.push(e.time + e.duration);
        gThread.push(e.thread);
        gInferred.push(e.inferred ? 1 : 0);
        gFreed.push(e.freed);
        break;
      case "stall":
        sStart.push(e.time);
        sEnd.push(e.time + e.duration);
        sThread.push(e.thread);
        sRegion.push(e.region);
        sTask.push(e.task);
        break;
      case "header":
        header = e.header;
        break;
      case "end":
        events = e.events;
        duration = e.time;
        truncated = e.truncated;
        lost = e.lost;
        break;
    }
  };
  const d = new TraceDecoder(onEvent);
  d.push(bytes);
  d.finish();

  // The model's orders: tasks by (start or 0, id), regions by start, logs by time; stable.
  const tn = tId.n;
  const tOrder = sortedOrder(tn, (i) => {
    const s = tStart.a[i];
    return Number.isNaN(s) ? 0 : s;
  }, (i) => tId.a[i]);
  const id = permute(tId.a, tOrder);
  const taskIndex = new IdIndex();
  for (let i = 0; i < tn; i++) taskIndex.set(id[i], i);
  const parent = permute(tParent.a, tOrder);
  // Subtasks here are in start order (the model lists them in order of their begin events).
  const childCount = new Int32Array(tn + 1);
  for (let i = 0; i < tn; i++) {
    const p = parent[i] === 0 ? -1 : taskIndex.get(parent[i]);
    if (p >= 0) childCount[p + 1]++;
  }
  for (let i = 0; i < tn; i++) childCount[i + 1] += childCount[i];
  const childStart = childCount.slice();
  const fill = childCount.slice();
  const children = new Int32Array(childStart[tn]);
  for (let i = 0; i < tn; i++) {
    const p = parent[i] === 0 ? -1 : taskIndex.get(parent[i]);
    if (p >= 0) children[fill[p]++] = i;
  }
  const rOrder = sortedOrder(rId.n, (i) => rStart.a[i]);
  const lOrder = sortedOrder(lTime.n, (i) => lTime.a[i]);
  const gOrder = sortedOrder(gStart.n, (i) => gStart.a[i]);
  const sOrder = sortedOrder(sStart.n, (i) => sStart.a[i]);
  const counters: CounterSeries[] = [...series.values()]
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : a.thread - b.thread)
    .map((c) => {
      const order = sortedOrder(c.time.n, (i) => c.time.a[i]);
      const value = permute(c.value.a, order);
      let max = 0;
      for (const v of value) if (v > max) max = v;
      return { name: c.name, thread: c.thread, time: permute(c.time.a, order), value, max };
    });
  return {
    header: header!,
    names,
    tasks: {
      n: tn,
      id,
      parent,
      type: permuteInt(tType.a, tOrder),
      start: permute(tStart.a, tOrder),
      end: permute(tEnd.a, tOrder),
      childStart,
      children,
    },
    regions: {
      n: rId.n,
      id: permute(rId.a, rOrder),
      task: permute(rTask.a, rOrder),
      type: permuteInt(rType.a, rOrder),
      thread: permute(rThread.a, rOrder),
      lane: permute(rLane.a, rOrder),
      start: permute(rStart.a, rOrder),
      end: permute(rEnd.a, rOrder),
    },
    logs: {
      n: lTime.n,
      time: permute(lTime.a, lOrder),
      thread: permute(lThread.a, lOrder),
      task: permute(lTask.a, lOrder),
      category: permuteInt(lCat.a, lOrder),
      message: Array.from(lOrder, (i) => lMsg[i]),
    },
    counters,
    gcs: {
      n: gStart.n,
      start: permute(gStart.a, gOrder),
      end: permute(gEnd.a, gOrder),
      thread: permute(gThread.a, gOrder),
      inferred: Uint8Array.from(gOrder, (i) => gInferred.a[i]),
      freed: permute(gFreed.a, gOrder),
    },
    stalls: {
      n: sStart.n,
      start: permute(sStart.a, sOrder),
      end: permute(sEnd.a, sOrder),
      thread: permute(sThread.a, sOrder),
      region: permute(sRegion.a, sOrder),
      task: permute(sTask.a, sOrder),
    },
    threads,
    taskIndex,
    events,
    duration,
    truncated,
    lost,
  };
}
