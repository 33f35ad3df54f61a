/**
 * An external sort of fixed-size records by their first field (a start time,
 * f64), per duration level: records arrive in any order, are buffered per
 * level in bounded memory, spilled as sorted runs to a scratch file, and
 * merged level by level into the index. Memory is the buffer budget plus one
 * read buffer per run, whatever the number of records.
 *
 * @module
 */

import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { type LevelPlace, LEVELS, SAMPLE_EVERY } from "./index_layout.ts";

/** A sorted run of one level in the scratch file. */
interface Run {
  offset: number;
  count: number;
}

/** Appends bytes to a file through one buffer. */
export class FileAppender {
  private buf = new Uint8Array(1 << 20);
  private used = 0;
  /** Bytes written so far (buffered ones included). */
  size = 0;

  /** Appends to the open file `fd`, whose current length is `size`. */
  constructor(private fd: number, size = 0) {
    this.size = size;
  }

  /** Appends `bytes`. */
  write(bytes: Uint8Array): void {
    if (bytes.length > this.buf.length - this.used) this.flush();
    if (bytes.length > this.buf.length) {
      writeAll(this.fd, bytes);
    } else {
      this.buf.set(bytes, this.used);
      this.used += bytes.length;
    }
    this.size += bytes.length;
  }

  /** Appends `bytes[start, end)`: short ranges byte by byte (no view made for them). */
  writeRange(bytes: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n > 64) return this.write(bytes.subarray(start, end));
    if (n > this.buf.length - this.used) this.flush();
    const buf = this.buf;
    let u = this.used;
    for (let i = start; i < end; i++) buf[u++] = bytes[i];
    this.used = u;
    this.size += n;
  }

  /** Writes out the buffer. */
  flush(): void {
    if (this.used > 0) writeAll(this.fd, this.buf.subarray(0, this.used));
    this.used = 0;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
}

/** Reads exactly `length` bytes at `position` (fewer only at the end of the file). */
export function readAt(fd: number, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  while (at < length) {
    const n = readSync(fd, out, at, length - at, position + at);
    if (n === 0) break;
    at += n;
  }
  return at === length ? out : out.subarray(0, at);
}

/**
 * The order of `keys`, ascending, stable. Records of a level come in the
 * order their slices ended, so nearly in start order (a level's durations
 * differ by less than 2×): an insertion sort does it in about n steps; past
 * a budget of moves (an adversarial order) it hands over to the library sort.
 */
function orderOf(keys: Float64Array): Uint32Array {
  const n = keys.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let budget = 32 * n + 1024;
  for (let i = 1; i < n; i++) {
    const id = order[i], k = keys[id];
    let j = i - 1;
    while (j >= 0 && keys[order[j]] > k) {
      order[j + 1] = order[j];
      j--;
    }
    order[j + 1] = id;
    budget -= i - 1 - j;
    if (budget < 0) return order.sort((a, b) => keys[a] - keys[b] || a - b);
  }
  return order;
}

/** Sorts one buffer of records (of 8-byte multiples, 8-byte aligned) by their first f64. */
function sortRecords(bytes: Uint8Array, size: number): Uint8Array {
  const n = bytes.length / size;
  const f64 = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = f64[i * size / 8];
  const order = orderOf(keys);
  // Copied as 32-bit words: integer fields never pass through a float (no NaN canonicalising).
  // The records are nearly in order: copy each stretch of consecutive ones at once.
  const words = size / 4;
  const src = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const out = new Uint32Array(n * words);
  for (let i = 0; i < n;) {
    const first = order[i];
    let j = i + 1;
    while (j < n && order[j] === first + (j - i)) j++;
    const from = first * words, to = i * words, len = (j - i) * words;
    if (len > 64) out.set(src.subarray(from, from + len), to);
    else for (let w = 0; w < len; w++) out[to + w] = src[from + w];
    i = j;
  }
  return new Uint8Array(out.buffer);
}

/** Typed arrays write in the machine's byte order; the index is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Sorts records of `size` bytes (a multiple of 8) per level. The caller
 * asks for room with `slot` and fills the record in place through `f64` and
 * `u32` (no copy, no allocation per record), then `writeTo` the index; the
 * scratch file is removed by `writeTo` or `discard`.
 *
 * @example
 * ```ts
 * import { LevelSorter } from "./level_sorter.ts";
 * const s = new LevelSorter(32, "/tmp/x.runs");
 * const o = s.slot(3);
 * s.f64[o] = 12; // the start, the sort key
 * s.discard();
 * ```
 */
