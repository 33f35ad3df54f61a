/**
 * Export to the Trace Event Format (Chrome DevTools, ui.perfetto.dev), as
 * JSON in array form, written as a stream. The array form stays loadable
 * when the output is cut short (without the regions still open there), and
 * viewers need no closing bracket.
 *
 * - Timestamps are microseconds since the trace start, with the
 *   nanoseconds as decimals (epoch microseconds would lose them in doubles).
 * - Regions are slices on thread tracks laid out by
 *   {@linkcode TrackLayout}, nested per `tid`: each is one complete slice
 *   (`X`, with its duration) written when it ends, so the file is not in
 *   time order (viewers sort). A region that begins at the same time as the
 *   regions open around it has those written as `B` (and later `E`) at once,
 *   outermost first: viewers order slices beginning together by file order
 *   (Perfetto) or by duration (DevTools), and only that order suits both.
 *   Every event has a `name` (DevTools' trace engine needs one on each).
 * - Names are capped at 1 KiB ({@linkcode capName}): they repeat per event.
 * - Tasks are nestable async slices (`b`/`e`, `id` = task id) of category
 *   `blink.user_timing`, the one async category DevTools shows (in its
 *   "Timings" track); a subtask is linked to its parent by a flow (`bind_id`, `flow_out`
 *   on a `n` instant on the parent's slice, `flow_in` on the child's `b`).
 * - Logs are thread instants (`i`, `s: "t"`) named by category, with the
 *   message in `args`. The runtime's counters (heap, memory, event loop),
 *   the tasks open and the events lost are counters (`C`).
 * - Event-loop stalls and GCs are complete slices (`X`) on a track of their
 *   own per thread.
 *
 * @module
 */

import type { TraceHeader } from "../format/decoder.ts";
import { ChunkBuffer } from "./chunk_buffer.ts";
import {
  Exporter,
  type LayoutEmitter,
  type LayoutReport,
  type RuntimeSpan,
  type SliceEndReason,
} from "./layout.ts";
import { capName } from "./name_cap.ts";

export type { LayoutReport };

const utf8 = new TextEncoder();
/**
 * Fragments this long or longer are copied with `TypedArray.set`, shorter
 * ones byte by byte: where each is faster, measured (V8 copies bytes in a
 * loop at about 1.3 ns each, JavaScriptCore at 0.8; `set` costs ~17 ns).
 */
const SET_MIN = "Bun" in globalThis ? 28 : 16;
/** As the decoder decodes messages: invalid bytes become U+FFFD. */
const utf8d = new TextDecoder("utf-8", { fatal: false });

/** Copies `b` to `buf` at `p`; returns the end. */
function cp(buf: Uint8Array, p: number, b: Uint8Array): number {
  const n = b.length;
  if (n < SET_MIN) {
    for (let i = 0; i < n; i++) buf[p + i] = b[i];
  } else buf.set(b, p);
  return p + n;
}

/**
 * `b` as little-endian 32-bit words, its length in bytes as the last
 * element: {@linkcode cpw} copies it four bytes per store, and the fixed
 * fragments and cached openings are most of an event's bytes.
 */
function words(b: Uint8Array): Uint32Array {
  const k = (b.length + 3) >> 2;
  const padded = new Uint8Array(4 * k);
  padded.set(b);
  const v = new DataView(padded.buffer);
  const w = new Uint32Array(k + 1);
  for (let i = 0; i < k; i++) w[i] = v.getUint32(4 * i, true);
  w[k] = b.length;
  return w;
}

/**
 * Copies the bytes of `w` ({@linkcode words}) at `p`; returns their end. Up
 * to three zero bytes past the end are written too: the next bytes written
 * overwrite them (every event start makes 512 bytes of room).
 */
function cpw(v: DataView, p: number, w: Uint32Array): number {
  const k = w.length - 1;
  for (let i = 0; i < k; i++) v.setUint32(p + 4 * i, w[i], true);
  return p + w[k];
}

