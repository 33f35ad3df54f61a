/**
 * The in-memory model of a trace: tasks with their regions and logs, built
 * from the event stream, with the problems a reader should point out.
 *
 * @module
 */

import {
  type EndEvent,
  type LogEvent,
  type RegionBeginEvent,
  type TaskBeginEvent,
  type TaskEndEvent,
  TraceDecoder,
  type TraceEvent,
  type TraceHeader,
} from "../format/decoder.ts";
import { RegionNesting, type WindowEdges } from "./region_nesting.ts";

export type { WindowEdges } from "./region_nesting.ts";

/** A log message in the model. Times are ns since the trace started. */
export interface LogRecord {
  /** Task id; 0 is the background. */
  task: number;
  /** The log category. */
  category: string;
  /** The log message. */
  message: string;
  /** When, in ns since the trace started. */
  time: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** The message was cut to the recorder's length limit. */
  truncated: boolean;
  /** Where it was logged, innermost frame first (only with `stacks: true`). */
  stack?: string[];
}

/** A sample of a counter such as `heap.used`. */
export interface CounterSample {
  /** The counter, such as `heap.used` or `eventloop.utilization`. */
  name: string;
  /** When, in ns since the trace started. */
  time: number;
  /** The sampled value. */
  value: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
}

/** An event-loop stall: the thread ran nothing from `start` to `end`. */
export interface StallRecord {
  /** When it began, ns since the trace started. */
  start: number;
  /** When it ended, ns since the trace started. */
  end: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** The innermost region open at the stall's midpoint, 0 if none. */
  region: number;
  /** That region's type, if there was one. */
  regionType?: string;
  /** That region's task (0: background or none). */
  task: number;
}

/** A garbage collection; `inferred` ones are heap drops between two samples. */
export interface GcRecord {
  /** When it began, ns since the trace started. */
  start: number;
  /** When it ended, ns since the trace started. */
  end: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** Derived from heap samples, not reported by the runtime. */
  inferred: boolean;
  /** Bytes the heap shrank by. */
  freed: number;
}

/** A region in the model. */
export interface RegionRecord {
  /** Region id, unique within its thread. */
  id: number;
  /** The region type given to `withRegion` or `startRegion`. */
  type: string;
  /** Task id; 0 is the background. */
  task: number;
  /** When it began, ns since the trace started. */
  start: number;
  /** Undefined if the region did not end inside the trace. */
  end: number | undefined;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** Async lane; regions nest within a lane. */
  lane: number;
  /** Enclosing `withRegion` region id on the same thread, 0 if none. */
  parent: number;
  /** Where it began, innermost frame first (only with `stacks: true`). */
  stack?: string[];
}

/**
 * The model's record of a region, made from its begin event; `end` is
 * undefined until its end event is seen.
 *
 * @example
 * ```ts
 * import { regionRecord } from "./trace_model.ts";
 * const r = regionRecord({
 *   kind: "regionBegin", time: 5, thread: 1, region: 1, task: 0, type: "load", parent: 0, lane: 0,
 * });
 * ```
 */
export function regionRecord(e: RegionBeginEvent): RegionRecord {
  const r: RegionRecord = {
    id: e.region,
    type: e.type,
    task: e.task,
    start: e.time,
    end: undefined,
    thread: e.thread,
    lane: e.lane,
    parent: e.parent,
  };
  if (e.stack) r.stack = e.stack;
  return r;
}

/** A task in the model. */
export interface TaskRecord {
  /** The task id, unique within the trace; 0 is the background. */
  id: number;
  /** Parent task id; 0 is the background. */
  parent: number;
  /** The task type given to `newTask`. */
  type: string;
  /** Undefined if the task began before the trace. */
  start: number | undefined;
  /** Undefined if the task did not end inside the trace. */
  end: number | undefined;
  /** The task's logs in time order. */
  logs: LogRecord[];
  /** The task's regions in start order. */
  regions: RegionRecord[];
  /** Ids of direct subtasks. */
  children: number[];
  /** Where it was created, innermost frame first (only with `stacks: true`). */
  stack?: string[];
}

