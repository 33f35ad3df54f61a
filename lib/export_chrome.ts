/**
 * Export to the Trace Event Format (Chrome DevTools, ui.perfetto.dev), as
 * JSON in array form, written as a stream. The array form stays loadable
 * when the output is cut short, and viewers need no closing bracket.
 *
 * - Timestamps are microseconds since the trace start, with the
 *   nanoseconds as decimals (epoch microseconds would lose them in doubles).
 * - Regions are `B`/`E` slices on thread tracks laid out by
 *   {@linkcode TrackLayout}: every `B` has its `E` on the same `tid`, nested.
 * - Tasks are nestable async slices (`b`/`e`, category `task`, `id` = task
 *   id); a subtask is linked to its parent by a flow (`bind_id`, `flow_out`
 *   on a `n` instant on the parent's slice, `flow_in` on the child's `b`).
 * - Logs are thread instants (`i`, `s: "t"`) named by category, with the
 *   message in `args`. The runtime's counters (heap, memory, event loop),
 *   the tasks open and the events lost are counters (`C`).
 * - Event-loop stalls and GCs are complete slices (`X`) on a track of their
 *   own per thread.
 *
 * @module
 */

import type { EventVisitor, TraceEvent, TraceHeader } from "./decoder.ts";
import {
  type LayoutReport,
  type LayoutSink,
  type RuntimeSpan,
  type SliceEndReason,
  TrackLayout,
} from "./export_layout.ts";

export type { LayoutReport };

const utf8 = new TextEncoder();
/** As the decoder decodes messages: invalid bytes become U+FFFD. */
const utf8d = new TextDecoder("utf-8", { fatal: false });

/**
 * Builds JSON as UTF-8 bytes directly: an export writes a gigabyte of JSON
 * for ten million events, and building strings first costs twice the time.
 */
class JsonBytes {
  buf = new Uint8Array(1 << 20);
  pos = 0;

  ensure(n: number): void {
    // Kept tiny so that it inlines; growing is the rare case.
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Appends pre-encoded bytes. */
  raw(b: Uint8Array): void {
    const n = b.length;
    if (this.pos + n > this.buf.length) this.ensure(n);
    // A loop beats TypedArray.set for the short fragments of an event.
    if (n < 64) {
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
    const buf = this.buf;
    if (v < 10) {
      buf[this.pos++] = 48 + v;
      return;
    }
    if (v >= 0x7fffffff) {
      this.pos += utf8.encodeInto(String(v), buf.subarray(this.pos)).written;
      return;
    }
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
    const end = this.pos + n;
    let p = end;
    let x = v | 0;
    while (x >= 10) {
      const q = (x / 10) | 0;
      buf[--p] = 48 + x - q * 10;
      x = q;
    }
    buf[--p] = 48 + x;
    this.pos = end;
  }

  /**
   * Appends nanoseconds as microseconds with the nanoseconds as up to three
   * decimals, trailing zeros dropped: what `String(ns / 1000)` prints.
   */
  us(ns: number): void {
    const whole = Math.floor(ns / 1000);
    const frac = ns - whole * 1000;
    this.int(whole);
    if (frac === 0) return;
    const buf = this.buf;
    buf[this.pos++] = 46; // "."
    const d1 = Math.floor(frac / 100);
    const d2 = Math.floor(frac / 10) % 10;
    const d3 = frac % 10;
    buf[this.pos++] = 48 + d1;
    if (d2 !== 0 || d3 !== 0) buf[this.pos++] = 48 + d2;
    if (d3 !== 0) buf[this.pos++] = 48 + d3;
  }

  /** Appends a JSON string. */
  str(s: string): void {
    const j = JSON.stringify(s);
    this.ensure(j.length * 3 + 64);
    this.pos += utf8.encodeInto(j, this.buf.subarray(this.pos)).written;
  }

  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }

  private spare?: Uint8Array<ArrayBuffer>;

  /**
   * The bytes written since the last take, without a copy: a view that stays
   * valid until the next `takeView`, which reuses its memory. For a writer
   * that is done with one chunk before asking for the next, so that a long
   * export does not leave a trail of buffers for the collector.
   */
  takeView(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    const next = this.spare ?? new Uint8Array(this.buf.length);
    this.spare = this.buf;
    this.buf = next;
    this.pos = 0;
    return out;
  }
}

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
  sliceE: b('{"ph":"E","ts":'),
  split: b(',"args":{"split":true}'),
  incomplete: b(',"args":{"incomplete":true}'),
  taskB: b('{"ph":"b","cat":"task","name":'),
  taskE: b('{"ph":"e","cat":"task","name":'),
  id: b(',"id":'),
  parent: b(',"parent":'),
  flowIn: b(',"bind_id":'),
  flowInEnd: b(',"flow_in":true}'),
  flowN: b('{"ph":"n","cat":"task","name":'),
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

/** Writes Trace Event Format JSON into a byte buffer the caller drains. */
class ChromeSink implements LayoutSink {
  w = new JsonBytes();
  events = 0;
  private started = false;
  /** `,"pid":N` once the pid is known. */
  private pid = b(',"pid":1');
  /** JSON-quoted names, encoded, by name: types and categories repeat. */
  private names = new Map<string, Uint8Array>();
  /** Event openings up to `"ts":` with the name in, by phase and name. */
  private prefixes = new Map<Uint8Array, Map<string, Uint8Array>>();