export class LevelSorter {
  private buffers: Uint8Array[] = [];
  private f64s: Float64Array[] = [];
  private u32s: Uint32Array[] = [];
  private used: number[] = [];
  private runs: Run[][] = [];
  private total = 0;
  private scratchFd: number | undefined;
  private scratch: FileAppender | undefined;
  /** The buffer of the level of the last `slot`, as f64 (the record's first field is the key). */
  f64: Float64Array = new Float64Array(0);
  /** The same buffer as u32. */
  u32: Uint32Array = new Uint32Array(0);

  /**
   * Records of `size` bytes; runs spill to `scratchPath`; at most `budget`
   * bytes are buffered.
   */
  constructor(readonly size: number, private scratchPath: string, private budget = 32 << 20) {
    if (!LITTLE_ENDIAN) throw new Error("runtrace: the trace index needs a little-endian machine");
    for (let k = 0; k < LEVELS; k++) {
      this.buffers.push(new Uint8Array(0));
      this.f64s.push(new Float64Array(0));
      this.u32s.push(new Uint32Array(0));
      this.used.push(0);
      this.runs.push([]);
    }
  }

  /**
   * Room for one more record of `level`: sets `f64` and `u32` to the level's
   * buffer and returns the record's index in `f64` (its index in `u32` is
   * twice that). Fill it before the next `slot`.
   */
  slot(level: number): number {
    if (this.total + this.size > this.budget) this.spillLargest();
    let buf = this.buffers[level];
    const at = this.used[level];
    if (at + this.size > buf.length) {
      const grown = new Uint8Array(Math.max(this.size * 64, buf.length * 2));
      grown.set(buf.subarray(0, at));
      this.buffers[level] = buf = grown;
      this.f64s[level] = new Float64Array(grown.buffer);
      this.u32s[level] = new Uint32Array(grown.buffer);
    }
    this.f64 = this.f64s[level];
    this.u32 = this.u32s[level];
    this.used[level] = at + this.size;
    this.total += this.size;
    return at / 8;
  }

  /** Adds one record (copied) to `level`. */
  add(level: number, record: Uint8Array): void {
    const o = this.slot(level);
    this.buffers[level].set(record, o * 8);
  }

  private spillLargest(): void {
    let k = 0;
    for (let i = 1; i < LEVELS; i++) if (this.used[i] > this.used[k]) k = i;
    this.spill(k);
  }

  private spill(level: number): void {
    const n = this.used[level];
    if (n === 0) return;
    if (this.scratch === undefined) {
      this.scratchFd = openSync(this.scratchPath, "w+");
      this.scratch = new FileAppender(this.scratchFd);
    }
    const sorted = sortRecords(this.buffers[level].subarray(0, n), this.size);
    this.runs[level].push({ offset: this.scratch.size, count: n / this.size });
    this.scratch.write(sorted);
    this.total -= n;
    this.used[level] = 0;
    // Released: kept, every level's buffer would grow to the budget, and memory with the levels.
    this.buffers[level] = new Uint8Array(0);
    this.f64s[level] = new Float64Array(0);
    this.u32s[level] = new Uint32Array(0);
  }

  /**
   * Merges each level's runs and buffer into `out`, sorted by start, and
   * each level's sample after it; returns where each non-empty level lies.
   */
  writeTo(out: FileAppender): LevelPlace[] {
    const places: LevelPlace[] = [];
    try {
      this.scratch?.flush();
      for (let k = 0; k < LEVELS; k++) {
        const last = this.used[k] > 0
          ? sortRecords(this.buffers[k].subarray(0, this.used[k]), this.size)
          : undefined;
        this.buffers[k] = new Uint8Array(0);
        this.f64s[k] = new Float64Array(0);
        this.u32s[k] = new Uint32Array(0);
        const count = this.runs[k].reduce((n, r) => n + r.count, 0) +
          (last ? last.length / this.size : 0);
        if (count === 0) continue;
        const offset = out.size;
        const sample = this.merge(this.runs[k], last, out, count);
        const sampleOffset = out.size;
        out.write(new Uint8Array(sample.buffer));
        places.push({ level: k, offset, count, sampleOffset });
      }
    } finally {
      this.discard();
    }
    return places;
  }

