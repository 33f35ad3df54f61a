/**
 * Builds a trace's index (`FILE.idx`) in one streaming pass: every task,
 * region, stall and GC becomes a fixed-size slice record on a timeline row,
 * sorted by start within its duration level (lib/viewer/serve/level_sorter.ts),
 * with per-row density counts, the raw STRINGS batches (to decode any batch
 * range later) and the summaries the page opens on. Memory is bounded by
 * what is open at once, the distinct types and the sort budget, not by the
 * length of the trace.
 *
 * @module
 */

import { closeSync, fstatSync, openSync, renameSync, unlinkSync } from "node:fs";
import process from "node:process";
import {
  type EventVisitor,
  TraceDecoder,
  type TraceEvent,
  type TraceHeader,
} from "../../format/decoder.ts";
import { Batch } from "../../format/constants.ts";
import { SummaryCollector } from "../../read/streaming_summary.ts";
import {
  DENSITY_BINS,
  FLAG_NO_BEGIN,
  FLAG_OPEN,
  INDEX_MAGIC,
  INDEX_VERSION,
  type IndexMeta,
  type IndexSummary,
  Kind,
  levelOf,
  type RowInfo,
  SLICE_BYTES,
  type StallRef,
  TASK_BYTES,
  type TaskRef,
} from "./index_layout.ts";
import { FileAppender, LevelSorter, readAt } from "./level_sorter.ts";

/** A task open during the pass. */
interface OpenTask {
  start: number;
  type: number;
  thread: number;
  slot: number;
  first: number;
  last: number;
  flags: number;
}

/** A region open during the pass. */
interface OpenRegion {
  start: number;
  type: number;
  task: number;
  slot: number;
}

/** The slots of one track of one thread, and the row of each slot used. */
interface Track {
  thread: number;
  track: RowInfo["track"];
  busy: Uint8Array;
  rows: Int32Array;
}

const TRACKS: readonly RowInfo["track"][] = ["tasks", "regions", "stalls", "gc"];

/** Slots per track: beyond this many at once, slices share the last slot. */
const MAX_SLOTS = 256;
/** Ended regions remembered for the stalls that name them. */
const ENDED_REGIONS = 4096;
/** Entries of each summary list. */
const TOP = 50;
const TOP_BY_TYPE = 10;

/** Keeps the `limit` largest by `key`, largest first; cheap for the many that do not qualify. */
function keepTop<T>(list: T[], item: T, key: (t: T) => number, limit: number): void {
  if (list.length >= limit && key(item) <= key(list[list.length - 1])) return;
  let i = list.length;
  while (i > 0 && key(list[i - 1]) < key(item)) i--;
  list.splice(i, 0, item);
  if (list.length > limit) list.pop();
}

/**
 * The visitor of the index pass. Feed it batches through {@linkcode buildIndex}.
 */
class IndexPass implements EventVisitor {
  readonly summary = new SummaryCollector();
  readonly slices: LevelSorter;
  readonly tasks: LevelSorter;
  /** Byte range of the batch being decoded. */
  batchStart = 0;
  batchEnd = 0;
  header?: TraceHeader;
  duration = 0;
  private openTasks = new Map<number, OpenTask>();
  private openRegions = new Map<number, OpenRegion>();
  /** The last ENDED_REGIONS ended regions, a ring: a stall names a region that may have ended. */
  private endedKeys = new Float64Array(ENDED_REGIONS).fill(-1);
  private endedTypes = new Uint32Array(ENDED_REGIONS);
  private endedNext = 0;
  private tracks = new Map<number, Track>();
  readonly rows: RowInfo[] = [];
  readonly density: Uint32Array[] = [];
  densityBinNs = 1024;
  private perBin = 1 / 1024;
  readonly types: string[] = [""];
  private typeIds = new Map<string, number>([["", 0]]);
  readonly threads = new Map<number, string>();
  private rec = new Uint8Array(TASK_BYTES);
  private view = new DataView(this.rec.buffer);
  readonly slowest: TaskRef[] = [];
  readonly slowestByType = new Map<number, TaskRef[]>();
  readonly stalls: StallRef[] = [];
  stallCount = 0;
  stallTotal = 0;
  gcCount = 0;
  gcTotal = 0;
  readonly logs = new Map<string, number>();

