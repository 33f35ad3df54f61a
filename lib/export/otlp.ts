/**
 * Export to OpenTelemetry's OTLP: spans (mapped by otlp_spans.ts) written as
 * an `ExportTraceServiceRequest` in protobuf, or in OTLP/JSON (hex ids,
 * nanosecond times as decimal strings, integer enums, lowerCamelCase keys),
 * as a stream. Spans go out in batches, each one `ResourceSpans` with the
 * resource and one `ScopeSpans`: in protobuf a batch is a complete
 * `ExportTraceServiceRequest` by itself (what `runtrace push` sends), and
 * the batches concatenated are one too (what `runtrace export` writes).
 *
 * The fields written (opentelemetry/proto/…, v1):
 * - `ExportTraceServiceRequest`: resource_spans 1
 * - `ResourceSpans`: resource 1, scope_spans 2; `Resource`: attributes 1
 * - `ScopeSpans`: scope 1, spans 2; `InstrumentationScope`: name 1, version 2
 * - `Span`: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6,
 *   start_time_unix_nano 7, end_time_unix_nano 8, attributes 9, events 11,
 *   dropped_events_count 12, status 15 (message 2, code 3)
 * - `Span.Event`: time_unix_nano 1, name 2, attributes 3
 * - `KeyValue`: key 1, value 2; `AnyValue`: string_value 1, bool_value 2,
 *   int_value 3
 *
 * @module
 */

import type { EventVisitor, TraceEvent, TraceHeader } from "../format/decoder.ts";
import {
  type Attrs,
  LogSpanEvent,
  type OtlpReport,
  type OtlpSpan,
  SpanMapper,
} from "./otlp_spans.ts";
import { ProtoWriter } from "./protobuf_writer.ts";

export type { EventVisitor, OtlpReport };

/** What identifies the traced service (the OTLP resource). */
export interface OtlpResource {
  /** `service.name` (default `unknown_service:<runtime>`). */
  serviceName?: string;
  /** `service.version`, if given. */
  serviceVersion?: string;
  /** `host.name`, if given (a trace file does not record it). */
  hostName?: string;
  /** More resource attributes (`OTEL_RESOURCE_ATTRIBUTES`), after the ones above. */
  attributes?: Record<string, string | number | boolean>;
}

/** Options of {@linkcode OtlpExporter}. */
export interface OtlpOptions extends OtlpResource {
  /** `protobuf` (default) or `json`. */
  encoding?: "protobuf" | "json";
  /** Most spans per batch (default 512). */
  maxBatchSpans?: number;
  /** A batch closes once its encoding passes this many bytes (default 1 MiB). */
  maxBatchBytes?: number;
  /** Receives each complete batch instead of the output buffer (protobuf only). */
  onBatch?: (request: Uint8Array, spans: number) => void;
}

/** The instrumentation scope every span is under. */
export const SCOPE = { name: "runtrace", version: "0.1.0" } as const;

const utf8 = new TextEncoder();
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += HEX[b[i]];
  return s;
}

/** Nanoseconds since the Unix epoch, from the trace start and an offset. */
export class EpochClock {
  private base = 0n;
  private hi = 0;
  private lo = 0;

  /** Time 0 of the trace from its header. */
  set(h: TraceHeader): void {
    this.base = BigInt(Math.round((h.timeOrigin + h.startTime) * 1e3)) * 1000n;
    this.hi = Number(this.base >> 32n);
    this.lo = Number(this.base & 0xffffffffn);
  }

  /**
   * A fixed64 field (number ≤ 15) of the epoch time of `t`, without an array
   * per call: its bytes written here, as `fixed64Parts` would.
   */
  write(w: ProtoWriter, field: number, t: number): void {
    const n = Math.max(0, Math.round(t));
    const tHi = Math.floor(n / 4294967296);
    let lo = this.lo + (n - tHi * 4294967296);
    let hi = this.hi + tHi;
    if (lo >= 4294967296) {
      lo -= 4294967296;
      hi++;
    }
    w.ensure(9);
    const b = w.buf;
    const p = w.pos;
    b[p] = field * 8 + 1;
    b[p + 1] = lo & 0xff;
    b[p + 2] = (lo >>> 8) & 0xff;
    b[p + 3] = (lo >>> 16) & 0xff;
    b[p + 4] = lo >>> 24;
    b[p + 5] = hi & 0xff;
    b[p + 6] = (hi >>> 8) & 0xff;
    b[p + 7] = (hi >>> 16) & 0xff;
    b[p + 8] = (hi >>> 24) & 0xff;
    w.pos = p + 9;
  }