/**
 * Digit tables for the number writers, as little-endian words written with
 * one store: `DIG3[v]` the three digits of `v` < 1000 with leading zeros;
 * `LEAD[v]` its digits without them, `LEADN[v]` their count; `FRAC[v]` a
 * point and the digits of `v / 1000` after it with trailing zeros dropped,
 * `FRACN[v]` their count with the point. The writers store four bytes
 * whatever the count and advance by the count: the bytes past the end are
 * overwritten next (every event start makes 512 bytes of room).
 */
const DIG3 = new Uint32Array(1000);
const LEAD = new Uint32Array(1000);
const LEADN = new Uint8Array(1000);
const FRAC = new Uint32Array(1000);
const FRACN = new Uint8Array(1000);
for (let v = 0; v < 1000; v++) {
  const d = [48 + Math.floor(v / 100), 48 + (Math.floor(v / 10) % 10), 48 + (v % 10)];
  const word = (bytes: number[]) => bytes.reduce((a, c, i) => a + c * 2 ** (8 * i), 0);
  DIG3[v] = word(d);
  const lead = d.slice(v < 10 ? 2 : v < 100 ? 1 : 0);
  LEAD[v] = word(lead);
  LEADN[v] = lead.length;
  const frac = v % 10 !== 0 ? d : v % 100 !== 0 ? d.slice(0, 2) : v !== 0 ? d.slice(0, 1) : [];
  FRAC[v] = word([46, ...frac]); // "."
  FRACN[v] = 1 + frac.length;
}

/** Writes a safe integer ≥ 0 in decimal at `p`; returns the end. */
function intAt(dv: DataView, p: number, v: number): number {
  // Three digits per division, by 1000: one table lookup and store each.
  if (!(v >= 0) || v >= 1000000000) return strAt(dv, p, String(v));
  if (v < 1000) {
    dv.setUint32(p, LEAD[v], true);
    return p + LEADN[v];
  }
  if (v < 1000000) {
    const hi = (v / 1000) | 0;
    dv.setUint32(p, LEAD[hi], true);
    p += LEADN[hi];
    dv.setUint32(p, DIG3[v - hi * 1000], true);
    return p + 3;
  }
  const hi = (v / 1000000) | 0;
  const rest = v - hi * 1000000;
  const mid = (rest / 1000) | 0;
  dv.setUint32(p, LEAD[hi], true);
  p += LEADN[hi];
  dv.setUint32(p, DIG3[mid], true);
  dv.setUint32(p + 3, DIG3[rest - mid * 1000], true);
  return p + 6;
}

/** Writes the ASCII `s` at `p`; returns the end. */
function strAt(dv: DataView, p: number, s: string): number {
  return p + utf8.encodeInto(s, new Uint8Array(dv.buffer, dv.byteOffset + p)).written;
}

/** `JsonBytes.us` at `p`; returns the end. */
function usAt(dv: DataView, p: number, ns: number): number {
  const whole = Math.floor(ns / 1000);
  const frac = ns - whole * 1000;
  p = intAt(dv, p, whole);
  if (frac === 0) return p;
  dv.setUint32(p, FRAC[frac], true);
  return p + FRACN[frac];
}

/**
 * Builds JSON as UTF-8 bytes directly: an export writes a gigabyte of JSON
 * for ten million events, and building strings first costs twice the time.
 */
class JsonBytes extends ChunkBuffer {
  /** A view of `buf` for the word stores, replaced with it. */
  dv: DataView;

