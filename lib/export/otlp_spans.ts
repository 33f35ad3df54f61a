/**
 * The mapping of a runtrace trace onto OpenTelemetry spans, as a stream:
 * decoded events in, finished spans out as they end. The encodings (OTLP
 * protobuf and OTLP/JSON) are otlp.ts's.
 *
 * - A task is a span named by its type; a subtask's span is a child of its
 *   parent task's span (same trace id).
 * - A region is a child span of its task's span, nested as the regions nest
 *   (the enclosing `withRegion` region, else the innermost region open on
 *   the same async lane); a region of the background task is a root span.
 * - A log is a span event (name = category, `message` attribute) on the
 *   innermost span of its task open at that moment.
 * - An event-loop stall is an event on the spans it delayed (those open on
 *   its thread), with its duration and the region that caused it.
 * - A task that logged an incoming `traceparent` (`traceRequests`) takes its
 *   trace id and parent span id from it: the spans join the upstream trace.
 *   A region begun after a `traceparent.out` log (`tracedFetch` with
 *   `propagate`) takes the span id that header sent, so the downstream
 *   service's spans hang under it.
 * - Spans still open when the trace ends end there, with the attribute
 *   `runtrace.open_at_end: true`.
 * - Span and trace ids are random (unique across processes), never counters.
 *
 * Memory holds the open spans only, each with at most
 * {@linkcode MAX_EVENTS} events (more are counted as dropped, as
 * OpenTelemetry's SDKs do).
 *
 * @module
 */

import type { EventVisitor, TraceEvent, TraceHeader } from "../format/decoder.ts";

export type { TraceHeader };
import { capName } from "./name_cap.ts";
import { IntMap } from "../read/int_map.ts";

/** As the decoder decodes messages: invalid bytes become U+FFFD. */
const utf8d = new TextDecoder("utf-8", { fatal: false });

/**
 * The UTF-8 in `bytes[start, end)` as the decoder decodes messages: a short
 * ASCII message char by char, which costs a fraction of a `TextDecoder` call
 * (a view and a call into the engine per message).
 */
function decodeMessage(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 64) {
    let s = "";
    let i = start;
    for (; i < end; i++) {
      const c = bytes[i];
      if (c >= 0x80) break;
      s += String.fromCharCode(c);
    }
    if (i === end) return s;
  }
  return utf8d.decode(bytes.subarray(start, end));
}

/** Most events a span carries; more are counted in `droppedEvents`. */
export const MAX_EVENTS = 128;
/**
 * Most ended spans a tree holds back while its trace id is not settled. A
 * tree's id settles with a `traceparent` (an outgoing call's trace id is
 * drawn by `tracedFetch` on the main thread at the first call, which may
 * come after some of the task's regions ended) or when its root span ends;
 * until then its ended spans wait, so that they go out with the id the
 * downstream services got. Past this many, the tree settles on the id it
 * has.
 */
export const MAX_HELD = 512;
/** Most ended span objects a mapper keeps for reuse. */
const MAX_SPARE = 1024;
/** Most spans a stall adds its event to. */
const MAX_STALL_SPANS = 256;

/** `SpanKind` of OTLP. */
export const SpanKind = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;
/** `Status.StatusCode` of OTLP. */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

/** An attribute value: strings, integers (int64), booleans. */
export type AttrValue = string | number | boolean;
/** Attributes in order, as key/value pairs. */
export type Attrs = [string, AttrValue][];

/** A span event. `time` is ns since the trace start. */
export interface OtlpEvent {
  /** When, ns since the trace start. */
  time: number;
  /** The event's name. */
  name: string;
  /** Its attributes. */
  attrs: Attrs;
}

/** Bytes per block of copied log messages (see {@linkcode LogSpanEvent}). */
const MESSAGE_BLOCK = 4096;
/** Longer messages are decoded to strings, not copied into blocks. */
const MAX_COPIED_MESSAGE = 512;

/**
 * A log as a span event: the attributes (`message`, and
 * `runtrace.truncated` when cut) are made only when read, since the encoders
 * write them from the fields; two arrays per log cost more than the rest.
 * An ASCII message from the decoder's fast path is kept as its bytes (in a
 * block shared with other messages, `bytes[at, at + length)`), which the
 * protobuf encoder copies: decoding it to a string and encoding that again
 * cost more than the rest of the log.
 */