  /**
   * Like {@linkcode EpochClock.write} into `b` at `p` with the field's key
   * byte `key`, room for the nine bytes being there; returns the position
   * after them.
   */
  put(v: DataView, p: number, key: number, t: number): number {
    const n = t > 0 ? Math.round(t) : 0;
    // `>>> 0` is n modulo 2^32 (a `%` of doubles is a call into C).
    const nLo = n >>> 0;
    let lo = this.lo + nLo;
    let hi = this.hi + (n - nLo) / 4294967296;
    if (lo >= 4294967296) {
      lo -= 4294967296;
      hi++;
    }
    v.setUint8(p, key);
    v.setUint32(p + 1, lo, true);
    v.setUint32(p + 5, hi, true);
    return p + 9;
  }

  /** The epoch time of `t` as a decimal string. */
  decimal(t: number): string {
    return (this.base + BigInt(Math.max(0, Math.round(t)))).toString();
  }
}

/** The resource's attributes, in order. */
export function resourceAttrs(h: TraceHeader | undefined, r: OtlpResource): Attrs {
  const runtime = h?.runtime ?? "unknown";
  const out: Attrs = [["service.name", r.serviceName || `unknown_service:${runtime}`]];
  if (r.serviceVersion) out.push(["service.version", r.serviceVersion]);
  out.push(["process.runtime.name", runtime]);
  if (h?.runtimeVersion) out.push(["process.runtime.version", h.runtimeVersion]);
  if (h && h.pid > 0) out.push(["process.pid", h.pid]);
  if (r.hostName) out.push(["host.name", r.hostName]);
  out.push(["telemetry.sdk.name", "runtrace"], ["telemetry.sdk.language", "js"]);
  for (const [k, v] of Object.entries(r.attributes ?? {})) {
    if (!out.some(([key]) => key === k)) out.push([k, v]);
  }
  return out;
}

/**
 * UTF-8 of the strings that repeat from span to span (attribute keys, span
 * and event names, thread names), encoded once: encoding a short string
 * costs more than copying its bytes. Bounded in entries and length.
 */
export class Utf8Cache {
  private map = new Map<string, Uint8Array>();

  /** The UTF-8 of `s`. */
  get(s: string): Uint8Array {
    let b = this.map.get(s);
    if (b === undefined) {
      b = utf8.encode(s);
      if (this.map.size < 4096 && s.length <= 256) this.map.set(s, b);
    }
    return b;
  }
}

/** Writes spans as OTLP protobuf batches. */
class ProtobufBatches {
  private strs = new Utf8Cache();
  /** Where the batches are written. */
  cur: ProtoWriter;
  /**
   * The batches are written into the output itself (`cur` is the exporter's
   * output buffer), not copied there when they close.
   */
  readonly inPlace: boolean;
  /** Where the open batch begins in `cur`. */
  private at = 0;
  private rs = 0;
  private ss = 0;
  private head?: Uint8Array;
  /** Each thread's attributes, encoded (see `threadAttrs`). */
  private threads = new Map<number, ThreadWords>();
  /** The thread of the last span's attributes. */
  private lastThread: ThreadWords | undefined = undefined;

  /** Batches into `output` (in place), else each into a buffer of its own. */
  constructor(private clock: EpochClock, output?: ProtoWriter) {
    this.cur = output ?? new ProtoWriter(1 << 16);
    this.inPlace = output !== undefined;
  }

  /**
   * The open batch's bytes moved `d` bytes towards the start of `cur` (the
   * output before it was handed over).
   */
  moved(d: number): void {
    this.at -= d;
    this.rs -= d;
    this.ss -= d;
  }

  /** Where the open batch begins in `cur`. */
  get start(): number {
    return this.at;
  }

