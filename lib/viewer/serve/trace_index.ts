/**
 * Reads a trace index (lib/viewer/serve/index_builder.ts) without loading
 * it: the meta block, the level samples and the density counts are read at
 * open; a tile query binary-searches the samples in memory and reads, per
 * duration level wide enough to see, the one byte range that overlaps the
 * window. So a query costs one read per visible level, whatever the size
 * of the trace.
 *
 * @module
 */

import { closeSync, fstatSync, openSync, statSync } from "node:fs";
import { TraceDecoder, type TraceEvent } from "../../format/decoder.ts";
import { DelayAnalyzer } from "../../read/delay.ts";
import {
  type BucketPage,
  type BucketRow,
  DENSITY_BINS,
  FLAG_OPEN,
  type FocusData,
  ID_BYTES,
  INDEX_MAGIC,
  INDEX_VERSION,
  type IndexMeta,
  Kind,
  levelOf,
  type LevelPlace,
  type LogFilter,
  type LogPage,
  SAMPLE_EVERY,
  SLICE_BYTES,
  type SliceRef,
} from "./index_layout.ts";
import { readAt } from "./level_sorter.ts";
import { firstAbove, LogScanner } from "./log_scan.ts";
import { type OverItem, overlapOf } from "./stall_overlap.ts";

/** A task as the id store holds it. */
export interface IndexedTask {
  id: number;
  type: string;
  start: number;
  duration: number;
  /** Home thread (the one it began on). */
  thread: number;
  /** FLAG_OPEN, FLAG_NO_BEGIN. */
  flags: number;
  /** Byte range of the trace's batches that hold its events. */
  first: number;
  last: number;
}

/** Most slice records one tile returns; finer levels are left to the density counts. */
export const TILE_RECORDS = 100_000;

/** What a bucket step may still read for its rows' stalls and GCs, and what it has read. */
interface OverlapReads {
  left: number;
  /** Records by `level:bin`. */
  cache: Map<string, Uint8Array>;
}

/** One level of one store, with its sample of start times in memory. */
interface Level extends LevelPlace {
  size: number;
  sample: Float64Array;
}

/** What a tile query returns, before it is encoded for the page. */
export interface Tile {
  /** Slice records (32 bytes each, see index_layout.ts) overlapping the window. */
  records: Uint8Array;
  /** Records in `records`. */
  count: number;
  /** Slices shorter than 2^minLevel ns are not in `records`, only in `density`. */
  minLevel: number;
  /** Per row with any: the number of slices starting in each pixel column. */
  density: { row: number; counts: Float32Array }[];
}

/** Records a bucket step reads at most (4 MiB). */
const BUCKET_STEP_RECORDS = (4 << 20) / SLICE_BYTES;
/** A bucket cursor: level (of those the bucket spans) * CURSOR_LEVEL + record. */
const CURSOR_LEVEL = 2 ** 40;

/** Most reads a bucket step makes for its rows' stalls and GCs; rows past it are `partial`. */
const OVERLAP_READS = 4096;

/** Most bytes of the trace one focus view decodes. */
const FOCUS_BYTES = 64 << 20;
/** Most regions and logs one focus view lists. */
const FOCUS_ITEMS = 20_000;

/**
 * An open index. Not safe against the trace changing underneath: the
 * caller checks {@linkcode TraceIndex.matches} (the server opens it once).
 *
 * @example
 * ```ts
 * import { TraceIndex } from "./trace_index.ts";
 * const ix = TraceIndex.open("trace.out.idx", "trace.out");
 * const tile = ix.tile(0, ix.meta.duration, 1000);
 * console.log(tile.count);
 * ix.close();
 * ```
 */
