/**
 * The index's log section: every log of the trace, in the trace's order, as
 * variable-length records written during the index pass, and its block
 * directory. The server's scan of it (lib/viewer/serve/log_scan.ts) merges
 * the blocks by time, so the Logs page lists logs in time order across
 * threads (the trace holds each thread's batches as they were written, so
 * threads interleave out of time order).
 *
 * A record: `time f64, task f64, thread u32, category u32 (an index into the
 * index's type names), length u32`, then the message's UTF-8 bytes;
 * little-endian.
 *
 * A block: a run of consecutive records in time order (a block ends where
 * the time goes back, or after LOG_BLOCK_BYTES); the directory, written
 * after the section, holds per block `offset f64 (into the section), first
 * time f64, last time f64, logs f64`, in section order.
 *
 * @module
 */

import type { FileAppender } from "./level_sorter.ts";

/** Bytes of a log record before its message. */
export const LOG_HEAD_BYTES = 28;

/** A block is closed once it holds this many bytes: the scan reads a block whole. */
export const LOG_BLOCK_BYTES = 64 << 10;

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
  private head = new Uint8Array(LOG_HEAD_BYTES);
  private view = new DataView(this.head.buffer);
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
    const v = this.view;
    v.setFloat64(0, time, true);
    v.setFloat64(8, task, true);
    v.setUint32(16, thread, true);
    v.setUint32(20, category, true);
    v.setUint32(24, end - start, true);
    this.out.write(this.head);
    this.out.writeRange(bytes, start, end);
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