  begin(resource: Attrs): void {
    if (!this.head) {
      const w = new ProtoWriter(1024);
      const r = w.begin(1);
      for (const a of resource) attrProto(w, 1, a, this.strs);
      w.end(r);
      this.head = w.take();
    }
    const w = this.cur;
    this.at = w.pos;
    this.rs = w.begin(1);
    w.ensure(this.head.length);
    w.buf.set(this.head, w.pos);
    w.pos += this.head.length;
    this.ss = w.begin(2);
    const s = w.begin(1);
    w.string(1, SCOPE.name);
    w.string(2, SCOPE.version);
    w.end(s);
  }

  /** A `DataView` of `cur.buf` (replaced when the buffer grows). */
  private view = new DataView(new ArrayBuffer(0));
  /**
   * The buffer `view` is of: compared with `cur.buf`, since reading a typed
   * array's `buffer` costs an engine call in Bun.
   */
  private viewOf: Uint8Array | undefined = undefined;
  /** Span names: field 5, its length, the name, then the key of kind (6). */
  private spanNames = new NameWords(0x2a, 0x30);
  /** Event names: field 2, its length, the name, then the key of attributes (3). */
  private eventNames = new NameWords(0x12, 0x1a);
  /** `runtrace.region.id` and `runtrace.task.id` up to their value, by the value's varint length. */
  private regionKeys = intAttrHeads(KEY_REGION_ID);
  private taskKeys = intAttrHeads(KEY_TASK_ID);

  /** `cur`'s view, with room for `n` more bytes. */
  private room(n: number): DataView {
    const w = this.cur;
    w.ensure(n);
    if (this.viewOf !== w.buf) {
      this.viewOf = w.buf;
      this.view = new DataView(w.buf.buffer);
    }
    return this.view;
  }

