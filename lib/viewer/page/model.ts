/**
 * The timeline's layout: which row each task, region and log is drawn on.
 *
 * Tracks are the horizontal bands of the timeline. Each holds rows of items
 * sorted by start time that never overlap within a row, so drawing a row is
 * a binary search to the visible range followed by a walk that can skip
 * whole pixels at a time (see timeline.ts). Runtime events have tracks of
 * their own: a chart per counter series (heap, event-loop utilisation) and,
 * per thread, GC and event-loop stall slices; another kind of runtime event
 * becomes another track kind.
 *
 * @module
 */

import type { Columns, CounterSeries } from "./columns.ts";

/** What the items of a track are indices of. */
export type TrackKind = "tasks" | "regions" | "logs" | "gc" | "stalls" | "counter";

/** One row of non-overlapping items, sorted by start. */
export interface Row {
  /** Start times, ns. */
  starts: Float64Array;
  /** End times, ns (equal to the start for logs). */
  ends: Float64Array;
  /** Index of each item in the task, region, log, GC or stall columns. */
  items: Int32Array;
  /** Nesting depth inside its async lane (regions), for the row label. */
  depth: number;
}

/** A band of rows with a heading, e.g. one thread's regions. */
export interface Track {
  kind: TrackKind;
  label: string;
  /** Thread id for per-thread tracks, 0 for the tasks track. */
  thread: number;
  /** No rows for a counter track: it draws `counter` as a chart. */
  rows: Row[];
  counter?: CounterSeries;
}

/** The whole layout. */
export interface Layout {
  tracks: Track[];
  /** Track and row of task `i`: `[2 * i]` and `[2 * i + 1]`; -1 if not laid out. */
  taskPlace: Int32Array;
  /** Track and row of region `i`, likewise. */
  regionPlace: Int32Array;
  /** Track and row of log `i`, likewise. */
  logPlace: Int32Array;
  /** Track and row of GC `i`, likewise. */
  gcPlace: Int32Array;
  /** Track and row of stall `i`, likewise. */
  stallPlace: Int32Array;
  /** Start and end of the data, ns. */
  start: number;
  end: number;
}

/**
 * Hands out rows for intervals arriving in start order. Single-row requests
 * take the topmost free row among the first 32, else the row that has been
 * free longest, found with a min-heap, so even a trace with thousands of
 * never-ending tasks packs in O(n log n); taller
 * requests (a lane with nested regions) scan for consecutive free rows.
 */
class RowAllocator {
  /** Time from which each row is free. */
  free: number[] = [];
  /** Min-heap of [free time, row]; stale entries are skipped when popped. */
  private heap: number[] = [];

  take(start: number, end: number, height: number): number {
    const until = Math.max(end, start + 1);
    if (height === 1) {
      // The topmost free row reads best (a step under its task's earlier steps);
      // past the first rows, the heap keeps packing O(n log n).
      const scan = Math.min(this.free.length, 32);
      for (let r = 0; r < scan; r++) {
        if (this.free[r] <= start) {
          this.set(r, until);
          return r;
        }
      }
      while (this.heap.length > 0) {
        const t = this.heap[0], r = this.heap[1];
        if (this.free[r] !== t) {
          this.pop();
          continue;
        }
        if (t > start) break;
        this.pop();
        this.set(r, until);
        return r;
      }
      const r = this.free.length;
      this.set(r, until);
      return r;
    }
    for (let r = 0;; r++) {
      let ok = true;
      for (let k = 0; k < height; k++) {
        const f = this.free[r + k];
        if (f !== undefined && f > start) {
          ok = false;
          r += k;
          break;
        }
      }
      if (ok) {
        for (let k = 0; k < height; k++) this.set(r + k, until);
        return r;
      }
    }
  }

  private set(r: number, t: number): void {
    this.free[r] = t;
    const h = this.heap;
    let i = h.length;
    h.push(t, r);
    while (i > 0) {
      const p = ((i / 2 - 1) >> 1) * 2;
      if (h[p] <= h[i]) break;
      [h[p], h[p + 1], h[i], h[i + 1]] = [h[i], h[i + 1], h[p], h[p + 1]];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const lastR = h.pop()!, lastT = h.pop()!;
    if (h.length === 0) return;
    h[0] = lastT;
    h[1] = lastR;
    let i = 0;
    for (;;) {
      const l = i * 2 + 2, r = l + 2;
      let m = i;
      if (l < h.length && h[l] < h[m]) m = l;
      if (r < h.length && h[r] < h[m]) m = r;
      if (m === i) break;
      [h[m], h[m + 1], h[i], h[i + 1]] = [h[i], h[i + 1], h[m], h[m + 1]];
      i = m;
    }
  }
}

/** Freezes items `idx` (already assigned to one row) into a row sorted by start. */
function makeRow(
  idx: Int32Array,
  starts: Float64Array,
  ends: Float64Array,
  depth: number,
): Row {
  const n = idx.length;
  let sorted = true;
  for (let k = 1; k < n && sorted; k++) if (starts[idx[k]] < starts[idx[k - 1]]) sorted = false;
  const items = sorted ? idx : idx.slice().sort((x, y) => starts[x] - starts[y] || x - y);
  const s = new Float64Array(n), e = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    s[k] = starts[items[k]];
    e[k] = ends[items[k]];
  }
  return { starts: s, ends: e, items, depth };
}