  constructor() {
    super(1 << 20);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Keeps `dv` on the current `buf`. */
  protected override replaced(): void {
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Appends pre-encoded bytes. */
  raw(b: Uint8Array): void {
    const n = b.length;
    if (this.pos + n > this.buf.length) this.ensure(n);
    // A loop beats TypedArray.set for short fragments only.
    if (n < SET_MIN) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = b[i];
      this.pos = p;
    } else {
      this.buf.set(b, this.pos);
      this.pos += n;
    }
  }

  /** Appends a safe integer ≥ 0 in decimal. */
  int(v: number): void {
    if (this.pos + 24 > this.buf.length) this.ensure(24);
    this.pos = intAt(this.dv, this.pos, v);
  }

  /**
   * Appends nanoseconds as microseconds with the nanoseconds as up to three
   * decimals, trailing zeros dropped: what `String(ns / 1000)` prints.
   */
  us(ns: number): void {
    if (this.pos + 32 > this.buf.length) this.ensure(32);
    this.pos = usAt(this.dv, this.pos, ns);
  }
}

/**
 * The category of task slices: DevTools' Performance panel shows nestable
 * async slices of this category only (in its "Timings" track, as
 * `performance.measure` entries); Perfetto shows any category alike.
 */
const TASK_CAT = "blink.user_timing";

const b = (s: string) => utf8.encode(s);
/**
 * Event heads (up to the name) and the fragments between the numbers. Every
 * event writes `ph`, `cat`, `name`, `pid` and `tid` first, then its numbers:
 * the part before the first number depends only on the name and the track,
 * so the frequent events copy it as one cached run of bytes.
 */
const F = {
  open: b("[\n"),
  sep: b(",\n"),
  ts: b(',"ts":'),
  close: b("}"),
  closeArgs: b("}}"),
  sliceB: b('{"ph":"B","cat":"region","name":'),
  argsTask: b(',"args":{"task":'),
  region: b(',"region":'),
  continued: b(',"continued":true'),
  sliceE: b('{"ph":"E","cat":"region","name":'),
  sliceX: b('{"ph":"X","cat":"region","name":'),
  splitArg: b(',"split":true'),
  incompleteArg: b(',"incomplete":true'),
  endedAtArg: b(',"endedAt":'),
  split: b(',"args":{"split":true}'),
  incomplete: b(',"args":{"incomplete":true}'),
  endedAt: b(',"args":{"endedAt":'),
  taskB: b(`{"ph":"b","cat":"${TASK_CAT}","name":`),
  taskE: b(`{"ph":"e","cat":"${TASK_CAT}","name":`),
  id: b(',"id":'),
  parent: b(',"parent":'),
  flowIn: b(',"bind_id":'),
  flowInEnd: b(',"flow_in":true}'),
  flowN: b(`{"ph":"n","cat":"${TASK_CAT}","name":`),
  newTask: b(',"args":{"newTask":'),
  child: b(',"child":'),
  flowOutEnd: b(',"flow_out":true}'),
  log: b('{"ph":"i","s":"t","cat":"log","name":'),
  message: b(',"message":'),
  counterTasks: b('{"ph":"C","name":"tasks"'),
  open_: b(',"args":{"open":'),
  counterLost: b('{"ph":"C","name":"lost events"'),
  lost: b(',"args":{"lost":'),
  lostI: b('{"ph":"i","s":"p","cat":"lost","name":"events lost"'),
  count: b(',"args":{"count":'),
  counter: b('{"ph":"C","name":'),
  value: b(',"args":{"value":'),
  stall: b('{"ph":"X","cat":"runtime","name":"stall"'),
  gc: b('{"ph":"X","cat":"runtime","name":"GC"'),
  gcInferred: b('{"ph":"X","cat":"runtime","name":"GC (inferred)"'),
  dur: b(',"dur":'),
  stallArgs: b(',"args":{"region":'),
  task: b(',"task":'),
  freed: b(',"args":{"freed":'),
  threadEnd: b('{"ph":"i","s":"t","cat":"runtime","name":"thread end"'),
  end: b("\n]\n"),
  empty: b("[\n]\n"),
};

/** The fragments of the frequent events, as {@linkcode words}. */
const W = {
  ts: words(F.ts),
  argsTask: words(F.argsTask),
  region: words(F.region),
  continued: words(F.continued),
  dur: words(F.dur),
  splitArg: words(F.splitArg),
  incompleteArg: words(F.incompleteArg),
  endedAtArg: words(F.endedAtArg),
  incomplete: words(F.incomplete),
  split: words(F.split),
  endedAt: words(F.endedAt),
  parent: words(F.parent),
  flowIn: words(F.flowIn),
  flowInEnd: words(F.flowInEnd),
  message: words(F.message),
  open_: words(F.open_),
};

/** Most bytes of encoded names and event openings an emitter keeps for reuse. */
const CACHE_BYTES = 16 << 20;
/** Most openings cached per kind of event and track. */
const CACHE_ENTRIES = 10_000;

/**
 * The opening of one kind of event, `head` + name (unless `head` has it) +
 * `,"pid":P,"tid":T` + `tail`, encoded once per name and track (within the
 * emitter's cache budget): most of an event's bytes, copied as one run.
 */
class Openings {
  /** By track, by name. */
  private byTrack: (Map<string, Uint32Array> | undefined)[] = [];

