import { test } from "node:test";
import assert from "node:assert/strict";
import { selectByRank } from "../lib/read/nearest_rank.ts";

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