  /**
   * A span, the bytes `ProtoWriter`'s field methods would write (lengths of
   * nested messages as padded four-byte varints), written in one function
   * with the position in a local and the bytes four at a time (ids, times,
   * and what repeats from span to span, as {@linkcode Words}): the hot loop
   * of the export, where a method call per field, or a store per byte, cost
   * more than the rest.
   */
  span(s: OtlpSpan): void {
    const w = this.cur;
    const name = this.spanNames.get(s.name);
    const thread = this.threadAttrs(s.thread, s.threadName);
    const rp = s.parent ? undefined : s.trace.remoteParent;
    // Everything up to the attributes after thread's (and 4 bytes a last word may pass).
    const v = this.room(160 + name.length + thread.length + (rp ? rp.length : 0));
    let p = w.pos;
    v.setUint8(p, 0x12); // resource_spans.scope_spans.spans: field 2, message
    const at = p + 1;
    p += 5;
    const t = s.trace;
    v.setUint16(p, 0x0a10); // trace_id: field 1, 16 bytes
    v.setInt32(p + 2, t.w0);
    v.setInt32(p + 6, t.w1);
    v.setInt32(p + 10, t.w2);
    v.setInt32(p + 14, t.w3);
    v.setUint16(p + 18, 0x1208); // span_id: field 2, 8 bytes
    v.setInt32(p + 20, s.idHi);
    v.setInt32(p + 24, s.idLo);
    p += 28;
    if (s.parent) {
      v.setUint16(p, 0x2208); // parent_span_id: field 4, 8 bytes
      v.setInt32(p + 2, s.parentHi);
      v.setInt32(p + 6, s.parentLo);
      p += 10;
    } else if (rp) {
      const b = w.buf;
      b[p++] = 0x22;
      p = putVarint(b, p, rp.length);
      for (let i = 0; i < rp.length; i++) b[p++] = rp[i];
    }
    p = putWords(v, p, name); // name: field 5; the key of kind: field 6, varint
    v.setUint8(p++, s.kind); // < 128
    p = this.clock.put(v, p, 0x39, s.start); // start_time_unix_nano: field 7, fixed64
    p = this.clock.put(v, p, 0x41, s.end); // end_time_unix_nano: field 8, fixed64
    if (s.region !== 0) p = intAttr(v, p, this.regionKeys, s.region);
    p = intAttr(v, p, this.taskKeys, s.task);
    w.pos = putWords(v, p, thread);
    if (s.extra) { for (const a of s.extra) attrProto(w, 9, a, this.strs); }
    const events = s.events;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (e instanceof LogSpanEvent) this.logEvent(e);
      else {
        const ev = w.begin(11);
        this.clock.write(w, 1, e.time);
        w.bytes(2, this.strs.get(e.name));
        for (const a of e.attrs) attrProto(w, 3, a, this.strs);
        w.end(ev);
      }
    }
    if (s.droppedEvents > 0) w.uint(12, s.droppedEvents);
    if (s.status !== 0) {
      const st = w.begin(15);
      if (s.statusMessage) w.string(2, s.statusMessage);
      w.uint(3, s.status);
      w.end(st);
    }
    // Fields past the thread's attributes may have grown the buffer.
    this.room(0).setUint32(at, padded(w.pos - at - 4));
  }

  /**
   * A log's span event (field 11): its time, name, and the attributes
   * `message` and `runtrace.truncated` as attrProto writes them, without
   * their arrays. A message kept as ASCII bytes is copied, with the length
   * in the form `ProtoWriter.string` gives its string.
   */
  private logEvent(e: LogSpanEvent): void {
    const w = this.cur;
    const name = this.eventNames.get(e.name);
    const bytes = e.bytes, kept = bytes.length > 0;
    const m = kept ? "" : e.text;
    const n = kept ? e.length : m.length;
    let v = this.room(64 + name.length + n);
    let p = w.pos;
    v.setUint8(p, 0x5a); // events: field 11, message
    const at = p + 1;
    p = this.clock.put(v, p + 5, 0x09, e.time); // time_unix_nano: field 1, fixed64
    p = putWords(v, p, name); // name: field 2; the key of attributes: field 3, KeyValue
    const kv = p;
    // key: field 1, "message"; the key of value: field 2, AnyValue
    p = putWords(v, p + 4, MESSAGE_KEY);
    const any = p;
    p += 4;
    if (kept) p = putAscii(v, w.buf, p, bytes, e.at, n);
    else {
      // string_value, ASCII in place as ProtoWriter.string writes it (a
      // one-byte length when three bytes per unit fit in it); else by it.
      let i = 0;
      if (n * 3 < 128) {
        const b = w.buf;
        v.setUint16(p, 0x0a00 | n);
        const s0 = p + 2;
        for (; i < n; i++) {
          const c = m.charCodeAt(i);
          if (c >= 0x80) break;
          b[s0 + i] = c;
        }
        if (i === n) p = s0 + n;
      } else i = -1;
      if (i !== n) {
        w.pos = p;
        w.string(1, m);
        p = w.pos;
        v = this.room(0);
      }
    }
    v.setUint32(any, padded(p - any - 4));
    v.setUint32(kv, padded(p - kv - 4));
    w.pos = p;
    if (e.truncated) {
      v = this.room(5 + TRUNCATED_ATTR.length);
      v.setUint8(p, 0x1a);
      v.setUint32(p + 1, padded(TRUNCATED_ATTR.length));
      w.buf.set(TRUNCATED_ATTR, p + 5);
      w.pos = p + 5 + TRUNCATED_ATTR.length;
    }
    v.setUint32(at, padded(w.pos - at - 4));
  }

  /**
   * `thread.id` and `thread.name` as span attributes (field 9), encoded once
   * per thread and copied: every span repeats them.
   */
  private threadAttrs(thread: number, name: string | undefined): Words {
    // Most spans are of the last span's thread: no Map lookup for them.
    const last = this.lastThread;
    if (last !== undefined && last.thread === thread && last.name === name) return last.words;
    let c = this.threads.get(thread);
    if (c === undefined || c.name !== name) {
      const t = new ProtoWriter(64);
      attrProto(t, 9, ["thread.id", thread], this.strs);
      if (name !== undefined) attrProto(t, 9, ["thread.name", name], this.strs);
      c = { thread, name, words: new Words(t.take()) };
      if (this.threads.size < 4096) this.threads.set(thread, c);
    }
    this.lastThread = c;
    return c.words;
  }

  /** Closes the batch; returns its bytes (valid until the next batch begins). */
  close(): Uint8Array {
    this.cur.end(this.ss);
    this.cur.end(this.rs);
    const out = this.cur.buf.subarray(this.at, this.cur.pos);
    if (!this.inPlace) this.cur.pos = 0;
    return out;
  }

  get size(): number {
    return this.cur.pos - this.at;
  }
}

