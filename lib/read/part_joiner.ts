/**
 * The parts of a split recording (`start`'s `split`) read as one trace. Each
 * part is a trace of its own: a header, the string table, RESTATE batches of
 * the tasks and regions still open where it begins, its events, an END. In
 * the parts' order, the RESTATE batches after the first part repeat begins
 * already read, and the inner headers and ENDs would end the trace early:
 * the joiner passes on one trace, the first part's header, every part's
 * other batches, and the last part's END. It works on batch boundaries
 * only, never decoding an event, so it costs a scan of batch headers.
 *
 * @module
 */

import { Batch, MAGIC } from "../format/constants.ts";
import { TraceDecoder, type TraceHeader } from "../format/decoder.ts";

/** Parts that cannot be read as one trace; the message names the part and why. */
export class PartsError extends Error {
  /** Makes the error; `message` starts with the part's name. */
  constructor(message: string) {
    super(message);
    this.name = "PartsError";
  }
}

/** Most bytes of a batch's type and length (a length has at most 8, one spare). */
const HEAD_MAX = 10;

/** What the joiner is reading. */
const enum At {
  /** A part's header. */
  HEADER,
  /** A batch's type and length. */
  BATCH_HEAD,
  /** A batch's payload passed on. */
  PASS,
  /** A batch's payload dropped. */
  SKIP,
  /** An END batch, held until it is known to be the last. */
  END,
  /** After a part's END: the next part's header, or the input's end. */
  AFTER_END,
}

/**
 * Joins the parts of one split recording, fed in order, into the bytes of
 * one trace handed to `out` (views of the input where it can: use them
 * before the next push). Parts come one after another in one stream
 * (`cat trace.out.* | runtrace stats -`) or with {@linkcode PartJoiner.beginPart}
 * naming each file. A trace that is not split passes through unchanged.
 *
 * @example
 * ```ts
 * import { PartJoiner } from "./part_joiner.ts";
 * import { TraceDecoder } from "../format/decoder.ts";
 * let events = 0;
 * const d = new TraceDecoder(() => events++);
 * const j = new PartJoiner((bytes) => d.push(bytes));
 * for (const name of ["trace.out.000", "trace.out.001"]) {
 *   j.beginPart(name);
 *   j.push(await Deno.readFile(name));
 *   j.endPart();
 * }
 * j.finish();
 * d.finish();
 * ```
 */
export class PartJoiner {
  /** The first part's header, once read. */
  first?: TraceHeader;
  /** Parts read so far. */
  parts = 0;
  private sink: (bytes: Uint8Array) => void;
  /** A run of the current chunk passed on, not yet handed over: `[runStart, runEnd)`. */
  private run?: Uint8Array;
  private runStart = 0;
  private runEnd = 0;
  private at: At = At.HEADER;
  /** Bytes of a header, batch head or END gathered across pushes. */
  private carry = new Uint8Array(64);
  private carried = 0;
  /** Payload bytes left of the batch being passed or skipped, or of the held END. */
  private left = 0;
  /** The last part's END batch, passed on at the finish. */
  private heldEnd?: Uint8Array;
  /** The part number read last, -1 before a split part. */
  private lastPart = -1;
  private name = "the input";
  private names: string[] = [];

  /** Makes a joiner that hands the joined trace's bytes to `out`. */
  constructor(out: (bytes: Uint8Array) => void) {
    this.sink = out;
  }

  /** The next bytes begin a new part, `name` in messages. */
  beginPart(name: string): void {
    if (this.parts > 0 && this.at !== At.AFTER_END) {
      throw new PartsError(
        `${this.name} ends without its END batch (cut short), and ${name} follows it: ` +
          `read the parts up to ${this.name}, or from ${name} on`,
      );
    }
    this.name = name;
    this.at = At.HEADER;
    this.carried = 0;
  }

  /** The current part's bytes have all been pushed. */
  endPart(): void {
    this.names.push(this.name);
  }

  /** Takes the next bytes of the current part. */
  push(chunk: Uint8Array): void {
    this.pushed(chunk);
    this.flushRun();
  }