  constructor(
    private emitter: ChromeEmitter,
    private head: Uint8Array,
    private tail: Uint8Array,
    private named = true,
  ) {}

  /** The opening as {@linkcode words}. */
  get(track: number, name: string): Uint32Array {
    let m = this.byTrack[track];
    if (m === undefined) this.byTrack[track] = m = new Map();
    let o = m.get(name);
    if (o === undefined) {
      const q = this.named ? this.emitter.name(name) : new Uint8Array(0);
      const where = this.emitter.where(track);
      const bytes = new Uint8Array(this.head.length + q.length + where.length + this.tail.length);
      bytes.set(this.head);
      bytes.set(q, this.head.length);
      bytes.set(where, this.head.length + q.length);
      bytes.set(this.tail, bytes.length - this.tail.length);
      o = words(bytes);
      if (m.size < CACHE_ENTRIES && this.emitter.mayCache(4 * o.length)) m.set(name, o);
    }
    return o;
  }
}

/**
 * The open region slices of one track, innermost last, in parallel arrays
 * (no object per region). A slice is written when it ends, as one `X` event
 * with its duration, unless it was written as a `B` when it began (`asB`).
 */
class OpenSlices {
  depth = 0;
  time: number[] = [];
  type: string[] = [];
  task: number[] = [];
  region: number[] = [];
  continued: boolean[] = [];
  asB: boolean[] = [];
}

/**
 * Writes Trace Event Format JSON into a byte buffer the caller drains.
 *
 * The frequent events (slice begin and end, task begin and end, logs, the
 * tasks counter) write their bytes in place with `cp`/`intAt`/`usAt` after
 * one `head` (their cached opening and timestamp): the export's hot loop, ten
 * million events. The rare forms go through `JsonBytes`.
 */
class ChromeEmitter implements LayoutEmitter {
  w = new JsonBytes();
  events = 0;
  private started = false;
  /** `,"pid":N` once the pid is known. */
  private pid = b(',"pid":1');
  /** JSON-quoted names, encoded, by name: types and categories repeat. */
  private names = new Map<string, Uint8Array>();
  /** Openings of the frequent events up to their first number, by name and track. */
  private sliceB = new Openings(this, F.sliceB, F.ts);
  private sliceE = new Openings(this, F.sliceE, F.ts);
  private sliceX = new Openings(this, F.sliceX, F.ts);
  /** The open region slices, by track. */
  private open: (OpenSlices | undefined)[] = [];
  private taskB = new Openings(this, F.taskB, F.id);
  private taskE = new Openings(this, F.taskE, F.id);
  private logs = new Openings(this, F.log, F.ts);
  private tasks = new Openings(this, F.counterTasks, F.ts, false);

  /** Bytes held by the caches of encoded names and openings. */
  private cached = 0;

  /** Whether `n` more bytes may be cached: the caches stay under 16 MiB. */
  mayCache(n: number): boolean {
    if (this.cached + n > CACHE_BYTES) return false;
    this.cached += n;
    return true;
  }

  /** `s` capped ({@linkcode capName}), JSON-quoted, encoded. */
  name(s: string): Uint8Array {
    let j = this.names.get(s);
    if (j === undefined) {
      j = utf8.encode(JSON.stringify(capName(s)));
      if (this.names.size < 100_000 && this.mayCache(j.length)) this.names.set(s, j);
    }
    return j;
  }

  /** `,"pid":P,"tid":T` per track, encoded once. */
  private wheres: Uint8Array[] = [];

  /** `,"pid":P,"tid":T` of `track`. */
  where(track: number): Uint8Array {
    return this.wheres[track] ??= utf8.encode(
      `${new TextDecoder().decode(this.pid)},"tid":${track}`,
    );
  }

  /**
   * Starts the next event in place, with room for `extra` bytes beyond the
   * fixed part; returns the position. The event's writer sets `w.pos` after.
   */
  private start(extra: number): number {
    const w = this.w;
    if (w.pos + extra + 512 > w.buf.length) w.ensure(extra + 512);
    this.events++;
    if (this.started) {
      const p = w.pos;
      w.buf[p] = 44; // ","
      w.buf[p + 1] = 10; // "\n"
      return p + 2;
    }
    this.started = true;
    return cp(w.buf, w.pos, F.open);
  }

