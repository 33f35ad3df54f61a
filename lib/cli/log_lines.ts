/**
 * The text lines of `runtrace logs`, written as bytes: a listing of
 * millions of logs spends its time in making, padding and encoding a string
 * per line, so the common line (a message of printable ASCII, a time with
 * whole microseconds) is formatted straight into a reusable buffer, and only
 * the others go through the string functions whose output this must equal.
 *
 * @module
 */

import { ChunkBuffer } from "../export/chunk_buffer.ts";
import { formatTimestamp } from "../read/duration.ts";
import { escapeControls } from "./terminal_text.ts";

const utf8 = new TextEncoder();
/** " …": the mark of a message the recorder cut. */
const CUT = utf8.encode(" \u2026");

/**
 * A buffer of `runtrace logs` lines:
 * `        Time   Task  Thread  Category      Message`.
 *
 * @example
 * ```ts
 * import { LogLines } from "./log_lines.ts";
 * const lines = new LogLines();
 * const utf8 = new TextEncoder();
 * const msg = utf8.encode("GET /");
 * lines.line(56_436_123, 7, utf8.encode("main  "), utf8.encode("http        "), msg, 0, msg.length, false);
 * new TextDecoder().decode(lines.takeView());
 * // "    56.436ms      7  main    http          GET /\n"
 * ```
 */
export class LogLines extends ChunkBuffer {
  private utf8d = new TextDecoder("utf-8", { fatal: false });

  /** Makes an empty buffer. */
  constructor() {
    super(1 << 16);
  }

  /** Appends `text` (any string). */
  text(text: string): void {
    this.ensure(text.length * 3);
    this.pos += utf8.encodeInto(text, this.buf.subarray(this.pos)).written;
  }

  /**
   * Appends one line: the time, the task, the thread and category cells
   * (already escaped and padded, as UTF-8), the message's bytes `bytes[start, end)`
   * (UTF-8 as recorded) with its control characters escaped.
   */
  line(
    time: number,
    task: number,
    threadCell: Uint8Array,
    categoryCell: Uint8Array,
    bytes: Uint8Array,
    start: number,
    end: number,
    truncated: boolean,
  ): void {
    // A hot loop's function: up to 2 M lines per 10 M events.
    this.ensure(64);
    this.time(time);
    this.space2();
    this.padded(task, 5);
    this.space2();
    this.cell(threadCell);
    this.space2();
    this.cell(categoryCell);
    // Escaped, a byte becomes at most six (a control character's \u001b).
    this.ensure(8 + (end - start) * 6);
    this.space2();
    const b = this.buf;
    let p = this.pos;
    let i = start;
    for (; i < end; i++) {
      const c = bytes[i];
      if (c < 0x20 || c > 0x7e) break;
      b[p++] = c;
    }
    if (i < end) {
      // Not printable ASCII: as the string path writes it.
      p = this.pos;
      this.pos += utf8.encodeInto(
        escapeControls(this.utf8d.decode(bytes.subarray(start, end))),
        b.subarray(p),
      ).written;
    } else this.pos = p;
    if (truncated) {
      this.buf.set(CUT, this.pos);
      this.pos += CUT.length;
    }
    this.buf[this.pos++] = 10;
  }

  /** The two spaces between columns. */
  private space2(): void {
    this.buf[this.pos++] = 32;
    this.buf[this.pos++] = 32;
  }

  /** Appends a cell's bytes. */
  private cell(c: Uint8Array): void {
    this.ensure(c.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < c.length; i++) b[p++] = c[i];
    this.pos = p;
  }

  /** `formatTimestamp(ns).padStart(12)`, by hand when its integer path applies. */
  private time(ns: number): void {
    // The same test as formatTimestamp's integer path.
    if (!(ns >= 0 && ns < 9e15 && ns % 1000 !== 500 && Math.floor(ns) === ns)) {
      const s = formatTimestamp(ns).padStart(12);
      const b = this.buf;
      for (let i = 0; i < s.length; i++) b[this.pos++] = s.charCodeAt(i);
      return;
    }
    const us = Math.round(ns / 1000);
    const frac = us % 1000;
    const ms = (us - frac) / 1000;
    let digits = 1;
    for (let x = ms; x >= 10; x = Math.floor(x / 10)) digits++;
    const b = this.buf;
    let p = this.pos;
    for (let pad = 12 - (digits + 6); pad > 0; pad--) b[p++] = 32;
    let q = p + digits;
    for (let x = ms; q > p;) {
      const d = x % 10;
      b[--q] = 48 + d;
      x = (x - d) / 10;
    }
    p += digits;
    b[p++] = 46; // .
    b[p++] = 48 + Math.floor(frac / 100);
    b[p++] = 48 + (Math.floor(frac / 10) % 10);
    b[p++] = 48 + (frac % 10);
    b[p++] = 109; // m
    b[p++] = 115; // s
    this.pos = p;
  }

  /** `String(n).padStart(width)` of an integer n ≥ 0. */
  private padded(n: number, width: number): void {
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    if (n > Number.MAX_SAFE_INTEGER) {
      const s = String(n).padStart(width);
      for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
      return;
    }
    const b = this.buf;
    let p = this.pos;
    for (let pad = width - digits; pad > 0; pad--) b[p++] = 32;
    let q = p + digits;
    for (let x = n; q > p;) {
      const d = x % 10;
      b[--q] = 48 + d;
      x = (x - d) / 10;
    }
    this.pos = p + digits;
  }
}
