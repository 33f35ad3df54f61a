/**
 * The drain worker: consumes the shared ring and feeds each record to the
 * consumers that are on: a trace being written to its destination, and a
 * flight recorder's window of recent chunks. Each consumer has its own
 * {@linkcode TraceWriter} (its own time 0 and string table), so a trace
 * started while a flight recorder runs is a complete trace of its own.
 *
 * Like encoder.ts, this code runs from its source text inside a `data:` URL
 * worker, so it refers to nothing outside its own functions and classes; the
 * ring layout and format numbers come in `workerData`.
 *
 * @module
 */

import type { FormatNumbers, HeaderFields, TraceWriter } from "../format/encoder.ts";

/** Ring layout numbers, from ring_layout.ts. */
export interface LayoutNumbers {
  ctrl: {
    HEAD: number;
    TAIL: number;
    TEXT_TAIL: number;
    WAKE: number;
    LOST: number;
    FLUSH: number;
    CLOSED: number;
  };
  flush: { IDLE: number; REQUESTED: number; DONE: number };
  rec: {
    TASK_BEGIN: number;
    TASK_END: number;
    REGION_BEGIN: number;
    REGION_END: number;
    LOG: number;
    COUNTER: number;
    STALL: number;
    THREAD_END: number;
    STACK: number;
    STRING: number;
  };
  ctrlBytes: number;
  recordBytes: number;
}

/** Where a trace's bytes go. */
export type SinkSpec = { kind: "file"; path: string } | { kind: "port" };

/** What the worker is started with. */
export interface DrainWorkerData {
  ring: SharedArrayBuffer;
  capacity: number;
  textCapacity: number;
  thread: number;
  threadName: string;
  layout: LayoutNumbers;
  format: FormatNumbers;
  /** Longest the worker sleeps between drains, ms. */
  flushInterval: number;
}

/** Messages the main thread sends. */
export type ToWorker =
  | { type: "startTrace"; sink: SinkSpec; header: HeaderFields }
  | { type: "stopTrace"; endMs: number }
  | { type: "startFlight"; header: HeaderFields; minAge: number; maxBytes: number }
  | { type: "stopFlight" }
  | { type: "snapshot" }
  | {
    type: "addRing";
    ring: SharedArrayBuffer;
    capacity: number;
    textCapacity: number;
    thread: number;
    name: string;
  }
  | { type: "endRing"; thread: number; endMs: number };

/**
 * The trace-wide string table. Each thread interns strings with its own ids;
 * the worker maps them to one id per distinct string.
 */
export class StringTable {
  /** Strings by global id; a writer that starts late defines them all. */
  list: string[] = [""];
  ids: Map<string, number> = new Map([["", 0]]);
}

/**
 * Tasks and regions begun but not yet ended, tracked while a flight recorder
 * runs, so that every chunk of its window can restate them (with their real
 * start times) and a snapshot has no orphan ends. Bounded: a program that
 * never ends its tasks cannot make it grow without limit.
 */
export class OpenSet {
  /** task id → [parent, type string id, start ms] */
  tasks: Map<number, [number, number, number]> = new Map();
  /** thread → region id → [task, type string id, parent, lane, start ms] */
  regions: Map<number, Map<number, [number, number, number, number, number]>> = new Map();
  limit = 1 << 16;
}

/** Reads one thread's ring and hands its records to the writers. */
export class RingDrainer {
  ctrl: Int32Array;
  f64: Float64Array;
  u32: Uint32Array;
  text: Uint16Array;
  mask: number;
  textMask: number;
  thread: number;
  name: string;
  layout: LayoutNumbers;
  table: StringTable;
  /** This thread's string ids → the table's. */
  idMap: number[] = [0];
  /** Recent regions of this thread, by `id % 4096`, to attribute stalls. */
  histId: Uint32Array;
  histTask: Uint32Array;
  histBegin: Float64Array;
  histEnd: Float64Array;
  lastBegun = 0;
  /** A log message transcoded from the text ring, UTF-8, `msgLength` bytes. */
  msg = new Uint8Array(1 << 12);
  msgLength = 0;
  /** UTF-8 of messages sent by string id, by global id. */
  msgById: Uint8Array[] = [];
  /** Set while a flight recorder runs. */
  open: OpenSet | undefined;
  private scratch = new Uint16Array(1 << 12);
  private utf16 = new TextDecoder("utf-16le");