  /**
   * Starts the next event and writes its opening `pre` and its `ts` (after
   * `id`, with `pre` ending in `,"id":`, unless `id` is negative), with room
   * for `extra` more bytes; returns the position for the rest.
   */
  private head(pre: Uint32Array, id: number, time: number, extra: number): number {
    let p = this.start(4 * pre.length + extra);
    const dv = this.w.dv;
    p = cpw(dv, p, pre);
    if (id >= 0) {
      p = intAt(dv, p, id);
      p = cpw(dv, p, W.ts);
    }
    return usAt(dv, p, time);
  }

  /** Starts the next event: the separator, and room for its fixed part. */
  private next(): JsonBytes {
    const w = this.w;
    w.ensure(512);
    w.raw(this.started ? F.sep : F.open);
    this.started = true;
    this.events++;
    return w;
  }

  private meta(json: string): void {
    const w = this.next();
    w.raw(utf8.encode(json));
  }

  process(pid: number, header: TraceHeader): void {
    const p = pid > 0 ? pid : 1;
    this.pid = b(`,"pid":${p}`);
    const name = `${header.runtime} ${header.runtimeVersion}${pid > 0 ? ` pid ${pid}` : ""}`;
    this.meta(
      `{"name":"process_name","ph":"M","pid":${p},"tid":0,"args":{"name":${
        JSON.stringify(capName(name))
      }}}`,
    );
  }

  track(track: number, _thread: number, _slot: number, name: string): void {
    const pid = new TextDecoder().decode(this.pid);
    this.meta(
      `{"name":"thread_name","ph":"M"${pid},"tid":${track},"args":{"name":${
        JSON.stringify(capName(name))
      }}}`,
    );
    this.meta(
      `{"name":"thread_sort_index","ph":"M"${pid},"tid":${track},"args":{"sort_index":${track}}}`,
    );
  }

  sliceBegin(
    track: number,
    time: number,
    type: string,
    task: number,
    region: number,
    continued: boolean,
  ): void {
    let s = this.open[track];
    if (s === undefined) this.open[track] = s = new OpenSlices();
    const d = s.depth;
    if (d > 0 && s.time[d - 1] === time && !s.asB[d - 1]) this.beginTied(s, track, time);
    s.time[d] = time;
    s.type[d] = type;
    s.task[d] = task;
    s.region[d] = region;
    s.continued[d] = continued;
    s.asB[d] = false;
    s.depth = d + 1;
  }

  /**
   * A slice begins at the same time as the slices around it: those are
   * written now as `B`, outermost first. Written later as `X`, they would
   * follow the inner slice's `X` in the file with the same `ts`, and
   * viewers order slices that begin together by file order (Perfetto's
   * JSON import) or by duration (DevTools), not both; a `B` first nests
   * right in either.
   */
  private beginTied(s: OpenSlices, track: number, time: number): void {
    let j = s.depth - 1;
    while (j > 0 && s.time[j - 1] === time && !s.asB[j - 1]) j--;
    for (; j < s.depth; j++) {
      s.asB[j] = true;
      this.writeB(track, s, j);
    }
  }

  /** The `B` of the open slice `j` of `s`, on `track`. */
  private writeB(track: number, s: OpenSlices, j: number): void {
    const p = this.sliceArgs(this.head(this.sliceB.get(track, s.type[j]), -1, s.time[j], 0), s, j);
    const buf = this.w.buf;
    buf[p] = 0x7d; // "}}"
    buf[p + 1] = 0x7d;
    this.w.pos = p + 2;
  }

  /** The `args` of the open slice `j` of `s` at `p`, unclosed; returns the end. */
  private sliceArgs(p: number, s: OpenSlices, j: number): number {
    const dv = this.w.dv;
    p = cpw(dv, p, W.argsTask);
    p = intAt(dv, p, s.task[j]);
    p = cpw(dv, p, W.region);
    p = intAt(dv, p, s.region[j]);
    return s.continued[j] ? cpw(dv, p, W.continued) : p;
  }

