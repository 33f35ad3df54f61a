/**
 * A flight recorder's window of recent events, in the drain worker.
 *
 * @module
 */

import { HEADER_SNAPSHOT } from "../../format/constants.ts";
import { type HeaderFields, TraceWriter } from "../../format/encoder.ts";
import { type OpenSet, restateOpen } from "./open_set.ts";

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
  /** Encodes the window's events; its sealed bytes move into the chunks. */
  writer: TraceWriter;
  /** The header of every snapshot. */
  header: HeaderFields;
  /** How far back, ms, the window reaches at least. */
  minAge: number;
  /** Most bytes the window holds. */
  maxBytes: number;
  /** The window, oldest chunk first. */
  chunks: Chunk[] = [];
  /** Bytes in the chunks. */
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
    if (open) restateOpen(this.writer, open);
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

  /** A complete trace of the window: header, threads, chunks, END. */
  snapshot(threads: readonly [number, string][]): Uint8Array<ArrayBuffer> {
    const w = new TraceWriter();
    // Readers of a snapshot expect RESTATE batches.
    w.header({ ...this.header, flags: (this.header.flags ?? 0) | HEADER_SNAPSHOT });
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
