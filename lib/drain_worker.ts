/**
 * The drain worker: consumes the shared rings, encodes them with
 * {@linkcode TraceWriter} and writes the bytes to the sink.
 *
 * Like encoder.ts, this code runs from its source text inside a `data:` URL
 * worker, so it refers to nothing outside its own functions and classes; the
 * ring layout and format numbers come in `workerData`.
 *
 * @module
 */

import type { FormatNumbers, HeaderFields, TraceWriter } from "./encoder.ts";

/** Ring layout numbers, from ring_layout.ts. */
export interface LayoutNumbers {
  ctrl: {
    HEAD: number;
    TAIL: number;
    TEXT_TAIL: number;
    WAKE: number;
    LOST: number;
    FLUSH: number;
  };
  flush: { IDLE: number; REQUESTED: number; DONE: number };
  rec: {
    TASK_BEGIN: number;
    TASK_END: number;
    REGION_BEGIN: number;
    REGION_END: number;
    LOG: number;
    STRING: number;
  };
  ctrlBytes: number;
  recordBytes: number;
}

/** Where the encoded bytes go. */
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
  header: HeaderFields;
  sink: SinkSpec;
  /** Longest the worker sleeps between drains, ms. */
  flushInterval: number;
}

/** Reads one thread's ring and encodes its records. */
export class RingDrainer {
  ctrl: Int32Array;
  f64: Float64Array;
  u32: Uint32Array;
  text: Uint16Array;
  mask: number;
  textMask: number;
  thread: number;
  startTime: number;
  lastRegion = 0;
  lastTime = 0;
  /** Events the producer reported lost, over the whole trace. */
  lost = 0;
  layout: LayoutNumbers;
  strings: string[] = [""];
  private scratch = new Uint16Array(1 << 12);
  private utf16 = new TextDecoder("utf-16le");

  constructor(
    ring: SharedArrayBuffer,
    capacity: number,
    textCapacity: number,
    thread: number,
    startTime: number,
    layout: LayoutNumbers,
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
    this.startTime = startTime;
    this.layout = layout;
  }

  /** Records waiting in the ring. */
  pending(): number {
    const c = this.layout.ctrl;
    return (Atomics.load(this.ctrl, c.HEAD) - Atomics.load(this.ctrl, c.TAIL)) |
      0;
  }

