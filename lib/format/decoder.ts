/**
 * An incremental decoder of the trace format (docs/format.md): feed it bytes
 * in chunks of any size, get typed events. Memory is bounded by the largest
 * batch (64 MiB at most), whatever the length of the trace.
 *
 * @module
 */

import {
  Batch,
  Ev,
  FORMAT_VERSION,
  GC_INFERRED,
  HEADER_SNAPSHOT,
  LOG_TRUNCATED,
  MAGIC,
  MAX_BATCH_BYTES,
  MAX_HEADER_BYTES,
} from "./constants.ts";
import type { HeaderFields } from "./encoder.ts";

/** What the trace's header says about the recording. */
export interface TraceHeader extends Omit<HeaderFields, "flags"> {
  /** Format version. */
  version: number;
  /**
   * A flight-recorder snapshot: a window of a longer recording. Tasks and
   * regions open at its start appear with their real start times.
   */
  snapshot: boolean;
}

/** A task was created. Times are ns since the trace started. */
export interface TaskBeginEvent {
  /** The kind of event: a task began. */
  kind: "taskBegin";
  /** When, in ns since the trace started. */
  time: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** Task id; 0 is the background. */
  task: number;
  /** Parent task id; 0 is the background. */
  parent: number;
  /** The task type given to `newTask`. */
  type: string;
  /** Call stack frames, innermost first, when recorded with `stacks: true`. */
  stack?: string[];
}

/** A task ended. */
export interface TaskEndEvent {
  /** The kind of event: a task ended. */
  kind: "taskEnd";
  /** When, in ns since the trace started. */
  time: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** Task id; 0 is the background. */
  task: number;
}

/** A region began. */
export interface RegionBeginEvent {
  /** The kind of event: a region began. */
  kind: "regionBegin";
  /** When, in ns since the trace started. */
  time: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** Region id, unique within its thread. */
  region: number;
  /** Task id; 0 is the background. */
  task: number;
  /** The region type given to `withRegion` or `startRegion`. */
  type: string;
  /** Enclosing `withRegion` region on the same thread, 0 if none. */
  parent: number;
  /** Async lane: regions nest within a lane. */
  lane: number;
  /** Call stack frames, innermost first, when recorded with `stacks: true`. */
  stack?: string[];
}

/** A region ended. */
export interface RegionEndEvent {
  /** The kind of event: a region ended. */
  kind: "regionEnd";
  /** When, in ns since the trace started. */
  time: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** Region id, unique within its thread. */
  region: number;
}

/** A log message. */
export interface LogEvent {
  /** The kind of event: a log. */
  kind: "log";
  /** When, in ns since the trace started. */
  time: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** Task id; 0 is the background. */
  task: number;
  /** The log category. */
  category: string;
  /** The log message. */
  message: string;
  /** The message was cut to the recorder's length limit. */
  truncated: boolean;
  /** Call stack frames, innermost first, when recorded with `stacks: true`. */
  stack?: string[];
}

/** A sampled value, such as `heap.used` (bytes) or `eventloop.utilization`. */
export interface CounterEvent {
  /** The kind of event: a counter sample. */
  kind: "counter";
  /** When, in ns since the trace started. */
  time: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** The counter, such as `heap.used` or `eventloop.utilization`. */
  name: string;
  /** The sampled value. */
  value: number;
}

/**
 * The thread's event loop ran nothing for `duration` ns from `time` (known to
 * about half the heartbeat period). `region` and `task` say what was running:
 * the innermost region open at the stall's midpoint (0 if none).
 */
export interface StallEvent {
  /** The kind of event: an event-loop stall, at its end. */
  kind: "stall";
  /** Start of the stall (the event is written at its end). */
  time: number;
  /** How long, in ns. */
  duration: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** Region id, unique within its thread. */
  region: number;
  /** Task id; 0 is the background. */
  task: number;
}

/**
 * A garbage collection. When `inferred`, the runtime reported nothing: the
 * heap shrank by `freed` bytes between two samples, and [time, time +
 * duration] is that window, not the pause.
 */
