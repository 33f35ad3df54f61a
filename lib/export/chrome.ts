/**
 * Export to the Trace Event Format (Chrome DevTools, ui.perfetto.dev), as
 * JSON in array form, written as a stream. The array form stays loadable
 * when the output is cut short, and viewers need no closing bracket.
 *
 * - Timestamps are microseconds since the trace start, with the
 *   nanoseconds as decimals (epoch microseconds would lose them in doubles).
 * - Regions are `B`/`E` slices on thread tracks laid out by
 *   {@linkcode TrackLayout}: every `B` has its `E` on the same `tid`, nested;
 *   every event has a `name` (DevTools' trace engine needs one on each).
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

/** Writes a safe integer ≥ 0 in decimal at `p`; returns the end. */
function intAt(buf: Uint8Array, p: number, v: number): number {
  if (v < 10) {
    buf[p] = 48 + v;
    return p + 1;
  }
  if (v >= 0x7fffffff) return p + utf8.encodeInto(String(v), buf.subarray(p)).written;
  const n = v < 100
    ? 2
    : v < 1000
    ? 3
    : v < 10000
    ? 4
    : v < 100000
    ? 5
    : v < 1000000
    ? 6
    : v < 10000000
    ? 7
    : v < 100000000
    ? 8
    : v < 1000000000
    ? 9
    : 10;
  const end = p + n;
  let q = end;
  let x = v | 0;
  // Two digits per division.
  while (x >= 100) {
    const d = (x / 100) | 0;
    const r = (x - d * 100) << 1;
    buf[--q] = PAIRS[r + 1];
    buf[--q] = PAIRS[r];
    x = d;
  }
  if (x >= 10) {
    buf[--q] = PAIRS[(x << 1) + 1];
    buf[--q] = PAIRS[x << 1];
  } else buf[--q] = 48 + x;
  return end;
}

/** "00" to "99" in ASCII, two bytes each. */
const PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  PAIRS[2 * i] = 48 + Math.floor(i / 10);
  PAIRS[2 * i + 1] = 48 + (i % 10);
}

/** `JsonBytes.us` at `p`; returns the end. */
function usAt(buf: Uint8Array, p: number, ns: number): number {
  const whole = Math.floor(ns / 1000);
  const frac = ns - whole * 1000;
  p = intAt(buf, p, whole);
  if (frac === 0) return p;
  buf[p++] = 46; // "."
  const d1 = Math.floor(frac / 100);
  const d2 = Math.floor(frac / 10) % 10;
  const d3 = frac % 10;
  buf[p++] = 48 + d1;
  if (d2 !== 0 || d3 !== 0) buf[p++] = 48 + d2;
  if (d3 !== 0) buf[p++] = 48 + d3;
  return p;
}

/**
 * Builds JSON as UTF-8 bytes directly: an export writes a gigabyte of JSON
 * for ten million events, and building strings first costs twice the time.
 */
class JsonBytes extends ChunkBuffer {
  constructor() {
    super(1 << 20);
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
    this.pos = intAt(this.buf, this.pos, v);
  }

  /**
   * Appends nanoseconds as microseconds with the nanoseconds as up to three
   * decimals, trailing zeros dropped: what `String(ns / 1000)` prints.
   */
  us(ns: number): void {
    if (this.pos + 32 > this.buf.length) this.ensure(32);
    this.pos = usAt(this.buf, this.pos, ns);
  }

  /** Appends a JSON string. */
  str(s: string): void {
    const j = JSON.stringify(s);
    this.ensure(j.length * 3 + 64);
    this.pos += utf8.encodeInto(j, this.buf.subarray(this.pos)).written;
  }
}

/**
 * The category of task slices: DevTools' Performance panel shows nestable
 * async slices of this category only (in its "Timings" track, as
 * `performance.measure` entries); Perfetto shows any category alike.
 */
const TASK_CAT = "blink.user_timing";

const b = (s: string) => utf8.encode(s);
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
  counterTasks: b('{"ph":"C","name":"tasks","ts":'),
  open_: b(',"args":{"open":'),
  counterLost: b('{"ph":"C","name":"lost events","ts":'),
  lost: b(',"args":{"lost":'),
  lostI: b('{"ph":"i","s":"p","cat":"lost","name":"events lost","ts":'),
  count: b(',"args":{"count":'),
  counter: b('{"ph":"C","name":'),
  value: b(',"args":{"value":'),
  stall: b('{"ph":"X","cat":"runtime","name":"stall","ts":'),
  gc: b('{"ph":"X","cat":"runtime","name":"GC","ts":'),
  gcInferred: b('{"ph":"X","cat":"runtime","name":"GC (inferred)","ts":'),
  dur: b(',"dur":'),
  stallArgs: b(',"args":{"region":'),
  task: b(',"task":'),
  freed: b(',"args":{"freed":'),
  threadEnd: b('{"ph":"i","s":"t","cat":"runtime","name":"thread end","ts":'),
  end: b("\n]\n"),
  empty: b("[\n]\n"),
};

