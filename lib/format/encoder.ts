/**
 * The trace encoder: turns events into the bytes of docs/format.md, one typed
 * method per event. The drain worker (lib/record/drain_worker/) feeds it from
 * the ring; `mergeTraces` from decoded traces.
 *
 * @module
 */

import { Batch, Ev, FORMAT_VERSION, MAGIC } from "./constants.ts";

/** What the header of a trace records about the recording process. */
export interface HeaderFields {
  /** `performance.timeOrigin` of the recording thread, ms since the epoch. */
  timeOrigin: number;
  /** `performance.now()` when tracing started, ms: time 0 of the trace. */
  startTime: number;
  /** Smallest observed step of the clock, in nanoseconds. */
  resolutionNs: number;
  /** `deno`, `bun` or `node`. */
  runtime: string;
  /** The runtime's version. */
  runtimeVersion: string;
  /** Process id, 0 where unknown. */
  pid: number;
  /** Header flags (bit 0: a flight-recorder snapshot). */
  flags?: number;
  /**
   * The trace is one part of a recording split into parts (`start`'s
   * `split`): its number, 0 for the first. Absent in a whole trace.
   */
  part?: number;
}

/** A growable byte buffer with the format's primitive encodings. */
export class ByteWriter {
  /** The bytes written so far are `buf.subarray(0, pos)`. */
  buf: Uint8Array;
  /** Number of bytes written. */
  pos = 0;