export interface GcEvent {
  /** The kind of event: a garbage collection, at its end. */
  kind: "gc";
  /** Start (the event is written at its end). */
  time: number;
  /** How long, in ns. */
  duration: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** Derived from heap samples, not reported by the runtime. */
  inferred: boolean;
  /** Bytes the heap shrank by. */
  freed: number;
}

/** The thread stopped recording: it left the trace or exited. */
export interface ThreadEndEvent {
  /** The kind of event: a thread stopped recording. */
  kind: "threadEnd";
  /** When, in ns since the trace started. */
  time: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
}

/** The recorder dropped `count` events here (its ring stayed full). */
export interface LostEvent {
  /** The kind of event: the recorder dropped events. */
  kind: "lost";
  /** When, in ns since the trace started. */
  time: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** How many events were dropped. */
  count: number;
}

/** A thread got its name. */
export interface ThreadEvent {
  /** The kind of event: a thread was named. */
  kind: "thread";
  /** When, in ns since the trace started. */
  time: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** The thread's name: `main`, or the one given to `threadHandle`. */
  name: string;
}

/** The first event of every trace. */
export interface HeaderEvent {
  /** The kind of event: the trace's header, first. */
  kind: "header";
  /** When, in ns since the trace started. */
  time: number;
  /** The header fields. */
  header: TraceHeader;
}

/** The last event of every read: whether the trace was complete. */
export interface EndEvent {
  /** The kind of event: the end of the input, last. */
  kind: "end";
  /** When, in ns since the trace started. */
  time: number;
  /** The input stopped before the trace's END batch (a crash, a cut file). */
  truncated: boolean;
  /** Events the recorder reported lost. */
  lost: number;
  /** Events read. */
  events: number;
  /** Bytes of input read, to its end. */
  bytes: number;
}

/** Every event a trace yields, in file order. */
export type TraceEvent =
  | HeaderEvent
  | TaskBeginEvent
  | TaskEndEvent
  | RegionBeginEvent
  | RegionEndEvent
  | LogEvent
  | LostEvent
  | ThreadEvent
  | CounterEvent
  | StallEvent
  | GcEvent
  | ThreadEndEvent
  | EndEvent;

/** Input that is not a valid trace. `offset` is where, in bytes. */
export class TraceFormatError extends Error {
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;

  /** Makes an error that names the problem and the offset. */
  constructor(message: string, offset: number) {
    super(`runtrace: ${message} (at byte offset ${offset})`);
    this.name = "TraceFormatError";
    this.offset = offset;
  }
}

/**
 * Typed callbacks for the frequent event kinds, for a consumer that must run
 * at millions of events per second: no object is made per event, and a log's
 * message is handed over as its recorded UTF-8 bytes, not decoded. Pass one
 * as the second argument of {@linkcode TraceDecoder}; the other kinds still
 * go to `onEvent`. Arguments are the fields of the event objects.
 *
 * @example
 * ```ts
 * import { type EventVisitor, TraceDecoder } from "./decoder.ts";
 * let regions = 0;
 * const v: EventVisitor = {
 *   taskBegin() {},
 *   taskEnd() {},
 *   regionBegin() {
 *     regions++;
 *   },
 *   regionEnd() {},
 *   log() {},
 * };
 * const d = new TraceDecoder(() => {}, v);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * ```
 */
export interface EventVisitor {
  /** A {@linkcode TaskBeginEvent}. */
  taskBegin(
    time: number,
    thread: number,
    task: number,
    parent: number,
    type: string,
    stack: string[] | undefined,
  ): void;
  /** A {@linkcode TaskEndEvent}. */
  taskEnd(time: number, thread: number, task: number): void;
  /** A {@linkcode RegionBeginEvent}. */
  regionBegin(
    time: number,
    thread: number,
    region: number,
    task: number,
    type: string,
    parent: number,
    lane: number,
    stack: string[] | undefined,
  ): void;
  /** A {@linkcode RegionEndEvent}. */
  regionEnd(time: number, thread: number, region: number): void;
  /**
   * A {@linkcode LogEvent}; the message is the UTF-8 in `bytes[start, end)`,
   * valid only during the call (decode it with a non-fatal `TextDecoder` to
   * get the event's `message`).
   */
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
  ): void;
}

