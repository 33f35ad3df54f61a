/**
 * The growable byte buffer the streaming exporters write into, and the two
 * ways they hand its bytes over: `take` (a copy) and `takeView` (no copy,
 * memory recycled after {@linkcode VIEWS_KEPT} more views).
 *
 * @module
 */

/**
 * How many of the latest {@linkcode ChunkBuffer.takeView} views stay valid
 * at once: a writer may have this many chunks in flight (being written on
 * the runtime's I/O threads) while the buffer fills the next one. Each view
 * costs a buffer of the chunk's size, so memory stays bounded.
 *
 * @example
 * ```ts
 * import { ChunkBuffer, VIEWS_KEPT } from "./chunk_buffer.ts";
 * const b = new ChunkBuffer(16);
 * const views = [];
 * for (let i = 0; i < VIEWS_KEPT; i++) {
 *   b.ensure(1);
 *   b.buf[b.pos++] = i;
 *   views.push(b.takeView());
 * }
 * // All VIEWS_KEPT views still hold their byte: none was reused yet.
 * ```
 */
export const VIEWS_KEPT = 2;

/**
 * A growable byte buffer whose contents are handed over in chunks. Writers
 * (the Chrome JSON writer, `ProtoWriter`) extend it and append at
 * `pos` after `ensure(n)`.
 *
 * Growing keeps what was written; `take` and `takeView` empty the buffer.
 *
 * @example
 * ```ts
 * import { ChunkBuffer } from "./chunk_buffer.ts";
 * const b = new ChunkBuffer(16);
 * b.ensure(3);
 * b.buf.set([1, 2, 3], b.pos);
 * b.pos += 3;
 * const chunk = b.take(); // Uint8Array [1, 2, 3], the buffer is empty again
 * ```
 */
export class ChunkBuffer {
  /** The bytes written are `buf.subarray(0, pos)`. */
  buf: Uint8Array<ArrayBuffer>;
  /** Bytes written since the last take. */
  pos = 0;
  /**
   * The buffers of the views handed out, oldest first; the oldest is
   * reused once {@linkcode VIEWS_KEPT} newer views are out.
   */
  private handedOut: Uint8Array<ArrayBuffer>[] = [];

  /** Makes a buffer of `initial` bytes; it grows as needed. */
  constructor(initial = 1 << 16) {
    this.buf = new Uint8Array(initial);
  }

  /** Makes room for `n` more bytes at `pos`. */
  ensure(n: number): void {
    // Kept tiny so that it inlines; growing is the rare case.
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  /** Replaces `buf` with one at least twice as large holding `n` more bytes. */
  protected grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.replaced();
  }

  /** Called after `buf` was replaced, for views a subclass keeps of it. */
  protected replaced(): void {}

  /** The bytes written since the last take (a copy), and a reset. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }

  /**
   * The bytes written since the last take, without a copy: a view that stays
   * valid while it is one of the latest {@linkcode VIEWS_KEPT} views; the
   * takeView after those reuses its memory. For a writer with at most
   * `VIEWS_KEPT` chunks in flight, so that a long export does not leave a
   * trail of buffers for the collector.
   */
  takeView(): Uint8Array {
    // Nothing to hand over: no memory changes hands, none is recycled.
    if (this.pos === 0) return this.buf.subarray(0, 0);
    const out = this.buf.subarray(0, this.pos);
    this.handedOut.push(this.buf);
    const next = this.handedOut.length > VIEWS_KEPT
      ? this.handedOut.shift()!
      : new Uint8Array(this.buf.length);
    this.buf = next;
    this.replaced();
    this.pos = 0;
    return out;
  }
}