  constructor(
    ring: SharedArrayBuffer,
    capacity: number,
    textCapacity: number,
    thread: number,
    name: string,
    layout: LayoutNumbers,
    table: StringTable,
  ) {
    const recordsAt = layout.ctrlBytes;
    const textAt = recordsAt + capacity * layout.recordBytes;
    this.ctrl = new Int32Array(ring, 0, layout.ctrlBytes >> 2);
    this.f64 = new Float64Array(ring, recordsAt, capacity * 4);
    this.u32 = new Uint32Array(ring, recordsAt, capacity * 8);
    this.text = new Uint16Array(ring, textAt, textCapacity);
    this.mask = capacity - 1;
    this.textMask = textCapacity - 1;
    this.thread = thread;
    this.name = name;
    this.layout = layout;
    this.table = table;
    const size = 4096;
    this.histId = new Uint32Array(size);
    this.histTask = new Uint32Array(size);
    this.histBegin = new Float64Array(size);
    this.histEnd = new Float64Array(size);
  }

  /** Records waiting in the ring. */
  pending(): number {
    const c = this.layout.ctrl;
    return (Atomics.load(this.ctrl, c.HEAD) - Atomics.load(this.ctrl, c.TAIL)) | 0;
  }

  /**
   * Encodes up to `max` waiting records into one batch per writer, stopping
   * early once the last writer's batch holds `budget` bytes, and frees their
   * slots. Returns the number of records consumed.
   */
  drain(writers: TraceWriter[], max: number, budget: number): number {
    const c = this.layout.ctrl;
    const r = this.layout.rec;
    const ctrl = this.ctrl;
    const head = Atomics.load(ctrl, c.HEAD);
    let tail = Atomics.load(ctrl, c.TAIL);
    let n = (head - tail) | 0;
    const lost = Atomics.exchange(ctrl, c.LOST, 0);
    if (n === 0 && lost === 0) return 0;
    if (n > max) n = max;
    const f64 = this.f64, u32 = this.u32, mask = this.mask, idMap = this.idMap;
    const hmask = this.histId.length - 1;
    const nw = writers.length;
    for (let j = 0; j < nw; j++) {
      writers[j].open(this.thread);
      if (lost > 0) writers[j].lostEvents(lost);
    }
    let textTail = -1;
    const last = writers[nw - 1];
    let k = 0;
    while (k < n) {
      const i = (tail & mask) << 3;
      const kind = u32[i + 2];
      const ms = f64[i >> 1];
      let a = u32[i + 3], b = u32[i + 4], cc = u32[i + 5], flags = u32[i + 7];
      let text = "";
      let utf8: Uint8Array | undefined;
      let skip = false;
      switch (kind) {
        case r.REGION_BEGIN: {
          b = idMap[b] ?? 0;
          const h = cc & hmask;
          this.histId[h] = cc;
          this.histTask[h] = a;
          this.histBegin[h] = ms;
          this.histEnd[h] = 0;
          this.lastBegun = cc;
          break;
        }
        case r.REGION_END: {
          const h = a & hmask;
          if (this.histId[h] === a) this.histEnd[h] = ms;
          break;
        }
        case r.TASK_BEGIN:
          cc = idMap[cc] ?? 0;
          break;
        case r.LOG:
          b = idMap[b] ?? 0;
          if (u32[i + 7] & 2) {
            // The message was sent as a string id (LOG_MESSAGE_ID): no text.
            const id = idMap[cc] ?? 0;
            utf8 = this.msgById[id] ??= new TextEncoder().encode(this.table.list[id] ?? "");
            this.msgLength = utf8.length;
            flags = u32[i + 7] & ~2;
          } else {
            this.transcode(u32[i + 5], u32[i + 6]);
            utf8 = this.msg;
            textTail = (u32[i + 5] + u32[i + 6]) | 0;
          }
          break;
        case r.COUNTER:
        case r.STACK:
          a = idMap[a] ?? 0;
          break;
        case r.STALL: {
          // Attributed to the innermost region open at the stall's midpoint:
          // the heartbeat knows the stall only to within its period.
          const mid = ms - a / 2000;
          for (let id = this.lastBegun, left = hmask; left > 0 && id > 0; id--, left--) {
            const h = id & hmask;
            if (this.histId[h] !== id) break;
            if (this.histBegin[h] <= mid && (this.histEnd[h] === 0 || this.histEnd[h] > mid)) {
              b = id;
              cc = this.histTask[h];
              break;
            }
          }
          break;
        }
        case r.STRING: {
          text = this.readText(u32[i + 5], u32[i + 6]);
          textTail = (u32[i + 5] + u32[i + 6]) | 0;
          const known = this.table.ids.get(text);
          if (known !== undefined) {
            idMap[a] = known;
            skip = true;
          } else {
            const id = this.table.list.length;
            this.table.list.push(text);
            this.table.ids.set(text, id);
            idMap[a] = id;
            a = id;
          }
          break;
        }
      }
      if (this.open) this.track(kind, ms, a, b, cc, u32[i + 6], u32[i + 7]);
      if (!skip) {
        const value = f64[(i >> 1) + 3];
        for (let j = 0; j < nw; j++) {
          writers[j].record(
            kind,
            ms,
            a,
            b,
            cc,
            u32[i + 6],
            flags,
            text,
            value,
            utf8,
            this.msgLength,
          );
        }
      }
      k++;
      tail = (tail + 1) | 0;
      if (last.ev.pos > budget) break;
    }
    for (let j = 0; j < nw; j++) writers[j].close();
    if (textTail !== -1) Atomics.store(ctrl, c.TEXT_TAIL, textTail);
    Atomics.store(ctrl, c.TAIL, tail);
    Atomics.notify(ctrl, c.TAIL);
    return k;
  }