export class LogSpanEvent implements OtlpEvent {
  /** When, ns since the trace start. */
  time: number;
  /** The event's name (the log's category). */
  name: string;
  /** The message was cut by the recorder. */
  truncated: boolean;
  /** The message as a string, unless it is kept as bytes ("" then). */
  text: string;
  /**
   * The block holding the message's bytes (ASCII), if kept as bytes, else
   * an empty array (fields of one type each: the engines' code stays fast).
   */
  bytes: Uint8Array;
  /** Where the message begins in `bytes`. */
  at: number;
  /** The message's length in bytes, when in `bytes`. */
  length: number;
  /** The mapper's number of the block `bytes`, -1 if none (see `SpanMapper.send`). */
  block = -1;

  /**
   * Makes the event of a log: its message `message`, else the ASCII bytes
   * `bytes[at, at + length)` (which must not change afterwards).
   */
  constructor(
    time: number,
    name: string,
    message: string | undefined,
    truncated: boolean,
    bytes?: Uint8Array,
    at?: number,
    length?: number,
  ) {
    this.time = time;
    this.name = name;
    this.truncated = truncated;
    this.text = message ?? "";
    this.bytes = message === undefined && bytes !== undefined ? bytes : NO_BYTES;
    this.at = at ?? 0;
    this.length = this.bytes === NO_BYTES ? 0 : length ?? 0;
  }

  /** The log's message. */
  get message(): string {
    const b = this.bytes;
    return b === NO_BYTES ? this.text : latin1.decode(b.subarray(this.at, this.at + this.length));
  }

  /** `message`, then `runtrace.truncated: true` if the message was cut. */
  get attrs(): Attrs {
    const out: Attrs = [["message", this.message]];
    if (this.truncated) out.push(["runtrace.truncated", true]);
    return out;
  }
}

/** The bytes of a message kept as a string. */
const NO_BYTES = new Uint8Array(0);
/** ASCII bytes to a string (ASCII is Latin-1's first half). */
const latin1 = new TextDecoder("latin1");

/**
 * The trace a tree of spans belongs to: shared, so a late `traceparent`
 * moves the tree. The id is kept as four 32-bit words (big-endian order,
 * as signed integers, which the engines store unboxed): a typed array per
 * task costs more than the rest of the span.
 */
export class TraceRef {
  /** The id's bytes 0-3, as a big-endian word. */
  w0: number;
  /** Bytes 4-7. */
  w1: number;
  /** Bytes 8-11. */
  w2: number;
  /** Bytes 12-15. */
  w3: number;
  /**
   * Settled: from a `traceparent` (incoming, or sent by `tracedFetch`), or
   * its spans have gone out. No longer replaced.
   */
  fixed = false;
  /** Parent span id from the incoming `traceparent`, for the root. */
  remoteParent?: Uint8Array;
  /**
   * The first of the ended spans of the tree waiting for its id to settle
   * (see {@linkcode MAX_HELD}), linked by {@linkcode OtlpSpan.nextHeld}: no
   * array per tree.
   */
  heldFirst: OtlpSpan | undefined = undefined;
  /** The last span held back. */
  heldLast: OtlpSpan | undefined = undefined;
  /** How many spans are held back. */
  held = 0;

  /** A trace of the id in words `w0`…`w3`. */
  constructor(w0: number, w1: number, w2: number, w3: number) {
    this.w0 = w0;
    this.w1 = w1;
    this.w2 = w2;
    this.w3 = w3;
  }

  /** The trace id, 16 bytes (a new array each call). */
  get id(): Uint8Array {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setUint32(0, this.w0);
    v.setUint32(4, this.w1);
    v.setUint32(8, this.w2);
    v.setUint32(12, this.w3);
    return b;
  }

  /** Replaces the id with 16 bytes (an upstream's, from a `traceparent`). */
  set id(b: Uint8Array) {
    const v = new DataView(b.buffer, b.byteOffset, 16);
    this.w0 = v.getInt32(0);
    this.w1 = v.getInt32(4);
    this.w2 = v.getInt32(8);
    this.w3 = v.getInt32(12);
  }
}