/** Splits `count` items into rows by `rowOf`, keeping their order. */
function bucketByRow(count: number, rowOf: Int32Array, rows: number): Int32Array[] {
  const sizes = new Int32Array(rows);
  for (let i = 0; i < count; i++) if (rowOf[i] >= 0) sizes[rowOf[i]]++;
  const out = Array.from(sizes, (n) => new Int32Array(n));
  const fill = new Int32Array(rows);
  for (let i = 0; i < count; i++) {
    const r = rowOf[i];
    if (r >= 0) out[r][fill[r]++] = i;
  }
  return out;
}

/**
 * Which items a layout shows: a flag per task, region, log, GC and stall
 * (1 shows it). Absent arrays show every item of that kind. The focus view
 * lays out one task's items this way, with the same indices as the whole
 * trace, so selections and details work alike in both.
 */
export interface LayoutFilter {
  tasks?: Uint8Array;
  regions?: Uint8Array;
  logs?: Uint8Array;
  gcs?: Uint8Array;
  stalls?: Uint8Array;
  /** Leave out the counter charts. */
  noCounters?: boolean;
}

/** A place array of `n` items, -1 (no place) until an item is laid out. */
const places = (n: number) => new Int32Array(n * 2).fill(-1);

/** Whether item `i` passes the filter `f` (undefined shows everything). */
const shown = (f: Uint8Array | undefined, i: number) => f === undefined || f[i] === 1;

/**
 * Lays out a trace: a track of task bars (packed into as few rows as their
 * overlaps allow), then per thread a track of log markers and a track of
 * regions where each async chain keeps its nesting (the reader's rules,
 * lib/read/region_nesting.ts), concurrent chains get rows of their own and
 * a task's chains sit in adjacent rows. Works on typed
 * arrays throughout: a million events lay out in a fraction of a second.
 *
 * @example
 * ```ts
 * import { decodeColumns } from "./columns.ts";
 * import { layoutTrace } from "./model.ts";
 * const layout = layoutTrace(decodeColumns(await Deno.readFile("trace.out")));
 * console.log(layout.tracks.map((t) => `${t.label}: ${t.rows.length} rows`));
 * ```
 */
export function layoutTrace(c: Columns, filter: LayoutFilter = {}): Layout {
  const tracks: Track[] = [];
  const out: Layout = {
    tracks,
    taskPlace: places(c.tasks.n),
    regionPlace: places(c.regions.n),
    logPlace: places(c.logs.n),
    gcPlace: places(c.gcs.n),
    stallPlace: places(c.stalls.n),
    start: c.duration,
    end: c.duration,
  };
  const from = (t: number) => {
    if (t < out.start) out.start = t;
  };
  layoutTasks(c, filter.tasks, out, from);
  const lanes = laneNesting(c, filter.regions, from);
  const threadIds = new Set<number>(c.threads.keys());
  const note = (
    cols: { n: number; thread: Float64Array; start?: Float64Array },
    f?: Uint8Array,
  ) => {
    for (let i = 0; i < cols.n; i++) {
      if (!shown(f, i)) continue;
      threadIds.add(cols.thread[i]);
      if (cols.start) from(cols.start[i]);
    }
  };
  note(c.gcs, filter.gcs);
  note(c.stalls, filter.stalls);
  note(c.regions, filter.regions);
  note({ n: c.logs.n, thread: c.logs.thread, start: c.logs.time }, filter.logs);
  for (const thread of [...threadIds].sort((a, b) => a - b)) {
    const name = c.threads.get(thread);
    const label = name ? `Thread ${thread} (${name})` : `Thread ${thread}`;
    spanTrack(out, "stalls", `${label} · event-loop stalls`, thread, c.stalls, filter.stalls);
    spanTrack(out, "gc", `${label} · GC`, thread, c.gcs, filter.gcs);
    logTrack(out, c, thread, label, filter.logs);
    regionTrack(out, c, thread, label, lanes);
  }
  if (!filter.noCounters) counterTracks(out, c, from);
  if (out.start > out.end) out.start = 0;
  return out;
}

