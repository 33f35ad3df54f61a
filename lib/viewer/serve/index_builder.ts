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
  ID_BYTES,
  INDEX_MAGIC,
  INDEX_VERSION,
  type IndexMeta,
  type IndexSummary,
  Kind,
  levelOf,
  type RowInfo,
  SLICE_BYTES,
  type StallRef,
  type TaskRef,
} from "./index_layout.ts";
import { FileAppender, LevelSorter, readInto } from "./level_sorter.ts";
import { LogWriter } from "./log_store.ts";
import { IntMap } from "../../read/int_map.ts";

/** The four tracks of a thread, in the order of their keys. */
const TRACKS: readonly RowInfo["track"][] = ["tasks", "regions", "stalls", "gc"];
const T_TASKS = 0, T_REGIONS = 1, T_STALLS = 2, T_GC = 3;

/** The slots of one track of one thread, and the row of each slot used. */
interface Track {
  busy: Uint8Array;
  rows: Int32Array;
  /** No slot below this one is free. */
  low: number;
}

/** Slots per track: beyond this many at once, slices share the last slot. */
const MAX_SLOTS = 256;
/** Ended regions remembered for the stalls that name them. */
const ENDED_REGIONS = 4096;
/** Entries of each summary list. */
const TOP = 50;
const TOP_BY_TYPE = 10;

/** Keeps the `limit` largest by `key`, largest first. */
function keepTop<T>(list: T[], item: T, key: (t: T) => number, limit: number): void {
  let i = list.length;
  while (i > 0 && key(list[i - 1]) < key(item)) i--;
  list.splice(i, 0, item);
  if (list.length > limit) list.pop();
}

/** Whether a duration would enter a top list of `limit` (so its entry is worth making). */
function entersTop(list: readonly TaskRef[], duration: number, limit: number): boolean {
  return list.length < limit || duration > list[list.length - 1].duration;
}

/** Entries of an {@linkcode OpenPool}'s direct table. */
const DIRECT = 4096;

/**
 * What is open during the pass (tasks or regions), as columns indexed by a
 * pool slot: no object per task or region, so the pass makes no garbage per
 * event. A key is found in a direct table by its low bits (ids are handed
 * out in sequence, so the few open at once rarely collide), else in an
 * {@linkcode IntMap}: cheaper than hashing every key.
 */
class OpenPool {
  private direct = new Float64Array(DIRECT).fill(NaN);
  private directSlot = new Int32Array(DIRECT);
  private overflow = new IntMap<number>();
  start = new Float64Array(64);
  type = new Uint32Array(64);
  /** A region's task; a task's home thread. */
  owner = new Float64Array(64);
  slot = new Uint16Array(64);
  first = new Float64Array(64);
  last = new Float64Array(64);
  flags = new Uint8Array(64);
  /** Each pool slot's key, and whether it is open. */
  private key = new Float64Array(64);
  private live = new Uint8Array(64);
  private free: number[] = [];
  private used = 0;

  /** A pool slot for `key`, now open. */
  open(key: number): number {
    let i = this.free.pop();
    if (i === undefined) {
      if (this.used === this.start.length) this.grow();
      i = this.used++;
    }
    const h = key & (DIRECT - 1);
    const k = this.direct[h];
    if (k !== k) {
      this.direct[h] = key;
      this.directSlot[h] = i;
    } else this.overflow.set(key, i);
    this.key[i] = key;
    this.live[i] = 1;
    return i;
  }

  /** The pool slot of `key`, or -1 if it is not open. */
  find(key: number): number {
    const h = key & (DIRECT - 1);
    if (this.direct[h] === key) return this.directSlot[h];
    return this.overflow.size > 0 ? this.overflow.get(key) ?? -1 : -1;
  }