/** A thread's `thread.id` and `thread.name` attributes, encoded. */
interface ThreadWords {
  thread: number;
  name: string | undefined;
  words: Words;
}

/**
 * A padded four-byte varint of `n` (< 2^28) as a big-endian word, as
 * ProtoWriter's nested messages end.
 */
function padded(n: number): number {
  if (n >= 1 << 28) throw new RangeError("runtrace: protobuf message over 256 MiB");
  return (((n & 0x7f) | 0x80) << 24 | (((n >>> 7) & 0x7f) | 0x80) << 16 |
    (((n >>> 14) & 0x7f) | 0x80) << 8 | ((n >>> 21) & 0x7f)) >>> 0;
}

/**
 * Bytes that repeat from span to span, as big-endian 32-bit words (the last
 * one padded), written four bytes per store by {@linkcode putWords}.
 */
class Words {
  /** The bytes, four to a word. */
  readonly words: Int32Array;
  /** How many bytes. */
  readonly length: number;

  constructor(bytes: Uint8Array) {
    this.length = bytes.length;
    const padded = new Uint8Array((bytes.length + 3) & ~3);
    padded.set(bytes);
    const v = new DataView(padded.buffer);
    this.words = new Int32Array(padded.length / 4);
    for (let i = 0; i < this.words.length; i++) this.words[i] = v.getInt32(4 * i);
  }
}

/**
 * Writes `t` at `p`, returning the position after its bytes; its last word
 * may write up to three bytes past them, which what follows overwrites (room
 * for them must be there).
 */
function putWords(v: DataView, p: number, t: Words): number {
  const w = t.words;
  for (let i = 0; i < w.length; i++) v.setInt32(p + 4 * i, w[i]);
  return p + t.length;
}

/**
 * Names as a field: the one-byte key `head`, the name's UTF-8 length and
 * bytes, then the byte `next`, as {@linkcode Words}. The last few names
 * looked up are found by comparing strings (the same string objects come
 * back from the trace's string table), the rest in a `Map`: its lookup
 * (hashing the string) cost more than writing the span's ids.
 */
class NameWords {
  private map = new Map<string, Words>();
  private recent: string[] = ["", "", "", ""];
  private recentWords: (Words | undefined)[] = [undefined, undefined, undefined, undefined];
  private next = 0;

  constructor(private head: number, private after: number) {}

  /** The field of `name`; the first 4096 names of at most 256 units are kept. */
  get(name: string): Words {
    const r = this.recent;
    for (let i = 0; i < 4; i++) {
      if (r[i] === name) {
        const t = this.recentWords[i];
        if (t !== undefined) return t;
      }
    }
    let t = this.map.get(name);
    if (t === undefined) {
      const b = utf8.encode(name);
      const out = new Uint8Array(b.length + 12);
      out[0] = this.head;
      const p = putVarint(out, 1, b.length);
      out.set(b, p);
      out[p + b.length] = this.after;
      t = new Words(out.subarray(0, p + b.length + 1));
      if (this.map.size < 4096 && name.length <= 256) this.map.set(name, t);
    }
    r[this.next] = name;
    this.recentWords[this.next] = t;
    this.next = (this.next + 1) & 3;
    return t;
  }
}

/** A varint of `v` (0 ≤ v < 2^31) at `p`; returns the position after it. */
function putVarint(b: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p] = v;
  return p + 1;
}

const KEY_TASK_ID = utf8.encode("runtrace.task.id");
/** The key field of `message` (field 1, its length, its bytes), then the key of value (2). */
const MESSAGE_KEY = new Words(Uint8Array.of(0x0a, 7, ...utf8.encode("message"), 0x12));
/** The inside of the `KeyValue` `runtrace.truncated: true`, as attrProto writes it. */
const TRUNCATED_ATTR = (() => {
  const w = new ProtoWriter(64);
  w.bytes(1, utf8.encode("runtrace.truncated"));
  const any = w.begin(2);
  w.uint(2, 1);
  w.end(any);
  return w.take();
})();
const KEY_REGION_ID = utf8.encode("runtrace.region.id");

