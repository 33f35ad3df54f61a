/**
 * The candidates for a high rank among values streamed once, in bounded
 * memory: every value at or above a floor that rises as more arrive, so that
 * the item at the 99th percentile is found in the pass that counts the
 * values, without reading them again (lib/read/nearest_rank.ts reads them
 * again when the floor had to rise above it).
 *
 * @module
 */

import type { RankedItem } from "./nearest_rank.ts";

/** Options of {@linkcode RankCandidates}. */
export interface RankCandidatesOptions {
  /** At most this many values are held (default 1 048 576: 16 MiB, and 8 MiB more while sorting). */
  max?: number;
}

/**
 * Holds every value added at or above a floor, with its id, in the order
 * added. The floor starts below every value; when a quarter of the values
 * added are held (at least 65 536, at most `max`), it rises to about their
 * middle value (above it if a run of equal values would otherwise free
 * little room), dropping those below. So the largest `k` values are all
 * held as long as `k` is at most the number held: the top 1 % always, unless
 * the values fall as they come (more than 12 times as many values after the
 * last rise, nearly all below it) or there are over about 50 million with
 * the default `max`. When equal values fill it so that the floor cannot
 * rise, it stops holding and says so (`at` returns `undefined`).
 *
 * @example
 * ```ts
 * import { RankCandidates } from "./rank_candidates.ts";
 * const c = new RankCandidates({ max: 4 });
 * [5, 3, 9, 3, 7, 8, 1].forEach((v, i) => c.add(v, 100 + i));
 * c.at(7); // { value: 9, id: 102 }: the largest
 * c.at(1); // undefined: the smallest was not kept
 * ```
 */
export class RankCandidates {
  /** Values added, held or not. */
  count = 0;
  private max: number;
  private values: Float64Array;
  private ids: Float64Array;
  private held = 0;
  private floor = -Infinity;
  private full = false;

  /** Makes an empty set; see {@linkcode RankCandidatesOptions}. */
  constructor(options: RankCandidatesOptions = {}) {
    this.max = Math.max(2, options.max ?? 1 << 20);
    const size = Math.min(this.max, 1024);
    this.values = new Float64Array(size);
    this.ids = new Float64Array(size);
  }

  /** Adds a value and its id. */
  add(value: number, id: number): void {
    this.count++;
    if (!(value >= this.floor) || this.full) return;
    if (this.held === this.values.length && !this.grow()) return;
    this.values[this.held] = value;
    this.ids[this.held++] = id;
  }

  /**
   * The item at 1-based `rank` among every value added (ascending, equal
   * values in the order added: the first of them), or `undefined` if the
   * rank is out of range or fell below the values held.
   */
  at(rank: number): RankedItem | undefined {
    // The k-th largest of all is the k-th largest held if k values are held.
    const k = this.count - rank + 1;
    if (!(rank >= 1 && k >= 1) || this.full || k > this.held) return undefined;
    const value = nth(this.values.slice(0, this.held), this.held - k);
    for (let i = 0; i < this.held; i++) {
      if (this.values[i] === value) return { value, id: this.ids[i] };
    }
    return undefined;
  }

  /**
   * Makes room: a larger array while fewer than a quarter of the values
   * added (at least 65 536, at most `max`) are held, else a higher floor.
   * False if none was made.
   */
  private grow(): boolean {
    // A quarter: the floor then keeps about 12 times the top 1 %, and the
    // largest values stay held unless a trend of falling values multiplies
    // the count by 12 or more after the last rise; memory and the final
    // selection follow the top, not every value.
    if (this.held < Math.min(this.max, Math.max(1 << 16, this.count >> 2))) {
      const size = Math.min(this.max, this.values.length * 2);
      const values = new Float64Array(size), ids = new Float64Array(size);
      values.set(this.values);
      ids.set(this.ids);
      this.values = values;
      this.ids = ids;
      return true;
    }
    const n = this.held;
    const floor = raisedFloor(this.values.slice(0, n));
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (this.values[i] >= floor) {
        this.values[kept] = this.values[i];
        this.ids[kept++] = this.ids[i];
      }
    }
    this.floor = floor;
    this.held = kept;
    if (kept < n) return true;
    // All equal to the floor: holding more would not bound memory.
    this.full = true;
    return false;
  }
}

/**
 * The floor that drops about the smaller half of `values` (reordered): their
 * middle value, or, when values equal to it make up most of the lower half,
 * the next larger value, so that each rise frees a quarter of the room at
 * least unless one value fills the top three quarters.
 */
function raisedFloor(values: Float64Array): number {
  const n = values.length, v = nth(values, n >> 1);
  let below = 0, above = Infinity;
  for (let i = 0; i < n; i++) {
    const x = values[i];
    if (x < v) below++;
    else if (x > v && x < above) above = x;
  }
  if (below >= n >> 2) return v;
  return above < Infinity ? above : v;
}

/**
 * The `i`-th smallest (0-based) of `a`, reordering it: quickselect with a
 * three-way partition (runs of equal values, frequent among durations, cost
 * one step), in linear time on average instead of a sort's n log n.
 */
function nth(a: Float64Array, i: number): number {
  let lo = 0, hi = a.length - 1;
  while (lo < hi) {
    const p = median3(a[lo], a[(lo + hi) >> 1], a[hi]);
    // [lo, lt) < p, [lt, k) == p, (gt, hi] > p.
    let lt = lo, k = lo, gt = hi;
    while (k <= gt) {
      const x = a[k];
      if (x < p) {
        a[k++] = a[lt];
        a[lt++] = x;
      } else if (x > p) {
        a[k] = a[gt];
        a[gt--] = x;
      } else k++;
    }
    if (i < lt) hi = lt - 1;
    else if (i > gt) lo = gt + 1;
    else return p;
  }
  return a[i];
}

function median3(x: number, y: number, z: number): number {
  return x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y);
}