  private track(kind: number, ms: number, a: number, b: number, c: number, d: number, e: number) {
    const open = this.open!, r = this.layout.rec;
    if (kind === r.TASK_BEGIN) {
      if (open.tasks.size < open.limit) open.tasks.set(a, [b, c, ms]);
    } else if (kind === r.TASK_END) {
      open.tasks.delete(a);
    } else if (kind === r.REGION_BEGIN) {
      let mine = open.regions.get(this.thread);
      if (!mine) open.regions.set(this.thread, mine = new Map());
      if (mine.size < open.limit) mine.set(c, [a, b, d, e, ms]);
    } else if (kind === r.REGION_END) {
      open.regions.get(this.thread)?.delete(a);
    }
  }

  /**
   * Transcodes `len` UTF-16 units of the text ring into `msg` as UTF-8, by
   * hand: TextDecoder plus TextEncoder cost ten times more per short message.
   * A lone surrogate becomes U+FFFD, as TextEncoder would make it.
   */
  private transcode(pos: number, len: number): void {
    if (len * 3 > this.msg.length) {
      this.msg = new Uint8Array(Math.max(len * 3, this.msg.length * 2));
    }
    const src = this.text, m = this.textMask, out = this.msg;
    let o = 0;
    for (let k = 0; k < len; k++) {
      let c = src[(pos + k) & m];
      if (c < 0x80) {
        out[o++] = c;
        continue;
      }
      if (c < 0x800) {
        out[o++] = 0xc0 | (c >> 6);
        out[o++] = 0x80 | (c & 63);
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = k + 1 < len ? src[(pos + k + 1) & m] : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          out[o++] = 0xf0 | (cp >> 18);
          out[o++] = 0x80 | ((cp >> 12) & 63);
          out[o++] = 0x80 | ((cp >> 6) & 63);
          out[o++] = 0x80 | (cp & 63);
          k++;
          continue;
        }
        c = 0xfffd;
      }
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    }
    this.msgLength = o;
  }

  private readText(pos: number, len: number): string {
    if (len > this.scratch.length) {
      this.scratch = new Uint16Array(Math.max(len, this.scratch.length * 2));
    }
    const text = this.text, m = this.textMask, s = this.scratch;
    for (let k = 0; k < len; k++) s[k] = text[(pos + k) & m];
    return this.utf16.decode(s.subarray(0, len));
  }
}

/** One self-contained piece of a flight recorder's window. */
interface Chunk {
  /** The chunk's bytes are `buf[0, size)`; buffers are reused, not freed. */
  buf: Uint8Array;
  size: number;
  events: number;
  /** When the chunk began, ms on the recording thread's clock. */
  startMs: number;
}

/**
 * A flight recorder's moving window: chunks of encoded batches, each opening
 * with the whole string table so that any suffix of chunks reads on its own
 * (Go's generations). Old chunks are dropped once the newer ones cover
 * `minAge`, or sooner when the window outgrows `maxBytes`.
 */
export class FlightWindow {
  writer: TraceWriter;
  header: HeaderFields;
  minAge: number;
  maxBytes: number;
  chunks: Chunk[] = [];
  size = 0;
  /** Buffers of dropped chunks, for the next ones: no allocation per take. */
  private spare: Uint8Array[] = [];
  private counted = 0;

