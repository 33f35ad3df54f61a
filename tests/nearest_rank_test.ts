import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { percentileItem, selectByRank } from "../lib/read/nearest_rank.ts";
import { RankCandidates } from "../lib/read/rank_candidates.ts";
import { TraceCrafter } from "./craft_trace.ts";
import { runCli } from "./cli_run.ts";
import { tempDir } from "./helpers.ts";

/** A scan over `values` (ids 0, 1, …) that counts its passes. */
function scanOf(values: number[]) {
  const scan = (visit: (v: number, id: number) => void) => {
    scan.passes++;
    for (let i = 0; i < values.length; i++) visit(values[i], i);
    return Promise.resolve();
  };
  scan.passes = 0;
  return scan;
}

/** The expected item: stable sort of the values in [lo, hi), rank - 1. */
function expected(values: number[], rank: number, lo: number, hi: number) {
  const inRange = values.map((v, id) => ({ v, id })).filter(({ v }) => v >= lo && v < hi);
  const sorted = [...inRange].sort((a, b) => a.v - b.v);
  const value = sorted[rank - 1].v;
  return { value, id: inRange.find(({ v }) => v === value)!.id };
}

test("selectByRank picks the nearest-rank item, ties in scan order, at every rank", async () => {
  const values = Array.from({ length: 500 }, (_, i) => 1000 + ((i * 7919) % 613));
  values.push(...values.slice(0, 40));
  for (const rank of [1, 2, 250, 499, 540]) {
    const scan = scanOf(values);
    const got = await selectByRank(scan, rank, 1000, 2000, values.length);
    assert.deepEqual(got, expected(values, rank, 1000, 2000));
    assert.equal(scan.passes, 1);
  }
});

test("selectByRank narrows a range holding more than collectMax values with extra passes", async () => {
  const values = Array.from({ length: 5000 }, (_, i) => 10_000 + ((i * 104729) % 90_000));
  for (const rank of [1, 777, 4950, 5000]) {
    const scan = scanOf(values);
    const got = await selectByRank(scan, rank, 10_000, 100_000, values.length, {
      collectMax: 64,
      subRanges: 16,
    });
    assert.deepEqual(got, expected(values, rank, 10_000, 100_000));
    assert.ok(scan.passes > 1, `${scan.passes} passes`);
  }
});

test("selectByRank finishes a one-nanosecond range with many equal or fractional values", async () => {
  const values = [...Array(300).fill(42), ...Array(200).fill(42.5), 41, 43];
  const scan = scanOf(values);
  const got = await selectByRank(scan, 350, 0, 100, values.length, { collectMax: 10 });
  assert.deepEqual(got, { value: 42.5, id: 300 });
});

test("selectByRank returns undefined for a rank outside the range's count", async () => {
  assert.equal(await selectByRank(scanOf([1, 2, 3]), 4, 0, 10, 3), undefined);
  assert.equal(await selectByRank(scanOf([1, 2, 3]), 0, 0, 10, 3), undefined);
});

// `why --p99`'s choice in one pass (issue 14): the histogram pass keeps the
// slowest values (lib/read/rank_candidates.ts) and picks the nearest-rank one
// among them, falling back to the bucket search above when its bound dropped
// the rank; the item is the one the three-pass search picked.

/** The nearest-rank item by sorting everything: the value, and its first id in scan order. */
function expectedAt(values: number[], percentile: number) {
  const rank = Math.max(1, Math.ceil((percentile / 100) * values.length));
  const value = [...values].sort((a, b) => a - b)[rank - 1];
  return { value, id: values.indexOf(value) };
}

/** Deterministic pseudo-random durations with many ties (whole 100 ns steps). */
function durations(n: number, seed: number, spread = 2000): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return 100 * Math.floor(50 + spread * (x / 2147483648) ** 4);
  });
}

test("percentileItem finds the nearest-rank item in one pass, ties in scan order", async () => {
  for (const [n, seed] of [[1, 1], [2, 2], [99, 3], [100, 4], [101, 5], [5000, 6], [20_000, 7]]) {
    const values = durations(n, seed);
    for (const p of [50, 90, 99, 100]) {
      const scan = scanOf(values);
      const got = await percentileItem(scan, p);
      assert.deepEqual(got.item, expectedAt(values, p), `n ${n}, p${p}`);
      assert.equal(got.count, n);
      assert.equal(scan.passes, 1, `n ${n}, p${p}`);
      assert.equal(got.passes, 1);
    }
  }
});

test("percentileItem keeps the top within its bound as the floor rises (increasing, decreasing, random)", async () => {
  const n = 30_000;
  const cases: [string, number[]][] = [
    ["increasing", Array.from({ length: n }, (_, i) => 1000 + i)],
    ["decreasing", Array.from({ length: n }, (_, i) => 1000 + n - i)],
    ["random", durations(n, 11)],
  ];
  for (const [name, values] of cases) {
    // The top 1 % (300 values) fits in 1024 even after the floor rises to their middle.
    const scan = scanOf(values);
    const got = await percentileItem(scan, 99, { collectMax: 1024 });
    assert.deepEqual(got.item, expectedAt(values, 99), name);
    assert.equal(scan.passes, 1, name);
  }
});

