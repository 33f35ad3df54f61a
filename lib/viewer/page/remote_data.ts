/// <reference lib="dom" />
/**
 * The served page's data source: what `runtrace view --serve` answers
 * (lib/viewer/serve/trace_server.ts), fetched from the page's own origin
 * and decoded into typed arrays.
 *
 * @module
 */

import type {
  BucketPage,
  FocusData,
  IndexMeta,
  LogFilter,
  LogPage,
  SliceRef,
} from "../serve/index_layout.ts";

/** The index's meta block, as the server sends it. */
export interface PageMeta extends IndexMeta {
  /** The trace's file name. */
  name: string;
}

/** One tile: slice records as columns, and density counts per row and pixel. */
export interface TileData {
  t0: number;
  t1: number;
  px: number;
  count: number;
  /** Slices shorter than 2^minLevel ns are only in `density`. */
  minLevel: number;
  start: Float64Array;
  dur: Float64Array;
  task: Float64Array;
  row: Uint16Array;
  kind: Uint8Array;
  flags: Uint8Array;
  type: Uint32Array;
  /** Per row: slices starting in each pixel column of [t0, t1]. */
  density: Map<number, Float32Array>;
}

async function get(path: string, signal?: AbortSignal): Promise<Response> {
  const res = await fetch(path, { signal });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${(await res.text()).trim()}`);
  return res;
}

/** Fetches the index's meta block. */
export async function fetchMeta(): Promise<PageMeta> {
  return await (await get("/api/meta")).json() as PageMeta;
}

/** Decodes the binary tile the server sends (layout in trace_server.ts). */
export function decodeTile(buf: ArrayBuffer, t0: number, t1: number): TileData {
  const v = new DataView(buf);
  const count = v.getUint32(0, true);
  const rows = v.getUint32(4, true);
  const px = v.getUint32(8, true);
  const t: TileData = {
    t0,
    t1,
    px,
    count,
    minLevel: v.getUint32(12, true),
    start: new Float64Array(count),
    dur: new Float64Array(count),
    task: new Float64Array(count),
    row: new Uint16Array(count),
    kind: new Uint8Array(count),
    flags: new Uint8Array(count),
    type: new Uint32Array(count),
    density: new Map(),
  };
  for (let i = 0, o = 16; i < count; i++, o += 32) {
    t.start[i] = v.getFloat64(o, true);
    t.dur[i] = v.getFloat64(o + 8, true);
    t.task[i] = v.getFloat64(o + 16, true);
    t.row[i] = v.getUint16(o + 24, true);
    t.kind[i] = v.getUint8(o + 26);
    t.flags[i] = v.getUint8(o + 27);
    t.type[i] = v.getUint32(o + 28, true);
  }
  let at = 16 + count * 32;
  for (let r = 0; r < rows; r++) {
    t.density.set(v.getUint32(at, true), new Float32Array(buf.slice(at + 4, at + 4 + px * 4)));
    at += 4 + px * 4;
  }
  return t;
}

/** Fetches the tile of [t0, t1] ns at `px` pixels. */
export async function fetchTile(
  t0: number,
  t1: number,
  px: number,
  signal?: AbortSignal,
): Promise<TileData> {
  const res = await get(`/api/tile?t0=${t0}&t1=${t1}&px=${px}`, signal);
  return decodeTile(await res.arrayBuffer(), t0, t1);
}

/** Fetches a task's focus data by id; undefined if the server has no such task. */
export async function fetchFocus(id: number): Promise<FocusData | undefined> {
  const res = await fetch(`/api/task?id=${id}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`task ${id}: ${res.status} ${(await res.text()).trim()}`);
  return await res.json() as FocusData;
}

/**
 * One bounded step of the server's scan of the logs in time order, after
 * the cursor `from` ("" to start, then an answer's `next`).
 */
export async function fetchLogs(
  filter: LogFilter,
  from: string,
  limit: number,
  signal?: AbortSignal,
): Promise<LogPage> {
  const q = new URLSearchParams({ from, limit: String(limit) });
  if (filter.category !== undefined) q.set("category", filter.category);
  if (filter.task !== undefined) q.set("task", String(filter.task));
  if (filter.text) q.set("text", filter.text);
  return await (await get(`/api/logs?${q}`, signal)).json() as LogPage;
}

/**
 * The complete task or region of `type` whose duration is `ns` (or the
 * nearest): what a percentile's link opens; undefined if there is none.
 */
export async function fetchInstance(
  kind: "task" | "region",
  type: string,
  ns: number,
): Promise<SliceRef | undefined> {
  const q = new URLSearchParams({ kind, type, ns: String(ns) });
  const res = await fetch(`/api/instance?${q}`);
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`${kind} ${type}: ${res.status} ${(await res.text()).trim()}`);
  return await res.json() as SliceRef;
}

/** One bounded step of the instances of a histogram bucket [lo, hi) ns, from cursor `from`. */
export async function fetchBucket(
  kind: "task" | "region",
  type: string,
  lo: number,
  hi: number,
  from: number,
  limit: number,
): Promise<BucketPage> {
  const q = new URLSearchParams({
    kind,
    type,
    lo: String(lo),
    hi: String(hi),
    from: String(from),
    limit: String(limit),
  });
  return await (await get(`/api/bucket?${q}`)).json() as BucketPage;
}
