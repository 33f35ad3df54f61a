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

/** As the decoder decodes messages: invalid bytes become U+FFFD. */
const utf8d = new TextDecoder("utf-8", { fatal: false });

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

/** The trace a tree of spans belongs to: shared, so a late `traceparent` moves the tree. */
export interface TraceRef {
  /** The trace id, 16 bytes. */
  id: Uint8Array;
  /**
   * Settled: from a `traceparent` (incoming, or sent by `tracedFetch`), or
   * its spans have gone out. No longer replaced.
   */
  fixed: boolean;
  /** Parent span id from the incoming `traceparent`, for the root. */
  remoteParent?: Uint8Array;
  /** Ended spans of the tree waiting for its id to settle (see {@linkcode MAX_HELD}). */
  held?: OtlpSpan[];
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

/** A span, open or finished. Times are ns since the trace start. */
export class OtlpSpan {
  /**
   * The span id's high and low 32 bits (its bytes big-endian): numbers, not
   * a typed array per span, which costs more than the rest of the span.
   */
  idHi: number;
  /** See {@linkcode OtlpSpan.idHi}. */
  idLo: number;
  /** The trace (shared by the tree). */
  trace: TraceRef;
  /** The parent span, if in this trace file. */
  parent: OtlpSpan | undefined;
  /** The span's name. */
  name: string;
  /** `SpanKind`. */
  kind: number = SpanKind.INTERNAL;
  /** Start, ns since the trace start. */
  start: number;
  /** End, ns since the trace start (-1 while open). */
  end: number = -1;
  /** `runtrace.region.id`, 0 for a task's span. */
  region: number;
  /** `runtrace.task.id`. */
  task: number;
  /** `thread.id`. */
  thread: number;
  /** `thread.name`, if the thread has one. */
  threadName: string | undefined;
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