export class TraceIndex {
  private levels: Level[];
  /** The tasks by id; undefined when the trace has none. */
  private ids: Level | undefined;
  /** Per row, cumulative density counts: cum[i] = slices starting in bins [0, i). */
  private cum: Float64Array[];
  /** The log section, read in time order. */
  private logScan: LogScanner;
  /** Per thread, its stall and GC rows. */
  private overRows = new Map<number, number[]>();
  /** The levels, coarsest first. */
  private byLevelDown: Level[];

  private constructor(
    readonly meta: IndexMeta,
    private fd: number,
    private traceFd: number,
  ) {
    const load = (places: LevelPlace[], size: number): Level[] =>
      places.map((p) => {
        const n = Math.ceil(p.count / SAMPLE_EVERY);
        const b = readAt(fd, p.sampleOffset, n * 8);
        return { ...p, size, sample: new Float64Array(b.buffer, b.byteOffset, n) };
      });
    this.levels = load(meta.slices, SLICE_BYTES);
    this.byLevelDown = [...this.levels].sort((a, b) => b.level - a.level);
    this.ids = load(meta.ids, ID_BYTES)[0];
    // A stall is written when it ends, maybe after its culprit's task did: name that task now.
    for (const s of meta.summary.stalls) {
      if (s.task !== 0 && s.taskType === undefined) {
        const type = this.task(s.task)?.type;
        if (type !== undefined) s.taskType = type;
      }
    }
    for (const r of meta.rows) {
      if (r.track !== "stalls" && r.track !== "gc") continue;
      const list = this.overRows.get(r.thread) ?? [];
      list.push(r.row);
      this.overRows.set(r.thread, list);
    }
    this.logScan = new LogScanner(fd, {
      offset: meta.logsOffset,
      length: meta.logsLength,
      blocksOffset: meta.logBlocksOffset,
      blocks: meta.logBlocks,
      names: meta.types,
      duration: meta.duration,
    });
    const bins = readAt(fd, meta.densityOffset, meta.rows.length * DENSITY_BINS * 4);
    const counts = new Uint32Array(bins.buffer, bins.byteOffset, bins.length / 4);
    this.cum = meta.rows.map((_, r) => {
      const c = new Float64Array(DENSITY_BINS + 1);
      for (let i = 0; i < DENSITY_BINS; i++) c[i + 1] = c[i] + counts[r * DENSITY_BINS + i];
      return c;
    });
  }

