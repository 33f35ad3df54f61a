/**
 * The timeline's layout: which row each task, region and log is drawn on.
 *
 * Tracks are the horizontal bands of the timeline. Each holds rows of items
 * sorted by start time that never overlap within a row, so drawing a row is
 * a binary search to the visible range followed by a walk that can skip
 * whole pixels at a time (see timeline.ts). New kinds of data (runtime
 * events such as GC, counters such as the heap) become new track kinds; the
 * format does not record them yet, so none are made here.
 *
 * @module
 */

import type { Trace } from "../../trace_model.ts";

/** What the items of a track are indices of. */
export type TrackKind = "tasks" | "regions" | "logs";

/** One row of non-overlapping items, sorted by start. */
export interface Row {
  /** Start times, ns. */
  starts: Float64Array;
  /** End times, ns (equal to the start for logs). */
  ends: Float64Array;
  /** Index of each item in `trace.tasks`, `trace.regions` or `trace.logs`. */
  items: Int32Array;
  /** Nesting depth inside its async lane (regions), for the row label. */
  depth: number;
}

/** A band of rows with a heading, e.g. one thread's regions. */
export interface Track {
  kind: TrackKind;
  label: string;
  /** Thread id for region and log tracks, 0 for the tasks track. */
  thread: number;
  rows: Row[];
}

/** Where an item was placed: its track and row. */
export interface Place {
  track: number;
  row: number;
}

/** The whole layout. */
export interface Layout {
  tracks: Track[];
  /** Placement of each task, by index in `trace.tasks`. */
  taskPlace: Place[];
  /** Placement of each region, by index in `trace.regions`. */
  regionPlace: Place[];
  /** Placement of each log, by index in `trace.logs`. */
  logPlace: Place[];
  /** Start and end of the data, ns. */
  start: number;
  end: number;
}

/** Collects items for one row before freezing it into typed arrays. */
class RowBuilder {
  starts: number[] = [];
  ends: number[] = [];
  items: number[] = [];
  constructor(public depth: number) {}
  freeze(): Row {
    return {
      starts: Float64Array.from(this.starts),
      ends: Float64Array.from(this.ends),
      items: Int32Array.from(this.items),
      depth: this.depth,
    };
  }
}

/** Lowest row whose previous item ended by `start` (rows fill in start order). */
function firstFree(free: number[], start: number, height: number): number {
  for (let r = 0;; r++) {
    let ok = true;
    for (let k = 0; k < height; k++) {
      const f = free[r + k];
      if (f !== undefined && f > start) {
        ok = false;
        r += k;
        break;
      }
    }
    if (ok) return r;
  }
}

/**
 * Lays out a trace: a track of task bars (packed into as few rows as their
 * overlaps allow), then per thread a track of log markers and a track of
 * regions where each async lane keeps its nesting and concurrent lanes get
 * rows of their own.
 *
 * @example
 * ```ts
 * import { parseTrace } from "../../trace_model.ts";
 * import { layoutTrace } from "./model.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * const layout = layoutTrace(trace);
 * console.log(layout.tracks.map((t) => `${t.label}: ${t.rows.length} rows`));
 * ```
 */