  /** Makes an open span. */
  constructor(
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
  ) {
    this.idHi = idHi;
    this.idLo = idLo;
    this.trace = trace;
    this.parent = parent;
    this.name = name;
    this.start = start;
    this.region = region;
    this.task = task;
    this.thread = thread;
    this.threadName = threadName;
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
    return this.parent?.spanId ?? this.trace.remoteParent;
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

interface OpenRegion {
  span: OtlpSpan;
  task: number;
  lane: number;
  thread: number;
}

interface OpenTask {
  span: OtlpSpan;
  thread: number;
  /** Open regions of the task, in begin order (the last is the innermost). */
  regions: OpenRegion[];
  /** Span id announced by a `traceparent.out` log, for the next region. */
  nextSpanId?: Uint8Array;
}

/** Random ids, drawn in blocks: `crypto.getRandomValues` costs per call. */
class RandomIds {
  private pool = new Uint8Array(65536);
  private at = this.pool.length;

  private words = new Uint32Array(this.pool.buffer);
  private w = this.words.length;

  /** A random 32-bit word. */
  word(): number {
    if (this.w === this.words.length) {
      crypto.getRandomValues(this.words);
      this.w = 0;
    }
    return this.words[this.w++];
  }

  /** `n` random bytes, not all zero (an all-zero id is invalid in OTLP). */
  next(n: number): Uint8Array {
    for (;;) {
      if (this.at + n > this.pool.length) {
        crypto.getRandomValues(this.pool);
        this.at = 0;
      }
      const p = this.pool, at = this.at;
      this.at += n;
      // A copy by hand: `slice` costs several times more for 8 bytes.
      const id = new Uint8Array(n);
      let any = 0;
      for (let i = 0; i < n; i++) any |= id[i] = p[at + i];
      if (any !== 0) return id;
    }
  }
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
  private tasks = new Map<number, OpenTask>();
  /** Open regions by thread, then region id. */
  private regions = new Map<number, Map<number, OpenRegion>>();
  private threadNames = new Map<number, string>();
  /** Open regions of the background task (0), which has no span. */
  private background: OpenRegion[] = [];

  /** Makes a mapper handing finished spans to `emit`. */
  constructor(emit: (span: OtlpSpan) => void) {
    this.emit = emit;
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
      this.log(time, thread, task, category, utf8d.decode(bytes.subarray(start, end)), truncated),
  };

  /** Takes the next event (bound: usable as a decoder callback). */
  add = (e: TraceEvent): void => {
    switch (e.kind) {
      case "header":
        this.header = e.header;
        break;
      case "thread":
        this.threadNames.set(e.thread, e.name);
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
    return { id: this.ids.next(16), fixed: false };
  }

  /** A thread's name as exported, if it has one. */
  private threadName(thread: number): string | undefined {
    const name = this.threadNames.get(thread);
    return name === undefined ? undefined : capName(name);
  }

  private taskBegin(time: number, thread: number, task: number, parent: number, type: string) {
    const p = parent === 0 ? undefined : this.tasks.get(parent);
    this.newSpanId();
    const span = new OtlpSpan(
      this.idHi,
      this.idLo,
      p ? p.span.trace : this.newTrace(),
      p?.span,
      capName(type || "(unknown task)"),
      time,
      0,
      task,
      thread,
      this.threadName(thread),
    );
    if (parent !== 0 && !p) span.addAttr("runtrace.task.parent", parent);
    const was = this.tasks.get(task);
    if (was) this.finish(was.span, time, true);
    this.tasks.set(task, { span, thread, regions: [] });
  }

  private taskEnd(time: number, task: number): void {
    const t = this.tasks.get(task);
    // A task that began before the trace has no span to end.
    if (!t) return;
    this.tasks.delete(task);
    this.finish(t.span, time, false);
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
    const list = t ? t.regions : task === 0 ? this.background : undefined;
    let parent = parentRegion === 0 ? undefined : byId.get(parentRegion)?.span;
    if (!parent && list) {
      for (let i = list.length - 1; i >= 0; i--) {
        const r = list[i];
        if (r.lane === lane && r.thread === thread) {
          parent = r.span;
          break;
        }
      }
    }
    parent ??= t?.span;
    if (t?.nextSpanId) {
      const v = new DataView(t.nextSpanId.buffer, t.nextSpanId.byteOffset, 8);
      this.idHi = v.getUint32(0);
      this.idLo = v.getUint32(4);
      t.nextSpanId = undefined;
    } else this.newSpanId();
    const span = new OtlpSpan(
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
    const r: OpenRegion = { span, task, lane, thread };
    byId.set(region, r);
    list?.push(r);
  }

  private regionsOf(thread: number): Map<number, OpenRegion> {
    let m = this.regions.get(thread);
    if (!m) this.regions.set(thread, m = new Map());
    return m;
  }

  private regionEnd(time: number, thread: number, region: number): void {
    const byId = this.regionsOf(thread);
    const r = byId.get(region);
    if (!r) {
      this.report.orphanRegionEnds++;
      return;
    }
    byId.delete(region);
    const list = r.task === 0 ? this.background : this.tasks.get(r.task)?.regions;
    if (list) {
      // Mostly the innermost, ended first.
      if (list[list.length - 1] === r) list.pop();
      else {
        const i = list.lastIndexOf(r);
        if (i >= 0) list.splice(i, 1);
      }
    }
    this.finish(r.span, time, false);
  }

  /** The innermost span of `task` open now on `thread`. */
  private innermost(task: number, thread: number): OtlpSpan | undefined {
    const t = this.tasks.get(task);
    const list = t ? t.regions : task === 0 ? this.background : [];
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i].thread === thread) return list[i].span;
    }
    return t?.span;
  }

  private log(
    time: number,
    thread: number,
    task: number,
    category: string,
    message: string,
    truncated: boolean,
  ): void {
    const t = this.tasks.get(task);
    if (t && category === "traceparent") this.joinUpstream(t, message);
    if (t && category === "traceparent.out") {
      const tp = parseTraceparent(message);
      if (tp) {
        t.nextSpanId = tp.spanId;
        // A fresh trace id sent downstream: this tree takes it, if still free.
        if (!t.span.trace.fixed) {
          t.span.trace.id = tp.traceId;
          this.settle(t.span.trace);
        }
      }
    }
    const span = this.innermost(task, thread);
    if (!span) return;
    if (category === "http.method") span.kind = SpanKind.SERVER;
    else if (category === "fetch.method") span.kind = SpanKind.CLIENT;
    else if (category === "http.error" || category === "fetch.error") {
      span.status = StatusCode.ERROR;
      span.statusMessage = message;
    } else if (category === "http.status" && Number(message) >= 500) {
      span.status = StatusCode.ERROR;
    }
    const attrs: Attrs = [["message", message]];
    if (truncated) attrs.push(["runtrace.truncated", true]);
    span.event({ time, name: capName(category || "log"), attrs });
  }

  private joinUpstream(t: OpenTask, header: string): void {
    const tp = parseTraceparent(header);
    // The first one counts: the active OpenTelemetry span (logged by
    // newTask) is nearer than the request's incoming header (traceRequests).
    if (!tp || t.span.parent || t.span.trace.remoteParent) return;
    t.span.trace.id = tp.traceId;
    t.span.trace.remoteParent = tp.spanId;
    this.settle(t.span.trace);
    this.report.joinedTraces++;
  }

  private stall(time: number, duration: number, thread: number, region: number, task: number) {
    const cause = this.regions.get(thread)?.get(region)?.span.name;
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
    for (const r of this.regions.get(thread)?.values() ?? []) add(r.span);
    for (const t of this.tasks.values()) if (t.thread === thread) add(t.span);
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
    if (trace.fixed) return this.emit(span);
    (trace.held ??= []).push(span);
    // The root ends: nothing of the tree can settle its id any more.
    if (!span.parent || trace.held.length >= MAX_HELD) this.settle(trace);
  }

  /** Settles a tree's trace id and sends its spans held back. */
  private settle(trace: TraceRef): void {
    trace.fixed = true;
    const held = trace.held;
    trace.held = undefined;
    if (held) { for (const s of held) this.emit(s); }
  }

  private end(time: number, truncated: boolean, lost: number): void {
    // Innermost first: regions, then tasks, children before parents.
    for (const byId of this.regions.values()) {
      for (const r of [...byId.values()].reverse()) this.finish(r.span, time, true);
      byId.clear();
    }
    this.background.length = 0;
    for (const t of [...this.tasks.values()].reverse()) this.finish(t.span, time, true);
    this.tasks.clear();
    this.report.truncated = truncated;
    this.report.lost = lost;
  }
}
