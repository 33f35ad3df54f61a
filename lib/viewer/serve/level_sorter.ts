/**
 * An external sort of fixed-size records by their first field (a start time,
 * f64), per duration level: records arrive in any order and are written in
 * place into fixed-size blocks of one arena allocated once (a level takes
 * blocks as it grows); when the arena is full, the level holding the most
 * records is sorted and spilled as a run to a scratch file and its blocks
 * return to the free list. At the end, each level's runs are merged into the
 * index through the same arena, cut into one read buffer per run. Memory is
 * the arena plus the sort's key and order arrays, whatever the number of
 * records, and the sort makes no garbage (a buffer dropped for every spill
 * or read is memory the engines give back only at their next collection,
 * which a pass making no objects rarely triggers).
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
 * Reads up to `length` bytes at `position` into `into` from its start (fewer
 * only at the end of the file); returns the bytes read. No allocation: for
 * loops that read a whole file through one buffer.
 *
 * @example
 * ```ts ignore
 * const buf = new Uint8Array(1 << 20);
 * const n = readInto(fd, buf, 0, buf.length);
 * ```
 */
export function readInto(fd: number, into: Uint8Array, position: number, length: number): number {
  let at = 0;
  while (at < length) {
    const n = readSync(fd, into, at, length - at, position + at);
    if (n === 0) break;
    at += n;
  }
  return at;
}

/**
 * Sorts `order[0, n)` (the record numbers 0..n-1) by `keys`, ascending,
 * stable. Records of a level come in the order their slices ended, so
 * nearly in start order (a level's durations differ by less than 2×): an
 * insertion sort does it in about n steps; past a budget of moves (an
 * adversarial order) it hands over to the library sort.
 */
function orderOf(keys: Float64Array, order: Uint32Array, n: number): Uint32Array {
  const o = order.subarray(0, n);
  for (let i = 0; i < n; i++) o[i] = i;
  let budget = 32 * n + 1024;
  for (let i = 1; i < n; i++) {
    const id = o[i], k = keys[id];
    let j = i - 1;
    while (j >= 0 && keys[o[j]] > k) {
      o[j + 1] = o[j];
      j--;
    }
    o[j + 1] = id;
    budget -= i - 1 - j;
    if (budget < 0) return o.sort((a, b) => keys[a] - keys[b] || a - b);
  }
  return o;
}

/** Typed arrays write in the machine's byte order; the index is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes of a block at most: the step a level's memory grows by. */
const BLOCK_BYTES = 64 << 10;