export function layoutTrace(trace: Trace): Layout {
  const end = trace.duration;
  let start = end;
  const tracks: Track[] = [];
  const taskPlace: Place[] = new Array(trace.tasks.length);
  const regionPlace: Place[] = new Array(trace.regions.length);
  const logPlace: Place[] = new Array(trace.logs.length);

  // Tasks: greedy interval packing in start order.
  const taskRows: RowBuilder[] = [];
  const taskFree: number[] = [];
  const order = trace.tasks.map((_, i) => i);
  const tStart = (i: number) => trace.tasks[i].start ?? 0;
  order.sort((a, b) => tStart(a) - tStart(b));
  for (const i of order) {
    const t = trace.tasks[i];
    const s = t.start ?? 0, e = t.end ?? end;
    const r = firstFree(taskFree, s, 1);
    taskFree[r] = Math.max(e, s + 1);
    const row = taskRows[r] ??= new RowBuilder(0);
    row.starts.push(s);
    row.ends.push(e);
    row.items.push(i);
    taskPlace[i] = { track: 0, row: r };
    if (s < start) start = s;
  }
  tracks.push({
    kind: "tasks",
    label: "Tasks",
    thread: 0,
    rows: taskRows.map((r) => r.freeze()),
  });

  const threadIds = new Set<number>();
  for (const t of trace.threads) threadIds.add(t.id);
  for (const r of trace.regions) threadIds.add(r.thread);
  for (const l of trace.logs) threadIds.add(l.thread);
  const names = new Map(trace.threads.map((t) => [t.id, t.name]));

  // Group regions by thread, then by lane, computing depth within the lane.
  interface Lane {
    start: number;
    end: number;
    height: number;
    members: number[];
    depths: number[];
    stack: number[];
  }
  const lanesByThread = new Map<number, Map<number, Lane>>();
  for (let i = 0; i < trace.regions.length; i++) {
    const reg = trace.regions[i];
    let lanes = lanesByThread.get(reg.thread);
    if (!lanes) lanesByThread.set(reg.thread, lanes = new Map());
    let lane = lanes.get(reg.lane);
    const e = reg.end ?? end;
    if (!lane) {
      lane = { start: reg.start, end: e, height: 1, members: [], depths: [], stack: [] };
      lanes.set(reg.lane, lane);
    }
    // Depth by time, not by ids: a trace with misnested ends still draws.
    const st = lane.stack;
    while (st.length > 0 && st[st.length - 1] <= reg.start) st.pop();
    lane.members.push(i);
    lane.depths.push(st.length);
    st.push(e);
    if (st.length > lane.height) lane.height = st.length;
    if (e > lane.end) lane.end = e;
    if (reg.start < start) start = reg.start;
  }
  const logsByThread = new Map<number, number[]>();
  for (let i = 0; i < trace.logs.length; i++) {
    const l = trace.logs[i];
    let list = logsByThread.get(l.thread);
    if (!list) logsByThread.set(l.thread, list = []);
    list.push(i);
    if (l.time < start) start = l.time;
  }

  for (const thread of [...threadIds].sort((a, b) => a - b)) {
    const name = names.get(thread);
    const label = name ? `Thread ${thread} (${name})` : `Thread ${thread}`;
    const logs = logsByThread.get(thread);
    if (logs) {
      const row = new RowBuilder(0);
      for (const i of logs) {
        const t = trace.logs[i].time;
        row.starts.push(t);
        row.ends.push(t);
        row.items.push(i);
        logPlace[i] = { track: tracks.length, row: 0 };
      }
      tracks.push({ kind: "logs", label: `${label} · logs`, thread, rows: [row.freeze()] });
    }
    const lanes = lanesByThread.get(thread);
    if (!lanes) continue;
    const trackIndex = tracks.length;
    const rows: RowBuilder[] = [];
    const free: number[] = [];
    // Lanes were created in start order of their first region.
    for (const lane of lanes.values()) {
      const r0 = firstFree(free, lane.start, lane.height);
      for (let k = 0; k < lane.height; k++) free[r0 + k] = Math.max(lane.end, lane.start + 1);
      for (let m = 0; m < lane.members.length; m++) {
        const i = lane.members[m];
        const reg = trace.regions[i];
        const r = r0 + lane.depths[m];
        const row = rows[r] ??= new RowBuilder(lane.depths[m]);
        row.starts.push(reg.start);
        row.ends.push(reg.end ?? end);
        row.items.push(i);
        regionPlace[i] = { track: trackIndex, row: r };
      }
    }
    // A lane placed below an earlier, longer one can start before items already in a row.
    const frozen = rows.map((r) => sortRow(r ?? new RowBuilder(0)));
    tracks.push({ kind: "regions", label: `${label} · regions`, thread, rows: frozen });
  }
  if (start > end) start = 0;
  return { tracks, taskPlace, regionPlace, logPlace, start, end };
}

/** Freezes a row, sorting its items by start if they arrived out of order. */
function sortRow(b: RowBuilder): Row {
  let sorted = true;
  for (let k = 1; k < b.starts.length; k++) {
    if (b.starts[k] < b.starts[k - 1]) {
      sorted = false;
      break;
    }
  }
  if (!sorted) {
    const idx = b.starts.map((_, k) => k).sort((x, y) => b.starts[x] - b.starts[y]);
    b.starts = idx.map((k) => b.starts[k]);
    b.ends = idx.map((k) => b.ends[k]);
    b.items = idx.map((k) => b.items[k]);
  }
  return b.freeze();
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
 *
 * @example
 * ```ts
 * import { firstStartingAt, type Row } from "./model.ts";
 * declare const row: Row;
 * const j = firstStartingAt(row, 2e6, 0);
 * ```
 */
export function firstStartingAt(row: Row, t: number, from: number): number {
  let lo = from, hi = row.starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (row.starts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