  /** The keys open now. */
  openKeys(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.used; i++) if (this.live[i]) out.push(this.key[i]);
    return out;
  }

  /** Closes `key`; its pool slot, or -1 if it was not open. Read the slot before the next `open`. */
  close(key: number): number {
    const h = key & (DIRECT - 1);
    let i: number | undefined;
    if (this.direct[h] === key) {
      this.direct[h] = NaN;
      i = this.directSlot[h];
    } else if (this.overflow.size > 0) i = this.overflow.delete(key);
    if (i === undefined) return -1;
    this.live[i] = 0;
    this.free.push(i);
    return i;
  }

  private grow(): void {
    const n = this.start.length * 2;
    const f = <A extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(a: A, b: A): A => {
      b.set(a);
      return b;
    };
    this.start = f(this.start, new Float64Array(n));
    this.type = f(this.type, new Uint32Array(n));
    this.owner = f(this.owner, new Float64Array(n));
    this.slot = f(this.slot, new Uint16Array(n));
    this.first = f(this.first, new Float64Array(n));
    this.last = f(this.last, new Float64Array(n));
    this.flags = f(this.flags, new Uint8Array(n));
    this.key = f(this.key, new Float64Array(n));
    this.live = f(this.live, new Uint8Array(n));
  }
}

/**
 * The visitor of the index pass. Feed it batches through {@linkcode buildIndex}.
 * Its handlers run for every event: they write records in place and make no
 * objects (the few summary entries aside).
 */
class IndexPass implements EventVisitor {
  readonly summary = new SummaryCollector();
  readonly slices: LevelSorter;
  readonly ids: LevelSorter;
  readonly logs: LogWriter;
  /** Byte range of the batch being decoded. */
  batchStart = 0;
  batchEnd = 0;
  header?: TraceHeader;
  duration = 0;
  private tasks = new OpenPool();
  private regions = new OpenPool();
  /** The last ENDED_REGIONS ended regions, a ring: a stall names a region that may have ended. */
  private endedKeys = new Float64Array(ENDED_REGIONS).fill(-1);
  private endedTypes = new Uint32Array(ENDED_REGIONS);
  private endedNext = 0;
  private tracks = new Map<number, Track>();
  private lastTrackKey = -1;
  private lastTrack: Track | undefined;
  readonly rows: RowInfo[] = [];
  /** Per row, DENSITY_BINS counts, rows one after another (one array: one lookup per slice). */
  density = new Uint32Array(16 * DENSITY_BINS);
  densityBinNs = 1024;
  private perBin = 1 / 1024;
  readonly types: string[] = [""];
  private typeIds = new Map<string, number>([["", 0]]);
  readonly threads = new Map<number, string>();
  readonly slowest: TaskRef[] = [];
  readonly slowestByType = new Map<number, TaskRef[]>();
  readonly stalls: StallRef[] = [];
  stallCount = 0;
  stallTotal = 0;
  gcCount = 0;
  gcTotal = 0;
  /** Logs per category (type id). */
  private logCounts: number[] = [];
  private lastCategory = "";
  private lastCategoryId = 0;

  constructor(scratch: string, logs: FileAppender, budget = 32 << 20) {
    this.slices = new LevelSorter(SLICE_BYTES, scratch + ".slices", budget);
    this.ids = new LevelSorter(ID_BYTES, scratch + ".ids", Math.max(ID_BYTES, budget >> 2));
    this.logs = new LogWriter(logs);
  }

  private typeId(name: string): number {
    let id = this.typeIds.get(name);
    if (id === undefined) {
      this.typeIds.set(name, id = this.types.length);
      this.types.push(name);
    }
    return id;
  }

  /** A track's state; numeric keys, and the last one at hand, as this runs for every slice. */
  private trackOf(thread: number, track: number): Track {
    const key = thread * 4 + track;
    if (key === this.lastTrackKey) return this.lastTrack!;
    let t = this.tracks.get(key);
    if (!t) {
      t = { busy: new Uint8Array(MAX_SLOTS), rows: new Int32Array(MAX_SLOTS).fill(-1), low: 0 };
      this.tracks.set(key, t);
    }
    this.lastTrackKey = key;
    this.lastTrack = t;
    return t;
  }

