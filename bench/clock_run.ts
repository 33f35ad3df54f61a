/**
 * The yardstick of the hot-path benchmarks (`hotpath_probe.ts`,
 * `hotpath_ab.ts`): a run of `performance.now()` reads, whose sum is kept so
 * that the JIT cannot drop them.
 *
 * @module
 */

let sink = 0;

/**
 * Reads the clock `n` times in a loop; returns the ms the loop took.
 *
 * @example
 * ```ts
 * import { clockRun } from "./clock_run.ts";
 * const nsPerRead = clockRun(2048) * 1e6 / 2048;
 * ```
 */
export function clockRun(n: number): number {
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) acc += performance.now();
  const t = performance.now() - t0;
  sink += acc;
  return t;
}

/** The sum of every reading, for a caller that wants to print it (never needed). */
export function clockSink(): number {
  return sink;
}