test("percentileItem agrees with a sort at every percentile, bound and spread of ties", async () => {
  for (const spread of [3, 40, 2000, 1e6]) {
    for (const max of [16, 100, 1 << 20]) {
      const values = durations(3000, spread + max, spread);
      for (const p of [0.1, 25, 50, 75, 90, 99, 99.9, 100]) {
        const got = await percentileItem(scanOf(values), p, { collectMax: max, subRanges: 8 });
        assert.deepEqual(got.item, expectedAt(values, p), `spread ${spread}, max ${max}, p${p}`);
      }
    }
  }
});

test("percentileItem holds about a quarter of the values at most, and still one pass when they fall", async () => {
  const n = 400_000;
  for (const values of [durations(n, 3), Array.from({ length: n }, (_, i) => 5e6 - 10 * i)]) {
    const scan = scanOf(values);
    const got = await percentileItem(scan, 99);
    assert.deepEqual(got.item, expectedAt(values, 99));
    assert.equal(scan.passes, 1);
  }
});

test("percentileItem falls back to more passes when its bound dropped the rank", async () => {
  // Decreasing values: the first 64 fill the bound, the floor rises to their
  // middle, and every later (smaller) value is dropped; the rank is far below.
  const values = Array.from({ length: 5000 }, (_, i) => 100_000 - 7 * i);
  for (const p of [50, 99]) {
    const scan = scanOf(values);
    const got = await percentileItem(scan, p, { collectMax: 64, subRanges: 16 });
    assert.deepEqual(got.item, expectedAt(values, p), `p${p}`);
    assert.ok(scan.passes > 1, `${scan.passes} passes`);
    assert.equal(got.passes, scan.passes);
  }
});

test("percentileItem's fallback finds ranks among fractional, negative and huge values", async () => {
  const values = durations(4000, 5, 1e6).map((v, i) =>
    i % 7 === 0 ? v / 1000 : i % 11 === 0 ? -v : i % 13 === 0 ? v * 1e4 : v
  );
  for (const p of [1, 10, 30, 50, 90, 99, 100]) {
    const got = await percentileItem(scanOf(values), p, { collectMax: 50, subRanges: 16 });
    assert.deepEqual(got.item, expectedAt(values, p), `p${p}`);
  }
});

test("percentileItem falls back when one value fills the bound", async () => {
  // 300 equal values cannot be held in 100: the set stops and says so.
  const values = [...Array(300).fill(4200), ...Array(50).fill(4300), ...Array(50).fill(100)];
  const scan = scanOf(values);
  const got = await percentileItem(scan, 99, { collectMax: 100 });
  assert.deepEqual(got.item, expectedAt(values, 99));
  assert.ok(scan.passes > 1);
  const held = new RankCandidates({ max: 100 });
  values.forEach((v, i) => held.add(v, i));
  assert.equal(held.at(400), undefined);
});

test("percentileItem on no values, and RankCandidates out of range", async () => {
  assert.deepEqual(await percentileItem(scanOf([]), 99), { count: 0, item: undefined, passes: 1 });
  const c = new RankCandidates({ max: 4 });
  [5, 3, 9, 3, 7, 8, 1].forEach((v, i) => c.add(v, 100 + i));
  assert.deepEqual(c.at(7), { value: 9, id: 102 });
  assert.deepEqual(c.at(5), { value: 7, id: 104 });
  assert.equal(c.at(1), undefined);
  assert.equal(c.at(0), undefined);
  assert.equal(c.at(8), undefined);
});

test("why --p99 tells the story of the nearest-rank task, ties going to the first ended", async () => {
  // 3000 tasks on two threads, ending out of id order, with tied durations.
  const w = new TraceCrafter();
  const tasks: { id: number; start: number; end: number }[] = [];
  const lengths = durations(3000, 42, 40);
  for (let i = 0; i < 3000; i++) {
    const start = 1000 * i;
    tasks.push({ id: 1 + ((i * 37) % 3000), start, end: start + lengths[i] });
  }
  const events = tasks.flatMap((t) => [
    { at: t.start, f: (c: TraceCrafter) => c.taskBegin(t.start, t.id, 0, "req") },
    { at: t.end, f: (c: TraceCrafter) => c.taskEnd(t.end, t.id) },
  ]).sort((a, b) => a.at - b.at);
  for (const e of events) e.f(w.on(e.at % 2000 < 1000 ? 1 : 2));
  const path = join(tempDir(), "p99.trace");
  writeFileSync(path, w.bytes());
  // The expected task: durations in the order the tasks ended.
  const ended = [...tasks].sort((a, b) => a.end - b.end);
  const want = expectedAt(ended.map((t) => t.end - t.start), 99);
  const tied = ended.filter((t) => t.end - t.start === want.value);
  assert.ok(tied.length > 5 && tied.some((t) => t.id < ended[want.id].id), "a tie to break");
  const r = await runCli(["why", path, "--p99", "--type", "req"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^task ${ended[want.id].id} req: `));
});
