/**
 * The index's log section: every log of the trace, in the trace's order, as
 * variable-length records written during the index pass, and its block
 * directory. The server's scan of it (lib/viewer/serve/log_scan.ts) merges
 * the blocks by time, so the Logs page lists logs in time order across
 * threads (the trace holds each thread's batches as they were written, so
 * threads interleave out of time order).
 *
 * A record: uvarints `length * 2 + exact`, then (`exact` 0) the time and
 * the task as uvarint `time - previous time` and zigzag `task - previous
 * task` (both 0 before a block's first record), or (`exact` 1, a time or
 * task those cannot state exactly) both as f64 little-endian; then uvarints
 * `thread` and `category` (an index into the index's type names), and the
 * message's UTF-8 bytes. About 8 bytes before the message instead of 28 in
 * fixed fields: logs are often most of the index. A block is read whole
 * from its start, so the deltas cost a reader nothing.
 *
 * A block: a run of consecutive records in time order (a block ends where
 * the time goes back, or after LOG_BLOCK_BYTES); the directory, written
 * after the section, holds per block `offset f64 (into the section), first
 * time f64, last time f64, logs f64`, in section order.
 *
 * @module
 */

import type { FileAppender } from "./level_sorter.ts";
import { ByteWriter } from "../../format/encoder.ts";

/** Below this, a task delta's zigzag form is still an exact integer. */
const ZIGZAG_LIMIT = 2 ** 51;

/** A block is closed once it holds this many bytes: the scan reads a block whole. */
export const LOG_BLOCK_BYTES = 16 << 10;

/** Bytes of a block's entry in the directory: four f64. */
export const LOG_BLOCK_ENTRY = 32;

/**
 * Writes log records to the index file through its appender.
 *
 * @example
 * ```ts ignore
 * const logs = new LogWriter(appender);
 * logs.add(1000, 1, 7, 3, new TextEncoder().encode("hello"), 0, 5);
 * ```
 */
export class LogWriter {
  /** A record's head, made before it is appended (at most 40 bytes). */
  private head = new ByteWriter(64);
  /** The previous record's time and task in the open block (0 before its first). */
  private prevTime = 0;
  private prevTask = 0;
  /** Logs written. */
  count = 0;
  /** Offset of the section in the file. */
  readonly offset: number;
  /** The directory so far: per block offset, first time, last time, logs. */
  private blocks = new Float64Array(4 * 256);
  /** Blocks begun. */
  private blockCount = 0;
  /** Where the open block begins (into the section) and its last log's time. */
  private blockAt = 0;
  private lastTime = 0;

  /** Appends to `out` from its current size on. */
  constructor(private out: FileAppender) {
    this.offset = out.size;
  }

  /** Appends one log; the message is `bytes[start, end)`. */
  add(
    time: number,
    thread: number,
    task: number,
    category: number,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void {
    const at = this.out.size - this.offset;
    if (this.blockCount === 0 || time < this.lastTime || at - this.blockAt >= LOG_BLOCK_BYTES) {
      this.openBlock(at, time);
    }
    this.lastTime = time;
    const b = this.blocks, k = (this.blockCount - 1) * 4;
    b[k + 2] = time;
    b[k + 3]++;
    const h = this.head, len = end - start;
    const dt = time - this.prevTime, dk = task - this.prevTask;
    h.reset();
    if (
      Number.isSafeInteger(dt) && dt >= 0 && Number.isSafeInteger(dk) && dk > -ZIGZAG_LIMIT &&
      dk < ZIGZAG_LIMIT && this.prevTime + dt === time && this.prevTask + dk === task
    ) {
      h.uvarint(len * 2);
      h.uvarint(dt);
      h.svarint(dk);
    } else {
      h.uvarint(len * 2 + 1);
      h.f64(time);
      h.f64(task);
    }
    h.uvarint(thread);
    h.uvarint(category);
    this.out.writeRange(h.buf, 0, h.pos);
    this.out.writeRange(bytes, start, end);
    this.prevTime = time;
    this.prevTask = task;
    this.count++;
  }

  private openBlock(at: number, time: number): void {
    if (this.blockCount * 4 === this.blocks.length) {
      const grown = new Float64Array(this.blocks.length * 2);
      grown.set(this.blocks);
      this.blocks = grown;
    }
    this.blocks.set([at, time, time, 0], this.blockCount++ * 4);
    this.blockAt = at;
    this.prevTime = 0;
    this.prevTask = 0;
  }

  /** Bytes of the section so far. */
  get length(): number {
    return this.out.size - this.offset;
  }

  /**
   * Appends the block directory to `w` (after the section is complete)
   * and returns its offset and number of blocks.
   */
  writeDirectory(w: FileAppender): { offset: number; blocks: number } {
    const offset = w.size;
    const b = this.blocks.subarray(0, this.blockCount * 4);
    w.write(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    return { offset, blocks: this.blockCount };
  }
}

/**
 * Reads the records of one log block in order, decoding each in place: the
 * fields of the current record, and where its message lies in the block.
 *
 * @example
 * ```ts ignore
 * const rec = new LogRecordReader(blockBytes);
 * while (rec.next()) console.log(rec.time, rec.task, new TextDecoder().decode(rec.message()));
 * ```
 */
export class LogRecordReader {
  /** The current record's fields. */
  time = 0;
  task = 0;
  thread = 0;
  category = 0;
  /** Where the current record starts, and its message: `buf[m0, m1)`; the next record starts at `m1`. */
  at = 0;
  m0 = 0;
  m1 = 0;
  private p = 0;
  private view: DataView;

  /** Reads the block `buf` (whole, from its first record). */
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  /** The current record's message bytes (a view into the block). */
  message(): Uint8Array {
    return this.buf.subarray(this.m0, this.m1);
  }

  /**
   * Moves to the next record; false past the block's last. Throws when a
   * record runs past the block's end (a damaged index).
   */
  next(): boolean {
    const end = this.buf.length;
    if (this.m1 >= end) return false;
    this.at = this.p = this.m1;
    const h = this.uvarint();
    if (h % 2 === 0) {
      this.time += this.uvarint();
      const z = this.uvarint();
      this.task += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    } else {
      if (this.p + 16 > end) this.cut();
      this.time = this.view.getFloat64(this.p, true);
      this.task = this.view.getFloat64(this.p + 8, true);
      this.p += 16;
    }
    this.thread = this.uvarint();
    this.category = this.uvarint();
    this.m0 = this.p;
    this.m1 = this.p + Math.floor(h / 2);
    if (this.m1 > end) this.cut();
    return true;
  }

  private uvarint(): number {
    const b = this.buf;
    let x = b[this.p++];
    if (x < 128) return x;
    let v = 0, mul = 1;
    for (let k = 0; k < 8; k++) {
      if (x === undefined) break;
      v += (x & 127) * mul;
      if (x < 128) return v;
      mul *= 128;
      x = b[this.p++];
    }
    return this.cut();
  }

  private cut(): never {
    throw new Error("a log block of the index is cut: rebuild the index");
  }
}
