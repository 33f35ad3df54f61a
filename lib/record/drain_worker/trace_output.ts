/**
 * A trace being written by the drain worker: its writer, and where its
 * sealed bytes go (a file the worker writes, or messages to the main thread).
 *
 * @module
 */

import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { type HeaderFields, TraceWriter } from "../../format/encoder.ts";
import { Ctrl } from "../ring_layout.ts";
import { type ErrorInfo, errorInfo, type OutputTarget, type WorkerPort } from "./messages.ts";
import type { TapTotals, TraceTap } from "./trace_tap.ts";

/** What a finished trace reports to `stop()`. */
export interface TraceTotals {
  /** Events written. */
  events: number;
  /** Events the recorder reported lost. */
  lost: number;
  /** The first error writing the trace, if any. */
  error?: ErrorInfo;
  /** What the live OTLP export delivered and dropped, when it was on. */
  otlp?: TapTotals;
}

/** The trace being written. */
export class TraceOutput {
  /** Encodes the trace's events. */
  readonly writer: TraceWriter;
  /** File descriptor of a file target, -1 for the port. */
  private fd: number;
  private port: WorkerPort;
  /** The first write error; later bytes are dropped. */
  private error: unknown = undefined;
  /** Where the next bytes go in a file target. */
  private pos = 0;
  /** A checkpoint's END batch lies beyond `pos`: cut it before writing on. */
  private stale = false;
  /**
   * The main thread's control words: OUTPUT_PENDING counts the bytes posted
   * to a port output and not yet written there.
   */
  private ctrl?: Int32Array;
  /** Bytes a port output may hold unwritten; see {@linkcode TraceOutput.full}. */
  readonly pendingLimit: number = Infinity;
  /** Gets every record too (the live export), until it is finished: see {@linkcode closeTap}. */
  tap?: TraceTap;
  /** A `none` target: the records go to the tap alone. */
  private discard = false;

  private constructor(writer: TraceWriter, fd: number, port: WorkerPort) {
    this.writer = writer;
    this.fd = fd;
    this.port = port;
  }

  /**
   * Whether a port output holds its bound of unwritten bytes: then records
   * wait in the ring, whose full-ring policy applies.
   */
  full(): boolean {
    return this.ctrl !== undefined && this.error === undefined &&
      Atomics.load(this.ctrl, Ctrl.OUTPUT_PENDING) >= this.pendingLimit;
  }

  /** Waits, blocked, up to `ms` for the port output to write something. */
  waitForOutput(ms: number): void {
    if (!this.ctrl) return;
    Atomics.wait(this.ctrl, Ctrl.OUTPUT_PENDING, Atomics.load(this.ctrl, Ctrl.OUTPUT_PENDING), ms);
  }

  /**
   * Writes everything sealed so far and an END batch after it to a file
   * target, without moving on: the file is complete if the process dies now,
   * and the next write replaces the END if it does not.
   */
  checkpoint(): void {
    if (this.fd < 0 || this.error !== undefined) return;
    this.flush();
    const o = this.writer.out;
    this.writer.end();
    try {
      writeAt(this.fd, o.buf, o.pos, this.pos);
      this.stale = true;
    } catch {
      // The file keeps what it had; finishing reports a lasting error.
    }
    o.reset();
  }

  /**
   * Opens the target and writes the trace's beginning: header, the threads so
   * far and every string known so far (the trace may start after them).
   * Throws if a file target cannot be opened or written.
   */
  static open(
    target: OutputTarget,
    header: HeaderFields,
    threads: readonly [number, string][],
    strings: readonly string[],
    port: WorkerPort,
    bound?: { ctrl: Int32Array; pendingLimit: number },
    tap?: TraceTap,
  ): TraceOutput {
    const w = new TraceWriter();
    w.startMs = header.startTime;
    let fd = -1;
    try {
      if (target.kind === "file") fd = openSync(target.path, "w");
      w.header(header);
      for (const [id, name] of threads) w.threadName(id, name);
      w.defineAll(strings);
      w.closeBatch();
      if (fd >= 0) writeAt(fd, w.out.buf, w.out.pos, 0);
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      throw e;
    }
    const t = new TraceOutput(w, fd, port);
    t.tap = tap;
    tap?.begin(header, threads, strings);
    t.discard = target.kind === "none";
    if (fd >= 0) {
      t.pos = w.out.pos;
      w.out.reset();
    } else {
      if (bound) {
        t.ctrl = bound.ctrl;
        (t as { pendingLimit: number }).pendingLimit = bound.pendingLimit;
      }
      t.flush();
    }
    return t;
  }

  /** Hands the sealed bytes to the output; after an error they are dropped. */
  flush(): void {
    const o = this.writer.out;
    if (o.pos === 0) return;
    if (this.error === undefined && !this.discard) {
      try {
        if (this.fd >= 0) {
          if (this.stale) ftruncateSync(this.fd, this.pos);
          this.stale = false;
          this.pos = writeAt(this.fd, o.buf, o.pos, this.pos);
        } else {
          const bytes = o.buf.slice(0, o.pos);
          if (this.ctrl) Atomics.add(this.ctrl, Ctrl.OUTPUT_PENDING, bytes.length);
          this.port.postMessage({ type: "data", bytes }, [bytes.buffer]);
        }
      } catch (e) {
        this.error = e;
        this.port.postMessage({ type: "outputError", error: errorInfo(e) });
      }
    }
    o.reset();
  }

  /** A thread joined the trace: named in the trace and to its tap. */
  threadName(thread: number, name: string): void {
    this.writer.threadName(thread, name);
    this.tap?.threadName(thread, name);
  }

  /** Records stamped after `ms` (`stop` was called) are left out, by the writer and the tap. */
  endAt(ms: number): void {
    this.writer.endMs = ms;
    if (this.tap) this.tap.endMs = ms;
  }

  /**
   * Ends the tap (the trace's records are all handed over; the trace's END
   * batch stays to be written, after the count of spans not delivered) and
   * gives it up to `deadline` to deliver. The count is written at `endMs`,
   * on `thread`, as the counter `droppedName`.
   */
  async closeTap(
    deadline: number,
    endMs: number,
    droppedName: number,
    thread: number,
  ): Promise<TapTotals> {
    const tap = this.tap!;
    this.tap = undefined;
    const totals = await tap.finish(deadline);
    if (totals.dropped > 0 && droppedName > 0) {
      this.writer.open(thread);
      this.writer.counter(endMs, droppedName, totals.dropped);
      this.writer.close();
    }
    return totals;
  }

  /** Writes the END batch, flushes and closes a file target. */
  finish(): TraceTotals {
    this.writer.end();
    this.flush();
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch (e) {
        if (this.error === undefined) this.error = e;
      }
    }
    const w = this.writer;
    return {
      events: w.total,
      lost: w.lost,
      error: this.error === undefined ? undefined : errorInfo(this.error),
    };
  }
}

/** Writes `buf[0, n)` to `fd` at `pos`; returns the position after it. */
function writeAt(fd: number, buf: Uint8Array, n: number, pos: number): number {
  for (let off = 0; off < n;) off += writeSync(fd, buf, off, n - off, pos + off);
  return pos + n;
}
