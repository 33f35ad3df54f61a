/**
 * A minimal protocol-buffers writer for streaming exports: varints, fixed64,
 * strings and nested messages written in place. A nested message reserves a
 * four-byte length and patches it when it ends, as a padded varint (a valid
 * encoding every decoder accepts), so nothing is copied twice.
 *
 * @module
 */

import { ChunkBuffer } from "./chunk_buffer.ts";

/** Protobuf wire types. */
export const Wire = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

/**
 * Appends protobuf fields to a growable buffer; `take` hands the bytes over.
 *
 * @example
 * ```ts
 * import { ProtoWriter } from "./protobuf_writer.ts";
 * const w = new ProtoWriter();
 * const m = w.begin(1); // field 1: a message
 * w.uint(8, 1234); // field 8 inside it: a varint
 * w.string(2, "name");
 * w.end(m);
 * const bytes = w.take();
 * ```
 */
export class ProtoWriter extends ChunkBuffer {
  private utf8 = new TextEncoder();
  private view: DataView;

  /** Makes a writer whose buffer starts at `initial` bytes and grows as needed. */
  constructor(initial = 1 << 16) {
    super(initial);
    this.view = new DataView(this.buf.buffer);
  }

  /** Keeps the `DataView` for fixed-width fields on the current buffer. */
  protected override replaced(): void {
    this.view = new DataView(this.buf.buffer);
  }

  /** Appends a varint of a safe integer ≥ 0. */
  varint(v: number): void {
    if (this.pos + 10 > this.buf.length) this.grow(10);
    const buf = this.buf;
    let p = this.pos;
    if (v >= 0x10000000) {
      // Peel the low 28 bits off in doubles, then finish in 32-bit integers.
      const low = v % 0x10000000;
      buf[p++] = (low & 0x7f) | 0x80;
      buf[p++] = ((low >>> 7) & 0x7f) | 0x80;
      buf[p++] = ((low >>> 14) & 0x7f) | 0x80;
      buf[p++] = ((low >>> 21) & 0x7f) | 0x80;
      v = (v - low) / 0x10000000;
      if (v >= 0x80000000) {
        this.pos = p;
        this.varint(v);
        return;
      }
    }
    let x = v | 0;
    while (x >= 0x80) {
      buf[p++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    buf[p++] = x;
    this.pos = p;
  }

  /**
   * A varint field whose key fits one byte (field numbers up to 15): the
   * hot path of an exporter, a few byte stores and no calls for small values.
   */
  u(key: number, v: number): void {
    if (this.pos + 16 > this.buf.length) this.grow(16);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = key;
    if (v < 0x80) {
      buf[p] = v;
      this.pos = p + 1;
      return;
    }
    if (v < 0x10000000) {
      let x = v;
      while (x >= 0x80) {
        buf[p++] = (x & 0x7f) | 0x80;
        x >>>= 7;
      }
      buf[p++] = x;
      this.pos = p;
      return;
    }
    this.pos = p;
    this.varint(v);
  }

  /** Starts a nested message whose key fits one byte; see {@linkcode begin}. */
  begin1(key: number): number {
    if (this.pos + 5 > this.buf.length) this.grow(5);
    this.buf[this.pos] = key;
    const at = this.pos + 1;
    this.pos = at + 4;
    return at;
  }

  /** Appends a field key. */
  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** A varint field (uint32, uint64, int64 ≥ 0, enum). */
  uint(field: number, v: number): void {
    this.tag(field, Wire.VARINT);
    this.varint(v);
  }

  /** A bool field. */
  bool(field: number, v: boolean): void {
    this.uint(field, v ? 1 : 0);
  }

  /** A fixed64 field of a safe integer ≥ 0. */
  fixed64(field: number, v: number): void {
    this.tag(field, Wire.I64);
    this.ensure(8);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.view.setUint32(this.pos + 4, Math.floor(v / 4294967296), true);
    this.pos += 8;
  }

  /**
   * A fixed64 field given as two unsigned 32-bit halves: for values beyond
   * 2^53, such as nanoseconds since the Unix epoch.
   */
  fixed64Parts(field: number, lo: number, hi: number): void {
    this.tag(field, Wire.I64);
    this.ensure(8);
    this.view.setUint32(this.pos, lo >>> 0, true);
    this.view.setUint32(this.pos + 4, hi >>> 0, true);
    this.pos += 8;
  }

  /** A bytes field. */
  bytes(field: number, b: Uint8Array): void {
    this.tag(field, Wire.LEN);
    const n = b.length;
    this.varint(n);
    this.ensure(n);
    // A loop beats `set` for the short ids and names this mostly copies.
    if (n < 32) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = b[i];
    } else this.buf.set(b, this.pos);
    this.pos += n;
  }

  /** A double field. */
  double(field: number, v: number): void {
    this.tag(field, Wire.I64);
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** A string field, UTF-8. */
  string(field: number, s: string): void {
    this.tag(field, Wire.LEN);
    const max = s.length * 3;
    this.ensure(max + 5);
    // ASCII by hand, the length in the form the general path below picks:
    // `encodeInto` costs a view and a call into the engine per string.
    const n = s.length, b = this.buf, short = max < 128;
    let p = this.pos + (short ? 1 : 4), i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      b[p++] = c;
    }
    if (i === n) {
      if (short) {
        b[this.pos] = n;
        this.pos = p;
      } else {
        const at = this.pos;
        this.pos = p;
        this.patch(at);
      }
      return;
    }
    if (short) {
      const n = this.utf8.encodeInto(s, this.buf.subarray(this.pos + 1)).written;
      this.buf[this.pos] = n;
      this.pos += 1 + n;
    } else {
      const at = this.pos;
      this.pos += 4;
      this.pos += this.utf8.encodeInto(s, this.buf.subarray(this.pos)).written;
      this.patch(at);
    }
  }

  /** Starts a nested message in `field`; pass the result to {@linkcode end}. */
  begin(field: number): number {
    this.tag(field, Wire.LEN);
    this.ensure(4);
    const at = this.pos;
    this.pos += 4;
    return at;
  }

  /** Ends the nested message begun at `at`. */
  end(at: number): void {
    this.patch(at);
  }

  /**
   * Ends the message begun at `at` like {@linkcode end}, but a message
   * under 128 bytes moves back over its length's padding: three bytes less
   * per message, for exports that write millions of small ones (the move
   * costs the message's bytes once more). Messages must end innermost first,
   * as with `end`; offsets taken inside the message are stale after it.
   */
  endShort(at: number): void {
    const n = this.pos - at - 4;
    if (n >= 0x80) return this.patch(at);
    this.buf.copyWithin(at + 1, at + 4, this.pos);
    this.buf[at] = n;
    this.pos -= 3;
  }

  private patch(at: number): void {
    const n = this.pos - at - 4;
    if (n >= 1 << 28) throw new RangeError("runtrace: protobuf message over 256 MiB");
    const b = this.buf;
    b[at] = (n & 0x7f) | 0x80;
    b[at + 1] = ((n >>> 7) & 0x7f) | 0x80;
    b[at + 2] = ((n >>> 14) & 0x7f) | 0x80;
    b[at + 3] = (n >>> 21) & 0x7f;
  }
}