  /** The state machine over one chunk. */
  private pushed(chunk: Uint8Array): void {
    let p = 0;
    const n = chunk.length;
    while (p < n) {
      switch (this.at) {
        case At.HEADER:
        case At.AFTER_END:
          p = this.header(chunk, p);
          break;
        case At.BATCH_HEAD:
          p = this.batchHead(chunk, p);
          break;
        case At.PASS: {
          const k = Math.min(this.left, n - p);
          // The common case: a run of whole batches passed on as one view.
          this.pass(chunk, p, p + k);
          p += k;
          this.left -= k;
          if (this.left === 0) this.at = At.BATCH_HEAD;
          break;
        }
        case At.SKIP: {
          const k = Math.min(this.left, n - p);
          p += k;
          this.left -= k;
          if (this.left === 0) this.at = At.BATCH_HEAD;
          break;
        }
        case At.END: {
          const k = Math.min(this.left, n - p);
          this.gather(chunk.subarray(p, p + k));
          p += k;
          this.left -= k;
          if (this.left === 0) this.holdEnd();
          break;
        }
      }
    }
  }

  /**
   * Ends the input: the last part's END goes out. A last part cut short
   * passes on as it is, and its reader reports a truncated trace.
   */
  finish(): void {
    if (this.at === At.HEADER && this.carried > 0) this.out(this.carry.slice(0, this.carried));
    if (this.at === At.BATCH_HEAD && this.carried > 0) {
      this.out(this.carry.slice(0, this.carried));
    }
    if (this.at === At.END) this.out(this.carry.slice(0, this.carried));
    if (this.heldEnd) this.out(this.heldEnd);
    this.heldEnd = undefined;
  }

  /** Gathers a part's header; returns the position after what it took. */
  private header(chunk: Uint8Array, p: number): number {
    if (this.at === At.AFTER_END) {
      // A concatenated stream: a header after an END begins the next part.
      if (chunk[p] !== MAGIC[0]) return this.passRest(p);
      this.at = At.HEADER;
    }
    for (;;) {
      // Ten bytes hold the magic and the start of the lengths; a header has more.
      const total = this.carried < 10 ? 10 : headerLength(this.carry, this.carried);
      if (total < 0) return this.notATrace(p);
      if (this.carried === total) break;
      if (p >= chunk.length) return p;
      const k = Math.min(total - this.carried, chunk.length - p);
      this.gather(chunk.subarray(p, p + k));
      p += k;
    }
    this.startPart(this.carry.subarray(0, this.carried));
    this.carried = 0;
    this.at = At.BATCH_HEAD;
    return p;
  }

  /** What follows is not a next part: passed on as it is, for the decoder to judge. */
  private passRest(p: number): number {
    this.releaseEnd();
    this.at = At.PASS;
    this.left = Infinity;
    return p;
  }

  /** A header that is not a runtrace trace's: passed on for the decoder to say why. */
  private notATrace(p: number): number {
    this.releaseEnd();
    this.out(this.carry.slice(0, this.carried));
    this.carried = 0;
    return this.passRest(p);
  }

  /** A complete header: the first part's goes out, a later one is checked and dropped. */
  private startPart(bytes: Uint8Array): void {
    const h = parseHeader(bytes);
    if (h === undefined) {
      this.releaseEnd();
      this.out(bytes.slice());
      return;
    }
    if (this.first === undefined) {
      this.first = h;
      this.out(bytes.slice());
    } else {
      this.checkNext(h);
      this.heldEnd = undefined;
    }
    this.lastPart = h.part ?? -1;
    this.parts++;
  }

  /** A later part must continue the recording of the parts before it. */
  private checkNext(h: TraceHeader): void {
    const f = this.first!;
    const prev = this.names[this.names.length - 1] ?? "the part before it";
    if (h.part === undefined || this.lastPart < 0) {
      throw new PartsError(
        `${this.name} follows ${prev}, but they are not parts of one split recording ` +
          `(use "runtrace merge -o OUT" to put different traces on one clock)`,
      );
    }
    if (
      h.timeOrigin !== f.timeOrigin || h.startTime !== f.startTime || h.pid !== f.pid ||
      h.runtime !== f.runtime
    ) {
      throw new PartsError(`${this.name} is a part of another recording than ${prev}`);
    }
    if (h.part !== this.lastPart + 1) {
      const missing = h.part > this.lastPart + 1
        ? `part ${this.lastPart + 1} is missing between ${prev} and ${this.name}`
        : `${this.name} (part ${h.part}) comes after part ${this.lastPart}`;
      throw new PartsError(`${missing}: give the parts in order, none left out`);
    }
  }