  /**
   * Reads the meta block of the index at `path`; undefined if it is not an
   * index of this version or not of the trace at `tracePath` as it is now.
   */
  static readMeta(path: string, tracePath: string): IndexMeta | undefined {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      return undefined;
    }
    try {
      return metaOf(fd, tracePath);
    } finally {
      closeSync(fd);
    }
  }

  /** Opens the index at `path` of the trace at `tracePath`; throws if it is not current. */
  static open(path: string, tracePath: string): TraceIndex {
    const fd = openSync(path, "r");
    const meta = metaOf(fd, tracePath);
    if (!meta) {
      closeSync(fd);
      throw new Error(`${path} is not a current index of ${tracePath}`);
    }
    return new TraceIndex(meta, fd, openSync(tracePath, "r"));
  }

  /** Closes the files. */
  close(): void {
    closeSync(this.fd);
    closeSync(this.traceFd);
  }

  /** Records of `level` whose start is in [lo, hi]: one read. */
  private range(level: Level, lo: number, hi: number): Uint8Array {
    const s = level.sample;
    // First sample ≥ lo, then back one block: the block before may hold starts ≥ lo.
    let a = lowerBound(s, lo);
    a = Math.max(0, a - 1) * SAMPLE_EVERY;
    const b = Math.min(level.count, firstAbove(s, hi) * SAMPLE_EVERY);
    if (b <= a) return new Uint8Array(0);
    return readAt(this.fd, level.offset + a * level.size, (b - a) * level.size);
  }

  /**
   * The slices overlapping [t0, t1] (ns) at least one pixel wide at `px`
   * pixels for the window, and the density counts of every row per pixel.
   */
  tile(t0: number, t1: number, px: number): Tile {
    px = Math.max(1, Math.min(8192, Math.floor(px)));
    const pxNs = Math.max(1e-3, (t1 - t0) / px);
    const byLevel = [...this.levels].sort((a, b) => b.level - a.level);
    const parts: Uint8Array[] = [];
    let count = 0;
    let minLevel = 0;
    for (const lv of byLevel) {
      // Only levels whose every slice is at least a pixel wide: the rest is density.
      if (2 ** lv.level < pxNs) {
        minLevel = lv.level + 1;
        break;
      }
      const got = this.overlapping(lv, t0, t1);
      if (count + got.length / SLICE_BYTES > TILE_RECORDS) {
        minLevel = lv.level + 1;
        break;
      }
      parts.push(got);
      count += got.length / SLICE_BYTES;
    }
    const records = new Uint8Array(count * SLICE_BYTES);
    let at = 0;
    for (const p of parts) {
      records.set(p, at);
      at += p.length;
    }
    return { records, count, minLevel, density: this.densityOf(t0, pxNs, px) };
  }

  /** The records of one level overlapping [t0, t1], as 32-byte slice records. */
  private overlapping(lv: Level, t0: number, t1: number): Uint8Array {
    const raw = this.range(lv, t0 - 2 ** (lv.level + 1), t1);
    const v = new DataView(raw.buffer, raw.byteOffset, raw.length);
    const n = raw.length / lv.size;
    // Kept records are moved down in place: no copy per record.
    let k = 0;
    for (let i = 0; i < n; i++) {
      const o = i * lv.size;
      const start = v.getFloat64(o, true);
      if (start > t1 || start + v.getFloat64(o + 8, true) < t0) continue;
      if (o !== k * SLICE_BYTES) raw.copyWithin(k * SLICE_BYTES, o, o + SLICE_BYTES);
      k++;
    }
    return raw.subarray(0, k * SLICE_BYTES);
  }

  private densityOf(t0: number, pxNs: number, px: number): Tile["density"] {
    const bin = this.meta.densityBinNs;
    // Cumulative count at time t, interpolated within its bin.
    const at = (c: Float64Array, t: number) => {
      const x = Math.max(0, Math.min(DENSITY_BINS, t / bin));
      const i = Math.floor(x);
      return i >= DENSITY_BINS ? c[DENSITY_BINS] : c[i] + (c[i + 1] - c[i]) * (x - i);
    };
    const out: Tile["density"] = [];
    for (let r = 0; r < this.cum.length; r++) {
      const c = this.cum[r];
      if (at(c, t0 + px * pxNs) - at(c, t0) <= 0) continue;
      const counts = new Float32Array(px);
      let prev = at(c, t0);
      for (let x = 0; x < px; x++) {
        const next = at(c, t0 + (x + 1) * pxNs);
        counts[x] = next - prev;
        prev = next;
      }
      out.push({ row: r, counts });
    }
    return out;
  }

  /** Task `id` by its record in the id store, or undefined. */
  task(id: number): IndexedTask | undefined {
    const lv = this.ids;
    if (!lv) return undefined;
    const raw = this.range(lv, id, id);
    const v = new DataView(raw.buffer, raw.byteOffset, raw.length);
    for (let o = 0; o < raw.length; o += ID_BYTES) {
      if (v.getFloat64(o, true) !== id) continue;
      const w = v.getUint32(o + 44, true);
      return {
        id,
        start: v.getFloat64(o + 8, true),
        duration: v.getFloat64(o + 16, true),
        first: v.getFloat64(o + 24, true),
        last: v.getFloat64(o + 32, true),
        type: this.meta.types[v.getUint32(o + 40, true)] ?? "",
        thread: w & 0xffffff,
        flags: w >>> 24,
      };
    }
    return undefined;
  }

  /** A task's regions, logs, the stalls and GCs that overlapped it, and where its time went. */
  focus(id: number): FocusData | undefined {
    const t = this.task(id);
    if (!t) return undefined;
    const start = t.start, end = t.start + t.duration;
    const m = this.meta;
    const out: FocusData = {
      task: {
        id,
        type: t.type,
        start,
        end,
        thread: t.thread,
        open: (t.flags & FLAG_OPEN) !== 0,
        row: -1,
      },
      regions: [],
      logs: [],
      stalls: [],
      cut: t.last - t.first > FOCUS_BYTES,
    };
    for (const lv of this.levels) {
      const got = this.overlapping(lv, start, end);
      const v = new DataView(got.buffer, got.byteOffset, got.length);
      for (let o = 0; o < got.length; o += SLICE_BYTES) {
        const kind = v.getUint8(o + 26);
        if (kind === Kind.TASK) {
          if (v.getFloat64(o + 16, true) === id && v.getFloat64(o, true) === start) {
            out.task.row = v.getUint16(o + 24, true);
          }
          continue;
        }
        if (kind !== Kind.STALL && kind !== Kind.GC) continue;
        const row = m.rows[v.getUint16(o + 24, true)];
        const culprit = v.getFloat64(o + 16, true);
        out.stalls.push({
          thread: row.thread,
          start: v.getFloat64(o, true),
          duration: v.getFloat64(o + 8, true),
          region: m.types[v.getUint32(o + 28, true)],
          kind: kind === Kind.STALL ? "stall" : "gc",
          task: culprit,
          taskType: culprit === 0 || culprit === id ? undefined : this.task(culprit)?.type,
        });
      }
    }
    out.stalls.sort((a, b) => a.start - b.start);
    this.decodeTaskRange(id, end, t.first, Math.min(t.last, t.first + FOCUS_BYTES), out);
    return out;
  }

  /**
   * One bounded step of the logs matching `filter`, in time order across
   * threads, after the cursor `from` ("" to start, then the answer's
   * `next`), up to `limit`. With the filter of a task the index holds only
   * the task's life is read (other ids, such as 0 for background logs,
   * scan the whole section). `stepBytes` makes a step read fewer bytes than
   * its default. Throws a `RangeError` for a cursor no answer gave.
   */
  logs(filter: LogFilter, from: string, limit: number, stepBytes?: number): LogPage {
    const t = filter.task === undefined ? undefined : this.task(filter.task);
    const span = t && { start: t.start, end: t.start + t.duration };
    return this.logScan.scan(filter, from, limit, { span, stepBytes });
  }

  /**
   * The complete tasks or regions of `type` whose duration is in [lo, hi)
   * ns (a histogram bucket), in a bounded step from `from` (a cursor: 0 to
   * start, then the answer's `next`): the levels that bucket spans are read
   * in order, at most 4 MiB of records a step, until `limit` are found.
   */
  bucket(
    kind: "task" | "region",
    type: string,
    lo: number,
    hi: number,
    from: number,
    limit: number,
  ): BucketPage {
    const typeId = this.meta.types.indexOf(type);
    const levels = this.levels.filter((l) =>
      l.level >= levelOf(lo) && l.level <= levelOf(Math.max(lo, hi - 1))
    ).sort((a, b) => a.level - b.level);
    const out: BucketPage = { rows: [], next: 0, done: true };
    if (typeId < 0) return out;
    const want = kind === "task" ? Kind.TASK : Kind.REGION;
    let li = Math.floor(from / CURSOR_LEVEL), ri = from % CURSOR_LEVEL;
    let budget = BUCKET_STEP_RECORDS;
    while (li < levels.length && out.rows.length < limit && budget > 0) {
      const lv = levels[li];
      const n = Math.min(lv.count - ri, budget, 32768);
      if (n <= 0) {
        li++;
        ri = 0;
        continue;
      }
      const raw = readAt(this.fd, lv.offset + ri * SLICE_BYTES, n * SLICE_BYTES);
      const v = new DataView(raw.buffer, raw.byteOffset, raw.length);
      let o = 0;
      for (; o < raw.length && out.rows.length < limit; o += SLICE_BYTES) {
        if (v.getUint32(o + 28, true) !== typeId || v.getUint8(o + 26) !== want) continue;
        const d = v.getFloat64(o + 8, true);
        if (v.getUint8(o + 27) !== 0 || d < lo || d >= hi) continue;
        out.rows.push({
          start: v.getFloat64(o, true),
          duration: d,
          task: v.getFloat64(o + 16, true),
          row: v.getUint16(o + 24, true),
          thread: 0,
          blocked: 0,
          gc: 0,
        });
      }
      ri += o / SLICE_BYTES;
      budget -= o / SLICE_BYTES;
    }
    while (li < levels.length && ri >= levels[li].count) {
      li++;
      ri = 0;
    }
    out.done = li >= levels.length;
    out.next = li * CURSOR_LEVEL + ri;
    const reads = { left: OVERLAP_READS, cache: new Map<string, Uint8Array>() };
    for (const r of out.rows) this.delayOf(kind, r, reads);
    return out;
  }

  /**
   * Fills in what delayed bucket row `r` from the stalls and GCs of its
   * thread over it, within the reads `reads` has left (past them it is
   * `partial`).
   */
  private delayOf(kind: "task" | "region", r: BucketRow, reads: OverlapReads): void {
    let thread = this.meta.rows[r.row]?.thread ?? 0;
    if (kind === "task") thread = this.task(r.task)?.thread ?? 0;
    r.thread = thread;
    const found = this.stallsOver(thread, r.start, r.start + r.duration, reads);
    const o = overlapOf(r.start, r.start + r.duration, r.task, found.items);
    r.blocked = o.blocked;
    r.gc = o.gc;
    if (found.cut) r.partial = true;
    if (o.by >= 0) {
      const s = found.items[o.by];
      r.delayedBy = {
        thread,
        start: s.start,
        duration: s.end - s.start,
        region: s.region,
        task: s.task,
        taskType: s.task === 0 ? undefined : this.task(s.task)?.type,
        delay: o.byDelay,
      };
    }
  }

  /**
   * The stalls and GCs of `thread` overlapping [start, end]. Only the
   * density bins where the thread's stall and GC rows have a slice starting
   * are read, each level by level (coarsest first) until the bin's count of
   * them is found or no shorter slice could reach `start`; each (level, bin)
   * once per query, through `reads.cache`. So a query costs reads per stall
   * or GC nearby, not per slice. Stops when `reads` has none left (`cut`).
   */
  private stallsOver(
    thread: number,
    start: number,
    end: number,
    reads: OverlapReads,
  ): { items: (OverItem & { region: string })[]; cut: boolean } {
    const items: (OverItem & { region: string })[] = [];
    const bin = this.meta.densityBinNs;
    const binOf = (t: number) => Math.max(0, Math.min(DENSITY_BINS - 1, Math.floor(t / bin)));
    const byLevel = this.byLevelDown;
    if (byLevel.length === 0) return { items, cut: false };
    const last = binOf(end);
    for (const r of this.overRows.get(thread) ?? []) {
      const c = this.cum[r];
      // Each bin with a slice of this row starting in it (c[b + 1] > c[b]), found by bisection.
      for (let b = binOf(start - 2 ** (byLevel[0].level + 1)); b <= last; b++) {
        if (c[b + 1] === c[b]) b = firstAbove(c, c[b], b + 1, last + 2) - 1;
        if (b > last) break;
        let left = c[b + 1] - c[b];
        for (const lv of byLevel) {
          // Slices of this level starting in the bin end before (b + 1) * bin + 2^(level + 1).
          if (left === 0 || (b + 1) * bin + 2 ** (lv.level + 1) <= start) break;
          const key = `${lv.level}:${b}`;
          let raw = reads.cache.get(key);
          if (!raw) {
            if (reads.left <= 0) return { items, cut: true };
            raw = this.range(lv, b * bin, (b + 1) * bin);
            reads.cache.set(key, raw);
            reads.left--;
          }
          const v = new DataView(raw.buffer, raw.byteOffset, raw.length);
          for (let o = 0; o < raw.length; o += SLICE_BYTES) {
            if (v.getUint16(o + 24, true) !== r) continue;
            const s = v.getFloat64(o, true), d = v.getFloat64(o + 8, true);
            // A slice is counted in the bin its start is in (reads are of whole sample blocks).
            if (binOf(s) !== b) continue;
            left--;
            if (s >= end || s + d <= start) continue;
            const stall = v.getUint8(o + 26) === Kind.STALL;
            items.push({
              start: s,
              end: s + d,
              stall,
              task: stall ? v.getFloat64(o + 16, true) : 0,
              region: stall ? this.meta.types[v.getUint32(o + 28, true)] ?? "" : "",
            });
          }
        }
      }
    }
    return { items, cut: false };
  }

  /**
   * A complete task (`kind` "task") or region ("region") of type `type`
   * whose duration is `ns`, or the nearest found: the instance a percentile
   * of the Tasks or Regions page stands for. Reads the duration level of
   * `ns` (and its neighbours when the level has none of that type) in
   * steps, and stops at the first exact match.
   */
  instance(kind: "task" | "region", type: string, ns: number): SliceRef | undefined {
    const typeId = this.meta.types.indexOf(type);
    if (typeId < 0) return undefined;
    const want = kind === "task" ? Kind.TASK : Kind.REGION;
    const home = levelOf(ns);
    let best: SliceRef | undefined;
    let bestGap = Infinity;
    for (const k of [home, home - 1, home + 1]) {
      const lv = this.levels.find((l) => l.level === k);
      if (!lv) continue;
      const step = 32768;
      for (let i = 0; i < lv.count; i += step) {
        const n = Math.min(step, lv.count - i);
        const raw = readAt(this.fd, lv.offset + i * SLICE_BYTES, n * SLICE_BYTES);
        const v = new DataView(raw.buffer, raw.byteOffset, raw.length);
        for (let o = 0; o < raw.length; o += SLICE_BYTES) {
          if (v.getUint32(o + 28, true) !== typeId || v.getUint8(o + 26) !== want) continue;
          if (v.getUint8(o + 27) !== 0) continue;
          const gap = Math.abs(v.getFloat64(o + 8, true) - ns);
          if (gap >= bestGap) continue;
          bestGap = gap;
          best = {
            start: v.getFloat64(o, true),
            duration: v.getFloat64(o + 8, true),
            task: v.getFloat64(o + 16, true),
            row: v.getUint16(o + 24, true),
          };
          if (gap === 0) return best;
        }
        // Within the sketch's error: near enough, and the scan stays short.
        if (best && bestGap <= ns * 0.005) return best;
      }
      if (best) return best;
    }
    return best;
  }

  /**
   * Decodes the trace's batches in [first, last) after its header and its
   * string definitions, keeping task `id`'s regions and logs.
   */
  private decodeTaskRange(id: number, end: number, first: number, last: number, out: FocusData) {
    const m = this.meta;
    const open = new Map<number, { thread: number; start: number; type: string }>();
    // Where the task's time went: the reader's delay attribution over the same events
    // (the range holds the task's life, so the stalls during it and, mostly, their culprits).
    // Its stalls and GCs come from the index, not the range: a stall is written when it ends,
    // maybe after the task's last batch. They are given to the analyzer once the task is live.
    const delays = new DelayAnalyzer();
    let given = false;
    const onEvent = (e: TraceEvent) => {
      if (e.kind !== "stall" && e.kind !== "gc") delays.add(e);
      if (!given && "task" in e && e.task === id && e.kind !== "taskEnd") {
        given = true;
        for (const s of out.stalls) {
          const { thread, start: time, duration, task } = s;
          delays.add(
            s.kind === "stall"
              ? { kind: "stall", time, duration, thread, region: 0, task }
              : { kind: "gc", time, duration, thread, inferred: false, freed: 0 },
          );
        }
      }
      if (e.kind === "taskBegin" && e.task === id) out.task.thread = e.thread;
      else if (e.kind === "regionBegin" && e.task === id) {
        open.set(e.thread * 4294967296 + e.region, {
          thread: e.thread,
          start: e.time,
          type: e.type,
        });
      } else if (e.kind === "regionEnd") {
        const key = e.thread * 4294967296 + e.region;
        const r = open.get(key);
        if (!r) return;
        open.delete(key);
        if (out.regions.length < FOCUS_ITEMS) out.regions.push({ ...r, end: e.time, open: false });
      } else if (e.kind === "log" && e.task === id && out.logs.length < FOCUS_ITEMS) {
        out.logs.push({ thread: e.thread, time: e.time, category: e.category, message: e.message });
      }
    };
    const d = new TraceDecoder(onEvent);
    d.push(readAt(this.traceFd, 0, m.headerEnd));
    d.push(readAt(this.fd, m.stringsOffset, m.stringsLength));
    const step = 8 << 20;
    for (let at = first; at < last; at += step) {
      d.push(readAt(this.traceFd, at, Math.min(step, last - at)));
    }
    for (const r of open.values()) {
      if (out.regions.length < FOCUS_ITEMS) out.regions.push({ ...r, end, open: true });
    }
    out.regions.sort((a, b) => a.start - b.start);
    delays.add({ kind: "end", time: end, truncated: false, lost: 0, events: 0, bytes: 0 });
    const mine = delays.result().tasks.find((t) => t.id === id);
    if (!mine) return;
    // The index names every stall's culprit, also one that began before the range.
    const named = (thread: number, start: number) =>
      out.stalls.find((s) => s.kind === "stall" && s.thread === thread && s.start === start);
    out.delay = {
      inRegions: mine.inRegions,
      blocked: mine.blocked,
      gc: mine.gc,
      waiting: mine.waiting,
      blockedBy: mine.blockedBy.map((b) => {
        const s = named(b.stall.thread, b.stall.start);
        return {
          delay: b.delay,
          thread: b.stall.thread,
          start: b.stall.start,
          duration: b.stall.duration,
          region: b.stall.regionType ?? s?.region ?? "",
          task: b.stall.task,
          taskType: b.stall.taskType ?? s?.taskType,
        };
      }),
    };
  }
}

/** First index whose value is ≥ x. */
function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The meta block of the open index `fd`, if it is current for `tracePath`. */
function metaOf(fd: number, tracePath: string): IndexMeta | undefined {
  const size = fstatSync(fd).size;
  if (size < 24) return undefined;
  const trailer = readAt(fd, size - 24, 24);
  const tv = new DataView(trailer.buffer, trailer.byteOffset, 24);
  if (new TextDecoder().decode(trailer.subarray(16)) !== INDEX_MAGIC) return undefined;
  if (tv.getUint32(12, true) !== INDEX_VERSION) return undefined;
  const offset = tv.getFloat64(0, true);
  const length = tv.getUint32(8, true);
  if (offset + length + 24 !== size) return undefined;
  let meta: IndexMeta;
  try {
    meta = JSON.parse(new TextDecoder().decode(readAt(fd, offset, length)));
  } catch {
    return undefined;
  }
  let st;
  try {
    st = statSync(tracePath);
  } catch {
    return undefined;
  }
  return st.size === meta.traceSize && Math.floor(st.mtimeMs) === meta.traceMtimeMs
    ? meta
    : undefined;
}
