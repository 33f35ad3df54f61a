/**
 * A trace being written by the drain worker: its writer, and where its
 * sealed bytes go (a file the worker writes, or messages to the main thread).
 *
 * @module
 */

import { closeSync, constants, fstatSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { type HeaderFields, TraceWriter } from "../../format/encoder.ts";
import { Ctrl } from "../ring_layout.ts";
import {
  type ErrorInfo,
  errorInfo,
  type OutputTarget,
  type SplitConfig,
  type WorkerPort,
} from "./messages.ts";
import { type OpenSet, restateOpen } from "./open_set.ts";
import { PartFiles, partPath } from "./part_files.ts";
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
  /** A split trace: the paths of its parts on disk, oldest first. */
  parts?: string[];
}

/** Where a split trace's current part stands. */
interface PartState {
  config: SplitConfig;
  files: PartFiles;
  /** The header every part repeats, with its own number. */
  header: HeaderFields;
  /** The current part's number. */
  number: number;
  /** When it began, this worker's `performance.now()`. */
  startMs: number;
  /** The writer's `total` and `lost` when it began, after its restated begins. */
  total: number;
  lost: number;
  /** Restated begins written over all parts: not events of the recording. */
  restated: number;
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
  /** A trace split into parts: the current one. */
  private parts?: PartState;

  /** A split trace's bytes per part (undefined when not split). */
  get partBytes(): number | undefined {
    return this.parts?.config.maxBytes;
  }

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
    const w = new TraceWriter(takeSpare());
    w.startMs = header.startTime;
    const split = target.kind === "file" ? target.split : undefined;
    const files = split && new PartFiles((target as { path: string }).path, split.keep);
    let fd = -1;
    try {
      files?.clearEarlier();
      if (target.kind === "file") fd = openRewrite(files ? partPath(files.path, 0) : target.path);
      w.header(files ? { ...header, part: 0 } : header);
      for (const [id, name] of threads) w.threadName(id, name);
      w.defineAll(strings);
      w.closeBatch();
      if (fd >= 0) writeAt(fd, w.out.buf, w.out.pos, 0);
    } catch (e) {
      if (fd >= 0) closeSync(fd);
      throw e;
    }
    const t = new TraceOutput(w, fd, port);
    if (split && files) {
      files.opened(0);
      t.parts = {
        config: split,
        files,
        header,
        number: 0,
        startMs: performance.now(),
        total: 0,
        lost: 0,
        restated: 0,
      };
    }
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
   * Begins the next part of a split trace when the current one holds its
   * `maxBytes` or spans its `maxAge`, and some event of the recording is in
   * it (a part is never only a preamble). Called between batches, before a
   * drain of records that are `waiting`.
   */
  rotateIfDue(
    waiting: boolean,
    threads: readonly [number, string][],
    strings: readonly string[],
    open: OpenSet | undefined,
  ): void {
    const p = this.parts, w = this.writer;
    if (!waiting || !p || this.error !== undefined || w.total === p.total) return;
    const size = this.pos + w.out.pos;
    if (size < p.config.maxBytes && performance.now() - p.startMs < p.config.maxAge) return;
    try {
      this.nextPart(p, threads, strings, open);
    } catch (e) {
      this.error = e;
      this.port.postMessage({ type: "outputError", error: errorInfo(e) });
    }
  }

  /**
   * Ends the current part (its END counts its own events) and opens the next
   * as a trace of its own: the header with the part's number, the threads,
   * the whole string table and the begins of what is open. Those go to the
   * file alone: the tap gets the recording's records, not a part's preamble.
   */
  private nextPart(
    p: PartState,
    threads: readonly [number, string][],
    strings: readonly string[],
    open: OpenSet | undefined,
  ): void {
    const w = this.writer, o = w.out;
    this.flush();
    if (this.stale) ftruncateSync(this.fd, this.pos);
    this.stale = false;
    w.end(w.lost - p.lost, w.total - p.total);
    writeAt(this.fd, o.buf, o.pos, this.pos);
    o.reset();
    closeSync(this.fd);
    this.fd = -1;
    const n = p.number + 1;
    this.fd = openSync(partPath(p.files.path, n), "w");
    w.header({ ...p.header, part: n });
    for (const [id, name] of threads) w.threadName(id, name);
    w.defineAll(strings);
    w.closeBatch();
    const before = w.total;
    if (open) restateOpen(w, open);
    p.restated += w.total - before;
    this.pos = writeAt(this.fd, o.buf, o.pos, 0);
    o.reset();
    p.files.opened(n);
    p.number = n;
    p.startMs = performance.now();
    p.total = w.total;
    p.lost = w.lost;
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
    const p = this.parts, w = this.writer;
    if (p) w.end(w.lost - p.lost, w.total - p.total);
    else w.end();
    this.flush();
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch (e) {
        if (this.error === undefined) this.error = e;
      }
    }
    const totals: TraceTotals = {
      events: w.total - (p?.restated ?? 0),
      lost: w.lost,
      error: this.error === undefined ? undefined : errorInfo(this.error),
    };
    if (p) totals.parts = p.files.list();
    keepSpare(w);
    return totals;
  }
}

/**
 * The last finished trace's writer, whose buffers the next trace of this
 * worker takes over (a warm worker serves many sessions: 2 MiB allocated,
 * zeroed and collected per session cost it 0.3–0.7 ms of CPU).
 */
let spare: TraceWriter | undefined;
/** Writers whose buffers grew beyond this many bytes are not kept. */
const SPARE_MAX_BYTES = 4 << 20;

function takeSpare(): TraceWriter | undefined {
  const w = spare;
  spare = undefined;
  return w;
}

function keepSpare(w: TraceWriter): void {
  if (w.out.buf.length + w.ev.buf.length <= SPARE_MAX_BYTES) spare = w;
}

/**
 * Opens `path` to be written from its start, creating it if need be, as
 * `openSync(path, "w")` does, except that an existing regular file is cut to
 * one byte (which the header overwrites at once) rather than to zero: ext4
 * flushes a file that was truncated to zero when it is closed (its
 * `auto_da_alloc` safeguard for files replaced in place), which made every
 * session that reused a path (a trace started and stopped again and again)
 * cost the worker 0.3–0.5 ms more CPU and block it 8–15 ms at the file's
 * close, on a loaded machine.
 */
function openRewrite(path: string): number {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o666);
  try {
    const st = fstatSync(fd);
    if (st.isFile() && st.size > 1) ftruncateSync(fd, 1);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** Writes `buf[0, n)` to `fd` at `pos`; returns the position after it. */
function writeAt(fd: number, buf: Uint8Array, n: number, pos: number): number {
  for (let off = 0; off < n;) off += writeSync(fd, buf, off, n - off, pos + off);
  return pos + n;
}
