/**
 * What is open while a flight recorder runs.
 *
 * @module
 */

/**
 * Tasks and regions begun but not yet ended, tracked while a flight recorder
 * runs, so that every chunk of its window can restate them (with their real
 * start times) and a snapshot has no orphan ends. Bounded: a program that
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