  constructor(scratch: string, budget = 32 << 20) {
    this.slices = new LevelSorter(SLICE_BYTES, scratch + ".slices", budget);
    this.tasks = new LevelSorter(TASK_BYTES, scratch + ".tasks", Math.max(TASK_BYTES, budget >> 2));
  }

  private typeId(name: string): number {
    let id = this.typeIds.get(name);
    if (id === undefined) {
      this.typeIds.set(name, id = this.types.length);
      this.types.push(name);
    }
    return id;
  }

  /** A track's state; numeric keys, as this runs for every region. */
  private trackOf(thread: number, track: RowInfo["track"]): Track {
    const key = thread * 4 + TRACKS.indexOf(track);
    let t = this.tracks.get(key);
    if (!t) {
      t = {
        thread,
        track,
        busy: new Uint8Array(MAX_SLOTS),
        rows: new Int32Array(MAX_SLOTS).fill(-1),
      };
      this.tracks.set(key, t);
    }
    return t;
  }

  private rowOf(thread: number, track: RowInfo["track"], slot: number): number {
    const t = this.trackOf(thread, track);
    let row = t.rows[slot];
    if (row < 0) {
      t.rows[slot] = row = this.rows.length;
      this.rows.push({ row, thread, track, slot });
      this.density.push(new Uint32Array(DENSITY_BINS));
    }
    return row;
  }

  /** The lowest free slot of a track, now taken. */
  private takeSlot(thread: number, track: RowInfo["track"]): number {
    const busy = this.trackOf(thread, track).busy;
    for (let s = 0; s < MAX_SLOTS - 1; s++) {
      if (busy[s] === 0) {
        busy[s] = 1;
        return s;
      }
    }
    return MAX_SLOTS - 1;
  }

  private freeSlot(thread: number, track: RowInfo["track"], slot: number): void {
    if (slot < MAX_SLOTS - 1) this.trackOf(thread, track).busy[slot] = 0;
  }

  private countDensity(row: number, start: number): void {
    let bin = Math.floor(start * this.perBin);
    while (bin >= DENSITY_BINS) {
      // Twice as wide bins: merge pairs in every row.
      for (const d of this.density) {
        for (let i = 0; i < DENSITY_BINS / 2; i++) d[i] = d[2 * i] + d[2 * i + 1];
        d.fill(0, DENSITY_BINS / 2);
      }
      this.densityBinNs *= 2;
      this.perBin = 1 / this.densityBinNs;
      bin = Math.floor(start * this.perBin);
    }
    this.density[row][Math.max(0, bin)]++;
  }

  /** Writes the common part of a record and counts it; returns its level. */
  private slice(
    start: number,
    dur: number,
    task: number,
    row: number,
    kind: number,
    flags: number,
    type: number,
  ): number {
    const v = this.view;
    v.setFloat64(0, start, true);
    v.setFloat64(8, dur, true);
    v.setFloat64(16, task, true);
    v.setUint16(24, row, true);
    v.setUint8(26, kind);
    v.setUint8(27, flags);
    v.setUint32(28, type, true);
    this.countDensity(row, start);
    if (start + dur > this.duration) this.duration = start + dur;
    return levelOf(dur);
  }

  private touch(task: number): void {
    if (task === 0) return;
    const t = this.openTasks.get(task);
    if (t) t.last = this.batchEnd;
  }

  /** A task began. */
  taskBegin(
    time: number,
    thread: number,
    task: number,
    parent: number,
    type: string,
    stack: string[] | undefined,
  ): void {
    this.summary.taskBegin(time, thread, task, parent, type);
    void stack;
    if (this.openTasks.has(task)) return;
    this.openTasks.set(task, {
      start: time,
      type: this.typeId(type),
      thread,
      slot: this.takeSlot(0, "tasks"),
      first: this.batchStart,
      last: this.batchEnd,
      flags: 0,
    });
  }

