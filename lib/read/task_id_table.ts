/**
 * What a streaming reader must remember of every task id: whether it was
 * seen and, once its begin was read, its type. One byte per task id in a
 * dense table while the trace has fewer than 254 task types (four bytes
 * beyond), since recorded ids are dense (each thread takes blocks of them),
 * with a map for ids beyond it, so memory follows the number of tasks, not
 * the number of events, and nothing else of a task is kept after it ends:
 * 10 MB for the 10 M tasks of a 100 M-event trace.
 *
 * @module
 */

/** Ids below this are kept in the dense table (64 MiB at most with one byte per id). */
const DENSE_LIMIT = 1 << 26;

/** The largest state + 2 a byte holds; a larger type index widens the table. */
const BYTE_MAX = 255;

/** Not seen. */
export const UNSEEN = -2;
/** Seen (referred to by an event), its begin not read (yet). */
export const NO_BEGIN = -1;

/**
 * Task id → state: {@linkcode UNSEEN}, {@linkcode NO_BEGIN}, or the index of
 * its type in the caller's list of type names.
 *
 * @example
 * ```ts
 * import { NO_BEGIN, TaskIdTable, UNSEEN } from "./task_id_table.ts";
 * const t = new TaskIdTable();
 * t.get(7); // UNSEEN
 * t.set(7, NO_BEGIN);
 * t.set(7, 0); // its begin: type 0
 * ```
 */
export class TaskIdTable {
  /**
   * State + 2, so that a fresh (zeroed) slot reads as UNSEEN: bytes until a
   * type index does not fit, then 32-bit words.
   */
  private dense: Uint8Array | Int32Array = new Uint8Array(1024);
  private sparse = new Map<number, number>();

  /** The state of task `id`. */
  get(id: number): number {
    if (id < DENSE_LIMIT && Number.isInteger(id) && id >= 0) {
      return id < this.dense.length ? this.dense[id] - 2 : UNSEEN;
    }
    return this.sparse.get(id) ?? UNSEEN;
  }

  /** Sets the state of task `id`. */
  set(id: number, state: number): void {
    if (id < DENSE_LIMIT && Number.isInteger(id) && id >= 0) {
      if (id >= this.dense.length) this.grow(id);
      if (state + 2 > BYTE_MAX && this.dense instanceof Uint8Array) {
        this.dense = Int32Array.from(this.dense);
      }
      this.dense[id] = state + 2;
    } else this.sparse.set(id, state);
  }

  private grow(id: number): void {
    let n = this.dense.length * 2;
    while (n <= id) n *= 2;
    n = Math.min(n, DENSE_LIMIT);
    const next = this.dense instanceof Uint8Array ? new Uint8Array(n) : new Int32Array(n);
    next.set(this.dense);
    this.dense = next;
  }
}