/**
 * A span attribute (field 9) `key` with an integer value, up to the value:
 * by the length of the value's varint (index 1-10), with the lengths that
 * follow from it.
 */
function intAttrHeads(key: Uint8Array): Words[] {
  const out: Words[] = [];
  for (let vlen = 0; vlen <= 10; vlen++) {
    const anyLen = 1 + vlen, kvLen = 2 + key.length + 2 + anyLen;
    // key: field 1, bytes; value: field 2, AnyValue; int_value: field 3, varint
    out.push(new Words(Uint8Array.of(0x4a, kvLen, 0x0a, key.length, ...key, 0x12, anyLen, 0x18)));
  }
  return out;
}

/**
 * A `KeyValue` span attribute with an integer value at `p`, its lengths
 * computed rather than patched (`heads` from {@linkcode intAttrHeads}): the
 * attributes every span has. Room for its bytes and 20 more is there.
 * Returns the position after it.
 */
function intAttr(v: DataView, p: number, heads: Words[], n: number): number {
  if (!(Number.isSafeInteger(n) && n >= 0)) {
    // Not a count: as attrProto writes it (a double, padded lengths).
    const h = heads[0], keyLen = h.length - 7;
    v.setUint8(p, 0x4a);
    v.setUint32(p + 1, padded(2 + keyLen + 14));
    p += 5;
    // The key field (field 1, its length, the key) from the head.
    for (let i = 2; i < 4 + keyLen; i++) v.setUint8(p++, byteOf(h, i));
    v.setUint8(p, 0x12);
    v.setUint32(p + 1, padded(9));
    v.setUint8(p + 5, 0x21); // double_value: field 4, fixed64
    v.setFloat64(p + 6, n, true);
    return p + 14;
  }
  // Most values are below 2^28: their length by comparisons, not divisions.
  let vlen = n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : n < 268435456 ? 4 : 5;
  for (let x = n / 34359738368; x >= 1; x /= 128) vlen++;
  p = putWords(v, p, heads[vlen]);
  let x = n;
  while (x >= 2147483648) {
    v.setUint8(p++, (x % 128) | 0x80);
    x = Math.floor(x / 128);
  }
  while (x >= 128) {
    v.setUint8(p++, (x & 0x7f) | 0x80);
    x >>>= 7;
  }
  v.setUint8(p++, x);
  return p;
}

/**
 * A string field 1 of the ASCII `src[from, from + n)` at `p` (room for it
 * there), its length as `ProtoWriter.string` writes a string's: one byte
 * when three bytes per unit fit in it, else a padded four. Returns the
 * position after it.
 */
function putAscii(v: DataView, b: Uint8Array, p: number, src: Uint8Array, from: number, n: number) {
  b[p++] = 0x0a;
  if (n * 3 < 128) b[p++] = n;
  else {
    v.setUint32(p, padded(n));
    p += 4;
  }
  if (n < 32) { for (let i = 0; i < n; i++) b[p + i] = src[from + i]; }
  else b.set(src.subarray(from, from + n), p);
  return p + n;
}

/** Byte `i` of `t`. */
function byteOf(t: Words, i: number): number {
  return (t.words[i >> 2] >>> (24 - 8 * (i & 3))) & 0xff;
}

/** 8 hex digits of a 32-bit word. */
const hex8 = (v: number) => (v >>> 0).toString(16).padStart(8, "0");

/** A `KeyValue` in `field`; keys (and short string values) through `strs`. */
export function attrProto(
  w: ProtoWriter,
  field: number,
  [key, v]: [string, string | number | boolean],
  strs: Utf8Cache,
) {
  const kv = w.begin(field);
  w.bytes(1, strs.get(key));
  const any = w.begin(2);
  // Messages vary: encoded as they come; other strings (names) repeat.
  if (typeof v === "string") key === "message" ? w.string(1, v) : w.bytes(1, strs.get(v));
  else if (typeof v === "boolean") w.uint(2, v ? 1 : 0);
  else if (Number.isSafeInteger(v) && v >= 0) w.uint(3, v);
  else w.double(4, v);
  w.end(any);
  w.end(kv);
}