  /** A task ended; one without a begin is shown from the trace's start. */
  taskEnd(time: number, thread: number, task: number): void {
    this.summary.taskEnd(time, thread, task);
    const t = this.openTasks.get(task);
    if (t) {
      this.openTasks.delete(task);
      t.last = this.batchEnd;
      this.endTask(task, t, time);
    } else {
      const slot = this.takeSlot(0, "tasks");
      this.endTask(task, {
        start: 0,
        type: this.typeId("(unknown)"),
        thread,
        slot,
        first: this.batchStart,
        last: this.batchEnd,
        flags: FLAG_NO_BEGIN,
      }, time);
    }
  }

  private endTask(id: number, t: OpenTask, end: number): void {
    this.freeSlot(0, "tasks", t.slot);
    const dur = Math.max(0, end - t.start);
    const level = this.slice(
      t.start,
      dur,
      id,
      this.rowOf(0, "tasks", t.slot),
      Kind.TASK,
      t.flags,
      t.type,
    );
    this.view.setFloat64(32, t.first, true);
    this.view.setFloat64(40, t.last, true);
    this.tasks.add(level, this.rec);
    // The lists name complete tasks: one cut by the trace's edge has no duration to rank.
    if (t.flags !== 0) return;
    const ref: TaskRef = {
      id,
      type: this.types[t.type],
      start: t.start,
      duration: dur,
      thread: t.thread,
    };
    const key = (r: TaskRef) => r.duration;
    keepTop(this.slowest, ref, key, TOP);
    let list = this.slowestByType.get(t.type);
    if (!list) this.slowestByType.set(t.type, list = []);
    keepTop(list, ref, key, TOP_BY_TYPE);
  }

  /** A region began. */
  regionBegin(
    time: number,
    thread: number,
    region: number,
    task: number,
    type: string,
    parent: number,
    lane: number,
  ): void {
    this.summary.regionBegin(time, thread, region, task, type, parent, lane);
    this.touch(task);
    const key = thread * 4294967296 + region;
    if (this.openRegions.has(key)) return;
    this.openRegions.set(key, {
      start: time,
      type: this.typeId(type),
      task,
      slot: this.takeSlot(thread, "regions"),
    });
  }

  /** A region ended; an end without an open begin is the summary's problem, not a slice. */
  regionEnd(time: number, thread: number, region: number): void {
    this.summary.regionEnd(time, thread, region);
    const key = thread * 4294967296 + region;
    const r = this.openRegions.get(key);
    if (!r) return;
    this.openRegions.delete(key);
    this.endedKeys[this.endedNext] = key;
    this.endedTypes[this.endedNext] = r.type;
    this.endedNext = (this.endedNext + 1) % ENDED_REGIONS;
    this.touch(r.task);
    this.endRegion(thread, r, time, 0);
  }

  /** The type of region `key` (thread * 2^32 + id), open or among the last ended; 0 if unknown. */
  private regionType(key: number): number {
    const open = this.openRegions.get(key);
    if (open) return open.type;
    const i = this.endedKeys.indexOf(key);
    return i < 0 ? 0 : this.endedTypes[i];
  }

  private endRegion(thread: number, r: OpenRegion, end: number, flags: number): void {
    this.freeSlot(thread, "regions", r.slot);
    const row = this.rowOf(thread, "regions", r.slot);
    const level = this.slice(
      r.start,
      Math.max(0, end - r.start),
      r.task,
      row,
      Kind.REGION,
      flags,
      r.type,
    );
    this.slices.add(level, this.rec.subarray(0, SLICE_BYTES));
  }

  /** A log: counted, and its task's batch range extended. */
  log(
    time: number,
    thread: number,
    task: number,
    category: string,
    bytes: Uint8Array,
    start: number,
    end: number,
    truncated: boolean,
    stack: string[] | undefined,
  ): void {
    this.summary.log(time, thread, task, category, bytes, start, end);
    void truncated;
    void stack;
    this.touch(task);
    this.logs.set(category, (this.logs.get(category) ?? 0) + 1);
  }

