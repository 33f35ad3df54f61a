/**
 * A trace being written by the drain worker: its writer, and where its
 * sealed bytes go (a file the worker writes, or messages to the main thread).
 *
 * @module
 */

import { closeSync, openSync, writeSync } from "node:fs";
import { type HeaderFields, TraceWriter } from "../../format/encoder.ts";
import { type ErrorInfo, errorInfo, type OutputTarget, type WorkerPort } from "./messages.ts";

/** What a finished trace reports to `stop()`. */
export interface TraceTotals {
  /** Events written. */
  events: number;
  /** Events the recorder reported lost. */
  lost: number;
  /** The first error writing the trace, if any. */
  error?: ErrorInfo;
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

  private constructor(writer: TraceWriter, fd: number, port: WorkerPort) {
    this.writer = writer;
    this.fd = fd;
    this.port = port;
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
      if (fd >= 0) writeSync(fd, w.out.buf, 0, w.out.pos);
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      throw e;
    }
    const t = new TraceOutput(w, fd, port);
    if (fd >= 0) w.out.reset();
    else t.flush();
    return t;
  }

  /** Hands the sealed bytes to the output; after an error they are dropped. */
  flush(): void {
    const o = this.writer.out;
    if (o.pos === 0) return;
    if (this.error === undefined) {
      try {
        if (this.fd >= 0) {
          let off = 0;
          while (off < o.pos) off += writeSync(this.fd, o.buf, off, o.pos - off);
        } else {
          const bytes = o.buf.slice(0, o.pos);
          this.port.postMessage({ type: "data", bytes }, [bytes.buffer]);
        }
      } catch (e) {
        this.error = e;
        this.port.postMessage({ type: "outputError", error: errorInfo(e) });
      }
    }
    o.reset();
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
