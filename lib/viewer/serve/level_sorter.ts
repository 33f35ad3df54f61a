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
  const words = size / 4;
  const src = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const out = new Uint32Array(n * words);
  for (let i = 0; i < n; i++) {
    const from = order[i] * words, to = i * words;
    for (let w = 0; w < words; w++) out[to + w] = src[from + w];
  }
  return new Uint8Array(out.buffer);
}

/**
 * Sorts records of `size` bytes per level. `add` them, then `writeTo` the
 * index; the scratch file is removed by `writeTo` or `discard`.
 *
 * @example
 * ```ts
 * import { LevelSorter } from "./level_sorter.ts";
 * const s = new LevelSorter(32, "/tmp/x.runs");
 * ```
 */
export class LevelSorter {
  private buffers: Uint8Array[] = [];
  private used: number[] = [];
  private runs: Run[][] = [];
  private total = 0;
  private scratchFd: number | undefined;
  private scratch: FileAppender | undefined;

  /**
   * Records of `size` bytes; runs spill to `scratchPath`; at most `budget`
   * bytes are buffered.
   */
  constructor(readonly size: number, private scratchPath: string, private budget = 32 << 20) {
    for (let k = 0; k < LEVELS; k++) {
      this.buffers.push(new Uint8Array(0));
      this.used.push(0);
      this.runs.push([]);
    }
  }

  /** Adds one record (copied) to `level`. */
  add(level: number, record: Uint8Array): void {
    let buf = this.buffers[level];
    const at = this.used[level];
    if (at + this.size > buf.length) {
      const grown = new Uint8Array(Math.max(this.size * 64, buf.length * 2));
      grown.set(buf.subarray(0, at));
      this.buffers[level] = buf = grown;
    }
    buf.set(record, at);
    this.used[level] = at + this.size;
    this.total += this.size;
    if (this.total > this.budget) this.spillLargest();
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
    this.buffers[level] = new Uint8Array(0);
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

  /** A k-way merge of sorted sources; returns the sample of start times. */
  private merge(runs: Run[], last: Uint8Array | undefined, out: FileAppender, count: number) {
    const size = this.size;
    const sample = new Float64Array(Math.ceil(count / SAMPLE_EVERY));
    const sources = runs.map((r) => new RunReader(this.scratchFd!, r, size));
    if (last) {
      sources.push(new RunReader(undefined, { offset: 0, count: last.length / size }, size, last));
    }
    let written = 0;
    const live = sources.filter((s) => s.next());
    while (live.length > 0) {
      // Few runs per level: a linear scan for the smallest beats a heap's bookkeeping.
      let best = 0;
      for (let i = 1; i < live.length; i++) if (live[i].key < live[best].key) best = i;
      const s = live[best];
      if (written % SAMPLE_EVERY === 0) sample[written / SAMPLE_EVERY] = s.key;
      out.write(s.record);
      written++;
      if (!s.next()) live.splice(best, 1);
    }
    return sample;
  }
}

/** Reads one sorted run record by record, through a buffer. */
class RunReader {
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  private at = 0;
  private read = 0;
  record: Uint8Array = new Uint8Array(0);
  key = 0;

  constructor(
    private fd: number | undefined,
    private run: Run,
    private size: number,
    memory?: Uint8Array,
  ) {
    if (memory) {
      this.buf = memory;
      this.view = new DataView(memory.buffer, memory.byteOffset, memory.length);
      this.read = run.count;
    }
  }

  /** Moves to the next record; false at the end. */
  next(): boolean {
    if (this.at + this.size > this.buf.length) {
      if (this.read >= this.run.count) return false;
      const n = Math.min(this.run.count - this.read, Math.max(1, (1 << 18) / this.size | 0));
      this.buf = readAt(this.fd!, this.run.offset + this.read * this.size, n * this.size);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
      this.read += n;
      this.at = 0;
    }
    this.record = this.buf.subarray(this.at, this.at + this.size);
    this.key = this.view.getFloat64(this.at, true);
    this.at += this.size;
    return true;
  }
}