  /** The other events: stalls, GCs, thread names, the header and the end. */
  add = (e: TraceEvent): void => {
    this.summary.add(e);
    switch (e.kind) {
      case "header":
        this.header = e.header;
        break;
      case "thread":
        this.threads.set(e.thread, e.name);
        break;
      case "stall": {
        const type = e.region === 0 ? 0 : this.regionType(e.thread * 4294967296 + e.region);
        const row = this.rowOf(e.thread, "stalls", 0);
        const level = this.slice(e.time, e.duration, e.task, row, Kind.STALL, 0, type);
        this.slices.add(level, this.rec.subarray(0, SLICE_BYTES));
        this.stallCount++;
        this.stallTotal += e.duration;
        keepTop(
          this.stalls,
          {
            thread: e.thread,
            start: e.time,
            duration: e.duration,
            region: this.types[type],
            task: e.task,
          },
          (s) => s.duration,
          TOP,
        );
        break;
      }
      case "gc": {
        const row = this.rowOf(e.thread, "gc", 0);
        const type = this.typeId(e.inferred ? "GC (inferred)" : "GC");
        const level = this.slice(e.time, e.duration, 0, row, Kind.GC, 0, type);
        this.slices.add(level, this.rec.subarray(0, SLICE_BYTES));
        this.gcCount++;
        this.gcTotal += e.duration;
        break;
      }
      default:
        if ("time" in e && e.kind !== "end" && e.time > this.duration) this.duration = e.time;
    }
  };

  /** Closes what is still open at the trace's end. */
  closeOpen(end: number, fileSize: number): void {
    for (const [key, r] of this.openRegions) {
      this.endRegion(Math.floor(key / 4294967296), r, end, FLAG_OPEN);
    }
    this.openRegions.clear();
    for (const [id, t] of this.openTasks) {
      t.last = fileSize;
      t.flags |= FLAG_OPEN;
      this.endTask(id, t, end);
    }
    this.openTasks.clear();
  }

  /** The summaries, once the pass is done. */
  result(): IndexSummary {
    const s = this.summary.result();
    const byType: Record<string, TaskRef[]> = {};
    for (const [type, list] of this.slowestByType) byType[this.types[type]] = list;
    return {
      taskTypes: s.taskTypes,
      regionTypes: s.regionTypes,
      slowest: this.slowest,
      slowestByType: byType,
      stalls: this.stalls,
      stallCount: this.stallCount,
      stallTotal: this.stallTotal,
      gcCount: this.gcCount,
      gcTotal: this.gcTotal,
      logs: Object.fromEntries(this.logs),
      problems: s.problems,
      problemCount: s.problemCount,
    };
  }
}

/** Reads a uvarint at `at` of `b`: [value, next offset], or undefined past `end`. */
function uvarintAt(b: Uint8Array, at: number, end: number): [number, number] | undefined {
  let v = 0;
  let mul = 1;
  for (let k = 0; k < 8 && at < end; k++) {
    const x = b[at++];
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, at];
    mul *= 128;
  }
  return undefined;
}

/** Options of {@linkcode buildIndex}. */
export interface BuildIndexOptions {
  /** Called now and then with the bytes read so far and the total. */
  progress?: (read: number, total: number) => void;
  /** Bytes of records the sort holds in memory before it spills a sorted run (default 32 MiB). */
  sortBudget?: number;
}

/** Bytes read from the trace at a time. */
const READ_BYTES = 8 << 20;

/**
 * Reads the trace at `tracePath` once and writes its index to `indexPath`
 * (through a temporary file renamed into place, so a reader never sees half
 * an index). Throws the reader's `TraceFormatError` for input that is not a
 * trace; a truncated trace is indexed up to its last complete batch.
 *
 * @example
 * ```ts
 * import { buildIndex } from "./index_builder.ts";
 * const meta = buildIndex("trace.out", "trace.out.idx");
 * console.log(meta.events, meta.rows.length);
 * ```
 */
