/**
 * What a streaming reader must remember of every task id: whether it was
 * seen and, once its begin was read, its type. Four bytes per task id in a
 * dense table (recorded ids are dense: each thread takes blocks of them),
 * with a map for ids beyond it, so memory follows the number of tasks, not
 * the number of events, and nothing else of a task is kept after it ends.
 *
 * @module
 */

/** Ids below this are kept in the dense table (64 MiB at most). */
const DENSE_LIMIT = 1 << 24;

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
  /** State + 2, so that a fresh (zeroed) slot reads as UNSEEN. */
  private dense = new Int32Array(1024);
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
      this.dense[id] = state + 2;
    } else this.sparse.set(id, state);
  }

  private grow(id: number): void {
    let n = this.dense.length * 2;
    while (n <= id) n *= 2;
    const next = new Int32Array(Math.min(n, DENSE_LIMIT));
    next.set(this.dense);
    this.dense = next;
  }
}
