import { test } from "node:test";
import assert from "node:assert/strict";
import { LogBuckets } from "../lib/read/log_buckets.ts";

/** The two formulas the streaming commands use: the latency sketch's and diff's. */
const GAMMA = 1.005 / 0.995;
const formulas: [string, (ns: number) => number][] = [
  ["sketch", (ns) => ns >= 1 ? Math.ceil(Math.log(ns) / Math.log(GAMMA)) + 1 : 0],
  ["fine", (ns) => ns >= 1 ? Math.floor(100 * Math.log10(ns)) : -1],
];

for (const [name, formula] of formulas) {
  test(`LogBuckets equals the ${name} formula: integers, random durations, boundaries, edges`, () => {
    const t = new LogBuckets(formula);
    let mismatches = 0;
    const check = (ns: number) => {
      if (!Object.is(t.of(ns), formula(ns)) && mismatches++ < 5) {
        assert.fail(`${ns}: ${t.of(ns)}, formula ${formula(ns)}`);
      }
    };
    for (let ns = 0; ns < 300_000; ns++) check(ns);
    let seed = 7;
    const rand = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let k = 0; k < 300_000; k++) {
      check(Math.floor(Math.exp(rand() * 34)));
      check(Math.exp(rand() * 34));
    }
    // Around each bucket boundary of the formula.
    for (let ns = 1; ns < 2 ** 47; ns *= 1.0007) {
      for (const d of [-1, 0, 1]) check(Math.floor(ns) + d);
    }
    for (const ns of [-1, 0, 0.5, 2 ** 48 - 1, 2 ** 48, 2 ** 60, Infinity, NaN]) check(ns);
    assert.equal(mismatches, 0);
  });
}