/** Tasks: greedy interval packing in start order (the columns' order). */
function layoutTasks(
  c: Columns,
  filter: Uint8Array | undefined,
  out: Layout,
  from: (t: number) => void,
): void {
  const { tasks } = c;
  const starts = new Float64Array(tasks.n), ends = new Float64Array(tasks.n);
  const rowOf = new Int32Array(tasks.n).fill(-1);
  const alloc = new RowAllocator();
  for (let i = 0; i < tasks.n; i++) {
    if (!shown(filter, i)) continue;
    const s = Number.isNaN(tasks.start[i]) ? 0 : tasks.start[i];
    const e = Number.isNaN(tasks.end[i]) ? c.duration : tasks.end[i];
    starts[i] = s;
    ends[i] = e;
    rowOf[i] = alloc.take(s, e, 1);
    out.taskPlace[2 * i] = 0;
    out.taskPlace[2 * i + 1] = rowOf[i];
    from(s);
  }
  out.tracks.push({
    kind: "tasks",
    label: "Tasks",
    thread: 0,
    rows: bucketByRow(tasks.n, rowOf, alloc.free.length).map((idx) =>
      makeRow(idx, starts, ends, 0)
    ),
  });
}

/** Async chains of the regions shown, and each region's chain. */
interface Lanes {
  /** Chain of each region (-1: not shown); its depth is `regions.depth`. */
  laneOf: Int32Array;
  depth: Int32Array;
  /** Region ends, the trace's end for regions that did not end. */
  ends: Float64Array;
  /** Per chain: first start and last end of its regions shown, rows, thread, task. */
  start: Float64Array;
  end: Float64Array;
  height: Int32Array;
  thread: Float64Array;
  task: Float64Array;
  /** Chains with a region shown, in order of their first region's start. */
  order: number[];
}

/**
 * The async chains of the regions shown, from the columns' chain and depth
 * (the reader's nesting rules): a chain is as many rows tall as its deepest
 * region, and spans its regions.
 */
function laneNesting(c: Columns, filter: Uint8Array | undefined, from: (t: number) => void): Lanes {
  const { regions } = c;
  const rn = regions.n;
  let chains = 0;
  for (let i = 0; i < rn; i++) if (regions.chain[i] >= chains) chains = regions.chain[i] + 1;
  const L: Lanes = {
    laneOf: new Int32Array(rn).fill(-1),
    depth: regions.depth,
    ends: new Float64Array(rn),
    start: new Float64Array(chains).fill(NaN),
    end: new Float64Array(chains),
    height: new Int32Array(chains),
    thread: new Float64Array(chains),
    task: new Float64Array(chains),
    order: [],
  };
  for (let i = 0; i < rn; i++) {
    if (!shown(filter, i)) continue;
    const s = regions.start[i];
    const e = Number.isNaN(regions.end[i]) ? c.duration : regions.end[i];
    L.ends[i] = e;
    from(s);
    const ch = regions.chain[i];
    L.laneOf[i] = ch;
    if (Number.isNaN(L.start[ch])) {
      L.start[ch] = s;
      L.thread[ch] = regions.thread[i];
      L.task[ch] = regions.task[i];
      L.order.push(ch);
    }
    if (e > L.end[ch]) L.end[ch] = e;
    if (regions.depth[i] + 1 > L.height[ch]) L.height[ch] = regions.depth[i] + 1;
  }
  return L;
}

/**
 * First row of each lane of `thread`. A task's lanes are packed among
 * themselves first, then placed as one block, so one request's regions sit
 * in adjacent rows instead of scattered among its neighbours'; background
 * lanes (task 0) are placed one by one. Returns the number of rows.
 */
function placeLanes(lanes: Lanes, thread: number, laneRow: Int32Array): number {
  const rows = new RowAllocator();
  /** Lanes of each task on this thread, in order of their first region. */
  const groups = new Map<number, number[]>();
  const order: number[][] = [];
  for (const l of lanes.order) {
    if (lanes.thread[l] !== thread) continue;
    const task = lanes.task[l];
    const g = task === 0 ? undefined : groups.get(task);
    if (g) g.push(l);
    else {
      const list = [l];
      order.push(list);
      if (task !== 0) groups.set(task, list);
    }
  }
  for (const g of order) {
    if (g.length === 1) {
      laneRow[g[0]] = rows.take(lanes.start[g[0]], lanes.end[g[0]], lanes.height[g[0]]);
      continue;
    }
    const inner = new RowAllocator();
    let end = lanes.start[g[0]];
    for (const l of g) {
      laneRow[l] = inner.take(lanes.start[l], lanes.end[l], lanes.height[l]);
      if (lanes.end[l] > end) end = lanes.end[l];
    }
    const at = rows.take(lanes.start[g[0]], end, inner.free.length);
    for (const l of g) laneRow[l] += at;
  }
  return rows.free.length;
}

