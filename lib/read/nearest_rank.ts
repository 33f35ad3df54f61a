/**
 * The item at a given rank among values too many to hold. A percentile's
 * item is found in one pass that counts the values and keeps the largest of
 * them (lib/read/rank_candidates.ts); when the rank fell below those kept,
 * by reading them again: each pass narrows the range the rank falls in,
 * until the values left in it are few enough to sort.
 *
 * @module
 */

import { RankCandidates } from "./rank_candidates.ts";

/** Visits every (value, id) pair of a re-readable source, in a stable order. */
export type RankScan = (visit: (value: number, id: number) => void) => Promise<void>;

/** Tuning of {@linkcode selectByRank}. */
export interface SelectByRankOptions {
  /** At most this many values are held and sorted (default 1 048 576, 16 MiB). */
  collectMax?: number;
  /** Sub-ranges counted per narrowing pass (default 4096). */
  subRanges?: number;
}

/** What {@linkcode selectByRank} found. */
export interface RankedItem {
  /** The value at the rank. */
  value: number;
  /** The id of the first item in scan order with that value. */
  id: number;
}

/**
 * Finds the item at 1-based `rank` (ascending by value, equal values in scan
 * order) among the `count` values of `scan` that lie in `[lo, hi)`, holding at
 * most `collectMax` of them: while more lie in the range, one pass counts them
 * in `subRanges` integer-width sub-ranges and keeps the one the rank falls in.
 * A range narrowed to one nanosecond or less is finished with its distinct
 * values. Returns `undefined` if the range holds fewer than `rank` values.
 *
 * @example
 * ```ts
 * import { selectByRank } from "./nearest_rank.ts";
 * const values = [5, 3, 9, 3, 7];
 * const scan = (visit: (v: number, id: number) => void) => {
 *   values.forEach((v, i) => visit(v, 100 + i));
 *   return Promise.resolve();
 * };
 * const item = await selectByRank(scan, 2, 0, 10, values.length, { collectMax: 2 });
 * // item: { value: 3, id: 103 } (the second 3, rank 2)
 * ```
 */
export async function selectByRank(
  scan: RankScan,
  rank: number,
  lo: number,
  hi: number,
  count: number,
  options: SelectByRankOptions = {},
): Promise<RankedItem | undefined> {
  const max = options.collectMax ?? 1 << 20;
  const subs = options.subRanges ?? 4096;
  if (!(rank >= 1 && rank <= count)) return undefined;
  while (count > max && hi - lo > 1) {
    const width = Math.ceil((hi - lo) / subs);
    const base = lo, top = hi;
    const counts = new Float64Array(subs);
    await scan((v) => {
      if (v >= base && v < top) counts[subRange(v, base, width, subs)]++;
    });
    let s = 0;
    while (s < subs - 1 && counts[s] < rank) rank -= counts[s++];
    lo = base + s * width;
    hi = Math.min(top, lo + width);
    count = counts[s];
  }
  return count > max
    ? await distinctAt(scan, rank, lo, hi)
    : await sortedAt(scan, rank, lo, hi, count);
}

/**
 * percentileItem's sub-ranges, ascending: one per integer below 8, then 8
 * per power of two (each 1/8 of it wide, finer than the latency histogram's
 * fifth of a decade) up to 2^31, then one for everything above. Finding a
 * value's is a few integer operations, not a logarithm.
 */
const LAST_RANGE = 8 + 28 * 8;

/** The sub-range of `v` (0 holds everything under 1, and NaN). */
function rangeOf(v: number): number {
  if (!(v >= 1)) return 0;
  if (v >= 2147483648) return LAST_RANGE;
  const i = v | 0;
  if (i < 8) return i;
  const e = 31 - Math.clz32(i);
  return 8 + (e - 3) * 8 + ((i >>> (e - 3)) & 7);
}

/** The values of sub-range `r`: [lo, hi). */
function rangeBounds(r: number): [number, number] {
  // Range 0 also holds a malformed trace's negative durations.
  if (r === 0) return [-Number.MAX_SAFE_INTEGER, 1];
  if (r < 8) return [r, r + 1];
  // Durations are at most 2^56 ns (the format's longest varint).
  if (r === LAST_RANGE) return [2147483648, 2 ** 64];
  const step = 2 ** Math.floor((r - 8) / 8), m = (r - 8) % 8;
  return [(8 + m) * step, (9 + m) * step];
}

