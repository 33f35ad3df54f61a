/**
 * The bucket of a duration in a log-scale histogram without a logarithm per
 * duration: the streaming commands bucket millions of durations, and
 * `Math.log` is most of the cost of a bucketed add (in JavaScriptCore
 * especially). The result equals the histogram's own formula, which the
 * table consults once per cell.
 *
 * @module
 */

/** Mantissa bits that pick a cell within a power of two. */
const CELL_BITS = 12;
/** Cells cover [1, 2^48) ns: about 78 hours. */
const OCTAVES = 48;
const CELLS = OCTAVES << CELL_BITS;
const LIMIT = 2 ** OCTAVES;
const BITS_F64 = new Float64Array(1);
const BITS_U32 = new Uint32Array(BITS_F64.buffer);
/** Which 32-bit half of a double holds its sign and exponent. */
const HIGH = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * Maps a duration (ns) to its bucket as `formula` does, for a formula that is
 * nondecreasing and whose buckets are wider than 0.05 % (log-scale
 * histograms of 1 % buckets or coarser): a double's exponent and the top 12
 * bits of its mantissa cut [1, 2^48) into cells 2^-12 wide, so a cell holds
 * at most one bucket boundary. Each cell, when first used, finds its first
 * bucket and that boundary with `formula` itself (by bisection); then a
 * duration costs a table read and a comparison. Values outside the cells
 * (below 1, beyond 2^48, NaN) and cells with more than one boundary use
 * `formula`. Memory: 12 bytes per cell, 2.3 MB, made on first use.
 *
 * @example
 * ```ts
 * import { LogBuckets } from "./log_buckets.ts";
 * const decade = new LogBuckets((ns) => ns >= 1 ? Math.floor(100 * Math.log10(ns)) : -1);
 * decade.of(1_000_000); // 600
 * ```
 */
export class LogBuckets {
  private formula: (ns: number) => number;
  /** Per cell: its first bucket; `first[c] === -2^31`: not found yet. */
  private first: Int32Array | undefined;
  /** Per cell: the first value in the next bucket (Infinity: none; NaN: use the formula). */
  private split: Float64Array | undefined;

  /** Makes a table for `formula`, which it reproduces exactly. */
  constructor(formula: (ns: number) => number) {
    this.formula = formula;
  }

  /** The bucket of `ns`: `formula(ns)`. */
  of(ns: number): number {
    if (!(ns >= 1 && ns < LIMIT)) return this.formula(ns);
    BITS_F64[0] = ns;
    const cell = (BITS_U32[HIGH] >>> (20 - CELL_BITS)) - (1023 << CELL_BITS);
    const first = this.first ??= new Int32Array(CELLS).fill(UNKNOWN);
    let b = first[cell];
    if (b === UNKNOWN) b = this.fill(cell);
    const split = this.split![cell];
    if (split !== split) return this.formula(ns);
    return ns >= split ? b + 1 : b;
  }

  /** Finds cell `cell`'s first bucket and its boundary; returns the bucket. */
  private fill(cell: number): number {
    const split = this.split ??= new Float64Array(CELLS);
    const f = this.formula;
    const scale = 2 ** (cell >>> CELL_BITS);
    const m = cell & ((1 << CELL_BITS) - 1);
    const from = scale * (1 + m / (1 << CELL_BITS));
    // The cell's last value: the double just below the next cell's first.
    BITS_F64[0] = scale * (1 + (m + 1) / (1 << CELL_BITS));
    if (BITS_U32[1 - HIGH] === 0) {
      BITS_U32[1 - HIGH] = 0xffffffff;
      BITS_U32[HIGH]--;
    } else BITS_U32[1 - HIGH]--;
    const to = BITS_F64[0];
    const b = f(from), last = f(to);
    if (last === b) split[cell] = Infinity;
    else if (last !== b + 1) split[cell] = NaN;
    else {
      // f(lo) is b and f(hi) is b + 1: close in on the boundary.
      let lo = from, hi = to;
      for (;;) {
        const mid = lo + (hi - lo) / 2;
        if (mid <= lo || mid >= hi) break;
        if (f(mid) === b) lo = mid;
        else hi = mid;
      }
      split[cell] = hi;
    }
    this.first![cell] = b;
    return b;
  }
}

/** Marks a cell not looked at yet. */
const UNKNOWN = -2147483648;