  /**
   * Encodes up to `max` waiting records as one batch into `w` and frees
   * their slots. Returns the number of records consumed.
   */
  drain(w: TraceWriter, max: number): number {
    const c = this.layout.ctrl;
    const r = this.layout.rec;
    const ev = w.f.ev;
    const ctrl = this.ctrl;
    const head = Atomics.load(ctrl, c.HEAD);
    let tail = Atomics.load(ctrl, c.TAIL);
    let n = (head - tail) | 0;
    const lost = Atomics.exchange(ctrl, c.LOST, 0);
    if (n === 0 && lost === 0) return 0;
    this.lost += lost;
    if (n > max) n = max;
    const f64 = this.f64, u32 = this.u32, mask = this.mask;
    const start = this.startTime;
    let textTail = -1;
    w.openBatch(this.thread, this.lastTime, this.lastRegion);
    if (lost > 0) {
      w.event(ev.LOST, this.lastTime);
      w.ev.uvarint(lost);
    }
    for (let k = 0; k < n; k++, tail = (tail + 1) | 0) {
      const i = (tail & mask) << 3;
      const kind = u32[i + 2];
      let t = Math.round((f64[i >> 1] - start) * 1e6);
      if (t < 0) t = 0;
      const o = w.ev;
      switch (kind) {
        case r.REGION_BEGIN: {
          const id = u32[i + 5], parent = u32[i + 6];
          w.event(ev.REGION_BEGIN, t);
          o.uvarint(u32[i + 3]);
          o.uvarint(u32[i + 4]);
          o.svarint(id - w.lastRegion);
          o.uvarint(parent === 0 ? 0 : id - parent);
          o.uvarint(u32[i + 7]);
          w.lastRegion = id;
          break;
        }
        case r.REGION_END:
          w.event(ev.REGION_END, t);
          o.svarint(w.lastRegion - u32[i + 3]);
          break;
        case r.TASK_BEGIN:
          w.event(ev.TASK_BEGIN, t);
          o.uvarint(u32[i + 3]);
          o.uvarint(u32[i + 4]);
          o.uvarint(u32[i + 5]);
          break;
        case r.TASK_END:
          w.event(ev.TASK_END, t);
          o.uvarint(u32[i + 3]);
          break;
        case r.LOG: {
          const flags = u32[i + 7];
          w.event(ev.LOG, t);
          o.uvarint(u32[i + 3]);
          o.uvarint(u32[i + 4]);
          o.uvarint(flags);
          w.message(this.readText(u32[i + 5], u32[i + 6]));
          textTail = (u32[i + 5] + u32[i + 6]) | 0;
          break;
        }
        case r.STRING: {
          const s = this.readText(u32[i + 5], u32[i + 6]);
          this.strings[u32[i + 3]] = s;
          w.defineString(u32[i + 3], s);
          textTail = (u32[i + 5] + u32[i + 6]) | 0;
          break;
        }
        default:
          throw new Error(`runtrace: unknown record kind ${kind} in ring`);
      }
      this.lastTime = w.lastTime;
    }
    this.lastRegion = w.lastRegion;
    this.lastTime = w.lastTime;
    w.closeBatch();
    if (textTail !== -1) Atomics.store(ctrl, c.TEXT_TAIL, textTail);
    Atomics.store(ctrl, c.TAIL, tail);
    Atomics.notify(ctrl, c.TAIL);
    return n;
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

/**
 * The worker's entry point. `deps` are the runtime modules the worker
 * imports itself (its source cannot use import statements of ours).
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
): void {
  const data: DrainWorkerData = wt.workerData;
  const port = wt.parentPort;
  const L = data.layout;
  const w: TraceWriter = new Writer(data.format);
  const ring: RingDrainer = new Drainer(
    data.ring,
    data.capacity,
    data.textCapacity,
    data.thread,
    data.header.startTime,
    L,
  );
  const ctrl = ring.ctrl;
  let fd = -1;
  let sinkError: unknown = undefined;
  let done = false;

  function describe(e: unknown) {
    const err = e as { name?: string; message?: string; code?: string };
    return { name: err?.name, message: err?.message ?? String(e), code: err?.code };
  }

  /** Hands the sealed bytes to the sink; after a sink error they are dropped. */
  function flushOut(): void {
    const o = w.out;
    if (o.pos === 0) return;
    if (sinkError === undefined) {
      try {
        if (fd >= 0) {
          let off = 0;
          while (off < o.pos) off += fs.writeSync(fd, o.buf, off, o.pos - off);
        } else {
          const bytes = o.buf.slice(0, o.pos);
          port.postMessage({ type: "data", bytes }, [bytes.buffer]);
        }
      } catch (e) {
        sinkError = e;
        port.postMessage({ type: "sinkError", error: describe(e) });
      }
    }
    o.reset();
  }

  function drainAll(): number {
    let total = 0;
    for (;;) {
      const n = ring.drain(w, 1 << 15);
      total += n;
      if (w.out.pos > 1 << 20) flushOut();
      if (n < 1 << 15) break;
    }
    flushOut();
    return total;
  }

  function finish(): void {
    if (done) return;
    done = true;
    drainAll();
    w.end(ring.lost);
    flushOut();
    if (fd >= 0) {
      try {
        fs.closeSync(fd);
      } catch (e) {
        if (sinkError === undefined) sinkError = e;
      }
    }
  }

  try {
    if (data.sink.kind === "file") fd = fs.openSync(data.sink.path, "w");
    w.header(data.header);
    w.threadName(data.thread, data.threadName);
    if (fd >= 0) fs.writeSync(fd, w.out.buf, 0, w.out.pos);
    else flushOut();
    w.out.reset();
  } catch (e) {
    port.postMessage({ type: "error", error: describe(e) });
    return;
  }
  port.postMessage({ type: "ready" });

  port.on("message", (m: { type: string }) => {
    if (m.type === "stop") {
      finish();
      port.postMessage({
        type: "stopped",
        events: w.total,
        lost: ring.lost,
        error: sinkError === undefined ? undefined : describe(sinkError),
      });
    }
  });

  const yieldToMessages = () => new Promise((r) => setTimeout(r, 0));
  (async () => {
    while (!done) {
      const seen = Atomics.load(ctrl, L.ctrl.WAKE);
      if (Atomics.load(ctrl, L.ctrl.FLUSH) === L.flush.REQUESTED) {
        finish();
        Atomics.store(ctrl, L.ctrl.FLUSH, L.flush.DONE);
        Atomics.notify(ctrl, L.ctrl.FLUSH);
        return;
      }
      const n = drainAll();
      if (n > 0) {
        await yieldToMessages();
        continue;
      }
      // deno-lint-ignore no-explicit-any
      const r = (Atomics as any).waitAsync(
        ctrl,
        L.ctrl.WAKE,
        seen,
        data.flushInterval,
      );
      if (r.async) await r.value;
    }
  })();
}
