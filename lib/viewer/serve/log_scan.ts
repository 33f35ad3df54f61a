/**
 * The server's scan of the index's log section (lib/viewer/serve/log_store.ts)
 * in time order: a k-way merge of its blocks, each a run of records in time
 * order, filtered by category, task and text, in bounded steps. A step
 * reads at most a few MiB or a few tens of ms and returns a cursor to go
 * on from, so the Logs page and the search box answer at any size without
 * holding the logs and without stalling the server's other answers.
 *
 * Logs are ordered by time, ties in the trace's order; the cursor is the
 * key of the last log the scan passed, `time,block,ordinal`.
 *
 * @module
 */

import type { LogFilter, LogPage, LogRow } from "./index_layout.ts";
import { readAt } from "./level_sorter.ts";
import { LOG_BLOCK_ENTRY, LogRecordReader } from "./log_store.ts";

/** Most bytes of blocks one step reads. */
const STEP_BYTES = 32 << 20;
/** Most ms one step runs, once it has read STEP_MIN_BYTES: well under the zoom steps' 100 ms. */
const STEP_MS = 40;
/** Bytes a step reads before it looks at the clock (unless a smaller step is asked for). */
const STEP_MIN_BYTES = 512 << 10;

/** The key of the last log passed: every log with a key up to it is done. */
interface Cursor {
  time: number;
  block: number;
  log: number;
}

/** A block being merged: its bytes, and its `k`-th log, at `time`, decoded in `rec`. */
interface Run {
  block: number;
  buf: Uint8Array;
  rec: LogRecordReader;
  k: number;
  time: number;
}

/** Where a log section and its directory lie in the index file. */
export interface LogSection {
  /** Offset and bytes of the section. */
  offset: number;
  length: number;
  /** Offset of the block directory and its blocks. */
  blocksOffset: number;
  blocks: number;
  /** The index's type names: a log's category is an index into them. */
  names: readonly string[];
  /** The trace's end, ns: a whole scan's progress is its time reached of it. */
  duration: number;
}