/** A thread that recorded events. */
export interface ThreadRecord {
  /** The thread id; 1 is the main thread. */
  id: number;
  /** The thread's name: `main`, or the one given to `threadHandle`. */
  name: string;
  /** When it stopped recording, if it ended inside the trace. */
  end?: number;
}

/** A whole trace, as {@linkcode parseTrace} returns it. */
export interface Trace {
  /** The header fields. */
  header: TraceHeader;
  /** Tasks in creation order (task 0, the background, is not listed). */
  tasks: TaskRecord[];
  /** Every region, in start order. */
  regions: RegionRecord[];
  /** Every log, in time order. */
  logs: LogRecord[];
  /** Threads that recorded, with their names. */
  threads: ThreadRecord[];
  /** Counter samples (heap, memory, event loop) in time order. */
  counters: CounterSample[];
  /** Event-loop stalls, in time order. */
  stalls: StallRecord[];
  /** Garbage collections, in time order. */
  gcs: GcRecord[];
  /** Events the recorder reported lost (0 in a healthy trace). */
  lost: number;
  /** The trace was cut short: read up to its last complete batch. */
  truncated: boolean;
  /** Time of the last event, ns. */
  duration: number;
  /** Events read, of every kind. */
  events: number;
  /**
   * Misuse the trace shows: regions ended twice, or ended before a region
   * that began inside them in the same async chain (see
   * lib/read/region_nesting.ts for the rules).
   */
  problems: string[];
  /**
   * Tasks and regions cut by the edges of the recorded window (a live trace
   * started mid-request, a flight-recorder window): not misuse.
   */
  window: WindowEdges;
  /** The task with this id, if the trace has it. */
  task(id: number): TaskRecord | undefined;
}

/**
 * Collects events into a {@linkcode Trace}. Feed it every event of a trace,
 * in order, then call `result`.
 */
export class TraceBuilder {
  private header?: TraceHeader;
  private tasks = new Map<number, TaskRecord>();
  private regions: RegionRecord[] = [];
  private logs: LogRecord[] = [];
  private threads: ThreadRecord[] = [];
  private threadById = new Map<number, ThreadRecord>();
  private counters: CounterSample[] = [];
  private stalls: StallRecord[] = [];
  private gcs: GcRecord[] = [];
  /** Every region by `thread * 2^32 + id`: stalls and double ends name them. */
  private byKey = new Map<number, RegionRecord>();
  private problems: string[] = [];
  private nesting = new RegionNesting<RegionRecord>({
    problem: (m) => this.problems.push(m),
    ended: (thread, id) => this.byKey.get(thread * 4294967296 + id),
  });
  private end?: EndEvent;

  /** Takes the next event. */
  add = (e: TraceEvent): void => {
    switch (e.kind) {
      case "header":
        this.header = e.header;
        break;
      case "taskBegin":
      case "taskEnd":
        this.addTaskEvent(e);
        break;
      case "regionBegin": {
        const r = regionRecord(e);
        this.regions.push(r);
        if (r.task !== 0) this.taskFor(r.task).regions.push(r);
        this.byKey.set(e.thread * 4294967296 + e.region, r);
        this.nesting.add(e.thread, e.region, r, e.lane);
        break;
      }
      case "regionEnd": {
        const r = this.nesting.end(e.thread, e.region, e.time);
        if (r) r.end = e.time;
        break;
      }
      case "log":
        this.addLog(e);
        break;
      case "thread":
        if (!this.threadById.has(e.thread)) {
          const t = { id: e.thread, name: e.name };
          this.threads.push(t);
          this.threadById.set(e.thread, t);
        }
        break;
      case "threadEnd": {
        const t = this.threadById.get(e.thread);
        if (t) t.end = e.time;
        break;
      }
      case "end":
        this.end = e;
        break;
      default:
        this.addRuntimeEvent(e);
    }
  };

  /** A task begin or end into its TaskRecord (the first end counts). */
  private addTaskEvent(e: TaskBeginEvent | TaskEndEvent): void {
    const t = this.taskFor(e.task);
    if (e.kind === "taskEnd") {
      // The first end counts, as task.end() does.
      if (t.end === undefined) t.end = e.time;
      return;
    }
    t.parent = e.parent;
    t.type = e.type;
    t.start = e.time;
    if (e.stack) t.stack = e.stack;
    if (e.parent !== 0) this.taskFor(e.parent).children.push(e.task);
  }

