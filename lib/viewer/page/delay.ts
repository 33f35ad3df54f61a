/**
 * The page's model: the reader's trace model and, beside it, the reader's
 * delay attribution (lib/read/delay.ts) of every task, built from one pass
 * over the events, with the look-ups the panels need.
 *
 * @module
 */

import type { StallRecord, TaskRecord, Trace, TraceBuilder } from "../../read/trace_model.ts";
import { DelayAnalyzer, type StallCause, type TaskDelay } from "../../read/delay.ts";
import type { TraceEvent } from "../../format/decoder.ts";
import { formatDuration } from "../../read/duration.ts";
import type { StatsRows } from "./stats_page.ts";

export type { StallCause, TaskDelay };

/** The trace model and each task's delay attribution. */
export interface PageModel {
  trace: Trace;
  delays: TaskDelays;
  /** The Tasks and Regions pages' rows, when the page's worker made them. */
  stats?: { tasks: StatsRows; regions: StatsRows };
}

/**
 * Every task's delay attribution, by task, and each stall's place in `trace.stalls`.
 *
 * @example
 * ```ts
 * import { parseTrace } from "../../read/trace_model.ts";
 * import { analyzeDelays } from "../../read/delay.ts";
 * import { TaskDelays } from "./delay.ts";
 * const bytes = await Deno.readFile("trace.out");
 * const trace = parseTrace(bytes);
 * const delays = new TaskDelays(trace, analyzeDelays(bytes).tasks);
 * console.log(delays.of(trace.tasks[0]).blocked);
 * ```
 */
export class TaskDelays {
  private byTask = new Map<number, TaskDelay>();
  private stallAt = new Map<string, number>();

  /**
   * Indexes the delays of `trace`, as the analyzer reported them: each
   * task's, and every stall's cause (`stalls`, kept for {@linkcode causes}).
   */
  constructor(private trace: Trace, private tasks: TaskDelay[], private stalls: StallCause[] = []) {
    for (const t of tasks) this.byTask.set(t.id, t);
    trace.stalls.forEach((s, i) => this.stallAt.set(`${s.thread}:${s.start}`, i));
  }

  /** Every task's attribution, in the analyzer's order. */
  all(): TaskDelay[] {
    return this.tasks;
  }

  /** Every stall's cause, in trace order (empty if not given). */
  causes(): StallCause[] {
    return this.stalls;
  }

  /** The attribution of `task` (an empty one if the analyzer did not see it). */
  of(task: TaskRecord): TaskDelay {
    const d = this.byTask.get(task.id);
    if (d) return d;
    const start = task.start ?? 0, end = task.end ?? this.trace.duration;
    return {
      id: task.id,
      type: task.type,
      parent: task.parent,
      thread: 1,
      start,
      end,
      duration: end - start,
      complete: task.start !== undefined && task.end !== undefined,
      inRegions: 0,
      blocked: 0,
      gc: 0,
      waiting: end - start,
      blockedBy: [],
    };
  }

  /** Index of a stall cause in `trace.stalls` (-1 if the model has no such stall). */
  stallIndex(c: StallCause): number {
    return this.stallAt.get(`${c.thread}:${c.start}`) ?? -1;
  }
}

/**
 * Builds the page's model from events: feed `add` every event, then call
 * `result`.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../../format/decoder.ts";
 * import { TraceBuilder } from "../../read/trace_model.ts";
 * import { PageModelBuilder } from "./delay.ts";
 * const b = new PageModelBuilder(new TraceBuilder());
 * const d = new TraceDecoder(b.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * const { trace, delays } = b.result();
 * ```
 */
export class PageModelBuilder {
  private analyzer = new DelayAnalyzer();

  constructor(private builder: TraceBuilder) {}

  /** Takes the next event. */
  add = (e: TraceEvent): void => {
    this.builder.add(e);
    this.analyzer.add(e);
  };

  /** The model, after the end event. */
  result(): PageModel {
    return this.withDelays(this.trace());
  }

  /** The trace model, after the end event: the first half of `result`. */
  trace(): Trace {
    return this.builder.result();
  }

  /** The model of `trace` (from `trace()`) with every task's delays: the second half. */
  withDelays(trace: Trace): PageModel {
    const { tasks, stalls } = this.analyzer.result();
    return { trace, delays: new TaskDelays(trace, tasks, stalls) };
  }
}

/**
 * What a stall ran, for a label: its region's type and task.
 *
 * @example
 * ```ts
 * import { stallCulprit } from "./delay.ts";
 * stallCulprit({ regionType: "report.build", task: 701, taskType: "report" }); // "report.build (report #701)"
 * ```
 */
export function stallCulprit(
  st: Pick<StallRecord, "regionType" | "task"> & { taskType?: string },
): string {
  const who = st.task === 0 ? "" : `${st.taskType || "task"} #${st.task}`;
  if (st.regionType) return who ? `${st.regionType} (${who})` : st.regionType;
  return who || "code outside any region";
}

/**
 * One line for a stall: its length and what ran.
 *
 * @example
 * ```ts
 * import { stallLabel } from "./delay.ts";
 * stallLabel({ start: 0, end: 156e6, regionType: "report.build", task: 701, taskType: "report" });
 * // "stall 156ms: report.build (report #701)"
 * ```
 */
export function stallLabel(
  st: Pick<StallRecord, "start" | "end" | "regionType" | "task"> & { taskType?: string },
): string {
  return `stall ${formatDuration(st.end - st.start)}: ${stallCulprit(st)}`;
}