/** Most bytes of encoded names and event openings an emitter keeps for reuse. */
const CACHE_BYTES = 16 << 20;

/**
 * Writes Trace Event Format JSON into a byte buffer the caller drains.
 *
 * The frequent events (slice begin and end, task begin and end, logs) each
 * write their bytes in place with `cp`/`intAt`/`usAt` after one `start`, and
 * so look alike line by line: that is deliberate. It is the export's hot loop
 * (ten million events), where a shared helper taking the parts as arguments
 * would add a call and an argument list per event. The rare forms go
 * through `JsonBytes`.
 */
class ChromeEmitter implements LayoutEmitter {
  w = new JsonBytes();
  events = 0;
  private started = false;
  /** `,"pid":N` once the pid is known. */
  private pid = b(',"pid":1');
  /** JSON-quoted names, encoded, by name: types and categories repeat. */
  private names = new Map<string, Uint8Array>();
  /** Event openings with the name in, by name, one map per opening. */
  private pre = {
    sliceB: new Map<string, Uint8Array>(),
    sliceE: new Map<string, Uint8Array>(),
    log: new Map<string, Uint8Array>(),
    taskB: new Map<string, Uint8Array>(),
    taskE: new Map<string, Uint8Array>(),
  };

  /** Bytes held by the caches of encoded names and openings. */
  private cached = 0;

  /** Whether `n` more bytes may be cached: the caches stay under 16 MiB. */
  private mayCache(n: number): boolean {
    if (this.cached + n > CACHE_BYTES) return false;
    this.cached += n;
    return true;
  }

  /** `s` capped ({@linkcode capName}), JSON-quoted, encoded. */
  private name(s: string): Uint8Array {
    let j = this.names.get(s);
    if (j === undefined) {
      j = utf8.encode(JSON.stringify(capName(s)));
      if (this.names.size < 100_000 && this.mayCache(j.length)) this.names.set(s, j);
    }
    return j;
  }

  /**
   * `{"ph":…,"name":"type"` and `tail` (`,"ts":` unless given) for region
   * slices, logs and tasks, cached by name.
   */
  private prefix(
    byName: Map<string, Uint8Array>,
    head: Uint8Array,
    key: string,
    name: string,
    tail = F.ts,
  ): Uint8Array {
    // One map per opening: a concatenated key would cost a string per event.
    let p = byName.get(key);
    if (p === undefined) {
      const q = this.name(name);
      p = new Uint8Array(head.length + q.length + tail.length);
      p.set(head);
      p.set(q, head.length);
      p.set(tail, head.length + q.length);
      if (byName.size < 100_000 && this.mayCache(p.length)) byName.set(key, p);
    }
    return p;
  }

  /** `,"pid":P,"tid":T,"args":{"task":` per track. */
  private whereTask = this.perTrack(',"args":{"task":');
  /** `,"pid":P,"tid":T}` per track. */
  private whereClose = this.perTrack("}");
  /** `,"pid":P,"tid":T,"args":{"open":` per track. */
  private whereOpen = this.perTrack(',"args":{"open":');