/** 8 id bytes from their high and low 32 bits, big-endian. */
function idBytes(hi: number, lo: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, hi);
  v.setUint32(4, lo);
  return b;
}

/** The events of a span that has none: most have none, and need no array of their own. */
const NO_EVENTS: OtlpEvent[] = [];

/** The trace of a span not yet opened. */
const NO_TRACE = new TraceRef(0, 0, 0, 0);

/**
 * A span, open or finished. Times are ns since the trace start. Made empty;
 * {@linkcode OtlpSpan.reopen} opens it.
 */
export class OtlpSpan {
  /**
   * The span id's high and low 32 bits (its bytes big-endian, as signed
   * integers): numbers, not a typed array per span, which costs more than
   * the rest of the span.
   */
  idHi: number = 0;
  /** See {@linkcode OtlpSpan.idHi}. */
  idLo: number = 0;
  /** The trace (shared by the tree). */
  trace: TraceRef = NO_TRACE;
  /**
   * The parent span, if in this trace file. Under a mapper made with
   * `reuse`, only whether there is one: the parent may have ended and been
   * reused for another span; its id is in `parentHi`/`parentLo`.
   */
  parent: OtlpSpan | undefined = undefined;
  /** The parent's span id's high 32 bits, when there is a `parent`. */
  parentHi = 0;
  /** The parent's span id's low 32 bits. */
  parentLo = 0;
  /** The span's name. */
  name: string = "";
  /** `SpanKind`. */
  kind: number = SpanKind.INTERNAL;
  /** Start, ns since the trace start. */
  start: number = 0;
  /** End, ns since the trace start (-1 while open). */
  end: number = -1;
  /** `runtrace.region.id`, 0 for a task's span. */
  region: number = 0;
  /** `runtrace.task.id`. */
  task: number = 0;
  /** `thread.id`. */
  thread: number = 0;
  /** `thread.name`, if the thread has one. */
  threadName: string | undefined = undefined;
  /**
   * Attributes after those above (`runtrace.task.parent`,
   * `runtrace.open_at_end`): the ones every span has are fields, which the
   * encoders write without an array per span.
   */
  extra: Attrs | undefined = undefined;
  /** Events, at most {@linkcode MAX_EVENTS} (a shared empty array until the first). */
  events: OtlpEvent[] = NO_EVENTS;
  /** Events left out beyond the limit. */
  droppedEvents = 0;
  /** `Status.code`. */
  status: number = StatusCode.UNSET;
  /** `Status.message`. */
  statusMessage = "";
  /** The async lane a region began on (0 for a task's span). */
  lane = 0;
  /**
   * A task's open regions in begin order (the last is the innermost), while
   * the task is open and has any.
   */
  openRegions: OtlpSpan[] | undefined = undefined;
  /** A task's span id announced by a `traceparent.out` log, for its next region. */
  nextSpanId: Uint8Array | undefined = undefined;
  /** The next span held back with this one (see {@linkcode TraceRef.heldFirst}). */
  nextHeld: OtlpSpan | undefined = undefined;
  /** When it was opened among the mapper's open spans, to list them in that order. */
  seq = 0;

  /**
   * Makes this span a new open one (every field set): a new span's first
   * call, and how the mapper reuses an emitted span's object under `reuse`,
   * not making millions for the collector.
   */
  reopen(
    idHi: number,
    idLo: number,
    trace: TraceRef,
    parent: OtlpSpan | undefined,
    name: string,
    start: number,
    region: number,
    task: number,
    thread: number,
    threadName: string | undefined,
  ): void {
    this.idHi = idHi;
    this.idLo = idLo;
    this.trace = trace;
    this.parent = parent;
    this.parentHi = parent ? parent.idHi : 0;
    this.parentLo = parent ? parent.idLo : 0;
    this.name = name;
    this.start = start;
    this.region = region;
    this.task = task;
    this.thread = thread;
    this.threadName = threadName;
    this.kind = SpanKind.INTERNAL;
    this.end = -1;
    this.extra = undefined;
    // Not emptied in place: setting an array's length is a call into the engine.
    this.events = NO_EVENTS;
    this.droppedEvents = 0;
    this.status = StatusCode.UNSET;
    this.statusMessage = "";
    this.lane = 0;
    this.openRegions = undefined;
    this.nextSpanId = undefined;
    this.nextHeld = undefined;
    this.seq = 0;
  }