/** A `KeyValue` in OTLP/JSON. */
function attrJson([key, v]: [string, string | number | boolean]): string {
  const value = typeof v === "string"
    ? `{"stringValue":${JSON.stringify(v)}}`
    : typeof v === "boolean"
    ? `{"boolValue":${v}}`
    : Number.isSafeInteger(v)
    ? `{"intValue":"${v}"}`
    : `{"doubleValue":${Number.isFinite(v) ? v : 0}}`;
  return `{"key":${JSON.stringify(key)},"value":${value}}`;
}

/** Writes spans as OTLP/JSON `ResourceSpans` objects. */
class JsonBatches {
  private parts: string[] = [];
  private bytes = 0;
  private head = "";

  constructor(private clock: EpochClock) {}

  begin(resource: Attrs): void {
    if (!this.head) {
      this.head = `{"resource":{"attributes":[${resource.map(attrJson).join(",")}]},` +
        `"scopeSpans":[{"scope":{"name":"${SCOPE.name}","version":"${SCOPE.version}"},"spans":[`;
    }
    this.parts.push(this.head);
    this.bytes = this.head.length;
  }

  span(s: OtlpSpan): void {
    const c = this.clock;
    const parent = s.parent
      ? hex8(s.parentHi) + hex8(s.parentLo)
      : s.trace.remoteParent && hex(s.trace.remoteParent);
    const t = s.trace;
    let j =
      `{"traceId":"${hex8(t.w0)}${hex8(t.w1)}${hex8(t.w2)}${hex8(t.w3)}","spanId":"${hex8(s.idHi)}${
        hex8(s.idLo)
      }"` +
      (parent ? `,"parentSpanId":"${parent}"` : "") +
      `,"name":${JSON.stringify(s.name)},"kind":${s.kind}` +
      `,"startTimeUnixNano":"${c.decimal(s.start)}","endTimeUnixNano":"${c.decimal(s.end)}"` +
      `,"attributes":[${s.attrs.map(attrJson).join(",")}]`;
    if (s.events.length > 0) {
      j += `,"events":[${
        s.events.map((e) =>
          `{"timeUnixNano":"${c.decimal(e.time)}","name":${JSON.stringify(e.name)}` +
          `,"attributes":[${e.attrs.map(attrJson).join(",")}]}`
        ).join(",")
      }]`;
    }
    if (s.droppedEvents > 0) j += `,"droppedEventsCount":${s.droppedEvents}`;
    if (s.status !== 0) {
      j += `,"status":{"code":${s.status}${
        s.statusMessage ? `,"message":${JSON.stringify(s.statusMessage)}` : ""
      }}`;
    }
    j += "}";
    if (this.parts.length > 1) this.parts.push(",");
    this.parts.push(j);
    this.bytes += j.length;
  }

  close(): Uint8Array {
    this.parts.push("]}]}");
    const out = utf8.encode(this.parts.join(""));
    this.parts.length = 0;
    this.bytes = 0;
    return out;
  }

  get size(): number {
    return this.bytes;
  }
}

/**
 * Streams a trace out as OTLP spans. Feed it every event with `add`; after
 * each chunk of input, `take()` (or `takeView()`) the output so far; once
 * more after the `end` event. With `onBatch`, each complete batch (an
 * `ExportTraceServiceRequest`) goes there instead, for sending.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { OtlpExporter } from "./otlp.ts";
 * const x = new OtlpExporter({ serviceName: "checkout" });
 * const d = new TraceDecoder(x.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * await Deno.writeFile("trace.otlp.pb", x.take());
 * ```
 */
export class OtlpExporter {
  private out = new ProtoWriter(1 << 16);
  private mapper: SpanMapper;
  private enc: ProtobufBatches | JsonBatches;
  private clock = new EpochClock();
  private json: boolean;
  private inBatch = 0;
  private batches = 0;
  private maxSpans: number;
  private maxBytes: number;
  private onBatch?: (request: Uint8Array, spans: number) => void;
  private resource: OtlpResource;
  private resourceAttrs?: Attrs;