  /** A batch's type and length: decides to pass, skip or hold the batch. */
  private batchHead(chunk: Uint8Array, p: number): number {
    // Usually the whole head is in this chunk: no copy.
    const before = this.carried;
    let buf = chunk, at = p, end = chunk.length;
    if (before > 0) {
      this.gather(chunk.subarray(p, p + Math.min(HEAD_MAX - before, chunk.length - p)));
      buf = this.carry;
      at = 0;
      end = this.carried;
    }
    let size = 0, mul = 1, q = at + 1, complete = false;
    while (q < end && q - at < HEAD_MAX) {
      const b = buf[q++];
      size += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) {
        complete = true;
        break;
      }
    }
    if (!complete) {
      if (q - at < HEAD_MAX) {
        // The head goes on in the next chunk.
        if (before === 0) this.gather(chunk.subarray(p));
        return chunk.length;
      }
      // A corrupt length: passed on for the decoder to report.
      if (before > 0) this.out(this.carry.slice(0, before));
      this.carried = 0;
      return this.passRest(p);
    }
    const headLen = q - at;
    const taken = p + headLen - before;
    const type = buf[at];
    this.carried = 0;
    this.left = size;
    if (type === Batch.END) {
      this.gather(buf.subarray(at, at + headLen).slice());
      this.at = At.END;
      if (size === 0) this.holdEnd();
      return taken;
    }
    const skip = type === Batch.RESTATE && this.parts > 1;
    if (!skip) {
      if (before > 0) this.out(buf.slice(at, at + headLen));
      else this.pass(chunk, at, at + headLen);
    }
    this.at = size === 0 ? At.BATCH_HEAD : skip ? At.SKIP : At.PASS;
    return taken;
  }

  /** The END batch is complete: held until the input's end or the next part. */
  private holdEnd(): void {
    this.heldEnd = this.carry.slice(0, this.carried);
    this.carried = 0;
    this.at = At.AFTER_END;
  }

  /**
   * Passes on `chunk[a, b)`: joined to the run before it when they touch, so
   * that whole batches in a row go out as one view, one decoder push.
   */
  private pass(chunk: Uint8Array, a: number, b: number): void {
    if (this.run === chunk && this.runEnd === a) {
      this.runEnd = b;
      return;
    }
    this.flushRun();
    this.run = chunk;
    this.runStart = a;
    this.runEnd = b;
  }

  /** Hands over the run of the current chunk, if any. */
  private flushRun(): void {
    if (this.run === undefined) return;
    if (this.runEnd > this.runStart) this.sink(this.run.subarray(this.runStart, this.runEnd));
    this.run = undefined;
  }

  /** Hands over bytes that are not a view of the current chunk, after the run before them. */
  private out(bytes: Uint8Array): void {
    this.flushRun();
    this.sink(bytes);
  }

  /** Passes on an END held back when what follows is not a next part. */
  private releaseEnd(): void {
    if (this.heldEnd) this.out(this.heldEnd);
    this.heldEnd = undefined;
  }

  private gather(bytes: Uint8Array): void {
    if (this.carried + bytes.length > this.carry.length) {
      const bigger = new Uint8Array(Math.max(this.carry.length * 2, this.carried + bytes.length));
      bigger.set(this.carry.subarray(0, this.carried));
      this.carry = bigger;
    }
    this.carry.set(bytes, this.carried);
    this.carried += bytes.length;
  }
}

/**
 * The length of the header that starts `buf[0, n)` (magic, version, block
 * length, block), or -1 when the bytes are not a runtrace header.
 */
function headerLength(buf: Uint8Array, n: number): number {
  for (let k = 0; k < MAGIC.length && k < n; k++) if (buf[k] !== MAGIC[k]) return -1;
  let q = MAGIC.length;
  for (let v = 0; v < 2; v++) {
    let size = 0, mul = 1;
    for (;;) {
      if (q >= n) return Math.max(n + 1, 10);
      const b = buf[q++];
      size += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) break;
      if (mul > 2 ** 56) return -1;
    }
    if (v === 1) return q + size;
  }
  return -1;
}

/** The fields of a complete header, or undefined if the decoder refuses it. */
function parseHeader(bytes: Uint8Array): TraceHeader | undefined {
  const d = new TraceDecoder(() => {});
  try {
    d.push(bytes);
  } catch {
    return undefined;
  }
  return d.header;
}

/**
 * The bytes of one trace from a split recording's parts concatenated in one
 * buffer; a trace that is not split comes back as it is.
 *
 * @example
 * ```ts
 * import { joinParts } from "./part_joiner.ts";
 * const a = await Deno.readFile("trace.out.000");
 * const b = await Deno.readFile("trace.out.001");
 * const both = new Uint8Array(a.length + b.length);
 * both.set(a);
 * both.set(b, a.length);
 * const one = joinParts(both);
 * ```
 */
export function joinParts(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  const j = new PartJoiner((b) => {
    out.set(b, n);
    n += b.length;
  });
  j.push(bytes);
  j.finish();
  return out.subarray(0, n);
}
