import { test } from "node:test";
import assert from "node:assert/strict";
import { IntMap, threadKey } from "../lib/read/int_map.ts";

test("IntMap agrees with Map under random churn, with keys beyond 2^32", () => {
  const m = new IntMap<number>(4);
  const ref = new Map<number, number>();
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let step = 0; step < 200_000; step++) {
    const key = rand(3) * 4294967296 + rand(2000) - 1000;
    switch (rand(4)) {
      case 0:
      case 1:
        m.set(key, step);
        ref.set(key, step);
        break;
      case 2:
        assert.equal(m.delete(key), ref.get(key));
        ref.delete(key);
        break;
      default:
        assert.equal(m.get(key), ref.get(key));
        assert.equal(m.has(key), ref.has(key));
    }
    assert.equal(m.size, ref.size);
  }
  assert.deepEqual([...m.values()].sort((a, b) => a - b), [...ref.values()].sort((a, b) => a - b));
  m.clear();
  assert.equal(m.size, 0);
  assert.equal(m.get(0), undefined);
});

test("IntMap takes huge and negative keys, and refuses NaN", () => {
  const m = new IntMap<string>();
  m.set(2 ** 55, "huge");
  m.set(2 ** 55 + 8, "huge too");
  assert.equal(m.get(2 ** 55), "huge");
  assert.equal(m.get(2 ** 55 + 8), "huge too");
  m.set(-703, "negative");
  assert.equal(m.get(-703), "negative");
  assert.equal(m.get(703), undefined);
  assert.throws(() => m.set(NaN, "x"), RangeError);
});

test("threadKey: distinct keys for distinct (thread, region), small ones in the int32 range", () => {
  const seen = new Map<number, string>();
  const ids = [0, 1, 2, 31, 67108863, 67108864, 67108865, 2 ** 32 - 1];
  for (const thread of [0, 1, 2, 31, 32, 33, 1000]) {
    for (const id of ids) {
      const k = threadKey(thread, id);
      assert.equal(seen.get(k), undefined, `${thread}:${id} collides with ${seen.get(k)}`);
      seen.set(k, `${thread}:${id}`);
      if (thread < 32 && id < 67108864) assert.ok(k >= 0 && k < 2 ** 31 && (k | 0) === k);
      else assert.ok(k >= 2 ** 31);
    }
  }
});