/** The regions of one thread, each lane's nesting kept, a task's lanes together. */
function regionTrack(out: Layout, c: Columns, thread: number, label: string, lanes: Lanes): void {
  const { regions } = c;
  const rn = regions.n;
  const laneRow = new Int32Array(lanes.start.length);
  const height = placeLanes(lanes, thread, laneRow);
  if (height === 0) return;
  const trackIndex = out.tracks.length;
  const regionRow = new Int32Array(rn).fill(-1);
  for (let i = 0; i < rn; i++) {
    const lane = lanes.laneOf[i];
    if (lane < 0 || regions.thread[i] !== thread) continue;
    regionRow[i] = laneRow[lane] + lanes.depth[i];
    out.regionPlace[2 * i] = trackIndex;
    out.regionPlace[2 * i + 1] = regionRow[i];
  }
  out.tracks.push({
    kind: "regions",
    label: `${label} · regions`,
    thread,
    rows: bucketByRow(rn, regionRow, height).map((idx) =>
      makeRow(idx, regions.start, lanes.ends, idx.length ? lanes.depth[idx[0]] : 0)
    ),
  });
}

/** A track of runtime slices (GCs or stalls) of one thread, packed like tasks. */
function spanTrack(
  out: Layout,
  kind: "gc" | "stalls",
  label: string,
  thread: number,
  cols: { n: number; start: Float64Array; end: Float64Array; thread: Float64Array },
  filter: Uint8Array | undefined,
): void {
  const place = kind === "gc" ? out.gcPlace : out.stallPlace;
  const rowOf = new Int32Array(cols.n).fill(-1);
  const alloc = new RowAllocator();
  let any = false;
  for (let i = 0; i < cols.n; i++) {
    if (cols.thread[i] !== thread || !shown(filter, i)) continue;
    any = true;
    rowOf[i] = alloc.take(cols.start[i], cols.end[i], 1);
    place[2 * i] = out.tracks.length;
    place[2 * i + 1] = rowOf[i];
  }
  if (!any) return;
  out.tracks.push({
    kind,
    label,
    thread,
    rows: bucketByRow(cols.n, rowOf, alloc.free.length).map((idx) =>
      makeRow(idx, cols.start, cols.end, 0)
    ),
  });
}

/** One row of log markers for a thread. */
function logTrack(
  out: Layout,
  c: Columns,
  thread: number,
  label: string,
  filter: Uint8Array | undefined,
): void {
  const { logs } = c;
  let count = 0;
  for (let i = 0; i < logs.n; i++) if (logs.thread[i] === thread && shown(filter, i)) count++;
  if (count === 0) return;
  const idx = new Int32Array(count);
  const trackIndex = out.tracks.length;
  for (let i = 0, k = 0; i < logs.n; i++) {
    if (logs.thread[i] !== thread || !shown(filter, i)) continue;
    idx[k++] = i;
    out.logPlace[2 * i] = trackIndex;
    out.logPlace[2 * i + 1] = 0;
  }
  out.tracks.push({
    kind: "logs",
    label: `${label} · logs`,
    thread,
    rows: [makeRow(idx, logs.time, logs.time, 0)],
  });
}

/** A chart per counter series, last: the program's own tasks and regions come first. */
function counterTracks(out: Layout, c: Columns, from: (t: number) => void): void {
  for (const series of c.counters) {
    const th = c.threads.get(series.thread);
    const shared = c.counters.some((o) => o !== series && o.name === series.name);
    out.tracks.push({
      kind: "counter",
      label: `${series.name}${shared ? ` · thread ${series.thread}${th ? ` (${th})` : ""}` : ""}`,
      thread: series.thread,
      rows: [],
      counter: series,
    });
    if (series.time.length) from(series.time[0]);
  }
}

/**
 * Index of the first item in `row` whose end is at or after `t` (items in a
 * row do not overlap, so ends are sorted like starts).
 *
 * @example
 * ```ts
 * import { firstEndingAfter, type Row } from "./model.ts";
 * declare const row: Row;
 * const i = firstEndingAfter(row, 1e6);
 * ```
 */
export function firstEndingAfter(row: Row, t: number): number {
  let lo = 0, hi = row.ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (row.ends[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Index of the first item at or after `from` whose start is at or after `t`.
 * Gallops from `from` before bisecting, so the common case of an answer a
 * few items ahead costs a few comparisons, not a search of the whole row.
 *
 * @example
 * ```ts
 * import { firstStartingAt, type Row } from "./model.ts";
 * declare const row: Row;
 * const j = firstStartingAt(row, 2e6, 0);
 * ```
 */
export function firstStartingAt(row: Row, t: number, from: number): number {
  const starts = row.starts;
  const n = starts.length;
  if (from >= n || starts[from] >= t) return from;
  // starts[lo] < t from here on.
  let lo = from, step = 1;
  let hi = from + 1;
  while (hi < n && starts[hi] < t) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  if (hi > n) hi = n;
  lo++;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