  /**
   * All attributes in order: `runtrace.region.id` (regions), `runtrace.task.id`,
   * `thread.id`, `thread.name`, then {@linkcode OtlpSpan.extra}.
   */
  get attrs(): Attrs {
    const out: Attrs = [];
    if (this.region !== 0) out.push(["runtrace.region.id", this.region]);
    out.push(["runtrace.task.id", this.task], ["thread.id", this.thread]);
    if (this.threadName !== undefined) out.push(["thread.name", this.threadName]);
    if (this.extra) out.push(...this.extra);
    return out;
  }

  /** Adds an attribute after the others. */
  addAttr(key: string, value: AttrValue): void {
    (this.extra ??= []).push([key, value]);
  }

  /** The trace id (16 bytes). */
  get traceId(): Uint8Array {
    return this.trace.id;
  }

  /** The span id, 8 bytes. */
  get spanId(): Uint8Array {
    return idBytes(this.idHi, this.idLo);
  }

  /** The parent's span id: the parent span's, else the upstream's, else none. */
  get parentSpanId(): Uint8Array | undefined {
    return this.parent ? idBytes(this.parentHi, this.parentLo) : this.trace.remoteParent;
  }

  /** Adds an event, or counts it when the span has {@linkcode MAX_EVENTS}. */
  event(e: OtlpEvent): void {
    if (this.events === NO_EVENTS) this.events = [e];
    else if (this.events.length < MAX_EVENTS) this.events.push(e);
    else this.droppedEvents++;
  }
}

/** What the mapping reports besides the spans. */
export interface OtlpReport {
  /** Spans written. */
  spans: number;
  /** Spans still open at the end (attribute `runtrace.open_at_end`). */
  openAtEnd: number;
  /** Span events left out beyond {@linkcode MAX_EVENTS} per span. */
  droppedEvents: number;
  /** Tasks that joined an upstream trace through `traceparent`. */
  joinedTraces: number;
  /** Region ends whose beginning is not in the trace (skipped). */
  orphanRegionEnds: number;
  /** The trace was cut short. */
  truncated: boolean;
  /** Events the recorder lost. */
  lost: number;
}

/** Options of {@linkcode SpanMapper}. */
export interface SpanMapperOptions {
  /**
   * Reuse a span's object for a later span once `emit` returns (default
   * false): for a consumer done with each span inside `emit`, such as an
   * encoder; one that keeps spans must leave it off.
   */
  reuse?: boolean;
}

/** Random ids, drawn in blocks: `crypto.getRandomValues` costs per call. */
class RandomIds {
  private words = new Int32Array(16384);
  private w = this.words.length;

  /** A random 32-bit word, as a signed integer. */
  word(): number {
    if (this.w === this.words.length) {
      crypto.getRandomValues(this.words);
      this.w = 0;
    }
    return this.words[this.w++];
  }
}

/** The open spans of `map` in the order they were opened. */
function inOrder(map: IntMap<OtlpSpan>): OtlpSpan[] {
  return [...map.values()].sort((a, b) => a.seq - b.seq);
}

/** Parses a W3C `traceparent`; undefined unless valid. */
export function parseTraceparent(
  v: string,
): { traceId: Uint8Array; spanId: Uint8Array } | undefined {
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(v.trim());
  if (!m || m[1] === "ff" || /^0+$/.test(m[2]) || /^0+$/.test(m[3])) return undefined;
  return { traceId: hexBytes(m[2]), spanId: hexBytes(m[3]) };
}

function hexBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Turns a trace's events into spans; `emit` receives each span when it ends
 * (and the ones open at the end, after the `end` event).
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { SpanMapper } from "./otlp_spans.ts";
 * const m = new SpanMapper((span) => console.log(span.name));
 * const d = new TraceDecoder(m.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * ```
 */
export class SpanMapper {
  /** What was mapped; complete after the `end` event. */
  report: OtlpReport = {
    spans: 0,
    openAtEnd: 0,
    droppedEvents: 0,
    joinedTraces: 0,
    orphanRegionEnds: 0,
    truncated: false,
    lost: 0,
  };
  /** The trace's header, once read. */
  header?: TraceHeader;
  private emit: (span: OtlpSpan) => void;
  private ids = new RandomIds();
  /**
   * Open tasks' spans. An `IntMap`, not a `Map`: under the churn of tasks
   * beginning and ending, a `Map` reallocates its table over and over, and
   * a table that outlived a young-generation collection keeps the next ones
   * and their spans alive until a full collection (most spans then survive
   * into the old generation, and the heap grows several times over).
   * Listed in opening order by `seq`.
   */
  private tasks = new IntMap<OtlpSpan>();
  /** Open regions' spans by thread, then region id. */
  private regions = new Map<number, IntMap<OtlpSpan>>();
  /** Spans opened so far: the next `seq`. */
  private opened = 0;
  private threadNames = new Map<number, string>();
  /** Open regions of the background task (0), which has no span. */
  private background: OtlpSpan[] = [];

  /**
   * Ended spans to reuse (with `reuse`), at most {@linkcode MAX_SPARE}: an
   * export of millions of spans makes about as many as are open at once.
   */
  private spare: OtlpSpan[] | undefined;

  /** Makes a mapper handing finished spans to `emit`; see {@linkcode SpanMapperOptions}. */
  constructor(emit: (span: OtlpSpan) => void, options: SpanMapperOptions = {}) {
    this.emit = emit;
    if (options.reuse) this.spare = [];
  }

  /**
   * Hands an ended span to `emit`, then keeps its object for reuse, and the
   * message blocks no event needs any more.
   */
  private send(span: OtlpSpan): void {
    this.emit(span);
    const spare = this.spare;
    if (!spare) return;
    if (spare.length < MAX_SPARE) spare.push(span);
    const events = span.events;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (e instanceof LogSpanEvent && e.block >= 0 && --this.blockLive[e.block] === 0) {
        if (e.block !== this.blockNow) this.freeBlocks.push(e.block);
      }
    }
  }

  /** A span to open: a reused object if there is one (see `reuse`). */
  private spanObject(): OtlpSpan {
    return this.spare?.pop() ?? new OtlpSpan();
  }

  /**
   * The decoder's fast path, the same mapping as `add` without an object
   * per event: `new TraceDecoder(m.add, m.visitor)`.
   */
  readonly visitor: EventVisitor = {
    taskBegin: (time, thread, task, parent, type) =>
      this.taskBegin(time, thread, task, parent, type),
    taskEnd: (time, _thread, task) => this.taskEnd(time, task),
    regionBegin: (time, thread, region, task, type, parent, lane) =>
      this.regionBegin(time, thread, region, task, type, parent, lane),
    regionEnd: (time, thread, region) => this.regionEnd(time, thread, region),
    log: (time, thread, task, category, bytes, start, end, truncated) =>
      this.logBytes(time, thread, task, category, bytes, start, end, truncated),
  };

  /** Takes the next event (bound: usable as a decoder callback). */
  add = (e: TraceEvent): void => {
    switch (e.kind) {
      case "header":
        this.header = e.header;
        break;
      case "thread":
        this.threadNames.set(e.thread, e.name);
        this.namedThread = -1;
        break;
      case "taskBegin":
        this.taskBegin(e.time, e.thread, e.task, e.parent, e.type);
        break;
      case "taskEnd":
        this.taskEnd(e.time, e.task);
        break;
      case "regionBegin":
        this.regionBegin(e.time, e.thread, e.region, e.task, e.type, e.parent, e.lane);
        break;
      case "regionEnd":
        this.regionEnd(e.time, e.thread, e.region);
        break;
      case "log":
        this.log(e.time, e.thread, e.task, e.category, e.message, e.truncated);
        break;
      case "stall":
        this.stall(e.time, e.duration, e.thread, e.region, e.task);
        break;
      case "end":
        this.end(e.time, e.truncated, e.lost);
        break;
    }
  };

  /** The high word of the last {@linkcode newSpanId}. */
  private idHi = 0;
  /** The low word of the last {@linkcode newSpanId}. */
  private idLo = 0;

  /** Draws a random span id, not all zero, into `idHi` and `idLo` (no array per span). */
  private newSpanId(): void {
    do {
      this.idHi = this.ids.word();
      this.idLo = this.ids.word();
    } while ((this.idHi | this.idLo) === 0);
  }

  private newTrace(): TraceRef {
    const ids = this.ids;
    for (;;) {
      const w0 = ids.word(), w1 = ids.word(), w2 = ids.word(), w3 = ids.word();
      // An all-zero id is invalid in OTLP.
      if ((w0 | w1 | w2 | w3) !== 0) return new TraceRef(w0, w1, w2, w3);
    }
  }

  /** The thread of the last `threadName`, and its name as exported. */
  private namedThread = -1;
  private namedAs: string | undefined = undefined;

  /** A thread's name as exported, if it has one. */
  private threadName(thread: number): string | undefined {
    if (thread === this.namedThread) return this.namedAs;
    const name = this.threadNames.get(thread);
    this.namedThread = thread;
    return this.namedAs = name === undefined ? undefined : capName(name);
  }

  private taskBegin(time: number, thread: number, task: number, parent: number, type: string) {
    const p = parent === 0 ? undefined : this.tasks.get(parent);
    this.newSpanId();
    const span = this.spanObject();
    span.reopen(
      this.idHi,
      this.idLo,
      p ? p.trace : this.newTrace(),
      p,
      capName(type || "(unknown task)"),
      time,
      0,
      task,
      thread,
      this.threadName(thread),
    );
    if (parent !== 0 && !p) span.addAttr("runtrace.task.parent", parent);
    const was = this.tasks.get(task);
    // A task id begun again takes the place of the first in the listing.
    span.seq = was ? was.seq : ++this.opened;
    if (was) {
      was.openRegions = undefined;
      this.finish(was, time, true);
    }
    this.tasks.set(task, span);
  }

  private taskEnd(time: number, task: number): void {
    // One probe: delete hands back the span. A task that began before the
    // trace has none to end.
    const t = this.tasks.delete(task);
    if (!t) return;
    t.openRegions = undefined;
    this.finish(t, time, false);
  }

  private regionBegin(
    time: number,
    thread: number,
    region: number,
    task: number,
    type: string,
    parentRegion: number,
    lane: number,
  ): void {
    const byId = this.regionsOf(thread);
    const t = this.tasks.get(task);
    const list = t ? t.openRegions : task === 0 ? this.background : undefined;
    let parent = parentRegion === 0 ? undefined : byId.get(parentRegion);
    if (!parent && list) {
      for (let i = list.length - 1; i >= 0; i--) {
        const r = list[i];
        if (r.lane === lane && r.thread === thread) {
          parent = r;
          break;
        }
      }
    }
    parent ??= t;
    if (t?.nextSpanId) {
      const v = new DataView(t.nextSpanId.buffer, t.nextSpanId.byteOffset, 8);
      this.idHi = v.getInt32(0);
      this.idLo = v.getInt32(4);
      t.nextSpanId = undefined;
    } else this.newSpanId();
    const span = this.spanObject();
    span.reopen(
      this.idHi,
      this.idLo,
      parent ? parent.trace : this.newTrace(),
      parent,
      capName(type),
      time,
      region,
      task,
      thread,
      this.threadName(thread),
    );
    span.lane = lane;
    span.seq = byId.get(region)?.seq ?? ++this.opened;
    byId.set(region, span);
    if (list) list.push(span);
    else if (t) t.openRegions = [span];
  }

  /** The thread of the last `regionsOf`, and its map: most events come from one thread. */
  private lastThread = -1;
  private lastRegions: IntMap<OtlpSpan> | undefined = undefined;

  private regionsOf(thread: number): IntMap<OtlpSpan> {
    if (thread === this.lastThread && this.lastRegions !== undefined) return this.lastRegions;
    let m = this.regions.get(thread);
    if (!m) this.regions.set(thread, m = new IntMap());
    this.lastThread = thread;
    this.lastRegions = m;
    return m;
  }

  private regionEnd(time: number, thread: number, region: number): void {
    // One probe: delete hands back the span, undefined for a region whose
    // beginning is not in the trace.
    const r = this.regionsOf(thread).delete(region);
    if (!r) {
      this.report.orphanRegionEnds++;
      return;
    }
    const list = r.task === 0 ? this.background : this.tasks.get(r.task)?.openRegions;
    if (list) {
      // Mostly the innermost, ended first.
      if (list[list.length - 1] === r) list.pop();
      else {
        const i = list.lastIndexOf(r);
        if (i >= 0) list.splice(i, 1);
      }
    }
    this.finish(r, time, false);
  }

  /** The innermost span of `task` (whose span is `t`) open now on `thread`. */
  private innermost(t: OtlpSpan | undefined, task: number, thread: number): OtlpSpan | undefined {
    const list = t ? t.openRegions : task === 0 ? this.background : undefined;
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i].thread === thread) return list[i];
      }
    }
    return t;
  }

  private log(
    time: number,
    thread: number,
    task: number,
    category: string,
    message: string,
    truncated: boolean,
  ): void {
    const span = this.logSpan(thread, task, category, message);
    if (span) span.event(new LogSpanEvent(time, capName(category || "log"), message, truncated));
  }

  /**
   * The block messages are copied into, and the next free byte in it. With
   * `reuse`, blocks are numbered, their events counted, and a block none
   * needs is used again: in Bun, an export that made new ones all along (a
   * few thousand per 10 M events) ran several times slower from its second
   * run in a process.
   */
  private blockPos = MESSAGE_BLOCK;
  /** Where the current block is in `blocks` (-1: none yet). */
  private blockSlot = -1;
  /** The current block's number (-1: not numbered). */
  private blockNow = -1;
  /** Numbered blocks, each one's events not yet sent, and the numbers free. */
  private blocks: Uint8Array[] = [];
  private blockLive: number[] = [];
  private freeBlocks: number[] = [];

  /** A block to copy messages into. */
  private nextBlock(): void {
    const was = this.blockNow;
    if (was >= 0 && this.blockLive[was] === 0) this.freeBlocks.push(was);
    this.blockPos = 0;
    if (!this.spare) {
      // The spans are kept by the consumer: the old block lives on with its events.
      this.blocks[0] = new Uint8Array(MESSAGE_BLOCK);
      this.blockSlot = 0;
      return;
    }
    let id = this.freeBlocks.pop();
    if (id === undefined) {
      id = this.blocks.length;
      this.blocks.push(new Uint8Array(MESSAGE_BLOCK));
      this.blockLive.push(0);
    }
    this.blockNow = this.blockSlot = id;
  }

  /**
   * A log from the decoder's fast path, its message `bytes[start, end)`
   * (valid during the call only): an ASCII message is copied into a block
   * and kept as bytes; decoded only if its category is one the mapping reads.
   */
  private logBytes(
    time: number,
    thread: number,
    task: number,
    category: string,
    bytes: Uint8Array,
    start: number,
    end: number,
    truncated: boolean,
  ): void {
    const n = end - start;
    const read = category === "http.status" || category === "traceparent" ||
      category === "traceparent.out" || category === "http.error" || category === "fetch.error";
    if (read || n > MAX_COPIED_MESSAGE) {
      return this.log(time, thread, task, category, decodeMessage(bytes, start, end), truncated);
    }
    const span = this.logSpan(thread, task, category, undefined);
    if (!span) return;
    if (span.events.length >= MAX_EVENTS) {
      span.droppedEvents++;
      return;
    }
    if (this.blockPos + n > MESSAGE_BLOCK) this.nextBlock();
    const b = this.blocks[this.blockSlot], at = this.blockPos;
    let i = 0;
    for (; i < n; i++) {
      const c = bytes[start + i];
      if (c >= 0x80) break;
      b[at + i] = c;
    }
    const name = capName(category || "log");
    if (i < n) {
      // Not ASCII: as the decoder decodes it (invalid bytes become U+FFFD).
      span.event(new LogSpanEvent(time, name, decodeMessage(bytes, start, end), truncated));
      return;
    }
    this.blockPos = at + n;
    const e = new LogSpanEvent(time, name, undefined, truncated, b, at, n);
    if (this.blockNow >= 0) {
      e.block = this.blockNow;
      this.blockLive[this.blockNow]++;
    }
    span.event(e);
  }

  /**
   * What a log does besides its event (joins a `traceparent`'s trace, sets
   * the kind or status); the span its event goes on. `message` is undefined
   * only for categories that do not read it.
   */
  private logSpan(
    thread: number,
    task: number,
    category: string,
    message: string | undefined,
  ): OtlpSpan | undefined {
    const t = this.tasks.get(task);
    if (message !== undefined) {
      if (t && category === "traceparent") this.joinUpstream(t, message);
      if (t && category === "traceparent.out") {
        const tp = parseTraceparent(message);
        if (tp) {
          t.nextSpanId = tp.spanId;
          // A fresh trace id sent downstream: this tree takes it, if still free.
          if (!t.trace.fixed) {
            t.trace.id = tp.traceId;
            this.settle(t.trace);
          }
        }
      }
    }
    const span = this.innermost(t, task, thread);
    if (!span) return undefined;
    if (category === "http.method") span.kind = SpanKind.SERVER;
    else if (category === "fetch.method") span.kind = SpanKind.CLIENT;
    else if (category === "http.error" || category === "fetch.error") {
      span.status = StatusCode.ERROR;
      span.statusMessage = message ?? "";
    } else if (category === "http.status" && Number(message) >= 500) {
      span.status = StatusCode.ERROR;
    }
    return span;
  }

  private joinUpstream(t: OtlpSpan, header: string): void {
    const tp = parseTraceparent(header);
    // The first one counts: the active OpenTelemetry span (logged by
    // newTask) is nearer than the request's incoming header (traceRequests).
    if (!tp || t.parent || t.trace.remoteParent) return;
    t.trace.id = tp.traceId;
    t.trace.remoteParent = tp.spanId;
    this.settle(t.trace);
    this.report.joinedTraces++;
  }

  private stall(time: number, duration: number, thread: number, region: number, task: number) {
    const cause = this.regions.get(thread)?.get(region)?.name;
    const attrs: Attrs = [
      ["runtrace.stall.duration_ns", duration],
      ["runtrace.stall.task.id", task],
      ["runtrace.stall.region.id", region],
    ];
    if (cause !== undefined) attrs.push(["runtrace.stall.region", cause]);
    let n = 0;
    const add = (s: OtlpSpan) => {
      if (n++ < MAX_STALL_SPANS && s.start <= time + duration) {
        s.event({ time, name: "event-loop stall", attrs });
      }
    };
    const byId = this.regions.get(thread);
    if (byId) { for (const r of inOrder(byId)) add(r); }
    for (const t of inOrder(this.tasks)) if (t.thread === thread) add(t);
  }

  private finish(span: OtlpSpan, time: number, openAtEnd: boolean): void {
    span.end = Math.max(time, span.start);
    if (openAtEnd) {
      span.addAttr("runtrace.open_at_end", true);
      this.report.openAtEnd++;
    }
    this.report.spans++;
    this.report.droppedEvents += span.droppedEvents;
    const trace = span.trace;
    if (trace.fixed) return this.send(span);
    if (trace.heldLast) trace.heldLast.nextHeld = span;
    else trace.heldFirst = span;
    trace.heldLast = span;
    // The root ends: nothing of the tree can settle its id any more.
    if (!span.parent || ++trace.held >= MAX_HELD) this.settle(trace);
  }

  /** Settles a tree's trace id and sends its spans held back. */
  private settle(trace: TraceRef): void {
    trace.fixed = true;
    let s = trace.heldFirst;
    trace.heldFirst = trace.heldLast = undefined;
    trace.held = 0;
    while (s !== undefined) {
      const next = s.nextHeld;
      // Unlinked as it goes: a chain of finished spans is garbage to free, not to trace.
      s.nextHeld = undefined;
      this.send(s);
      s = next;
    }
  }

  private end(time: number, truncated: boolean, lost: number): void {
    // Innermost first: regions, then tasks, children before parents.
    for (const byId of this.regions.values()) {
      for (const r of inOrder(byId).reverse()) this.finish(r, time, true);
      byId.clear();
    }
    this.background.length = 0;
    for (const t of inOrder(this.tasks).reverse()) {
      t.openRegions = undefined;
      this.finish(t, time, true);
    }
    this.tasks.clear();
    this.report.truncated = truncated;
    this.report.lost = lost;
  }
}