/** Reads varints and strings from a byte range, checking its end. */
class Cursor {
  constructor(
    public buf: Uint8Array,
    public pos: number,
    public end: number,
    public base: number,
    public what: string,
  ) {}

  fail(msg: string): never {
    throw new TraceFormatError(`${msg} in ${this.what}`, this.base + this.pos);
  }

  u8(): number {
    if (this.pos >= this.end) this.fail("unexpected end");
    return this.buf[this.pos++];
  }

  uvarint(): number {
    const buf = this.buf;
    const p = this.pos;
    if (this.end - p >= 4) {
      // Ids and time deltas take one to four bytes: int32 arithmetic,
      // unrolled (a loop over doubles costs JavaScriptCore several times more).
      let b = buf[p];
      if (b < 0x80) {
        this.pos = p + 1;
        return b;
      }
      let v = b & 0x7f;
      b = buf[p + 1];
      v |= (b & 0x7f) << 7;
      if (b < 0x80) {
        this.pos = p + 2;
        return v;
      }
      b = buf[p + 2];
      v |= (b & 0x7f) << 14;
      if (b < 0x80) {
        this.pos = p + 3;
        return v;
      }
      b = buf[p + 3];
      v |= (b & 0x7f) << 21;
      if (b < 0x80) {
        this.pos = p + 4;
        return v;
      }
    }
    return this.longUvarint();
  }

  /** A varint near the end of the range or longer than four bytes, each byte checked. */
  private longUvarint(): number {
    const buf = this.buf;
    let p = this.pos;
    let v = 0;
    let mul = 1;
    for (let k = 0; k < 8; k++) {
      if (p >= this.end) this.fail("varint runs past the end");
      const b = buf[p++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = p;
        return v;
      }
      mul *= 128;
    }
    return this.fail("varint longer than 8 bytes");
  }

  svarint(): number {
    const v = this.uvarint();
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }

