/**
 * The index's log section: every log of the trace, in the trace's order, as
 * variable-length records written during the index pass, and the server's
 * filtered scan of it (by category, task and text) in bounded steps, so the
 * Logs page and the search of a trace of any size answer without holding
 * the logs in memory and without stalling the server's other answers.
 *
 * A record: `time f64, task f64, thread u32, category u32 (an index into the
 * index's type names), length u32`, then the message's UTF-8 bytes;
 * little-endian.
 *
 * @module
 */

import type { FileAppender } from "./level_sorter.ts";
import type { LogFilter, LogPage, LogRow } from "./index_layout.ts";
import { readAt } from "./level_sorter.ts";

/** Bytes of a log record before its message. */
export const LOG_HEAD_BYTES = 28;

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

  /** Bytes of the section so far. */
  get length(): number {
    return this.out.size - this.offset;
  }
}

/** Most bytes of the section one step reads: a step stays well under the zoom steps' budget. */
const STEP_BYTES = 4 << 20;

/** ASCII-lowercases `b` in place (non-ASCII bytes unchanged): the text match is ASCII-case-blind. */
function lowerAscii(b: Uint8Array): Uint8Array {
  for (let i = 0; i < b.length; i++) if (b[i] >= 65 && b[i] <= 90) b[i] += 32;
  return b;
}

/** Whether `needle` occurs in `hay[start, end)`, ASCII case aside (needle lowercased). */
function containsAt(hay: Uint8Array, start: number, end: number, needle: Uint8Array): boolean {
  const n = needle.length;
  if (n === 0) return true;
  const first = needle[0];
  outer: for (let i = start; i + n <= end; i++) {
    let c = hay[i];
    if (c >= 65 && c <= 90) c += 32;
    if (c !== first) continue;
    for (let j = 1; j < n; j++) {
      let d = hay[i + j];
      if (d >= 65 && d <= 90) d += 32;
      if (d !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

/**
 * Scans the log section of the index `fd` (at `offset`, `length` bytes)
 * from `from` for up to `limit` logs matching `filter`, reading at most a
 * few MiB: a step answers quickly whatever the number of logs; the caller
 * continues from `next`. Throws a `RangeError` when `from` is not where
 * a log starts (it comes from the page: only an answer's `next` is).
 *
 * @example
 * ```ts ignore
 * const page = scanLogs(fd, meta.logsOffset, meta.logsLength, meta.types, { text: "timeout" }, 0, 100);
 * ```
 */
export function scanLogs(
  fd: number,
  offset: number,
  length: number,
  names: readonly string[],
  filter: LogFilter,
  from: number,
  limit: number,
): LogPage {
  const utf8 = new TextDecoder();
  const needle = filter.text ? lowerAscii(new TextEncoder().encode(filter.text)) : undefined;
  const wantCat = filter.category === undefined ? -1 : names.indexOf(filter.category);
  // Categories whose name holds the text match every log of theirs.
  const catHas = needle
    ? names.map((n) => containsAt(lowerAscii(new TextEncoder().encode(n)), 0, n.length * 4, needle))
    : [];
  const rows: LogRow[] = [];
  let at = Math.max(0, from);
  const stop = Math.min(length, at + STEP_BYTES);
  let buf: Uint8Array = new Uint8Array(0);
  let w = new DataView(buf.buffer);
  let bufAt = at;
  const load = (bytes: number) => {
    buf = readAt(fd, offset + at, bytes);
    w = new DataView(buf.buffer, buf.byteOffset, buf.length);
    bufAt = at;
  };
  while (at < length && rows.length < limit && at < stop) {
    if (at + LOG_HEAD_BYTES > bufAt + buf.length) {
      load(Math.min(length - at, 1 << 20));
      if (buf.length < LOG_HEAD_BYTES) break;
    }
    let p = at - bufAt;
    const n = w.getUint32(p + 24, true);
    if (LOG_HEAD_BYTES + n > length - at) {
      // Only a `from` that is not where a log starts gets here (the section is whole).
      throw new RangeError(`no log starts at byte ${from} of the log section`);
    }
    if (p + LOG_HEAD_BYTES + n > buf.length) {
      // A message past the buffer: read the record whole.
      load(Math.max(LOG_HEAD_BYTES + n, Math.min(length - at, 1 << 20)));
      p = 0;
      if (buf.length < LOG_HEAD_BYTES + n) break;
    }
    const task = w.getFloat64(p + 8, true);
    const cat = w.getUint32(p + 20, true);
    const m0 = p + LOG_HEAD_BYTES, m1 = m0 + n;
    if (
      (wantCat < 0 ? filter.category === undefined : cat === wantCat) &&
      (filter.task === undefined || task === filter.task) &&
      (!needle || catHas[cat] || containsAt(buf, m0, m1, needle))
    ) {
      rows.push({
        time: w.getFloat64(p, true),
        task,
        thread: w.getUint32(p + 16, true),
        category: names[cat] ?? "",
        message: utf8.decode(buf.subarray(m0, m1)),
      });
    }
    at += LOG_HEAD_BYTES + n;
  }
  return { rows, next: at, done: at >= length, scanned: at, total: length };
}