  /** Removes the scratch file. */
  discard(): void {
    if (this.scratchFd === undefined) return;
    closeSync(this.scratchFd);
    this.scratchFd = undefined;
    this.scratch = undefined;
    try {
      unlinkSync(this.scratchPath);
    } catch {
      // already gone
    }
  }

  /**
   * A k-way merge of sorted sources; returns the sample of start times.
   * Runs of one level cover mostly disjoint stretches of time (a level's
   * records arrive nearly in start order), so the smallest source is copied
   * in stretches: every record up to the next source's key at once.
   */
  private merge(runs: Run[], last: Uint8Array | undefined, out: FileAppender, count: number) {
    const sample = new Float64Array(Math.ceil(count / SAMPLE_EVERY));
    const sources = runs.map((r) => new RunReader(this.scratchFd!, r, this.size));
    if (last) {
      sources.push(
        new RunReader(undefined, { offset: 0, count: last.length / this.size }, this.size, last),
      );
    }
    let written = 0;
    const live = sources.filter((s) => s.fill());
    while (live.length > 0) {
      // Few runs per level: a linear scan for the two smallest beats a heap's bookkeeping.
      let best = 0;
      for (let i = 1; i < live.length; i++) if (live[i].key() < live[best].key()) best = i;
      let bound = Infinity, boundIndex = live.length;
      for (let i = 0; i < live.length; i++) {
        if (i !== best && live[i].key() < bound) {
          bound = live[i].key();
          boundIndex = i;
        }
      }
      const s = live[best];
      // Equal keys go to the earlier source, as a stable merge does.
      const n = s.stretch(bound, best < boundIndex);
      for (let i = 0; i < n; i++) {
        if ((written + i) % SAMPLE_EVERY === 0) sample[(written + i) / SAMPLE_EVERY] = s.keyAt(i);
      }
      out.write(s.take(n));
      written += n;
      if (!s.fill()) live.splice(best, 1);
    }
    return sample;
  }
}

/** Reads one sorted run through a buffer, in stretches of records. */
class RunReader {
  private buf: Uint8Array = new Uint8Array(0);
  private keys: Float64Array = new Float64Array(0);
  /** Next record in `buf`, and records in `buf`. */
  private at = 0;
  private n = 0;
  private read = 0;
  private words: number;

  constructor(
    private fd: number | undefined,
    private run: Run,
    private size: number,
    memory?: Uint8Array,
  ) {
    this.words = size / 8;
    if (memory) this.load(memory, run.count);
  }

  private load(buf: Uint8Array, n: number): void {
    this.buf = buf;
    this.keys = new Float64Array(buf.buffer, buf.byteOffset, buf.length / 8);
    this.n = n;
    this.at = 0;
    this.read += n;
  }

  /** Makes sure a record is buffered; false at the end of the run. */
  fill(): boolean {
    if (this.at < this.n) return true;
    if (this.read >= this.run.count || this.fd === undefined) return false;
    const n = Math.min(this.run.count - this.read, Math.max(1, (1 << 20) / this.size | 0));
    // readAt's fresh buffer is 8-byte aligned, as the key view needs.
    this.load(readAt(this.fd, this.run.offset + this.read * this.size, n * this.size), n);
    return true;
  }

  /** The key of the next record. */
  key(): number {
    return this.keys[this.at * this.words];
  }

  /** The key of the record `i` after the next. */
  keyAt(i: number): number {
    return this.keys[(this.at + i) * this.words];
  }

  /** Buffered records from the next whose key is below `bound` (or equal, if `ties`); at least one. */
  stretch(bound: number, ties: boolean): number {
    let i = this.at + 1;
    const w = this.words;
    while (i < this.n) {
      const k = this.keys[i * w];
      if (k > bound || (k === bound && !ties)) break;
      i++;
    }
    return i - this.at;
  }

  /** The next `n` records' bytes; moves past them. */
  take(n: number): Uint8Array {
    const b = this.buf.subarray(this.at * this.size, (this.at + n) * this.size);
    this.at += n;
    return b;
  }
}