/** One block of the arena, with its views. */
interface Block {
  bytes: Uint8Array;
  f64: Float64Array;
  u32: Uint32Array;
}

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
  /** Records per block. */
  private perBlock: number;
  private arena: Uint8Array;
  /** Blocks cut from the arena so far, and the free ones among them. */
  private made = 0;
  private maxBlocks: number;
  private free: Block[] = [];
  /** Each level's blocks, in the order filled, and its records in them. */
  private blocks: Block[][] = [];
  private counts: number[] = [];
  private runs: Run[][] = [];
  /** The sort's key and order arrays, made at the first sort. */
  private keys = new Float64Array(0);
  private order = new Uint32Array(0);
  private scratchFd: number | undefined;
  private scratch: FileAppender | undefined;
  /** The block of the last `slot`, as f64 (the record's first field is the key). */
  f64: Float64Array = new Float64Array(0);
  /** The same block as u32. */
  u32: Uint32Array = new Uint32Array(0);

  /**
   * Records of `size` bytes; runs spill to `scratchPath`; at most `budget`
   * bytes (at least one record) are buffered.
   */
  constructor(readonly size: number, private scratchPath: string, budget = 32 << 20) {
    if (!LITTLE_ENDIAN) throw new Error("runtrace: the trace index needs a little-endian machine");
    this.perBlock = Math.max(1, Math.floor(Math.min(BLOCK_BYTES, budget) / size));
    this.maxBlocks = Math.max(1, Math.floor(budget / (this.perBlock * size)));
    // Pages of the arena are only made resident as blocks are first used: a small trace costs little.
    this.arena = new Uint8Array(this.maxBlocks * this.perBlock * size);
    for (let k = 0; k < LEVELS; k++) {
      this.blocks.push([]);
      this.counts.push(0);
      this.runs.push([]);
    }
  }

  /**
   * Room for one more record of `level`: sets `f64` and `u32` to the block
   * it is in and returns the record's index in `f64` (its index in `u32` is
   * twice that). Fill it before the next `slot`.
   */
  slot(level: number): number {
    let i = this.counts[level] % this.perBlock;
    if (i === 0) {
      this.takeBlock(level);
      i = this.counts[level] % this.perBlock; // 0, unless the level had to spill itself
    }
    const blocks = this.blocks[level];
    const b = blocks[blocks.length - 1];
    this.f64 = b.f64;
    this.u32 = b.u32;
    this.counts[level]++;
    return i * this.size / 8;
  }

  /** Adds one record (copied) to `level`. */
  add(level: number, record: Uint8Array): void {
    const o = this.slot(level);
    new Uint8Array(this.f64.buffer, this.f64.byteOffset).set(record, o * 8);
  }

  /** Gives `level` a fresh block: a free one, a new one, or one freed by spilling the largest level. */
  private takeBlock(level: number): void {
    let b = this.free.pop();
    if (b === undefined && this.made < this.maxBlocks) {
      const bytes = this.perBlock * this.size;
      const at = this.arena.byteOffset + this.made++ * bytes;
      const buf = this.arena.buffer;
      b = {
        bytes: new Uint8Array(buf, at, bytes),
        f64: new Float64Array(buf, at, bytes / 8),
        u32: new Uint32Array(buf, at, bytes / 4),
      };
    }
    if (b === undefined) {
      let k = 0;
      for (let j = 1; j < LEVELS; j++) if (this.counts[j] > this.counts[k]) k = j;
      this.spill(k);
      b = this.free.pop()!;
    }
    this.blocks[level].push(b);
  }

  /** Sorts `level`'s buffered records into a run of the scratch file and frees its blocks. */
  private spill(level: number): void {
    const n = this.counts[level];
    if (n === 0) return;
    if (this.scratch === undefined) {
      this.scratchFd = openSync(this.scratchPath, "w+");
      this.scratch = new FileAppender(this.scratchFd);
    }
    this.runs[level].push({ offset: this.scratch.size, count: n });
    this.writeSorted(level, this.scratch, undefined);
  }

  /**
   * Writes `level`'s buffered records to `out` in start order (and every
   * SAMPLE_EVERY-th start into `sample`), then frees its blocks.
   */
  private writeSorted(level: number, out: FileAppender, sample: Float64Array | undefined): void {
    const n = this.counts[level], per = this.perBlock, words = this.size / 8;
    const blocks = this.blocks[level];
    if (this.keys.length < n) {
      const cap = this.maxBlocks * per;
      this.keys = new Float64Array(cap);
      this.order = new Uint32Array(cap);
    }
    const keys = this.keys;
    for (let r = 0, b = 0; b < blocks.length; b++) {
      const f = blocks[b].f64;
      for (let i = 0; i < per && r < n; i++, r++) keys[r] = f[i * words];
    }
    const order = orderOf(keys, this.order, n);
    if (sample) {
      for (let r = 0; r < n; r += SAMPLE_EVERY) sample[r / SAMPLE_EVERY] = keys[order[r]];
    }
    // The records are nearly in order: write each stretch of consecutive ones in a block at once.
    for (let i = 0; i < n;) {
      const first = order[i], b = Math.floor(first / per), end = (b + 1) * per;
      let j = i + 1;
      while (j < n && order[j] === first + (j - i) && order[j] < end) j++;
      const from = (first - b * per) * this.size;
      out.writeRange(blocks[b].bytes, from, from + (j - i) * this.size);
      i = j;
    }
    for (const b of blocks) this.free.push(b);
    blocks.length = 0;
    this.counts[level] = 0;
  }

  /**
   * Merges each level's runs and buffered records into `out`, sorted by
   * start, and each level's sample after it; returns where each non-empty
   * level lies.
   */
  writeTo(out: FileAppender): LevelPlace[] {
    const places: LevelPlace[] = [];
    try {
      // Nothing spilled (a small trace): each level is written straight from memory. Else every
      // level spills what is left, since the merge reads through the whole arena.
      if (this.scratch !== undefined) { for (let k = 0; k < LEVELS; k++) this.spill(k); }
      this.scratch?.flush();
      for (let k = 0; k < LEVELS; k++) {
        const count = this.counts[k] + this.runs[k].reduce((n, r) => n + r.count, 0);
        if (count === 0) continue;
        const sample = new Float64Array(Math.ceil(count / SAMPLE_EVERY));
        const offset = out.size;
        if (this.runs[k].length === 0) this.writeSorted(k, out, sample);
        else this.merge(this.runs[k], out, sample);
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
   * A k-way merge of sorted runs, read through the arena (every record is
   * in a run by now) cut into one buffer per run; fills `sample`. Runs of
   * one level cover mostly disjoint stretches of time (a level's records
   * arrive nearly in start order), so the smallest source is copied in
   * stretches: every record up to the next source's key at once.
   */
  private merge(runs: Run[], out: FileAppender, sample: Float64Array): void {
    const size = this.size;
    const per = Math.floor(this.arena.length / runs.length / size);
    // More runs than the arena has records (a tiny budget): one record each, in a buffer of their own.
    const room = per > 0 ? this.arena : new Uint8Array(runs.length * size);
    const each = Math.max(1, per) * size;
    const sources = runs.map((r, i) =>
      new RunReader(this.scratchFd!, r, size, room.subarray(i * each, (i + 1) * each))
    );
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
      for (
        let i = (SAMPLE_EVERY - written % SAMPLE_EVERY) % SAMPLE_EVERY;
        i < n;
        i += SAMPLE_EVERY
      ) {
        sample[(written + i) / SAMPLE_EVERY] = s.keyAt(i);
      }
      s.writeTo(out, n);
      written += n;
      if (!s.fill()) live.splice(best, 1);
    }
  }
}

/** Reads one sorted run through a buffer of its own, in stretches of records. */
class RunReader {
  private keys: Float64Array;
  /** Next record in `buf`, and records in `buf`. */
  private at = 0;
  private n = 0;
  private read = 0;
  private words: number;

  /** Reads `run` of the file `fd` through `buf` (8-byte aligned, a multiple of `size`). */
  constructor(
    private fd: number,
    private run: Run,
    private size: number,
    private buf: Uint8Array,
  ) {
    this.words = size / 8;
    this.keys = new Float64Array(buf.buffer, buf.byteOffset, buf.length / 8);
  }

  /** Makes sure a record is buffered; false at the end of the run. */
  fill(): boolean {
    if (this.at < this.n) return true;
    if (this.read >= this.run.count) return false;
    const n = Math.min(this.run.count - this.read, this.buf.length / this.size);
    readInto(this.fd, this.buf, this.run.offset + this.read * this.size, n * this.size);
    this.n = n;
    this.at = 0;
    this.read += n;
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

  /** Writes the next `n` records to `out`; moves past them. */
  writeTo(out: FileAppender, n: number): void {
    out.writeRange(this.buf, this.at * this.size, (this.at + n) * this.size);
    this.at += n;
  }
}