  private rowOf(thread: number, track: number, slot: number): number {
    const t = this.trackOf(thread, track);
    let row = t.rows[slot];
    if (row < 0) {
      t.rows[slot] = row = this.rows.length;
      this.rows.push({ row, thread, track: TRACKS[track], slot });
      if (this.rows.length * DENSITY_BINS > this.density.length) {
        const grown = new Uint32Array(this.density.length * 2);
        grown.set(this.density);
        this.density = grown;
      }
    }
    return row;
  }

  /** The lowest free slot of a track, now taken. */
  private takeSlot(thread: number, track: number): number {
    const t = this.trackOf(thread, track);
    const busy = t.busy;
    for (let s = t.low; s < MAX_SLOTS - 1; s++) {
      if (busy[s] === 0) {
        busy[s] = 1;
        t.low = s + 1;
        return s;
      }
    }
    t.low = MAX_SLOTS - 1;
    return MAX_SLOTS - 1;
  }

  private freeSlot(thread: number, track: number, slot: number): void {
    if (slot >= MAX_SLOTS - 1) return;
    const t = this.trackOf(thread, track);
    t.busy[slot] = 0;
    if (slot < t.low) t.low = slot;
  }

  private countDensity(row: number, start: number): void {
    let bin = Math.floor(start * this.perBin);
    if (bin >= DENSITY_BINS) {
      do {
        // Twice as wide bins: merge pairs in every row.
        for (let r = 0; r < this.rows.length; r++) {
          const d = this.density.subarray(r * DENSITY_BINS, (r + 1) * DENSITY_BINS);
          for (let i = 0; i < DENSITY_BINS / 2; i++) d[i] = d[2 * i] + d[2 * i + 1];
          d.fill(0, DENSITY_BINS / 2);
        }
        this.densityBinNs *= 2;
        this.perBin = 1 / this.densityBinNs;
        bin = Math.floor(start * this.perBin);
      } while (bin >= DENSITY_BINS);
    }
    this.density[row * DENSITY_BINS + (bin > 0 ? bin : 0)]++;
  }

  /** Writes a slice record in place and counts it. */
  private slice(
    start: number,
    dur: number,
    task: number,
    row: number,
    kind: number,
    flags: number,
    type: number,
  ): void {
    const s = this.slices;
    const o = s.slot(levelOf(dur));
    const f = s.f64, u = s.u32;
    f[o] = start;
    f[o + 1] = dur;
    f[o + 2] = task;
    u[2 * o + 6] = row | kind << 16 | flags << 24;
    u[2 * o + 7] = type;
    this.countDensity(row, start);
    if (start + dur > this.duration) this.duration = start + dur;
  }

  private touch(task: number): void {
    if (task === 0) return;
    const i = this.tasks.find(task);
    if (i >= 0) this.tasks.last[i] = this.batchEnd;
  }

  /** A task began. */
  taskBegin(
    time: number,
    thread: number,
    task: number,
    parent: number,
    type: string,
    _stack: string[] | undefined,
  ): void {
    this.summary.taskBegin(time, thread, task, parent, type);
    const p = this.tasks;
    if (p.find(task) >= 0) return;
    const i = p.open(task);
    p.start[i] = time;
    p.type[i] = this.typeId(type);
    p.owner[i] = thread;
    p.slot[i] = this.takeSlot(0, T_TASKS);
    p.first[i] = this.batchStart;
    p.last[i] = this.batchEnd;
    p.flags[i] = 0;
  }

  /** A task ended; one without a begin is shown from the trace's start. */
  taskEnd(time: number, thread: number, task: number): void {
    this.summary.taskEnd(time, thread, task);
    const p = this.tasks;
    let i = p.close(task);
    if (i < 0) {
      i = p.open(task);
      p.close(task);
      p.start[i] = 0;
      p.type[i] = this.typeId("(unknown)");
      p.owner[i] = thread;
      p.slot[i] = this.takeSlot(0, T_TASKS);
      p.first[i] = this.batchStart;
      p.flags[i] = FLAG_NO_BEGIN;
    }
    p.last[i] = this.batchEnd;
    this.endTask(task, i, time);
  }