  constructor(initial = 1 << 16) {
    this.buf = new Uint8Array(initial);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  /** Appends one byte; the caller has ensured room. */
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  /** Appends an unsigned LEB128 varint of a safe integer ≥ 0 (≤ 8 bytes). */
  uvarint(v: number): void {
    const buf = this.buf;
    let p = this.pos;
    if (v < 0x80) {
      buf[p] = v;
      this.pos = p + 1;
      return;
    }
    while (v >= 0x80000000) {
      buf[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v >= 0x80) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
  }

  /** Appends a zigzag-encoded signed varint. */
  svarint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** Appends a little-endian float64. */
  f64(v: number): void {
    this.ensure(8);
    new DataView(this.buf.buffer, this.buf.byteOffset).setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** Appends raw bytes. */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Appends a length-prefixed UTF-8 string. */
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.ensure(b.length + 10);
    this.uvarint(b.length);
    this.bytes(b);
  }

  /** Forgets everything written, keeping the buffer. */
  reset(): void {
    this.pos = 0;
  }
}

/**
 * Writes a trace as batches into an output {@linkcode ByteWriter}. Events of
 * one thread accumulate in an open EVENTS batch; `closeBatch` seals it behind
 * the STRINGS batch that defines the strings it introduced.
 */
export class TraceWriter {
  /** Sealed bytes ready for the sink. */
  out: ByteWriter;
  /** Events of the open batch. */
  ev: ByteWriter;
  /** String definitions made while the batch was open. */
  strs: ByteWriter;
  /** Thread of the open batch, 0 when none is open. */
  thread = 0;
  /** Time of the first event of the open batch, ns since the trace start. */
  baseTime = 0;
  /** Time of the last event written, ns. */
  lastTime = 0;
  /** Region id the open batch counts from. */
  regionBase = 0;
  /** Last region id begun on the open batch's thread. */
  lastRegion = 0;
  /** Events in the open batch. */
  count = 0;
  /** Events written over the whole trace. */
  total = 0;
  /** Events the recorder reported lost, over the whole trace. */
  lost = 0;
  /** Time 0 of this trace, as a `performance.now()` reading in ms. */
  startMs = 0;
  /** Records stamped after this (`stop` was called) are left out. */
  endMs = Infinity;
  /** Per thread: the last region id begun, carried across batches. */
  private threadRegion: number[] = [];
  /** Per thread: the time of the last event written, ns. */
  private threadTime: number[] = [];
  private utf8 = new TextEncoder();
  private scratch: Uint8Array;

  /**
   * A writer for a new trace. With `reuse`, it takes over that writer's
   * buffers, emptied, instead of allocating 2 MiB (a drain worker's next
   * session reuses its last trace's); `reuse` must not be used again.
   */
  constructor(reuse?: TraceWriter) {
    if (reuse) {
      reuse.out.reset();
      reuse.ev.reset();
      reuse.strs.reset();
    }
    this.out = reuse?.out ?? new ByteWriter(1 << 20);
    this.ev = reuse?.ev ?? new ByteWriter(1 << 20);
    this.strs = reuse?.strs ?? new ByteWriter(1 << 12);
    this.scratch = reuse?.scratch ?? new Uint8Array(1 << 12);
  }

  /** Writes the magic, the version and the header block. */
  header(h: HeaderFields): void {
    const o = this.out;
    o.ensure(16);
    for (const b of MAGIC) o.u8(b);
    o.uvarint(FORMAT_VERSION);
    const body = new ByteWriter(256);
    body.f64(h.timeOrigin);
    body.f64(h.startTime);
    body.ensure(10);
    body.uvarint(h.resolutionNs);
    body.string(h.runtime);
    body.string(h.runtimeVersion);
    body.ensure(20);
    body.uvarint(h.pid);
    body.uvarint(h.flags ?? 0);
    if (h.part !== undefined) body.uvarint(h.part);
    o.ensure(10);
    o.uvarint(body.pos);
    o.bytes(body.buf.subarray(0, body.pos));
  }

  /** Writes a THREAD batch naming a thread. */
  threadName(thread: number, name: string): void {
    const body = new ByteWriter(64);
    body.ensure(10);
    body.uvarint(thread);
    body.string(name);
    this.sealed(Batch.THREAD, body);
  }

  /** Defines string `id` in the next STRINGS batch. */
  defineString(id: number, s: string): void {
    const w = this.strs;
    const n = this.encodeUtf8(s);
    w.ensure(n + 20);
    w.uvarint(id);
    w.uvarint(n);
    w.buf.set(this.scratch.subarray(0, n), w.pos);
    w.pos += n;
  }

  /** Opens an EVENTS batch for `thread` whose first event is at `time` ns. */
  openBatch(thread: number, time: number, lastRegion: number): void {
    this.thread = thread;
    this.baseTime = time;
    this.lastTime = time;
    this.regionBase = lastRegion;
    this.lastRegion = lastRegion;
    this.count = 0;
    this.ev.reset();
  }

  /** Opens an EVENTS batch for `thread`, continuing that thread's state. */
  open(thread: number): void {
    this.openBatch(thread, this.threadTime[thread] ?? 0, this.threadRegion[thread] ?? 0);
  }

  /** Seals the open batch and keeps its thread's state for the next one. */
  close(): void {
    this.threadTime[this.thread] = this.lastTime;
    this.threadRegion[this.thread] = this.lastRegion;
    this.closeBatch();
  }

  /** Defines every string of `table` (index = id), for a trace that starts late. */
  defineAll(table: readonly string[]): void {
    for (let id = 1; id < table.length; id++) {
      if (table[id] !== undefined) this.defineString(id, table[id]);
    }
  }

  /** Records that the producer dropped `count` events. */
  lostEvents(count: number): void {
    this.event(Ev.LOST, this.lastTime);
    this.ev.uvarint(count);
    this.lost += count;
  }

  /**
   * Nanoseconds since this trace's start of a `performance.now()` stamp `ms`,
   * or -1 for a stamp outside the trace: before its start (a trace started
   * while a flight recorder runs begins at its own time 0) or after `endMs`.
   */
  private at(ms: number): number {
    if (ms < this.startMs || ms > this.endMs) return -1;
    return Math.round((ms - this.startMs) * 1e6);
  }

  /** A task began: `type` is a string id, `parent` 0 for none. */
  taskBegin(ms: number, task: number, parent: number, type: number): void {
    const t = this.at(ms);
    if (t < 0) return;
    this.event(Ev.TASK_BEGIN, t);
    const o = this.ev;
    o.uvarint(task);
    o.uvarint(parent);
    o.uvarint(type);
  }

  /** A task ended. */
  taskEnd(ms: number, task: number): void {
    const t = this.at(ms);
    if (t < 0) return;
    this.event(Ev.TASK_END, t);
    this.ev.uvarint(task);
  }

  /**
   * A region began on the open batch's thread: `type` is a string id,
   * `parent` the enclosing region's id (0 for none), `lane` its async lane.
   */
  regionBegin(
    ms: number,
    task: number,
    type: number,
    region: number,
    parent: number,
    lane: number,
  ): void {
    const t = this.at(ms);
    if (t < 0) return;
    this.event(Ev.REGION_BEGIN, t);
    const o = this.ev;
    o.uvarint(task);
    o.uvarint(type);
    o.svarint(region - this.lastRegion);
    o.uvarint(parent === 0 ? 0 : region - parent);
    o.uvarint(lane);
    this.lastRegion = region;
  }

  /** A region of the open batch's thread ended. */
  regionEnd(ms: number, region: number): void {
    const t = this.at(ms);
    if (t < 0) return;
    this.event(Ev.REGION_END, t);
    this.ev.svarint(this.lastRegion - region);
  }

  /** A log: `category` is a string id, `flags` the format's log flags. */
  log(ms: number, task: number, category: number, flags: number, message: string): void {
    if (!this.logHead(ms, task, category, flags)) return;
    this.message(message);
  }

  /** {@linkcode TraceWriter.log} with the message already UTF-8: `bytes[0, n)`. */
  logUtf8(
    ms: number,
    task: number,
    category: number,
    flags: number,
    bytes: Uint8Array,
    n: number,
  ): void {
    if (!this.logHead(ms, task, category, flags)) return;
    this.messageBytes(bytes, n);
  }

  private logHead(ms: number, task: number, category: number, flags: number): boolean {
    const t = this.at(ms);
    if (t < 0) return false;
    this.event(Ev.LOG, t);
    const o = this.ev;
    o.uvarint(task);
    o.uvarint(category);
    o.uvarint(flags);
    return true;
  }

  /** A sampled value of the counter named by string id `name`. */
  counter(ms: number, name: number, value: number): void {
    const t = this.at(ms);
    if (t < 0) return;
    this.event(Ev.COUNTER, t);
    this.ev.uvarint(name);
    this.ev.f64(value);
  }

  /** A stall of the event loop that ended at `ms`, attributed to a region and task (or 0). */
  stall(ms: number, durationUs: number, region: number, task: number): void {
    const t = this.at(ms);
    if (t < 0) return;
    this.event(Ev.STALL, t);
    const o = this.ev;
    o.uvarint(durationUs * 1000);
    o.uvarint(region);
    o.uvarint(task);
  }

  /** A garbage collection that ended at `ms`; `flags` holds GC_INFERRED. */
  gc(ms: number, durationUs: number, flags: number, freedBytes: number): void {
    const t = this.at(ms);
    if (t < 0) return;
    this.event(Ev.GC, t);
    const o = this.ev;
    o.uvarint(durationUs * 1000);
    o.uvarint(flags);
    o.uvarint(freedBytes > 0 ? Math.round(freedBytes) : 0);
  }

  /** The open batch's thread stopped recording. */
  threadEnd(ms: number): void {
    const t = this.at(ms);
    if (t < 0) return;
    this.event(Ev.THREAD_END, t);
  }

  /** The call stack (string id `stack`) of the thread's next event. */
  stack(ms: number, stack: number): void {
    const t = this.at(ms);
    if (t < 0) return;
    this.event(Ev.STACK, t);
    this.ev.uvarint(stack);
  }

  /** Starts an event: its type and time delta. Leaves room for 60 bytes. */
  event(type: number, time: number): void {
    const ev = this.ev;
    ev.ensure(64);
    ev.buf[ev.pos++] = type;
    const dt = time - this.lastTime;
    ev.uvarint(dt > 0 ? dt : 0);
    if (dt > 0) this.lastTime = time;
    this.count++;
  }

  /** Appends a log message already encoded as UTF-8: `bytes[0, n)`. */
  messageBytes(bytes: Uint8Array, n: number): void {
    const ev = this.ev;
    ev.ensure(n + 10);
    ev.uvarint(n);
    ev.buf.set(n === bytes.length ? bytes : bytes.subarray(0, n), ev.pos);
    ev.pos += n;
  }

  /** Appends a log message's length and UTF-8 bytes to the open event. */
  message(s: string): void {
    const n = this.encodeUtf8(s);
    const ev = this.ev;
    ev.ensure(n + 10);
    ev.uvarint(n);
    ev.buf.set(this.scratch.subarray(0, n), ev.pos);
    ev.pos += n;
  }

  /**
   * Seals the open batch (and the strings it needs) into `out`, as an EVENTS
   * batch or, for a flight window's restated begins, a RESTATE batch.
   */
  closeBatch(type: number = Batch.EVENTS): void {
    if (this.strs.pos > 0) {
      this.sealed(Batch.STRINGS, this.strs);
      this.strs.reset();
    }
    if (this.count === 0) return;
    const o = this.out;
    o.ensure(this.ev.pos + 64);
    o.u8(type);
    const head = new ByteWriter(48);
    head.uvarint(this.thread);
    head.uvarint(this.baseTime);
    head.uvarint(this.regionBase);
    head.uvarint(this.count);
    o.uvarint(head.pos + this.ev.pos);
    o.bytes(head.buf.subarray(0, head.pos));
    o.bytes(this.ev.buf.subarray(0, this.ev.pos));
    this.total += this.count;
    this.count = 0;
    this.ev.reset();
  }

  /**
   * Writes the END batch that marks the trace complete; a part of a split
   * recording gives its own counts.
   */
  end(lost: number = this.lost, events: number = this.total): void {
    this.closeBatch();
    const body = new ByteWriter(32);
    body.uvarint(events);
    body.uvarint(lost);
    this.sealed(Batch.END, body);
  }

  private sealed(type: number, body: ByteWriter): void {
    const o = this.out;
    o.ensure(body.pos + 16);
    o.u8(type);
    o.uvarint(body.pos);
    o.bytes(body.buf.subarray(0, body.pos));
  }

  private encodeUtf8(s: string): number {
    if (s.length * 3 > this.scratch.length) {
      this.scratch = new Uint8Array(s.length * 3);
    }
    return this.utf8.encodeInto(s, this.scratch).written;
  }
}