  /** A log into the trace's logs and its task's. */
  private addLog(e: LogEvent): void {
    const l: LogRecord = {
      task: e.task,
      category: e.category,
      message: e.message,
      time: e.time,
      thread: e.thread,
      truncated: e.truncated,
    };
    if (e.stack) l.stack = e.stack;
    this.logs.push(l);
    if (l.task !== 0) this.taskFor(l.task).logs.push(l);
  }

  /** Counters, stalls and GCs (lost events are counted by the end event). */
  private addRuntimeEvent(e: TraceEvent): void {
    switch (e.kind) {
      case "counter":
        this.counters.push({ name: e.name, time: e.time, value: e.value, thread: e.thread });
        break;
      case "stall": {
        const r = e.region === 0 ? undefined : this.byKey.get(e.thread * 4294967296 + e.region);
        const st: StallRecord = {
          start: e.time,
          end: e.time + e.duration,
          thread: e.thread,
          region: e.region,
          task: e.task,
        };
        if (r) st.regionType = r.type;
        this.stalls.push(st);
        break;
      }
      case "gc":
        this.gcs.push({
          start: e.time,
          end: e.time + e.duration,
          thread: e.thread,
          inferred: e.inferred,
          freed: e.freed,
        });
        break;
    }
  }

  /** The trace built from the events so far. */
  result(): Trace {
    if (!this.header || !this.end) {
      throw new Error("runtrace: TraceBuilder.result() before the end event");
    }
    const byStart = (a: { start?: number }, b: { start?: number }) =>
      (a.start ?? 0) - (b.start ?? 0);
    const byTime = (a: LogRecord, b: LogRecord) => a.time - b.time;
    const tasks = [...this.tasks.values()].sort((a, b) => byStart(a, b) || a.id - b.id);
    for (const t of tasks) {
      t.regions.sort(byStart);
      t.logs.sort(byTime);
    }
    const index = this.tasks;
    return {
      header: this.header,
      tasks,
      regions: this.regions.sort(byStart),
      logs: this.logs.sort(byTime),
      threads: this.threads,
      counters: this.counters.sort((a, b) => a.time - b.time),
      stalls: this.stalls.sort((a, b) => a.start - b.start),
      gcs: this.gcs.sort((a, b) => a.start - b.start),
      lost: this.end.lost,
      truncated: this.end.truncated,
      duration: this.end.time,
      events: this.end.events,
      problems: this.problems,
      window: this.windowEdges(tasks),
      task: (id: number) => index.get(id),
    };
  }

  /** The task with this id, made empty on first sight. */
  private taskFor(id: number): TaskRecord {
    let t = this.tasks.get(id);
    if (!t) {
      t = {
        id,
        parent: 0,
        type: "",
        start: undefined,
        end: undefined,
        logs: [],
        regions: [],
        children: [],
      };
      this.tasks.set(id, t);
    }
    return t;
  }

  /** Counts the tasks and regions cut by the start or the end of the recorded window. */
  private windowEdges(tasks: readonly TaskRecord[]): WindowEdges {
    let before = 0, running = 0;
    for (const t of tasks) {
      if (t.start === undefined) before++;
      else if (t.end === undefined) running++;
    }
    return {
      tasksBeganBefore: before,
      tasksRunningAtEnd: running,
      regionsBeganBefore: this.nesting.beganBefore,
      regionsRunningAtEnd: this.nesting.openCount,
    };
  }
}

/**
 * Parses a whole trace held in memory.
 *
 * @example
 * ```ts
 * import { parseTrace } from "./trace_model.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * for (const t of trace.tasks) console.log(t.type, (t.end ?? 0) - (t.start ?? 0));
 * ```
 */
export function parseTrace(bytes: Uint8Array): Trace {
  const b = new TraceBuilder();
  const d = new TraceDecoder(b.add);
  d.push(bytes);
  d.finish();
  return b.result();
}
