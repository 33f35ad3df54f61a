/**
 * The index's external sort (lib/viewer/serve/level_sorter.ts): whatever the
 * memory budget (all in memory, a few runs, a run per record) and the order
 * records arrive in (nearly sorted, as the index pass gives them, or
 * shuffled), each level comes out complete, sorted by its key with equal
 * keys in arrival order, with every 128th key as its sample.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { seededRandom, tempDir } from "./helpers.ts";
import { FileAppender, LevelSorter, readAt } from "../lib/viewer/serve/level_sorter.ts";
import { SAMPLE_EVERY } from "../lib/viewer/serve/index_layout.ts";

const dir = tempDir();

const rng = seededRandom;

/** Sorts `n` records of `size` bytes (key, level, arrival number) with `budget`; checks the output. */
function check(size: number, n: number, budget: number, shuffled: boolean, seed: number) {
  const r = rng(seed);
  const levels = [0, 3, 9, 20, 47];
  const sorter = new LevelSorter(size, join(dir, `runs-${seed}`), budget);
  const want: number[][][] = levels.map(() => []);
  for (let i = 0; i < n; i++) {
    const li = Math.floor(r() * levels.length);
    // Nearly in order (jitter), or anywhere; few distinct keys, so that ties are common.
    const key = shuffled ? Math.floor(r() * 50) : Math.floor(i / 4 + r() * 20);
    const o = sorter.slot(levels[li]);
    sorter.f64[o] = key;
    sorter.u32[2 * o + 2] = i;
    sorter.u32[2 * o + size / 4 - 1] = 0xffffffff - i; // the record's last word travels with it
    want[li].push([key, i]);
  }
  const path = join(dir, `out-${seed}`);
  const fd = openSync(path, "w+");
  const out = new FileAppender(fd);
  const places = sorter.writeTo(out);
  out.flush();
  assert.deepEqual(
    places.map((p) => p.level),
    levels.filter((_, li) => want[li].length > 0),
  );
  for (const p of places) {
    const expect = want[levels.indexOf(p.level)].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.equal(p.count, expect.length);
    const bytes = readAt(fd, p.offset, p.count * size);
    const f64 = new Float64Array(bytes.buffer);
    const u32 = new Uint32Array(bytes.buffer);
    const got: number[][] = [];
    for (let i = 0; i < p.count; i++) {
      const w = i * size / 4;
      assert.equal(u32[w + size / 4 - 1], 0xffffffff - u32[w + 2]);
      got.push([f64[w / 2], u32[w + 2]]);
    }
    assert.deepEqual(got, expect);
    const sample = new Float64Array(
      readAt(fd, p.sampleOffset, Math.ceil(p.count / SAMPLE_EVERY) * 8).buffer,
    );
    assert.deepEqual([...sample], expect.filter((_, i) => i % SAMPLE_EVERY === 0).map((e) => e[0]));
  }
  closeSync(fd);
}

describe("the index's external sort", () => {
  for (const shuffled of [false, true]) {
    const order = shuffled ? "shuffled" : "nearly sorted";
    test(`all in memory, ${order}`, () => check(32, 5000, 32 << 20, shuffled, 1));
    test(`a few runs per level, ${order}`, () => check(32, 20000, 64 << 10, shuffled, 2));
    test(`blocks of a few records, 48-byte records, ${order}`, () =>
      check(48, 3000, 4096, shuffled, 3));
    test(`one record of memory, ${order}`, () => check(32, 700, 32, shuffled, 4));
  }
});