  f64(): number {
    if (this.pos + 8 > this.end) this.fail("unexpected end");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8)
      .getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  string(decoder: { decode(bytes: Uint8Array): string }): string {
    const n = this.uvarint();
    if (n > this.end - this.pos) this.fail(`string of ${n} bytes runs past the end`);
    const s = decoder.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

/**
 * Decodes a trace pushed in chunks, calling `onEvent` for each event in file
 * order. Throws {@linkcode TraceFormatError} on input that is not a trace.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "./decoder.ts";
 * const bytes = await Deno.readFile("trace.out");
 * let n = 0;
 * const d = new TraceDecoder(() => n++);
 * d.push(bytes);
 * d.finish();
 * ```
 */
export class TraceDecoder {
  /** The header, once read. */
  header?: TraceHeader;
  private buf = new Uint8Array(0);
  private len = 0;
  private pos = 0;
  /** Absolute offset of buf[0] in the input. */
  private base = 0;
  private strings: string[] = [""];
  private utf8 = new TextDecoder("utf-8", { fatal: false });
  private ended = false;
  private events = 0;
  private lost = 0;
  private lastTime = 0;
  private stackCache = new Map<string, string[]>();
  /** In a snapshot: what is open, so that restated begins are not doubled. */
  private open?: { tasks: Set<number>; regions: Set<number> };
  private onEvent: (e: TraceEvent) => void;
  private visitor: EventVisitor | undefined;

  /**
   * Makes a decoder that hands each event to `onEvent`, or, for the kinds
   * it has a method for, to `visitor`.
   */
  constructor(onEvent: (e: TraceEvent) => void, visitor?: EventVisitor) {
    this.onEvent = onEvent;
    this.visitor = visitor;
  }

  /** Decodes every complete batch in the input so far. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.append(chunk);
    if (!this.header && !this.readHeader()) return;
    while (this.readBatch());
    if (this.pos > 1 << 16 && this.pos > this.len >> 1) this.compact();
  }

  /**
   * Ends the input: emits and returns the `end` event. A trace cut short is
   * reported as truncated; input too short for a header is an error.
   */
  finish(): EndEvent {
    if (!this.header) {
      if (this.base + this.len === 0) {
        throw new TraceFormatError("empty input: not a runtrace trace", 0);
      }
      throw new TraceFormatError(
        "input ends inside the trace header: truncated or not a trace",
        this.base + this.len,
      );
    }
    const end: EndEvent = {
      kind: "end",
      time: this.lastTime,
      truncated: !this.ended,
      lost: this.lost,
      events: this.events,
      bytes: this.base + this.len,
    };
    this.onEvent(end);
    return end;
  }

  /** Appends a chunk, growing the buffer. */
  private append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      let size = Math.max(1 << 16, this.buf.length * 2);
      while (size < this.len - this.pos + chunk.length) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(this.pos, this.len));
      this.base += this.pos;
      this.len -= this.pos;
      this.pos = 0;
      this.buf = next;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  /** Moves the unread bytes to the front. */
  private compact(): void {
    this.buf.copyWithin(0, this.pos, this.len);
    this.base += this.pos;
    this.len -= this.pos;
    this.pos = 0;
  }

  /** Reads the header once enough bytes are in. */
  private readHeader(): boolean {
    const avail = this.len - this.pos;
    const buf = this.buf;
    for (let k = 0; k < MAGIC.length && k < avail; k++) {
      if (buf[this.pos + k] !== MAGIC[k]) {
        throw new TraceFormatError(
          'not a runtrace trace: the file does not start with the magic bytes "runtrace"',
          this.base + this.pos + k,
        );
      }
    }
    if (avail < MAGIC.length + 2) return false;
    const c = new Cursor(buf, this.pos + MAGIC.length, this.len, this.base, "header");
    let version: number, size: number;
    try {
      version = c.uvarint();
      size = c.uvarint();
    } catch (e) {
      if (this.len - this.pos < 32) return false;
      throw e;
    }
    if (version !== FORMAT_VERSION) {
      throw new TraceFormatError(
        `unsupported trace format version ${version} (this reader reads version ${FORMAT_VERSION})`,
        this.base + this.pos + MAGIC.length,
      );
    }
    if (size > MAX_HEADER_BYTES) {
      throw new TraceFormatError(`header claims ${size} bytes`, this.base + c.pos);
    }
    if (c.pos + size > this.len) return false;
    const h = new Cursor(buf, c.pos, c.pos + size, this.base, "header");
    this.header = {
      version,
      timeOrigin: h.f64(),
      startTime: h.f64(),
      resolutionNs: h.uvarint(),
      runtime: h.string(this.utf8),
      runtimeVersion: h.string(this.utf8),
      pid: h.uvarint(),
      snapshot: false,
    };
    // Fields added after the first release are read only when present.
    if (h.pos < h.end) this.header.snapshot = (h.uvarint() & HEADER_SNAPSHOT) !== 0;
    if (h.pos < h.end) this.header.part = h.uvarint();
    if (this.header.snapshot) this.open = { tasks: new Set(), regions: new Set() };
    this.pos = c.pos + size;
    this.onEvent({ kind: "header", time: 0, header: this.header });
    return true;
  }

  /** Reads one batch if it is complete. */
  private readBatch(): boolean {
    if (this.pos >= this.len) return false;
    const at = this.base + this.pos;
    if (this.ended) {
      throw new TraceFormatError("data after the end of the trace", at);
    }
    const c = new Cursor(this.buf, this.pos, this.len, this.base, "batch header");
    const type = c.u8();
    let size: number;
    try {
      size = c.uvarint();
    } catch (e) {
      if (this.len - this.pos < 10) return false;
      throw e;
    }
    if (size > MAX_BATCH_BYTES) {
      throw new TraceFormatError(
        `batch claims ${size} bytes, more than the ${MAX_BATCH_BYTES}-byte limit: corrupt trace`,
        at,
      );
    }
    if (c.pos + size > this.len) return false;
    const body = new Cursor(this.buf, c.pos, c.pos + size, this.base, "");
    switch (type) {
      case Batch.STRINGS:
        body.what = "string batch";
        while (body.pos < body.end) {
          const id = body.uvarint();
          if (id > 1 << 24) body.fail(`string id ${id} out of range`);
          this.strings[id] = body.string(this.utf8);
        }
        break;
      case Batch.EVENTS:
        body.what = `event batch at offset ${at}`;
        this.decodeEventsBatch(body, false);
        break;
      case Batch.RESTATE:
        body.what = `restate batch at offset ${at}`;
        this.decodeEventsBatch(body, true);
        break;
      case Batch.THREAD: {
        body.what = "thread batch";
        const thread = body.uvarint();
        const name = body.string(this.utf8);
        this.onEvent({ kind: "thread", time: this.lastTime, thread, name });
        break;
      }
      case Batch.END:
        body.what = "end batch";
        body.uvarint();
        this.lost = Math.max(this.lost, body.uvarint());
        this.ended = true;
        break;
      default:
        // Unknown batch types are skipped: later versions may add some.
        break;
    }
    this.pos = c.pos + size;
    return true;
  }

  /**
   * Reads an EVENTS batch, or a RESTATE batch of begins that a snapshot's
   * chunk repeats: those are dropped when the original is already open.
   * The hot loop of the reader: one dispatch per event, the frequent kinds
   * first, each decoded by a small method below.
   */
  private decodeEventsBatch(c: Cursor, restated: boolean): void {
    const thread = c.uvarint();
    const start = c.uvarint();
    const lastRegion = c.uvarint();
    const count = c.uvarint();
    const time = this.decodeEvents(c, restated, thread, start, lastRegion, count);
    if (c.pos !== c.end) c.fail(`${c.end - c.pos} stray bytes after ${count} events`);
    this.events += count;
    if (time > this.lastTime) this.lastTime = time;
  }

  /**
   * The loop of {@linkcode decodeEventsBatch}; returns the last event's time.
   * A function of its own whose exit is a plain return: V8 compiles a long
   * batch's loop on the stack (OSR) before any batch has ended, and code
   * after the loop then has no type feedback; in Deno that code was entered
   * again and left by a deoptimization at the loop's end in batch after batch
   * (2 to 500 times per 10 M-event export, from run to run).
   */
  private decodeEvents(
    c: Cursor,
    restated: boolean,
    thread: number,
    time: number,
    lastRegion: number,
    count: number,
  ): number {
    /** The stack recorded for the next event, if any. */
    let stack: string[] | undefined;
    for (let k = 0; k < count; k++) {
      const type = c.u8();
      time += c.uvarint();
      switch (type) {
        case Ev.STACK:
          stack = this.frames(this.str(c));
          continue;
        case Ev.REGION_BEGIN:
          lastRegion = this.regionBegin(c, time, thread, lastRegion, restated, stack);
          break;
        case Ev.REGION_END:
          this.regionEnd(time, thread, lastRegion - c.svarint());
          break;
        case Ev.TASK_BEGIN:
          this.taskBegin(c, time, thread, restated, stack);
          break;
        case Ev.TASK_END:
          this.taskEnd(time, thread, c.uvarint());
          break;
        case Ev.LOG:
          this.log(c, time, thread, stack);
          break;
        default:
          this.otherEvent(c, type, time, thread, k, count);
      }
      stack = undefined;
    }
    return time;
  }

  /**
   * A snapshot's restated begin of something already open is dropped: true
   * when `key` must be skipped. Only snapshots track what is open.
   */
  private restatedOpen(set: Set<number>, key: number, restated: boolean): boolean {
    if (restated && set.has(key)) return true;
    set.add(key);
    return false;
  }

  /** A REGION_BEGIN; returns its region id, the batch's new base for ids. */
  private regionBegin(
    c: Cursor,
    time: number,
    thread: number,
    lastRegion: number,
    restated: boolean,
    stack: string[] | undefined,
  ): number {
    const task = c.uvarint();
    const type = this.str(c);
    const region = lastRegion + c.svarint();
    const back = c.uvarint();
    const lane = c.uvarint();
    const parent = back === 0 ? 0 : region - back;
    const open = this.open;
    if (
      open !== undefined && this.restatedOpen(open.regions, thread * 2 ** 32 + region, restated)
    ) {
      return region;
    }
    const v = this.visitor;
    if (v !== undefined) {
      v.regionBegin(time, thread, region, task, type, parent, lane, stack);
      return region;
    }
    const e: RegionBeginEvent = {
      kind: "regionBegin",
      time,
      thread,
      region,
      task,
      type,
      parent,
      lane,
    };
    if (stack) e.stack = stack;
    this.onEvent(e);
    return region;
  }

  /** A region end, to the visitor or as an event. */
  private regionEnd(time: number, thread: number, region: number): void {
    this.open?.regions.delete(thread * 2 ** 32 + region);
    const v = this.visitor;
    if (v !== undefined) v.regionEnd(time, thread, region);
    else this.onEvent({ kind: "regionEnd", time, thread, region });
  }

  /** A task begin, to the visitor or as an event. */
  private taskBegin(
    c: Cursor,
    time: number,
    thread: number,
    restated: boolean,
    stack: string[] | undefined,
  ): void {
    const task = c.uvarint();
    const parent = c.uvarint();
    const type = this.str(c);
    const open = this.open;
    if (open !== undefined && this.restatedOpen(open.tasks, task, restated)) return;
    const v = this.visitor;
    if (v !== undefined) {
      v.taskBegin(time, thread, task, parent, type, stack);
      return;
    }
    const e: TaskBeginEvent = { kind: "taskBegin", time, thread, task, parent, type };
    if (stack) e.stack = stack;
    this.onEvent(e);
  }

  /** A task end, to the visitor or as an event. */
  private taskEnd(time: number, thread: number, task: number): void {
    this.open?.tasks.delete(task);
    const v = this.visitor;
    if (v !== undefined) v.taskEnd(time, thread, task);
    else this.onEvent({ kind: "taskEnd", time, thread, task });
  }

  /** A log, to the visitor or as an event. */
  private log(c: Cursor, time: number, thread: number, stack: string[] | undefined): void {
    const task = c.uvarint();
    const category = this.str(c);
    const truncated = (c.uvarint() & LOG_TRUNCATED) !== 0;
    const v = this.visitor;
    if (v !== undefined) {
      // The visitor gets the message's bytes: no string is made for it.
      const n = c.uvarint();
      if (n > c.end - c.pos) c.fail(`string of ${n} bytes runs past the end`);
      const at = c.pos;
      c.pos += n;
      v.log(time, thread, task, category, c.buf, at, at + n, truncated, stack);
      return;
    }
    const message = c.string(this.utf8);
    const e: LogEvent = { kind: "log", time, thread, task, category, message, truncated };
    if (stack) e.stack = stack;
    this.onEvent(e);
  }

  /** The rarer kinds: counters, stalls, GCs, thread ends, lost events. */
  private otherEvent(
    c: Cursor,
    type: number,
    time: number,
    thread: number,
    k: number,
    count: number,
  ): void {
    const emit = this.onEvent;
    switch (type) {
      case Ev.COUNTER: {
        const name = this.str(c);
        emit({ kind: "counter", time, thread, name, value: c.f64() });
        return;
      }
      case Ev.STALL: {
        // Stamped at its end: the event's time is when it began.
        const duration = c.uvarint();
        const region = c.uvarint();
        const task = c.uvarint();
        emit({ kind: "stall", time: Math.max(0, time - duration), duration, thread, region, task });
        return;
      }
      case Ev.GC: {
        const duration = c.uvarint();
        const inferred = (c.uvarint() & GC_INFERRED) !== 0;
        const freed = c.uvarint();
        emit({ kind: "gc", time: Math.max(0, time - duration), duration, thread, inferred, freed });
        return;
      }
      case Ev.THREAD_END:
        emit({ kind: "threadEnd", time, thread });
        return;
      case Ev.LOST: {
        const count = c.uvarint();
        this.lost += count;
        emit({ kind: "lost", time, thread, count });
        return;
      }
      default:
        c.fail(`unknown event type ${type} (event ${k} of ${count})`);
    }
  }

  /** Frames of a captured `Error.stack`, without its message line. */
  private frames(stack: string): string[] {
    const cached = this.stackCache.get(stack);
    if (cached) return cached;
    const out: string[] = [];
    for (const line of stack.split("\n")) {
      const t = line.trim();
      if (t.startsWith("at ")) out.push(t.slice(3));
    }
    this.stackCache.set(stack, out);
    return out;
  }

  /** Resolves a string id. */
  private str(c: Cursor): string {
    const id = c.uvarint();
    const s = this.strings[id];
    if (s === undefined) c.fail(`undefined string id ${id}`);
    return s;
  }
}