/** Options of {@linkcode LogScanner.scan}. */
export interface LogScanOptions {
  /** Only the logs in [start, end] ns (a task's life). */
  span?: { start: number; end: number };
  /** Fewer bytes a step than the default (a test's small steps). */
  stepBytes?: number;
}

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
  // The first byte's other case, if it is an ASCII letter: most positions fail on it alone.
  const other = first >= 97 && first <= 122 ? first - 32 : first;
  outer: for (let i = start; i + n <= end; i++) {
    const c = hay[i];
    if (c !== first && c !== other) continue;
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
 * Whether `needle` (lowercased) occurs in `hay` from `start`, ASCII case
 * aside: the candidates are found by `indexOf` of its first byte in either
 * case (native, many times faster than a loop over every byte), so a block
 * is checked for a rare text at the speed of a byte search.
 */
function blockHas(hay: Uint8Array, start: number, needle: Uint8Array): boolean {
  const n = needle.length;
  if (n === 0) return true;
  const lo = needle[0], up = lo >= 97 && lo <= 122 ? lo - 32 : -1;
  let a = hay.indexOf(lo, start), b = up < 0 ? -1 : hay.indexOf(up, start);
  while (a >= 0 || b >= 0) {
    const i = a < 0 ? b : b < 0 ? a : Math.min(a, b);
    if (i + n > hay.length) return false;
    if (containsAt(hay, i, i + n, needle)) return true;
    if (i === a) a = hay.indexOf(lo, i + 1);
    else b = hay.indexOf(up, i + 1);
  }
  return false;
}

/** Whether run `a`'s log comes before run `b`'s: by time, then by block. */
const before = (a: Run, b: Run) => a.time < b.time || (a.time === b.time && a.block < b.block);

/** A binary min-heap of runs by their current log. */
class RunHeap {
  readonly items: Run[] = [];

  push(r: Run): void {
    const h = this.items;
    h.push(r);
    let i = h.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!before(h[i], h[up])) break;
      [h[i], h[up]] = [h[up], h[i]];
      i = up;
    }
  }

  /** Restores the order after the top's log changed; drops it if `gone`. */
  fixTop(gone: boolean): void {
    const h = this.items;
    const last = h.pop()!;
    if (gone) {
      if (h.length === 0) return;
      h[0] = last;
    } else if (h.length === 0) {
      h.push(last);
      return;
    } else {
      h.push(last);
    }
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && before(h[l], h[m])) m = l;
      if (r < h.length && before(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}

/**
 * Reads a log section in time order. Holds the block directory (32 bytes a
 * block of up to 64 KiB) in memory; each step reads the blocks it merges.
 *
 * @example
 * ```ts ignore
 * const logs = new LogScanner(fd, section);
 * const page = logs.scan({ text: "timeout" }, "", 100, 0, meta.duration);
 * ```
 */
export class LogScanner {
  private offsets: Float64Array;
  private last: Float64Array;
  /** Blocks by first time, and those first times. */
  private byFirst: Uint32Array;
  private firstSorted: Float64Array;

  /** Reads the directory of the section `s` of the index `fd`. */
  constructor(private fd: number, private s: LogSection) {
    const n = s.blocks;
    const raw = readAt(fd, s.blocksOffset, n * LOG_BLOCK_ENTRY);
    const dir = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    this.offsets = new Float64Array(n);
    this.last = new Float64Array(n);
    const first = new Float64Array(n);
    for (let b = 0; b < n; b++) {
      this.offsets[b] = dir[b * 4];
      first[b] = dir[b * 4 + 1];
      this.last[b] = dir[b * 4 + 2];
    }
    this.byFirst = new Uint32Array(n).map((_, i) => i).sort((a, b) => first[a] - first[b] || a - b);
    this.firstSorted = new Float64Array(n).map((_, i) => first[this.byFirst[i]]);
  }

  /** The cursor `from` ("" or "0": the start); throws a `RangeError` for one no answer gave. */
  private cursorOf(from: string): Cursor {
    if (from === "" || from === "0") return { time: -Infinity, block: -1, log: -1 };
    const [time, block, log] = from.split(",").map(Number);
    if (
      from.split(",").length !== 3 || !Number.isFinite(time) || !Number.isInteger(block) ||
      !Number.isInteger(log) || block < -1 || block >= this.s.blocks || log < -1
    ) {
      throw new RangeError(`not a log cursor: ${from} (send back an answer's next)`);
    }
    return { time, block, log };
  }

  /** Reads block `b` and places it after the cursor `c`; undefined if nothing is left in it. */
  private load(b: number, c: Cursor): Run | undefined {
    const end = b + 1 < this.s.blocks ? this.offsets[b + 1] : this.s.length;
    const buf = readAt(this.fd, this.s.offset + this.offsets[b], end - this.offsets[b]);
    const r: Run = { block: b, buf, rec: new LogRecordReader(buf), k: 0, time: 0 };
    if (!r.rec.next()) return undefined;
    r.time = r.rec.time;
    // Logs up to the cursor's key are done (a block's logs are in time order).
    while (
      r.time < c.time || (r.time === c.time && (b < c.block || (b === c.block && r.k <= c.log)))
    ) {
      if (!this.advance(r)) return undefined;
    }
    return r;
  }

  /** Moves `r` to its next log; false at the block's end. */
  private advance(r: Run): boolean {
    if (!r.rec.next()) return false;
    r.k++;
    r.time = r.rec.time;
    return true;
  }

  /**
   * One step of the logs matching `filter` after the cursor `from`, in time
   * order: until `limit` are found, the span's end, or the step's budget (a
   * few tens of MiB or ms, or `o.stepBytes` if less). Continue from the
   * answer's `next` until `done`. One function: the merge loop runs per log
   * and shares the filter's state with the block loading.
   */
  scan(filter: LogFilter, from: string, limit: number, o: LogScanOptions = {}): LogPage {
    const span = o.span;
    const stepBytes = Math.min(STEP_BYTES, Math.max(1, o.stepBytes ?? STEP_BYTES));
    const minBytes = Math.min(stepBytes, STEP_MIN_BYTES);
    /** Whether the step has used its budget. */
    const spent = () =>
      bytes >= stepBytes || (bytes >= minBytes && performance.now() - t0 > STEP_MS);
    const spanStart = span?.start ?? -Infinity, spanEnd = span?.end ?? Infinity;
    const names = this.s.names;
    const enc = new TextEncoder(), utf8 = new TextDecoder();
    const needle = filter.text ? lowerAscii(enc.encode(filter.text)) : undefined;
    const wantCat = filter.category === undefined ? -1 : names.indexOf(filter.category);
    // Categories whose name holds the text match every log of theirs.
    const catHas = names.map((n) =>
      !!needle && containsAt(lowerAscii(enc.encode(n)), 0, n.length * 4, needle)
    );
    // A block whose bytes lack the text holds no match, unless a category's name has it.
    const needsText = needle !== undefined &&
      (wantCat >= 0 ? !catHas[wantCat] : !catHas.includes(true));
    const noMatch = filter.category !== undefined && wantCat < 0;
    let c = this.cursorOf(from);
    if (c.time < spanStart) c = { time: spanStart, block: -1, log: -1 };
    const rows: LogRow[] = [];
    const heap = new RunHeap();
    const t0 = performance.now();
    let bytes = 0;
    const add = (b: number) => {
      const r = this.load(b, c);
      if (!r) return;
      bytes += r.buf.length;
      if (needsText && !blockHas(r.buf, r.rec.at, needle!)) return;
      heap.push(r);
    };
    // The blocks begun by the cursor's time that reach it, then the rest as the merge gets to them.
    const n = this.s.blocks;
    let pi = firstAbove(this.firstSorted, c.time);
    for (let i = 0; i < pi; i++) {
      const b = this.byFirst[i];
      if (this.last[b] >= c.time) add(b);
    }
    let stopped = false, checked = 0;
    for (;;) {
      const h = heap.items;
      while (pi < n && (h.length === 0 || this.firstSorted[pi] <= h[0].time)) {
        if (this.firstSorted[pi] > spanEnd) {
          pi = n;
          break;
        }
        if (h.length === 0 && spent()) {
          // Nothing open: every log before the next block's first is done.
          c = { time: this.firstSorted[pi], block: -1, log: -1 };
          stopped = true;
          break;
        }
        add(this.byFirst[pi++]);
      }
      if (stopped || h.length === 0) break;
      const r = h[0];
      if (r.time > spanEnd) {
        heap.items.length = 0;
        pi = n;
        break;
      }
      const rec = r.rec;
      const task = rec.task, cat = rec.category, m0 = rec.m0, m1 = rec.m1;
      if (
        !noMatch && (wantCat < 0 || cat === wantCat) &&
        (filter.task === undefined || task === filter.task) &&
        (!needle || catHas[cat] || containsAt(r.buf, m0, m1, needle))
      ) {
        rows.push({
          time: r.time,
          task,
          thread: rec.thread,
          category: names[cat] ?? "",
          message: utf8.decode(r.buf.subarray(m0, m1)),
        });
      }
      c = { time: r.time, block: r.block, log: r.k };
      heap.fixTop(!this.advance(r));
      if (rows.length >= limit) break;
      if ((++checked & 63) === 0 && spent()) {
        break;
      }
    }
    const done = !stopped && heap.items.length === 0 && pi >= n;
    const p0 = span?.start ?? 0, p1 = span?.end ?? this.s.duration;
    const progress = done ? 1 : p1 > p0 ? Math.min(1, Math.max(0, (c.time - p0) / (p1 - p0))) : 0;
    return { rows, next: `${c.time},${c.block},${c.log}`, done, progress };
  }
}

/**
 * First index in [from, to) of `a`, which never decreases, whose value is
 * greater than `x` (`to` if none).
 *
 * @example
 * ```ts
 * import { firstAbove } from "./log_scan.ts";
 * firstAbove(new Float64Array([1, 2, 2, 3]), 2); // 3
 * ```
 */
export function firstAbove(a: Float64Array, x: number, from = 0, to = a.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
