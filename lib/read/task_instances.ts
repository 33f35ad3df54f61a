/**
 * The second pass of a streaming command: the model of just the tasks it
 * lists (their regions, logs and subtasks), found by their ids after a
 * first pass chose them, in memory that follows what is listed, not the
 * trace.
 *
 * @module
 */

import type { TraceEvent } from "../format/decoder.ts";
import { type Trace, TraceBuilder } from "./trace_model.ts";

/**
 * Builds a {@linkcode Trace} holding the tasks of `ids` whole (begin, end,
 * regions, logs, direct subtasks) and the threads, header and end of the
 * trace; other tasks, regions and logs are left out. Feed it every event.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { SelectedTasks } from "./task_instances.ts";
 * const pick = new SelectedTasks(new Set([3, 7]));
 * const d = new TraceDecoder(pick.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * pick.result().task(3)?.regions;
 * ```
 */
export class SelectedTasks {
  private ids: ReadonlySet<number>;
  private children = new Set<number>();
  private regions = new Set<number>();
  private b = new TraceBuilder();

  /** Selects the tasks with these ids. */
  constructor(ids: ReadonlySet<number>) {
    this.ids = ids;
  }

  /** Takes the next event. */
  add = (e: TraceEvent): void => {
    switch (e.kind) {
      case "taskBegin":
        if (this.ids.has(e.parent)) this.children.add(e.task);
        else if (!this.ids.has(e.task)) return;
        break;
      case "taskEnd":
        if (!this.ids.has(e.task) && !this.children.has(e.task)) return;
        break;
      case "regionBegin":
        if (!this.ids.has(e.task)) return;
        this.regions.add(e.thread * 4294967296 + e.region);
        break;
      case "regionEnd":
        if (!this.regions.has(e.thread * 4294967296 + e.region)) return;
        break;
      case "log":
        if (!this.ids.has(e.task)) return;
        break;
      case "header":
      case "thread":
      case "threadEnd":
      case "end":
        break;
      default:
        return;
    }
    this.b.add(e);
  };

  /** The model of the selected tasks; call after the `end` event. */
  result(): Trace {
    return this.b.result();
  }
}