  /** Makes an exporter; see {@linkcode OtlpOptions}. */
  constructor(options: OtlpOptions = {}) {
    this.json = options.encoding === "json";
    if (this.json && options.onBatch) {
      throw new TypeError("runtrace: OtlpExporter's onBatch takes protobuf batches only");
    }
    // Protobuf batches for the output are written in it, not copied there.
    this.enc = this.json
      ? new JsonBatches(this.clock)
      : new ProtobufBatches(this.clock, options.onBatch ? undefined : this.out);
    this.maxSpans = options.maxBatchSpans ?? 512;
    this.maxBytes = options.maxBatchBytes ?? 1 << 20;
    this.onBatch = options.onBatch;
    this.resource = options;
    // Each span is encoded in `span`: its object can serve a later one.
    this.mapper = new SpanMapper((s) => this.span(s), { reuse: true });
  }

  /** Takes the next event; the `end` event writes the spans still open and closes the output. */
  add = (e: TraceEvent): void => {
    if (e.kind === "header") this.clock.set(e.header);
    this.mapper.add(e);
    if (e.kind === "end") this.finish();
  };

  /**
   * The decoder's fast path for the frequent kinds, the same output as
   * `add`: `new TraceDecoder(x.add, x.visitor)`.
   */
  get visitor(): EventVisitor {
    return this.mapper.visitor;
  }

  private span(s: OtlpSpan): void {
    if (this.inBatch === 0) {
      // Made once: the header comes before any span, and the encoders encode it once.
      this.enc.begin(this.resourceAttrs ??= resourceAttrs(this.mapper.header, this.resource));
    }
    this.enc.span(s);
    if (++this.inBatch >= this.maxSpans || this.enc.size >= this.maxBytes) this.closeBatch();
  }

  private closeBatch(): void {
    const bytes = this.enc.close();
    const spans = this.inBatch;
    this.inBatch = 0;
    if (this.onBatch) {
      this.onBatch(bytes, spans);
      return;
    }
    this.batches++;
    if (!this.json) return; // written in place
    const o = this.out;
    const head = this.batches === 1 ? '{"resourceSpans":[\n' : ",\n";
    o.ensure(head.length + bytes.length);
    if (head.length > 0) o.pos += utf8.encodeInto(head, o.buf.subarray(o.pos)).written;
    o.buf.set(bytes, o.pos);
    o.pos += bytes.length;
  }

  private finish(): void {
    if (this.inBatch > 0) this.closeBatch();
    if (this.json && !this.onBatch) {
      const tail = this.batches === 0 ? '{"resourceSpans":[]}\n' : "\n]}\n";
      this.out.ensure(tail.length);
      this.out.pos += utf8.encodeInto(tail, this.out.buf.subarray(this.out.pos)).written;
    }
  }

  /** Closes the open batch now, if it has spans: a live export sends what has ended. */
  flush(): void {
    if (this.inBatch > 0) this.closeBatch();
  }

  /** The output written since the last call (a copy). */
  take(): Uint8Array {
    const o = this.out, at = this.openBatchStart();
    if (at < 0) return o.take();
    // The open batch stays, moved to the start: its lengths are not known yet.
    const out = o.buf.slice(0, at);
    o.buf.copyWithin(0, at, o.pos);
    o.pos -= at;
    (this.enc as ProtobufBatches).moved(at);
    return out;
  }

  /** Like `take`, without a copy: valid until the next `takeView`. */
  takeView(): Uint8Array {
    const o = this.out, at = this.openBatchStart();
    if (at <= 0) return at < 0 ? o.takeView() : o.buf.subarray(0, 0);
    // The output up to the open batch; the batch goes on in the next buffer.
    const open = o.pos - at;
    o.pos = at;
    const out = o.takeView();
    o.ensure(open);
    o.buf.set(new Uint8Array(out.buffer, out.byteOffset + at, open));
    o.pos = open;
    (this.enc as ProtobufBatches).moved(at);
    return out;
  }

  /** Where a batch open in the output begins, -1 if none is. */
  private openBatchStart(): number {
    const enc = this.enc;
    return this.inBatch > 0 && enc instanceof ProtobufBatches && enc.inPlace ? enc.start : -1;
  }

  /** Spans written so far. */
  get events(): number {
    return this.mapper.report.spans;
  }

  /** What the mapping did; complete after the `end` event. */
  get report(): OtlpReport {
    return this.mapper.report;
  }
}