/** What {@linkcode percentileItem} found. */
export interface PercentileItem {
  /** Values scanned. */
  count: number;
  /** The item at the percentile's nearest rank; undefined if there were no values. */
  item: RankedItem | undefined;
  /** Passes over the values it took: 1 unless the largest values kept did not reach the rank. */
  passes: number;
}

/**
 * Finds the item at the `percentile`'s nearest rank (`max(1, ceil(p/100 ·
 * n))`, ascending; equal values: the first in scan order) among the values
 * of `scan`. One pass counts them per sub-range (8 per power of two) and
 * keeps the largest (lib/read/rank_candidates.ts); if the rank fell below
 * those (values falling through the scan, over about 50 × `collectMax` of
 * them, or a run of equal values filling the bound), the sub-range holding
 * it is searched with {@linkcode selectByRank}: one more pass, or more for
 * a sub-range of over `collectMax` values. The item is undefined when there
 * are no values, or if the scan's values changed between passes.
 *
 * @example
 * ```ts
 * import { percentileItem } from "./nearest_rank.ts";
 * const values = [5, 3, 9, 3, 7];
 * const scan = (visit: (v: number, id: number) => void) => {
 *   values.forEach((v, i) => visit(v, 100 + i));
 *   return Promise.resolve();
 * };
 * const { item } = await percentileItem(scan, 50);
 * // item: { value: 5, id: 100 } (rank 3 of 5)
 * ```
 */
export async function percentileItem(
  scan: RankScan,
  percentile: number,
  options: SelectByRankOptions = {},
): Promise<PercentileItem> {
  const top = new RankCandidates({ max: options.collectMax });
  const counts = new Float64Array(LAST_RANGE + 1);
  await scan((v, id) => {
    counts[rangeOf(v)]++;
    top.add(v, id);
  });
  const n = top.count;
  if (n === 0) return { count: 0, item: undefined, passes: 1 };
  const rank = Math.max(1, Math.ceil((percentile / 100) * n));
  const held = top.at(rank);
  if (held !== undefined) return { count: n, item: held, passes: 1 };
  // The sub-range holding the rank, from the counts.
  let below = 0, target = 0;
  while (below + counts[target] < rank) below += counts[target++];
  let passes = 1;
  const counted: RankScan = (visit) => (passes++, scan(visit));
  const [lo, hi] = rangeBounds(target);
  const item = await selectByRank(counted, rank - below, lo, hi, counts[target], options);
  return { count: n, item, passes };
}

/** Which of `subs` sub-ranges of `width` from `base` holds `v`, exactly (no rounding). */
function subRange(v: number, base: number, width: number, subs: number): number {
  let s = Math.floor((v - base) / width);
  if (v < base + s * width) s--;
  else if (v >= base + (s + 1) * width) s++;
  return Math.min(subs - 1, Math.max(0, s));
}

/** Holds the range's values (at most `collectMax`) and picks the rank's. */
async function sortedAt(
  scan: RankScan,
  rank: number,
  lo: number,
  hi: number,
  count: number,
): Promise<RankedItem | undefined> {
  const values = new Float64Array(count), ids = new Float64Array(count);
  let n = 0;
  await scan((v, id) => {
    if (v >= lo && v < hi && n < count) {
      values[n] = v;
      ids[n++] = id;
    }
  });
  const value = values.slice(0, n).sort()[rank - 1];
  if (value === undefined) return undefined;
  for (let i = 0; i < n; i++) if (values[i] === value) return { value, id: ids[i] };
  return undefined;
}

/** A range of a nanosecond or less, with more values than may be held: its distinct values. */
async function distinctAt(
  scan: RankScan,
  rank: number,
  lo: number,
  hi: number,
): Promise<RankedItem | undefined> {
  const seen = new Map<number, { count: number; id: number }>();
  await scan((v, id) => {
    if (!(v >= lo && v < hi)) return;
    const s = seen.get(v);
    if (s) s.count++;
    else seen.set(v, { count: 1, id });
  });
  for (const value of [...seen.keys()].sort((a, b) => a - b)) {
    const s = seen.get(value)!;
    if (rank <= s.count) return { value, id: s.id };
    rank -= s.count;
  }
  return undefined;
}