  /** Writes the task in pool slot `i` as a slice and by id, and ranks it. */
  private endTask(id: number, i: number, end: number): void {
    const p = this.tasks;
    const start = p.start[i], type = p.type[i], flags = p.flags[i], thread = p.owner[i];
    this.freeSlot(0, T_TASKS, p.slot[i]);
    const dur = Math.max(0, end - start);
    this.slice(start, dur, id, this.rowOf(0, T_TASKS, p.slot[i]), Kind.TASK, flags, type);
    const s = this.ids;
    const o = s.slot(0);
    const f = s.f64, u = s.u32;
    f[o] = id;
    f[o + 1] = start;
    f[o + 2] = dur;
    f[o + 3] = p.first[i];
    f[o + 4] = p.last[i];
    u[2 * o + 10] = type;
    u[2 * o + 11] = (thread & 0xffffff) | flags << 24;
    // The lists name complete tasks: one cut by the trace's edge has no duration to rank.
    if (flags !== 0) return;
    let list = this.slowestByType.get(type);
    if (!list) this.slowestByType.set(type, list = []);
    const all = entersTop(this.slowest, dur, TOP);
    if (!all && !entersTop(list, dur, TOP_BY_TYPE)) return;
    const ref: TaskRef = { id, type: this.types[type], start, duration: dur, thread };
    const key = (r: TaskRef) => r.duration;
    if (all) keepTop(this.slowest, ref, key, TOP);
    if (entersTop(list, dur, TOP_BY_TYPE)) keepTop(list, ref, key, TOP_BY_TYPE);
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
    const p = this.regions;
    const key = thread * 4294967296 + region;
    if (p.find(key) >= 0) return;
    const i = p.open(key);
    p.start[i] = time;
    p.type[i] = this.typeId(type);
    p.owner[i] = task;
    p.slot[i] = this.takeSlot(thread, T_REGIONS);
  }

  /** A region ended; an end without an open begin is the summary's problem, not a slice. */
  regionEnd(time: number, thread: number, region: number): void {
    this.summary.regionEnd(time, thread, region);
    const key = thread * 4294967296 + region;
    const i = this.regions.close(key);
    if (i < 0) return;
    const p = this.regions;
    this.endedKeys[this.endedNext] = key;
    this.endedTypes[this.endedNext] = p.type[i];
    this.endedNext = (this.endedNext + 1) % ENDED_REGIONS;
    this.touch(p.owner[i]);
    this.endRegion(thread, i, time, 0);
  }

  /** The pool slot of region `key` (thread * 2^32 + id) if open, else -1 - its place among the last ended (or -1 - ENDED_REGIONS). */
  private regionAt(key: number): number {
    const open = this.regions.find(key);
    if (open >= 0) return open;
    const i = this.endedKeys.indexOf(key);
    return -1 - (i < 0 ? ENDED_REGIONS : i);
  }

  private endRegion(thread: number, i: number, end: number, flags: number): void {
    const p = this.regions;
    this.freeSlot(thread, T_REGIONS, p.slot[i]);
    const row = this.rowOf(thread, T_REGIONS, p.slot[i]);
    this.slice(
      p.start[i],
      Math.max(0, end - p.start[i]),
      p.owner[i],
      row,
      Kind.REGION,
      flags,
      p.type[i],
    );
  }