  private name(s: string): Uint8Array {
    let j = this.names.get(s);
    if (j === undefined) {
      j = utf8.encode(JSON.stringify(s));
      if (this.names.size < 100_000) this.names.set(s, j);
    }
    return j;
  }

  /** `{"ph":…,"name":"type","ts":` for region slices and logs, cached by name. */
  private prefix(head: Uint8Array, key: string, name: string): Uint8Array {
    // One map per opening: a concatenated key would cost a string per event.
    let byName = this.prefixes.get(head);
    if (byName === undefined) this.prefixes.set(head, byName = new Map());
    let p = byName.get(key);
    if (p === undefined) {
      const q = this.name(name);
      p = new Uint8Array(head.length + q.length + F.ts.length);
      p.set(head);
      p.set(q, head.length);
      p.set(F.ts, head.length + q.length);
      if (byName.size < 100_000) byName.set(key, p);
    }
    return p;
  }

  /** `,"pid":P,"tid":T,"args":{"task":` per track. */
  private whereArgs: Uint8Array[] = [];

  private whereTask(track: number): void {
    let b = this.whereArgs[track];
    if (b === undefined) {
      b = utf8.encode(`${new TextDecoder().decode(this.pid)},"tid":${track},"args":{"task":`);
      this.whereArgs[track] = b;
    }
    this.w.raw(b);
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
      `{"name":"process_name","ph":"M","pid":${p},"tid":0,"args":{"name":${JSON.stringify(name)}}}`,
    );
  }

  track(track: number, _thread: number, _slot: number, name: string): void {
    const pid = new TextDecoder().decode(this.pid);
    this.meta(
      `{"name":"thread_name","ph":"M"${pid},"tid":${track},"args":{"name":${
        JSON.stringify(name)
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
    const w = this.next();
    w.raw(this.prefix(F.sliceB, type, type));
    w.us(time);
    this.whereTask(track);
    w.int(task);
    w.raw(F.region);
    w.int(region);
    if (continued) w.raw(F.continued);
    w.raw(F.closeArgs);
  }

  sliceEnd(track: number, time: number, reason: SliceEndReason): void {
    const w = this.next();
    w.raw(F.sliceE);
    w.us(time);
    this.where(track);
    if (reason !== "ended") w.raw(reason === "split" ? F.split : F.incomplete);
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
    const w = this.next();
    w.raw(F.taskB);
    w.raw(this.name(type || "(unknown task)"));
    w.raw(F.id);
    w.int(task);
    w.raw(F.ts);
    w.us(time);
    this.where(track);
    w.raw(F.argsTask);
    w.int(task);
    w.raw(F.parent);
    w.int(parent);
    w.raw(F.close);
    if (flow) {
      w.raw(F.flowIn);
      w.int(task);
      w.raw(F.flowInEnd);
    } else w.raw(F.close);
  }

  taskEnd(task: number, type: string, track: number, time: number, incomplete: boolean): void {
    const w = this.next();
    w.raw(F.taskE);
    w.raw(this.name(type || "(unknown task)"));
    w.raw(F.id);
    w.int(task);
    w.raw(F.ts);
    w.us(time);
    this.where(track);
    if (incomplete) w.raw(F.incomplete);
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
    w.raw(this.prefix(F.log, category, category || "log"));
    w.us(time);
    this.whereTask(track);
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
    const w = this.next();
    w.raw(this.prefix(F.log, category, category || "log"));
    w.us(time);
    this.whereTask(track);
    w.int(task);
    w.raw(F.message);
    w.ensure(end - start + 8);
    const buf = w.buf;
    let p = w.pos;
    buf[p++] = 0x22;
    for (let i = start; i < end; i++) buf[p++] = bytes[i];
    buf[p++] = 0x22;
    w.pos = p;
    w.raw(F.closeArgs);
  }

  tasksOpen(time: number, open: number, track: number): void {
    const w = this.next();
    w.raw(F.counterTasks);
    w.us(time);
    this.where(track);
    w.raw(F.open_);
    w.int(open);
    w.raw(F.closeArgs);
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
    this.where(track);
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
 * import { TraceDecoder } from "./decoder.ts";
 * import { ChromeExporter } from "./export_chrome.ts";
 * const x = new ChromeExporter();
 * const d = new TraceDecoder(x.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * await Deno.writeFile("trace.json", x.take());
 * ```
 */
export class ChromeExporter {
  private sink = new ChromeSink();
  private layout = new TrackLayout(this.sink);

  /** Takes the next event; the `end` event closes the JSON array. */
  add = (e: TraceEvent): void => {
    this.layout.add(e);
    if (e.kind === "end") this.sink.close();
  };

  /**
   * The decoder's fast path for the frequent kinds, the same output as
   * `add`: `new TraceDecoder(x.add, x.visitor)`.
   */
  get visitor(): EventVisitor {
    return this.layout;
  }

  /** The JSON written since the last call, as UTF-8. */
  take(): Uint8Array {
    return this.sink.w.take();
  }

  /** Like `take`, without a copy: valid until the next `takeView`. */
  takeView(): Uint8Array {
    return this.sink.w.takeView();
  }

  /** Trace events written so far. */
  get events(): number {
    return this.sink.events;
  }

  /** What the layout repaired; complete after the `end` event. */
  get report(): LayoutReport {
    return this.layout.report;
  }
}