  constructor(writer: TraceWriter, header: HeaderFields, minAge: number, maxBytes: number) {
    this.writer = writer;
    this.header = header;
    this.minAge = minAge;
    this.maxBytes = maxBytes;
  }

  /**
   * Starts a new chunk when the current one is old or big enough: the whole
   * string table, then the begins of what is open now. Called before a drain,
   * so the chunk's restated state is exactly what precedes its events.
   */
  rotateIfDue(nowMs: number, strings: readonly string[], open?: OpenSet): void {
    const cur = this.chunks[this.chunks.length - 1];
    if (cur && nowMs - cur.startMs < this.minAge / 4 && cur.size < this.maxBytes / 8) return;
    this.take();
    const o = this.writer.out;
    this.writer.defineAll(strings);
    this.writer.closeBatch();
    if (open) this.restate(open);
    const chunk: Chunk = {
      buf: this.spare.pop() ?? new Uint8Array(Math.max(1 << 16, this.maxBytes >> 3)),
      size: 0,
      events: 0,
      startMs: nowMs,
    };
    this.chunks.push(chunk);
    this.append(chunk, o.buf, o.pos);
    this.counted = this.writer.total;
    o.reset();
    while (
      this.chunks.length > 1 &&
      (this.size > this.maxBytes || this.chunks[1].startMs <= nowMs - this.minAge)
    ) {
      const dropped = this.chunks.shift()!;
      this.size -= dropped.size;
      if (this.spare.length < 2) this.spare.push(dropped.buf);
    }
  }

  private append(c: Chunk, bytes: Uint8Array, n: number): void {
    if (c.size + n > c.buf.length) {
      const bigger = new Uint8Array(Math.max(c.size + n, c.buf.length * 2));
      bigger.set(c.buf.subarray(0, c.size));
      c.buf = bigger;
    }
    c.buf.set(bytes.subarray(0, n), c.size);
    c.size += n;
    this.size += n;
  }

  /** Moves the writer's sealed bytes into the current chunk. */
  take(): void {
    const o = this.writer.out;
    const cur = this.chunks[this.chunks.length - 1];
    if (o.pos === 0 || !cur) return;
    this.append(cur, o.buf, o.pos);
    cur.events += this.writer.total - this.counted;
    this.counted = this.writer.total;
    o.reset();
  }

  /**
   * Writes what is open (tasks, and regions per thread) as batches of their
   * begin events at their real times: a window that starts mid-task still
   * knows the task's type and start.
   */
  private restate(open: OpenSet): void {
    const w = this.writer;
    const r = { TASK_BEGIN: w.f.ev.TASK_BEGIN, REGION_BEGIN: w.f.ev.REGION_BEGIN };
    const byTime = (x: [number, number[]], y: [number, number[]]) =>
      x[1][x[1].length - 1] - y[1][y[1].length - 1];
    const tasks = [...open.tasks].sort(byTime);
    if (tasks.length > 0) {
      w.openBatch(1, Math.max(0, Math.round((tasks[0][1][2] - w.startMs) * 1e6)), 0);
      for (const [id, [parent, type, ms]] of tasks) {
        w.record(r.TASK_BEGIN, ms, id, parent, type, 0, 0, "", 0);
      }
      w.closeBatch(w.f.batch.RESTATE);
    }
    for (const [thread, regions] of open.regions) {
      const list = [...regions].sort(byTime);
      if (list.length === 0) continue;
      w.openBatch(thread, Math.max(0, Math.round((list[0][1][4] - w.startMs) * 1e6)), 0);
      for (const [id, [task, type, parent, lane, ms]] of list) {
        w.record(r.REGION_BEGIN, ms, task, type, id, parent, lane, "", 0);
      }
      w.closeBatch(w.f.batch.RESTATE);
    }
  }

  /** A complete trace of the window: header, threads, chunks, END. */
  snapshot(Writer: new (f: FormatNumbers) => TraceWriter, threads: [number, string][]) {
    const w = new Writer(this.writer.f);
    // Flag bit 0 (HEADER_SNAPSHOT): readers then expect RESTATE batches.
    w.header({ ...this.header, flags: (this.header.flags ?? 0) | 1 });
    for (const [id, name] of threads) w.threadName(id, name);
    const head = w.out.buf.slice(0, w.out.pos);
    w.out.reset();
    for (const c of this.chunks) w.total += c.events;
    w.end(this.writer.lost);
    const tail = w.out.buf.slice(0, w.out.pos);
    const out = new Uint8Array(head.length + this.size + tail.length);
    out.set(head, 0);
    let off = head.length;
    for (const c of this.chunks) {
      out.set(c.buf.subarray(0, c.size), off);
      off += c.size;
    }
    out.set(tail, off);
    return out;
  }
}

