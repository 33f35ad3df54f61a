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
import { IdIndex } from "./id_index.ts";

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
  /** Track and row of task `i`: `[2 * i]` and `[2 * i + 1]`. */
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
 * Lays out a trace: a track of task bars (packed into as few rows as their
 * overlaps allow), then per thread a track of log markers and a track of
 * regions where each async lane keeps its nesting and concurrent lanes get
 * rows of their own. Works on typed arrays throughout: a million events lay
 * out in a fraction of a second.
 *
 * @example
 * ```ts
 * import { decodeColumns } from "./columns.ts";
 * import { layoutTrace } from "./model.ts";
 * const layout = layoutTrace(decodeColumns(await Deno.readFile("trace.out")));
 * console.log(layout.tracks.map((t) => `${t.label}: ${t.rows.length} rows`));
 * ```
 */
export function layoutTrace(c: Columns): Layout {
  const end = c.duration;
  let start = end;
  const tracks: Track[] = [];
  const { tasks, regions, logs } = c;

  // Tasks: greedy interval packing in start order (the columns' order).
  const taskStarts = new Float64Array(tasks.n), taskEnds = new Float64Array(tasks.n);
  const taskRowOf = new Int32Array(tasks.n);
  const taskRows = new RowAllocator();
  for (let i = 0; i < tasks.n; i++) {
    const s = Number.isNaN(tasks.start[i]) ? 0 : tasks.start[i];
    const e = Number.isNaN(tasks.end[i]) ? end : tasks.end[i];
    taskStarts[i] = s;
    taskEnds[i] = e;
    taskRowOf[i] = taskRows.take(s, e, 1);
    if (s < start) start = s;
  }
  tracks.push({
    kind: "tasks",
    label: "Tasks",
    thread: 0,
    rows: bucketByRow(tasks.n, taskRowOf, taskRows.free.length).map((idx) =>
      makeRow(idx, taskStarts, taskEnds, 0)
    ),
  });
  const taskPlace = new Int32Array(tasks.n * 2);
  for (let i = 0; i < tasks.n; i++) taskPlace[2 * i + 1] = taskRowOf[i];

  // Regions: depth inside each async lane, from a per-lane stack of open regions
  // kept as a linked list in typed arrays (no allocation per region).
  const rn = regions.n;
  const regionEnds = new Float64Array(rn);
  const laneOf = new Int32Array(rn);
  const depth = new Int32Array(rn);
  const below = new Int32Array(rn);
  /** Lane index by thread, then by lane id. */
  const laneKey = new Map<number, IdIndex>();
  const laneTop: number[] = [], laneStart: number[] = [], laneEnd: number[] = [];
  const laneHeight: number[] = [], laneThread: number[] = [];
  for (let i = 0; i < rn; i++) {
    const s = regions.start[i];
    const e = Number.isNaN(regions.end[i]) ? end : regions.end[i];
    regionEnds[i] = e;
    if (s < start) start = s;
    const th = regions.thread[i];
    let lanes = laneKey.get(th);
    if (!lanes) laneKey.set(th, lanes = new IdIndex());
    let L = lanes.get(regions.lane[i]);
    if (L < 0) {
      L = laneTop.length;
      lanes.set(regions.lane[i], L);
      laneTop.push(-1);
      laneStart.push(s);
      laneEnd.push(e);
      laneHeight.push(1);
      laneThread.push(th);
    }
    laneOf[i] = L;
    // Depth by time, not by ids: a trace with misnested ends still draws.
    let top = laneTop[L];
    while (top >= 0 && regionEnds[top] <= s) top = below[top];
    depth[i] = top >= 0 ? depth[top] + 1 : 0;
    below[i] = top;
    laneTop[L] = i;
    if (depth[i] + 1 > laneHeight[L]) laneHeight[L] = depth[i] + 1;
    if (e > laneEnd[L]) laneEnd[L] = e;
  }
  for (let i = 0; i < logs.n; i++) if (logs.time[i] < start) start = logs.time[i];

  const { gcs, stalls } = c;
  for (let i = 0; i < gcs.n; i++) if (gcs.start[i] < start) start = gcs.start[i];
  for (let i = 0; i < stalls.n; i++) if (stalls.start[i] < start) start = stalls.start[i];
  const gcPlace = new Int32Array(gcs.n * 2);
  const stallPlace = new Int32Array(stalls.n * 2);
  /** A track of runtime slices (GCs or stalls) of one thread, packed like tasks. */
  const spanTrack = (
    kind: "gc" | "stalls",
    label: string,
    thread: number,
    cols: { n: number; start: Float64Array; end: Float64Array; thread: Float64Array },
    place: Int32Array,
  ) => {
    const rowOf = new Int32Array(cols.n).fill(-1);
    const alloc = new RowAllocator();
    let any = false;
    for (let i = 0; i < cols.n; i++) {
      if (cols.thread[i] !== thread) continue;
      any = true;
      rowOf[i] = alloc.take(cols.start[i], cols.end[i], 1);
      place[2 * i] = tracks.length;
      place[2 * i + 1] = rowOf[i];
    }
    if (!any) return;
    tracks.push({
      kind,
      label,
      thread,
      rows: bucketByRow(cols.n, rowOf, alloc.free.length).map((idx) =>
        makeRow(idx, cols.start, cols.end, 0)
      ),
    });
  };

  const threadIds = new Set<number>(c.threads.keys());
  for (let i = 0; i < gcs.n; i++) threadIds.add(gcs.thread[i]);
  for (let i = 0; i < stalls.n; i++) threadIds.add(stalls.thread[i]);
  for (let i = 0; i < rn; i++) threadIds.add(regions.thread[i]);
  for (let i = 0; i < logs.n; i++) threadIds.add(logs.thread[i]);
  const regionPlace = new Int32Array(rn * 2);
  const logPlace = new Int32Array(logs.n * 2);
  const laneRow = new Int32Array(laneTop.length);
  const regionRow = new Int32Array(rn);

  for (const thread of [...threadIds].sort((a, b) => a - b)) {
    const name = c.threads.get(thread);
    const label = name ? `Thread ${thread} (${name})` : `Thread ${thread}`;
    spanTrack("stalls", `${label} · event-loop stalls`, thread, stalls, stallPlace);
    spanTrack("gc", `${label} · GC`, thread, gcs, gcPlace);
    let logCount = 0;
    for (let i = 0; i < logs.n; i++) if (logs.thread[i] === thread) logCount++;
    if (logCount > 0) {
      const idx = new Int32Array(logCount);
      const trackIndex = tracks.length;
      for (let i = 0, k = 0; i < logs.n; i++) {
        if (logs.thread[i] !== thread) continue;
        idx[k++] = i;
        logPlace[2 * i] = trackIndex;
      }
      tracks.push({
        kind: "logs",
        label: `${label} · logs`,
        thread,
        rows: [makeRow(idx, logs.time, logs.time, 0)],
      });
    }
    // Lanes were numbered in start order of their first region: pack them in that order.
    const rows = new RowAllocator();
    let any = false;
    for (let L = 0; L < laneTop.length; L++) {
      if (laneThread[L] !== thread) continue;
      any = true;
      laneRow[L] = rows.take(laneStart[L], laneEnd[L], laneHeight[L]);
    }
    if (!any) continue;
    const trackIndex = tracks.length;
    for (let i = 0; i < rn; i++) {
      if (regions.thread[i] !== thread) {
        regionRow[i] = -1;
        continue;
      }
      regionRow[i] = laneRow[laneOf[i]] + depth[i];
      regionPlace[2 * i] = trackIndex;
      regionPlace[2 * i + 1] = regionRow[i];
    }
    tracks.push({
      kind: "regions",
      label: `${label} · regions`,
      thread,
      rows: bucketByRow(rn, regionRow, rows.free.length).map((idx) =>
        makeRow(idx, regions.start, regionEnds, idx.length ? depth[idx[0]] : 0)
      ),
    });
  }
  // Counters last: the program's own tasks and regions come first.
  for (const series of c.counters) {
    const th = c.threads.get(series.thread);
    tracks.push({
      kind: "counter",
      label: `${series.name}${
        c.counters.some((o) => o !== series && o.name === series.name)
          ? ` · thread ${series.thread}${th ? ` (${th})` : ""}`
          : ""
      }`,
      thread: series.thread,
      rows: [],
      counter: series,
    });
    if (series.time.length && series.time[0] < start) start = series.time[0];
  }
  if (start > end) start = 0;
  return { tracks, taskPlace, regionPlace, logPlace, gcPlace, stallPlace, start, end };
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