  sliceEnd(
    track: number,
    time: number,
    reason: SliceEndReason,
    type: string,
    endedAt = 0,
  ): void {
    const s = this.open[track];
    if (s === undefined || s.depth === 0 || s.asB[s.depth - 1]) {
      if (s !== undefined && s.depth > 0) s.depth--;
      this.writeE(track, time, reason, type, endedAt);
      return;
    }
    const d = --s.depth;
    const begin = s.time[d];
    let p = this.head(this.sliceX.get(track, type), -1, begin, 0);
    const buf = this.w.buf;
    const dv = this.w.dv;
    p = cpw(dv, p, W.dur);
    p = this.sliceArgs(usAt(dv, p, time > begin ? time - begin : 0), s, d);
    if (reason === "late") {
      p = cpw(dv, p, W.endedAtArg);
      p = usAt(dv, p, endedAt);
    } else if (reason !== "ended") {
      p = cpw(dv, p, reason === "split" ? W.splitArg : W.incompleteArg);
    }
    buf[p] = 0x7d; // "}}"
    buf[p + 1] = 0x7d;
    this.w.pos = p + 2;
  }

  /** A region slice's `E`, for a slice written as `B`. */
  private writeE(
    track: number,
    time: number,
    reason: SliceEndReason,
    type: string,
    endedAt: number,
  ): void {
    let p = this.head(this.sliceE.get(track, type), -1, time, 0);
    const buf = this.w.buf;
    const dv = this.w.dv;
    if (reason === "late") {
      p = cpw(dv, p, W.endedAt);
      p = usAt(dv, p, endedAt);
      buf[p++] = 0x7d; // "}"
    } else if (reason !== "ended") {
      p = cpw(dv, p, reason === "split" ? W.split : W.incomplete);
    }
    buf[p] = 0x7d; // "}"
    this.w.pos = p + 1;
  }

  taskBegin(
    task: number,
    parent: number,
    type: string,
    track: number,
    time: number,
    flow: boolean,
  ): void {
    let p = this.head(this.taskB.get(track, type || "(unknown task)"), task, time, 0);
    const buf = this.w.buf;
    const dv = this.w.dv;
    p = cpw(dv, p, W.argsTask);
    p = intAt(dv, p, task);
    p = cpw(dv, p, W.parent);
    p = intAt(dv, p, parent);
    buf[p++] = 0x7d; // "}"
    if (flow) {
      p = cpw(dv, p, W.flowIn);
      p = intAt(dv, p, task);
      p = cpw(dv, p, W.flowInEnd);
    } else buf[p++] = 0x7d;
    this.w.pos = p;
  }

  taskEnd(task: number, type: string, track: number, time: number, incomplete: boolean): void {
    let p = this.head(this.taskE.get(track, type || "(unknown task)"), task, time, 0);
    const buf = this.w.buf;
    const dv = this.w.dv;
    if (incomplete) p = cpw(dv, p, W.incomplete);
    buf[p] = 0x7d; // "}"
    this.w.pos = p + 1;
  }

  flowOut(
    parent: number,
    parentType: string,
    child: number,
    childType: string,
    track: number,
    time: number,
  ): void {
    // The instant must carry the parent's name and id to land on its track.
    const w = this.next();
    w.raw(F.flowN);
    w.raw(this.name(parentType));
    w.raw(this.where(track));
    w.raw(F.id);
    w.int(parent);
    w.raw(F.ts);
    w.us(time);
    w.raw(F.newTask);
    w.raw(this.name(childType));
    w.raw(F.child);
    w.int(child);
    w.raw(F.close);
    w.raw(F.flowIn);
    w.int(child);
    w.raw(F.flowOutEnd);
  }

  log(track: number, time: number, task: number, category: string, message: string): void {
    const j = JSON.stringify(message);
    let p = this.logHead(track, time, task, category, 3 * j.length);
    const buf = this.w.buf;
    p += utf8.encodeInto(j, buf.subarray(p)).written;
    buf[p] = 0x7d; // "}}"
    buf[p + 1] = 0x7d;
    this.w.pos = p + 2;
  }

