/**
 * Latency summaries in bounded memory, for the streaming commands: the
 * percentiles of a row are exact while it has at most
 * {@linkcode EXACT_LATENCIES} durations (every trace the golden tests use,
 * and most rows of real traces), and come from a log-scale sketch beyond,
 * with a relative error of at most {@linkcode SKETCH_RELATIVE_ERROR}. Count,
 * min, max, mean, total and Go's histogram are always exact.
 *
 * @module
 */

import {
  bucketOf,
  bucketStart,
  LatencyHistogram,
  type LatencySummary,
  summarizeLatencies,
} from "./analysis.ts";
import { LogBuckets } from "./log_buckets.ts";

/** Durations per row kept exactly; beyond, the row switches to the sketch. */
export const EXACT_LATENCIES = 8192;

/** Largest relative error of a sketched percentile (0.5%). */
export const SKETCH_RELATIVE_ERROR = 0.005;

const GAMMA = (1 + SKETCH_RELATIVE_ERROR) / (1 - SKETCH_RELATIVE_ERROR);
const LOG_GAMMA = Math.log(GAMMA);

/** Sketch buckets made at first: durations up to about 9 hours. */
const SKETCH_BUCKETS = 3328;

/** Go's histogram bucket starts, from 1 ns to over 2 years. */
const HIST_STARTS = Float64Array.from({ length: 80 }, (_, b) => bucketStart(b));

/**
 * Go's histogram bucket of `ns`, whose sketch bucket is `i`: a sketch bucket
 * is far narrower than a histogram bucket, so the bucket of the last duration
 * seen in the same sketch bucket is right or one off, and the exact integer
 * bounds settle it (a second logarithm per duration costs more).
 */
function histBucket(ns: number, i: number): number {
  let b = i < HIST_OF_SKETCH.length ? HIST_OF_SKETCH[i] : -1;
  // A duration beyond the table (over 2 years) gets the formula.
  if (b < 0 || ns >= HIST_STARTS[HIST_STARTS.length - 1]) b = bucketOf(ns);
  else {
    while (ns >= HIST_STARTS[b + 1]) b++;
    while (b > 0 && ns < HIST_STARTS[b]) b--;
  }
  if (i < HIST_OF_SKETCH.length) HIST_OF_SKETCH[i] = b;
  return b;
}

/** The last duration sketched, and its sketch and histogram buckets. */
let lastNs = NaN, lastIndex = 0, lastBucket = 0;

/** Per sketch bucket, the histogram bucket of a duration seen in it (-1: none yet). */
const HIST_OF_SKETCH = new Int16Array(SKETCH_BUCKETS).fill(-1);

/** Sketch buckets: `ceil(log_γ(ns)) + 1`, from a table (see lib/read/log_buckets.ts). */
const SKETCH_INDEX = new LogBuckets((ns) => ns >= 1 ? Math.ceil(Math.log(ns) / LOG_GAMMA) + 1 : 0);

/**
 * Accumulates durations (ns) into a {@linkcode LatencySummary} in memory
 * bounded by {@linkcode EXACT_LATENCIES} values plus one counter per sketch
 * bucket (about 3 100 for durations from 1 ns to 3 hours).
 *
 * @example
 * ```ts
 * import { LatencyAccumulator } from "./latency_accumulator.ts";
 * const a = new LatencyAccumulator();
 * for (const d of [3e6, 1e6, 2e6]) a.add(d);
 * a.summary()?.p50; // 2000000
 * ```
 */
export class LatencyAccumulator {
  /** Durations added. */
  count = 0;
  private exact: number[] | undefined = [];
  /**
   * Sketch counts by bucket `k + 1` (k = -1 holds durations below 1 ns): a
   * typed array, grown as needed (an empty `number[]` written at index 1 500
   * would turn into a slow dictionary).
   */
  private sketch: Float64Array | undefined;
  private hist = new LatencyHistogram();
  private total = 0;
  private min = Infinity;
  private max = -Infinity;

  /** Adds one duration, ns. */
  add(ns: number): void {
    this.count++;
    if (this.exact !== undefined) {
      this.exact.push(ns);
      if (this.exact.length > EXACT_LATENCIES) this.toSketch();
      return;
    }
    this.sketchAdd(ns);
  }

  /** Adds every duration of `other` (which is left as it was). */
  merge(other: LatencyAccumulator): void {
    if (other.exact !== undefined) {
      for (const d of other.exact) this.add(d);
      return;
    }
    if (this.exact !== undefined) this.toSketch();
    const from = other.sketch!;
    if (from.length > this.sketch!.length) this.grow(from.length - 1);
    const to = this.sketch!;
    for (let i = 0; i < from.length; i++) to[i] += from[i];
    this.hist.merge(other.hist);
    this.count += other.count;
    this.total += other.total;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /** The summary; `undefined` when nothing was added. */
  summary(): LatencySummary | undefined {
    if (this.exact !== undefined) return summarizeLatencies(this.exact);
    const sketch = this.sketch!;
    const at = (p: number) => {
      const rank = Math.min(this.count, Math.max(1, Math.ceil((p / 100) * this.count)));
      let seen = 0;
      for (let i = 0; i < sketch.length; i++) {
        seen += sketch[i];
        if (seen >= rank) return this.clamp(i - 1);
      }
      return this.max;
    };
    return {
      count: this.count,
      min: this.min,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      max: this.max,
      mean: Math.round(this.total / this.count),
      total: this.total,
      histogram: this.hist.buckets(),
      relativeError: SKETCH_RELATIVE_ERROR,
    };
  }

  private toSketch(): void {
    const values = this.exact!;
    this.exact = undefined;
    this.sketch = new Float64Array(SKETCH_BUCKETS);
    for (const d of values) this.sketchAdd(d);
  }

  private grow(i: number): void {
    let n = this.sketch!.length * 2;
    while (n <= i) n *= 2;
    const next = new Float64Array(n);
    next.set(this.sketch!);
    this.sketch = next;
  }

  /** The hot path of a long stream: a table read per duration (see lib/read/log_buckets.ts), no allocation. */
  private sketchAdd(ns: number): void {
    // A region's duration goes to two rows in a row (its type's and the
    // split by task type): the buckets of the last duration are kept.
    let i: number, b: number;
    if (ns === lastNs) {
      i = lastIndex;
      b = lastBucket;
    } else {
      i = SKETCH_INDEX.of(ns);
      b = histBucket(ns, i);
      lastNs = ns;
      lastIndex = i;
      lastBucket = b;
    }
    if (i >= this.sketch!.length) this.grow(i);
    this.sketch![i]++;
    this.hist.addToBucket(b, 1);
    this.total += ns;
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
  }

  /** The value a bucket stands for, within the exact min and max. */
  private clamp(k: number): number {
    const v = k < 0 ? 0 : Math.round((2 * Math.pow(GAMMA, k)) / (GAMMA + 1));
    return Math.min(this.max, Math.max(this.min, v));
  }
}