/**
 * The worker's entry point. `wt` and `fs` are `node:worker_threads` and
 * `node:fs`; the classes are passed in because this source has no imports.
 */
export function drainWorkerMain(
  // deno-lint-ignore no-explicit-any
  wt: any,
  // deno-lint-ignore no-explicit-any
  fs: any,
  // deno-lint-ignore no-explicit-any
  Writer: any,
  // deno-lint-ignore no-explicit-any
  Drainer: any,
  // deno-lint-ignore no-explicit-any
  Window: any,
  // deno-lint-ignore no-explicit-any
  Table: any,
  // deno-lint-ignore no-explicit-any
  OpenSets: any,
): void {
  const data: DrainWorkerData = wt.workerData;
  const port = wt.parentPort;
  const L = data.layout;
  const table: StringTable = new Table();
  const main: RingDrainer = new Drainer(
    data.ring,
    data.capacity,
    data.textCapacity,
    data.thread,
    data.threadName,
    L,
    table,
  );
  const ctrl = main.ctrl;
  /** Every thread's ring; a thread that ended is drained once more, then dropped. */
  let rings: RingDrainer[] = [main];
  const threads: [number, string][] = [[data.thread, data.threadName]];

  /** The trace being written, if any. */
  let trace: { w: TraceWriter; fd: number; error: unknown } | undefined;
  /** The flight recorder's window, if any. */
  let flight: FlightWindow | undefined;
  let writers: TraceWriter[] = [];
  const refreshWriters = () => {
    writers = [];
    if (trace) writers.push(trace.w);
    if (flight) writers.push(flight.writer);
  };
  /** Added to this worker's `performance.now()` gives the recording thread's. */
  let originShift = 0;
  /** Open tasks and regions, tracked while a flight recorder runs. */
  let open: OpenSet | undefined;
  const setOpen = (o: OpenSet | undefined) => {
    open = o;
    for (const ring of rings) ring.open = o;
  };

  function describe(e: unknown) {
    const err = e as { name?: string; message?: string; code?: string };
    return { name: err?.name, message: err?.message ?? String(e), code: err?.code };
  }

  /** Hands the trace's sealed bytes to its sink; after an error they are dropped. */
  function flushTrace(): void {
    if (!trace) return;
    const o = trace.w.out;
    if (o.pos === 0) return;
    if (trace.error === undefined) {
      try {
        if (trace.fd >= 0) {
          let off = 0;
          while (off < o.pos) off += fs.writeSync(trace.fd, o.buf, off, o.pos - off);
        } else {
          const bytes = o.buf.slice(0, o.pos);
          port.postMessage({ type: "data", bytes }, [bytes.buffer]);
        }
      } catch (e) {
        trace.error = e;
        port.postMessage({ type: "sinkError", error: describe(e) });
      }
    }
    o.reset();
  }

  /** Drains every ring until it is empty, for a consumer that is finishing. */
  function drainToEmpty(): void {
    while (drainAll() > 0);
  }

  /** One pass over the rings, bounded so that messages are not starved. */
  function drainAll(): number {
    // With no consumer yet, records wait in the ring for the one being set up.
    if (writers.length === 0) return 0;
    let total = 0;
    // Batches stay small enough that a flight window rotates between them.
    const budget = flight ? Math.min(1 << 20, flight.maxBytes >> 4) : 1 << 20;
    for (const ring of rings) {
      for (;;) {
        if (flight) flight.rotateIfDue(performance.now() + originShift, table.list, open);
        const n = ring.drain(writers, 1 << 15, budget);
        total += n;
        if (trace && trace.w.out.pos > 1 << 20) flushTrace();
        flight?.take();
        // Yield to messages (stop, snapshot) now and then under a flat-out producer.
        if (n === 0 || total >= 1 << 16 || ring.pending() === 0) break;
      }
    }
    flushTrace();
    return total;
  }

  /** Records that a thread ended, in every writer, after its last events. */
  function endThread(ring: RingDrainer, endMs: number): void {
    for (const w of writers) {
      w.open(ring.thread);
      w.record(L.rec.THREAD_END, endMs, 0, 0, 0, 0, 0, "", 0);
      w.close();
    }
  }

  function finishTrace(): { events: number; lost: number; error?: unknown } {
    if (!trace) return { events: 0, lost: 0 };
    drainToEmpty();
    const t = trace;
    t.w.end();
    flushTrace();
    if (t.fd >= 0) {
      try {
        fs.closeSync(t.fd);
      } catch (e) {
        if (t.error === undefined) t.error = e;
      }
    }
    trace = undefined;
    refreshWriters();
    return { events: t.w.total, lost: t.w.lost, error: t.error };
  }

  function newWriter(header: HeaderFields): TraceWriter {
    const w: TraceWriter = new Writer(data.format);
    w.startMs = header.startTime;
    return w;
  }

  port.on("message", (m: ToWorker) => {
    switch (m.type) {
      case "startTrace": {
        drainToEmpty();
        const w = newWriter(m.header);
        let fd = -1;
        try {
          if (m.sink.kind === "file") fd = fs.openSync(m.sink.path, "w");
          w.header(m.header);
          for (const [id, name] of threads) w.threadName(id, name);
          w.defineAll(table.list);
          w.closeBatch();
          if (fd >= 0) fs.writeSync(fd, w.out.buf, 0, w.out.pos);
        } catch (e) {
          if (fd >= 0) fs.closeSync(fd);
          port.postMessage({ type: "traceError", error: describe(e) });
          break;
        }
        trace = { w, fd, error: undefined };
        if (fd >= 0) w.out.reset();
        else flushTrace();
        refreshWriters();
        port.postMessage({ type: "traceReady" });
        break;
      }
      case "stopTrace": {
        if (trace) trace.w.endMs = m.endMs;
        const r = finishTrace();
        port.postMessage({
          type: "traceStopped",
          events: r.events,
          lost: r.lost,
          error: r.error === undefined ? undefined : describe(r.error),
        });
        break;
      }
      case "startFlight":
        drainToEmpty();
        originShift = performance.timeOrigin - m.header.timeOrigin;
        flight = new Window(newWriter(m.header), m.header, m.minAge, m.maxBytes);
        setOpen(new OpenSets());
        refreshWriters();
        port.postMessage({ type: "flightReady" });
        break;
      case "stopFlight":
        drainToEmpty();
        flight = undefined;
        setOpen(undefined);
        refreshWriters();
        port.postMessage({ type: "flightStopped" });
        break;
      case "snapshot": {
        drainToEmpty();
        const bytes = flight ? flight.snapshot(Writer, threads) : new Uint8Array(0);
        port.postMessage({ type: "snapshot", bytes }, [bytes.buffer]);
        break;
      }
      case "addRing": {
        drainToEmpty();
        const ring: RingDrainer = new Drainer(
          m.ring,
          m.capacity,
          m.textCapacity,
          m.thread,
          m.name,
          L,
          table,
        );
        ring.open = open;
        rings.push(ring);
        threads.push([m.thread, m.name]);
        if (trace) trace.w.threadName(m.thread, m.name);
        break;
      }
      case "endRing": {
        drainToEmpty();
        const ring = rings.find((r) => r.thread === m.thread);
        if (!ring) break;
        Atomics.store(ring.ctrl, L.ctrl.CLOSED, 1);
        endThread(ring, m.endMs);
        rings = rings.filter((r) => r !== ring);
        flushTrace();
        break;
      }
    }
  });

  const yieldToMessages = () => new Promise((r) => setTimeout(r, 0));
  (async () => {
    for (;;) {
      const seen = Atomics.load(ctrl, L.ctrl.WAKE);
      if (Atomics.load(ctrl, L.ctrl.FLUSH) === L.flush.REQUESTED) {
        // The main thread is exiting and waits, blocked, for the trace.
        finishTrace();
        Atomics.store(ctrl, L.ctrl.FLUSH, L.flush.DONE);
        Atomics.notify(ctrl, L.ctrl.FLUSH);
        return;
      }
      drainAll();
      // Drain again at once only if a pass left records behind (a producer
      // flat out); otherwise sleep until flushInterval or the half-full wake,
      // so steady traffic costs one wake per interval, not one per millisecond.
      if (writers.length > 0 && rings.some((r) => r.pending() > 0)) {
        await yieldToMessages();
        continue;
      }
      // deno-lint-ignore no-explicit-any
      const r = (Atomics as any).waitAsync(ctrl, L.ctrl.WAKE, seen, data.flushInterval);
      if (r.async) await r.value;
    }
  })();
  port.postMessage({ type: "ready" });
}