  logBytes(
    track: number,
    time: number,
    task: number,
    category: string,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void {
    // Printable ASCII without quotes or backslashes is its own JSON string;
    // anything else takes the exact path, through a decoded string.
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
        this.log(track, time, task, category, utf8d.decode(bytes.subarray(start, end)));
        return;
      }
    }
    let p = this.logHead(track, time, task, category, end - start);
    const buf = this.w.buf;
    buf[p++] = 0x22;
    if (end - start < SET_MIN) { for (let i = start; i < end; i++) buf[p++] = bytes[i]; }
    else {
      buf.set(bytes.subarray(start, end), p);
      p += end - start;
    }
    buf[p] = 0x22;
    buf[p + 1] = 0x7d; // "}}"
    buf[p + 2] = 0x7d;
    this.w.pos = p + 3;
  }

  /**
   * A log's event up to its message, with room for `extra` bytes of it;
   * returns the position for the message.
   */
  private logHead(
    track: number,
    time: number,
    task: number,
    category: string,
    extra: number,
  ): number {
    let p = this.head(this.logs.get(track, category || "log"), -1, time, extra);
    const dv = this.w.dv;
    p = cpw(dv, p, W.argsTask);
    p = intAt(dv, p, task);
    return cpw(dv, p, W.message);
  }

  tasksOpen(time: number, open: number, track: number): void {
    let p = this.head(this.tasks.get(track, ""), -1, time, 0);
    const buf = this.w.buf;
    const dv = this.w.dv;
    p = cpw(dv, p, W.open_);
    p = intAt(dv, p, open);
    buf[p] = 0x7d; // "}}"
    buf[p + 1] = 0x7d;
    this.w.pos = p + 2;
  }

  lost(time: number, count: number, total: number, track: number): void {
    let w = this.next();
    w.raw(F.counterLost);
    w.raw(this.where(track));
    w.raw(F.ts);
    w.us(time);
    w.raw(F.lost);
    w.int(total);
    w.raw(F.closeArgs);
    w = this.next();
    w.raw(F.lostI);
    w.raw(this.where(track));
    w.raw(F.ts);
    w.us(time);
    w.raw(F.count);
    w.int(count);
    w.raw(F.closeArgs);
  }

  counter(name: string, time: number, value: number, track: number): void {
    // JSON has no NaN or Infinity; such a sample cannot be shown anyway.
    if (!Number.isFinite(value)) return;
    const w = this.next();
    w.raw(F.counter);
    w.raw(this.name(name));
    w.raw(this.where(track));
    w.raw(F.ts);
    w.us(time);
    w.raw(F.value);
    w.raw(utf8.encode(String(value)));
    w.raw(F.closeArgs);
  }

  span(track: number, s: RuntimeSpan): void {
    const w = this.next();
    w.raw(s.kind === "stall" ? F.stall : s.inferred ? F.gcInferred : F.gc);
    w.raw(this.where(track));
    w.raw(F.ts);
    w.us(s.time);
    w.raw(F.dur);
    w.us(s.duration);
    if (s.kind === "stall") {
      w.raw(F.stallArgs);
      w.int(s.region);
      w.raw(F.task);
      w.int(s.task);
    } else {
      w.raw(F.freed);
      w.int(s.freed);
    }
    w.raw(F.closeArgs);
  }

  threadEnd(track: number, time: number): void {
    const w = this.next();
    w.raw(F.threadEnd);
    w.raw(this.where(track));
    w.raw(F.ts);
    w.us(time);
    w.raw(F.close);
  }

  close(): void {
    this.w.raw(this.started ? F.end : F.empty);
  }
}

/**
 * Streams a trace out as Trace Event Format JSON. Feed it every event with
 * `add`; after each chunk of input, `take()` the JSON produced so far and
 * write it; `take()` once more after the `end` event for the tail.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { ChromeExporter } from "./chrome.ts";
 * const x = new ChromeExporter();
 * const d = new TraceDecoder(x.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * await Deno.writeFile("trace.json", x.take());
 * ```
 */
export class ChromeExporter extends Exporter<ChromeEmitter> {
  /** Makes an exporter; see {@linkcode Exporter}. */
  constructor() {
    super(new ChromeEmitter());
  }
}