  /** A log: written to the log section, counted, and its task's batch range extended. */
  log(
    time: number,
    thread: number,
    task: number,
    category: string,
    bytes: Uint8Array,
    start: number,
    end: number,
    _truncated: boolean,
    _stack: string[] | undefined,
  ): void {
    this.summary.log(time, thread, task, category, bytes, start, end);
    this.touch(task);
    let cat = this.lastCategoryId;
    if (category !== this.lastCategory) {
      cat = this.lastCategoryId = this.typeId(category);
      this.lastCategory = category;
    }
    this.logCounts[cat] = (this.logCounts[cat] ?? 0) + 1;
    this.logs.add(time, thread, task, cat, bytes, start, end);
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
      case "stall":
        this.stall(e.thread, e.time, e.duration, e.region, e.task);
        break;
      case "gc": {
        const row = this.rowOf(e.thread, T_GC, 0);
        const type = this.typeId(e.inferred ? "GC (inferred)" : "GC");
        this.slice(e.time, e.duration, 0, row, Kind.GC, 0, type);
        this.gcCount++;
        this.gcTotal += e.duration;
        break;
      }
      default:
        if ("time" in e && e.kind !== "end" && e.time > this.duration) this.duration = e.time;
    }
  };

  /** A stall: a slice named by its culprit region's type, and maybe a place in the list. */
  private stall(thread: number, time: number, duration: number, region: number, task: number) {
    let type = 0;
    if (region !== 0) {
      const at = this.regionAt(thread * 4294967296 + region);
      if (at >= 0) type = this.regions.type[at];
      else if (at > -1 - ENDED_REGIONS) type = this.endedTypes[-1 - at];
    }
    this.slice(time, duration, task, this.rowOf(thread, T_STALLS, 0), Kind.STALL, 0, type);
    this.stallCount++;
    this.stallTotal += duration;
    const culprit = task === 0 ? -1 : this.tasks.find(task);
    const ref: StallRef = { thread, start: time, duration, region: this.types[type], task };
    if (culprit >= 0) ref.taskType = this.types[this.tasks.type[culprit]];
    keepTop(this.stalls, ref, (s) => s.duration, TOP);
  }

  /** Closes what is still open at the trace's end. */
  closeOpen(end: number, fileSize: number): void {
    const r = this.regions;
    for (const key of r.openKeys()) {
      this.endRegion(Math.floor(key / 4294967296), r.close(key), end, FLAG_OPEN);
    }
    const t = this.tasks;
    for (const id of t.openKeys()) {
      const i = t.close(id);
      t.last[i] = fileSize;
      t.flags[i] |= FLAG_OPEN;
      this.endTask(id, i, end);
    }
  }

  /** The summaries, once the pass is done. */
  result(): IndexSummary {
    const s = this.summary.result();
    const byType: Record<string, TaskRef[]> = {};
    for (const [type, list] of this.slowestByType) byType[this.types[type]] = list;
    const logs: Record<string, number> = {};
    this.logCounts.forEach((n, cat) => {
      if (n) logs[this.types[cat]] = n;
    });
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
      logs,
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
  // The index file is written from the start: the log section streams into it during the pass.
  const out = openSync(tmp, "w");
  const w = new FileAppender(out);
  const pass = new IndexPass(tmp, w, options.sortBudget);
  const strings: Uint8Array[] = [];
  let headerEnd = 0;
  let end;
  try {
    const decoder = new TraceDecoder(pass.add, pass);
    let at = 0;
    let want = READ_BYTES;
    // One buffer for the whole file (the decoder copies what it keeps): a fresh one per read
    // would be garbage the engines collect late, and the build's peak memory would grow with it.
    let room = new Uint8Array(READ_BYTES);
    while (at < st.size) {
      if (want > room.length) room = new Uint8Array(want);
      const buf = room.subarray(0, readInto(fd, room, at, Math.min(want, st.size - at)));
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
    pass.ids.discard();
    closeSync(fd);
    closeSync(out);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  pass.closeOpen(Math.max(pass.duration, end.time), st.size);
  return writeIndex(pass, out, w, tmp, indexPath, {
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

function writeIndex(
  pass: IndexPass,
  out: number,
  w: FileAppender,
  tmp: string,
  indexPath: string,
  f: PassFacts,
): IndexMeta {
  try {
    const logsLength = pass.logs.length;
    const logBlocks = pass.logs.writeDirectory(w);
    const slices = pass.slices.writeTo(w);
    const ids = pass.ids.writeTo(w);
    const densityOffset = w.size;
    w.write(new Uint8Array(pass.density.buffer, 0, pass.rows.length * DENSITY_BINS * 4));
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
      ids,
      logsOffset: pass.logs.offset,
      logsLength,
      logCount: pass.logs.count,
      logBlocksOffset: logBlocks.offset,
      logBlocks: logBlocks.blocks,
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