export function buildIndex(
  tracePath: string,
  indexPath: string,
  options: BuildIndexOptions = {},
): IndexMeta {
  const tmp = `${indexPath}.${process.pid}.tmp`;
  const fd = openSync(tracePath, "r");
  const st = fstatSync(fd);
  const pass = new IndexPass(tmp, options.sortBudget);
  const strings: Uint8Array[] = [];
  let headerEnd = 0;
  let end;
  try {
    const decoder = new TraceDecoder(pass.add, pass);
    let at = 0;
    let want = READ_BYTES;
    while (at < st.size) {
      const buf = readAt(fd, at, Math.min(want, st.size - at));
      const last = at + buf.length >= st.size;
      let p = 0;
      if (at === 0) {
        // The header: magic, version, length, block. Anything odd goes to the decoder, which says what.
        const v = uvarintAt(buf, 8, buf.length);
        const len = v && uvarintAt(buf, v[1], buf.length);
        if (!len || len[1] + len[0] > buf.length) {
          decoder.push(buf);
          break;
        }
        headerEnd = p = len[1] + len[0];
        decoder.push(buf.subarray(0, p));
      }
      for (;;) {
        const size = p < buf.length ? uvarintAt(buf, p + 1, buf.length) : undefined;
        if (!size || size[1] + size[0] > buf.length) break;
        const next = size[1] + size[0];
        pass.batchStart = at + p;
        pass.batchEnd = at + next;
        if (buf[p] === Batch.STRINGS) strings.push(buf.slice(p, next));
        decoder.push(buf.subarray(p, next));
        p = next;
      }
      if (p < buf.length && last) {
        decoder.push(buf.subarray(p)); // a cut batch at the end: the decoder reports it
        break;
      }
      // A batch larger than the buffer is read whole next time.
      want = p === 0 ? buf.length * 2 : READ_BYTES;
      at += p;
      options.progress?.(at, st.size);
    }
    end = decoder.finish();
  } catch (e) {
    pass.slices.discard();
    pass.tasks.discard();
    closeSync(fd);
    throw e;
  }
  closeSync(fd);
  pass.closeOpen(Math.max(pass.duration, end.time), st.size);
  return writeIndex(pass, tmp, indexPath, {
    traceSize: st.size,
    // Whole ms: Deno and Bun report the same file's mtime with different precision.
    traceMtimeMs: Math.floor(st.mtimeMs),
    events: end.events,
    lost: end.lost,
    truncated: end.truncated,
    headerEnd,
    strings,
  });
}

/** What the pass learned besides the visitor's state. */
interface PassFacts {
  traceSize: number;
  traceMtimeMs: number;
  events: number;
  lost: number;
  truncated: boolean;
  headerEnd: number;
  strings: Uint8Array[];
}

function writeIndex(pass: IndexPass, tmp: string, indexPath: string, f: PassFacts): IndexMeta {
  const out = openSync(tmp, "w");
  try {
    const w = new FileAppender(out);
    const slices = pass.slices.writeTo(w);
    const tasks = pass.tasks.writeTo(w);
    const densityOffset = w.size;
    for (const d of pass.density) w.write(new Uint8Array(d.buffer));
    const stringsOffset = w.size;
    for (const s of f.strings) w.write(s);
    const meta: IndexMeta = {
      version: INDEX_VERSION,
      traceSize: f.traceSize,
      traceMtimeMs: f.traceMtimeMs,
      header: pass.header!,
      events: f.events,
      lost: f.lost,
      truncated: f.truncated,
      duration: pass.duration,
      headerEnd: f.headerEnd,
      stringsOffset,
      stringsLength: w.size - stringsOffset,
      types: pass.types,
      rows: pass.rows,
      threads: [...pass.threads].map(([id, name]) => ({ id, name })),
      slices,
      tasks,
      densityOffset,
      densityBinNs: pass.densityBinNs,
      summary: pass.result(),
    };
    const json = new TextEncoder().encode(JSON.stringify(meta));
    const metaOffset = w.size;
    w.write(json);
    const trailer = new Uint8Array(24);
    const tv = new DataView(trailer.buffer);
    tv.setFloat64(0, metaOffset, true);
    tv.setUint32(8, json.length, true);
    tv.setUint32(12, INDEX_VERSION, true);
    trailer.set(new TextEncoder().encode(INDEX_MAGIC), 16);
    w.write(trailer);
    w.flush();
    closeSync(out);
    renameSync(tmp, indexPath);
    return meta;
  } catch (e) {
    try {
      closeSync(out);
    } catch {
      // closed already
    }
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
    throw e;
  }
}