  /** `,"pid":P,"tid":T` and then `tail`, encoded once per track. */
  private perTrack(tail: string): (track: number) => Uint8Array {
    const byTrack: Uint8Array[] = [];
    return (track) =>
      byTrack[track] ??= utf8.encode(`${new TextDecoder().decode(this.pid)},"tid":${track}${tail}`);
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

  /** Starts the next event: the separator, and room for its fixed part. */
  private next(): JsonBytes {
    const w = this.w;
    w.ensure(512);
    w.raw(this.started ? F.sep : F.open);
    this.started = true;
    this.events++;
    return w;
  }

  /** `,"pid":P,"tid":T` per track, encoded once. */
  private wheres: Uint8Array[] = [];

  private where(track: number): void {
    let b = this.wheres[track];
    if (b === undefined) {
      b = utf8.encode(`${new TextDecoder().decode(this.pid)},"tid":${track}`);
      this.wheres[track] = b;
    }
    this.w.raw(b);
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
    const pre = this.prefix(this.pre.sliceB, F.sliceB, type, type);
    let p = this.start(pre.length);
    const buf = this.w.buf;
    p = cp(buf, p, pre);
    p = usAt(buf, p, time);
    p = cp(buf, p, this.whereTask(track));
    p = intAt(buf, p, task);
    p = cp(buf, p, F.region);
    p = intAt(buf, p, region);
    if (continued) p = cp(buf, p, F.continued);
    buf[p] = 0x7d; // "}}"
    buf[p + 1] = 0x7d;
    this.w.pos = p + 2;
  }

  sliceEnd(
    track: number,
    time: number,
    reason: SliceEndReason,
    type: string,
    endedAt = 0,
  ): void {
    const pre = this.prefix(this.pre.sliceE, F.sliceE, type, type);
    if (reason === "ended") {
      let p = this.start(pre.length);
      const buf = this.w.buf;
      p = cp(buf, p, pre);
      p = usAt(buf, p, time);
      this.w.pos = cp(buf, p, this.whereClose(track));
      return;
    }
    const w = this.next();
    w.raw(pre);
    w.us(time);
    this.where(track);
    if (reason === "late") {
      w.raw(F.endedAt);
      w.us(endedAt);
      w.raw(F.closeArgs);
      return;
    }
    w.raw(reason === "split" ? F.split : F.incomplete);
    w.raw(F.close);
  }

  taskBegin(
    task: number,
    parent: number,
    type: string,
    track: number,
    time: number,
    flow: boolean,
  ): void {
    const label = type || "(unknown task)";
    const pre = this.prefix(this.pre.taskB, F.taskB, label, label, F.id);
    let p = this.start(pre.length);
    const buf = this.w.buf;
    p = cp(buf, p, pre);
    p = intAt(buf, p, task);
    p = cp(buf, p, F.ts);
    p = usAt(buf, p, time);
    p = cp(buf, p, this.whereTask(track));
    p = intAt(buf, p, task);
    p = cp(buf, p, F.parent);
    p = intAt(buf, p, parent);
    buf[p++] = 0x7d; // "}"
    if (flow) {
      p = cp(buf, p, F.flowIn);
      p = intAt(buf, p, task);
      p = cp(buf, p, F.flowInEnd);
    } else buf[p++] = 0x7d;
    this.w.pos = p;
  }

  taskEnd(task: number, type: string, track: number, time: number, incomplete: boolean): void {
    const label = type || "(unknown task)";
    const pre = this.prefix(this.pre.taskE, F.taskE, label, label, F.id);
    if (!incomplete) {
      let p = this.start(pre.length);
      const buf = this.w.buf;
      p = cp(buf, p, pre);
      p = intAt(buf, p, task);
      p = cp(buf, p, F.ts);
      p = usAt(buf, p, time);
      this.w.pos = cp(buf, p, this.whereClose(track));
      return;
    }
    const w = this.next();
    w.raw(pre);
    w.int(task);
    w.raw(F.ts);
    w.us(time);
    this.where(track);
    w.raw(F.incomplete);
    w.raw(F.close);
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
    w.raw(F.id);
    w.int(parent);
    w.raw(F.ts);
    w.us(time);
    this.where(track);
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
    const w = this.next();
    w.raw(this.prefix(this.pre.log, F.log, category, category || "log"));
    w.us(time);
    w.raw(this.whereTask(track));
    w.int(task);
    w.raw(F.message);
    w.str(message);
    w.raw(F.closeArgs);
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
    const pre = this.prefix(this.pre.log, F.log, category, category || "log");
    let p = this.start(pre.length + end - start);
    const buf = this.w.buf;
    p = cp(buf, p, pre);
    p = usAt(buf, p, time);
    p = cp(buf, p, this.whereTask(track));
    p = intAt(buf, p, task);
    p = cp(buf, p, F.message);
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

  tasksOpen(time: number, open: number, track: number): void {
    let p = this.start(0);
    const buf = this.w.buf;
    p = cp(buf, p, F.counterTasks);
    p = usAt(buf, p, time);
    p = cp(buf, p, this.whereOpen(track));
    p = intAt(buf, p, open);
    buf[p] = 0x7d; // "}}"
    buf[p + 1] = 0x7d;
    this.w.pos = p + 2;
  }

  lost(time: number, count: number, total: number, track: number): void {
    let w = this.next();
    w.raw(F.counterLost);
    w.us(time);
    this.where(track);
    w.raw(F.lost);
    w.int(total);
    w.raw(F.closeArgs);
    w = this.next();
    w.raw(F.lostI);
    w.us(time);
    this.where(track);
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
    w.raw(F.ts);
    w.us(time);
    this.where(track);
    w.raw(F.value);
    w.raw(utf8.encode(String(value)));
    w.raw(F.closeArgs);
  }

  span(track: number, s: RuntimeSpan): void {
    const w = this.next();
    w.raw(s.kind === "stall" ? F.stall : s.inferred ? F.gcInferred : F.gc);
    w.us(s.time);
    w.raw(F.dur);
    w.us(s.duration);
    this.where(track);
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
    w.us(time);
    w.raw(this.whereClose(track));
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
