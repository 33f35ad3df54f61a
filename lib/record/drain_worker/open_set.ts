/**
 * What is open while a flight recorder or a trace split into parts runs, and
 * how a new chunk or part restates it.
 *
 * @module
 */

import { Batch } from "../../format/constants.ts";
import type { TraceWriter } from "../../format/encoder.ts";

/** The thread open tasks are restated on: tasks belong to no thread, the main one is as good as any. */
const MAIN_THREAD = 1;

/**
 * Tasks and regions begun but not yet ended, tracked while a flight recorder
 * or a split trace runs, so that every chunk of its window and every part of
 * the trace can restate them (with their real start times) and a snapshot or
 * a part read alone has no orphan ends. Bounded: a program that
 * never ends its tasks cannot make it grow without limit.
 */
export class OpenSet {
  /** task id → its begin */
  tasks: Map<number, OpenTask> = new Map();
  /** thread → region id → its begin */
  regions: Map<number, Map<number, OpenRegion>> = new Map();
  /** Most tasks, and most regions per thread, tracked. */
  limit = 1 << 16;

  /** A task began. */
  taskBegun(id: number, parent: number, type: number, ms: number): void {
    if (this.tasks.size < this.limit) this.tasks.set(id, { parent, type, ms });
  }

  /** A task ended. */
  taskEnded(id: number): void {
    this.tasks.delete(id);
  }

  /** A region began on `thread`. */
  regionBegun(thread: number, id: number, begin: OpenRegion): void {
    let mine = this.regions.get(thread);
    if (!mine) this.regions.set(thread, mine = new Map());
    if (mine.size < this.limit) mine.set(id, begin);
  }

  /** A region of `thread` ended. */
  regionEnded(thread: number, id: number): void {
    this.regions.get(thread)?.delete(id);
  }
}

/** An open task's begin. */
export interface OpenTask {
  /** The parent task, 0 for none. */
  parent: number;
  /** The type's global string id. */
  type: number;
  /** When it began, ms on the recording thread's clock. */
  ms: number;
}

/** An open region's begin. */
export interface OpenRegion {
  /** The task it belongs to. */
  task: number;
  /** The type's global string id. */
  type: number;
  /** The enclosing region, 0 for none. */
  parent: number;
  /** Its async lane. */
  lane: number;
  /** When it began, ms on the recording thread's clock. */
  ms: number;
}

/**
 * Writes what is open (tasks, and regions per thread) into `w` as RESTATE
 * batches of their begin events at their real times: a flight window's chunk
 * or a trace's part that starts mid-task still knows the task's type and
 * start. Begins from before `w`'s trace started are left out, as the trace
 * has none of them. Call it between batches (none open).
 */
export function restateOpen(w: TraceWriter, open: OpenSet): void {
  const byTime = (x: [number, { ms: number }], y: [number, { ms: number }]) => x[1].ms - y[1].ms;
  const ns = (ms: number) => Math.max(0, Math.round((ms - w.startMs) * 1e6));
  const tasks = [...open.tasks].sort(byTime);
  if (tasks.length > 0) {
    w.openBatch(MAIN_THREAD, ns(tasks[0][1].ms), 0);
    for (const [id, t] of tasks) w.taskBegin(t.ms, id, t.parent, t.type);
    w.closeBatch(Batch.RESTATE);
  }
  for (const [thread, regions] of open.regions) {
    const list = [...regions].sort(byTime);
    if (list.length === 0) continue;
    w.openBatch(thread, ns(list[0][1].ms), 0);
    for (const [id, r] of list) w.regionBegin(r.ms, r.task, r.type, id, r.parent, r.lane);
    w.closeBatch(Batch.RESTATE);
  }
}
