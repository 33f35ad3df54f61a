/**
 * A hash map from number keys (in practice integers: ids) to values, for the
 * streaming analyses' per-event lookups (open tasks and regions by id): open
 * addressing over a typed array of keys, so that a lookup is a few inlined
 * instructions instead of a call into the engine's `Map`, and a key beyond
 * the small-integer range (`thread * 2^32 + id`) is not boxed per call.
 *
 * @module
 */

/**
 * The key of id `id` of thread `thread` (a region: region ids are unique
 * within their thread), for an {@linkcode IntMap}: in the int32 range, the
 * hash's fast path, for ids below 2^26 on threads below 32 (`id * 32 +
 * thread`), and `thread * 2^32 + id + 2^31` beyond, which never equals a
 * small key for ids and threads at least 0.
 *
 * @example
 * ```ts
 * import { threadKey } from "./int_map.ts";
 * threadKey(1, 7); // 225
 * ```
 */
export function threadKey(thread: number, id: number): number {
  return id >= 0 && id < 67108864 && thread >= 0 && thread < 32
    ? id * 32 + thread
    : thread * 4294967296 + id + 2147483648;
}

/** Marks an empty slot, the one key refused (`k !== k` tests for it). */
const EMPTY = NaN;

/**
 * Number keys to values, compared as `===` does; a `NaN` key throws. Deleting during {@linkcode IntMap.values} is not supported (copy
 * first).
 *
 * @example
 * ```ts
 * import { IntMap } from "./int_map.ts";
 * const m = new IntMap<string>();
 * m.set(2 * 4294967296 + 7, "region 7 of thread 2");
 * m.get(2 * 4294967296 + 7); // "region 7 of thread 2"
 * m.delete(2 * 4294967296 + 7);
 * m.size; // 0
 * ```
 */
export class IntMap<V> {
  /** Entries held. */
  size = 0;
  private keys: Float64Array;
  private vals: (V | undefined)[];
  private mask: number;
  private shift: number;

  /** Makes an empty map with room for about `capacity / 2` entries before it grows. */
  constructor(capacity = 64) {
    let n = 16;
    while (n < capacity) n *= 2;
    this.keys = new Float64Array(n).fill(EMPTY);
    this.vals = new Array(n).fill(undefined);
    this.mask = n - 1;
    this.shift = 32 - Math.log2(n);
  }

  /** The value of `key`, or `undefined`. */
  get(key: number): V | undefined {
    const keys = this.keys;
    let i = this.slot(key);
    for (;;) {
      const k = keys[i];
      if (k === key) return this.vals[i];
      if (k !== k) return undefined;
      i = (i + 1) & this.mask;
    }
  }

  /** Whether `key` is in the map. */
  has(key: number): boolean {
    const keys = this.keys;
    let i = this.slot(key);
    for (;;) {
      const k = keys[i];
      if (k === key) return true;
      if (k !== k) return false;
      i = (i + 1) & this.mask;
    }
  }

  /** Sets `key` to `value`. */
  set(key: number, value: V): void {
    if (key !== key) throw new RangeError("runtrace: IntMap key NaN");
    const keys = this.keys;
    let i = this.slot(key);
    for (;;) {
      const k = keys[i];
      if (k === key) {
        this.vals[i] = value;
        return;
      }
      if (k !== k) break;
      i = (i + 1) & this.mask;
    }
    keys[i] = key;
    this.vals[i] = value;
    if (++this.size * 2 > keys.length) this.grow();
  }

  /** Removes `key`; returns its value, or `undefined` if it was not there. */
  delete(key: number): V | undefined {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.slot(key);
    for (;;) {
      const k = keys[i];
      if (k !== k) return undefined;
      if (k === key) break;
      i = (i + 1) & mask;
    }
    const value = this.vals[i];
    // Backward-shift deletion: no tombstones, so lookups stay short under churn.
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j];
      if (k !== k) break;
      const home = this.slot(k);
      // Move k into the hole unless its home lies cyclically in (hole, j].
      if (hole <= j ? (home <= hole || home > j) : (home <= hole && home > j)) {
        keys[hole] = k;
        this.vals[hole] = this.vals[j];
        hole = j;
      }
    }
    keys[hole] = EMPTY;
    this.vals[hole] = undefined;
    this.size--;
    return value;
  }

  /** Removes every entry. */
  clear(): void {
    this.keys.fill(EMPTY);
    this.vals.fill(undefined);
    this.size = 0;
  }

  /** The values, in no particular order. */
  *values(): IterableIterator<V> {
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] === this.keys[i]) yield this.vals[i]!;
    }
  }

  /**
   * The home slot of `key`: a multiplicative hash. A key in the int32 range
   * (ids, packed keys) is hashed as is; another by its two 32-bit halves,
   * each brought into the int32 range before `| 0` (JavaScriptCore converts
   * a double outside it, as `key >>> 0` would, on a slow path).
   */
  private slot(key: number): number {
    if (key >= 0 && key < 2147483648) return Math.imul(key, 0x9e3779b1) >>> this.shift;
    const hi = Math.floor(key * 2.3283064365386963e-10); // 2^-32
    const lo = (key - hi * 4294967296 - 2147483648) | 0;
    return Math.imul(lo ^ Math.imul(hi | 0, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  private grow(): void {
    const keys = this.keys;
    const vals = this.vals;
    const n = keys.length * 2;
    this.keys = new Float64Array(n).fill(EMPTY);
    this.vals = new Array(n).fill(undefined);
    this.mask = n - 1;
    this.shift = 32 - Math.log2(n);
    this.size = 0;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === keys[i]) this.set(keys[i], vals[i]!);
    }
  }
}
