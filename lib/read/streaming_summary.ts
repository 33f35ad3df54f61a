/**
 * The summaries behind `runtrace tasks` and `runtrace regions`, made in one
 * pass over the events in memory bounded by the tasks and regions open at
 * once, the distinct types, and four bytes per task id: never by the length
 * of the trace. They equal {@linkcode summarizeTaskTypes} and
 * {@linkcode summarizeRegionTypes} on the model, row for row, except that a
 * row of more than {@linkcode EXACT_LATENCIES} durations gets estimated
 * percentiles (see lib/read/latency_accumulator.ts). A `logText` filter
 * needs the tasks with a matching log first ({@linkcode TasksWithLogText},
 * a pass of its own), as a log may come after its task ended.
 *
 * @module
 */

import type { EventVisitor, TraceEvent } from "../format/decoder.ts";
import {
  BACKGROUND,
  type RegionFilter,
  type RegionTypeSummary,
  type TaskFilter,
  type TaskTypeSummary,
  UNKNOWN_TYPE,
} from "./analysis.ts";
import { EXACT_LATENCIES, LatencyAccumulator } from "./latency_accumulator.ts";
import { RegionNesting, type WindowEdges } from "./region_nesting.ts";
import { NO_BEGIN, TaskIdTable, UNSEEN } from "./task_id_table.ts";
import { IntMap } from "./int_map.ts";

export { EXACT_LATENCIES };

/** A task's span, for the instances a second pass lists. */
export interface TaskSpanRecord {
  id: number;
  /** Start, ns; 0 if the task began before the trace. */
  start: number;
  /** End, ns; the trace's end if the task did not end inside it. */
  end: number;
  duration: number;
  complete: boolean;
}

/** What {@linkcode SummaryCollector.result} returns. */
export interface StreamingSummary {
  /** One row per task type, in the model's order. */
  taskTypes: TaskTypeSummary[];
  /** One row per region type, in the model's order. */
  regionTypes: RegionTypeSummary[];
  /** With `instances`: the tasks that pass the filter, in trace order. */
  instances: TaskSpanRecord[];
  /** The first problems (at most 100), as the model words them. */
  problems: string[];
  /** How many problems there were in all. */
  problemCount: number;
  /** What the window's edges cut. */
  window: WindowEdges;
  /** The type of task `id` (`(unknown)` if its begin is not in the trace). */
  taskType(id: number): string;
}

/** Options of {@linkcode SummaryCollector}. */
export interface SummaryOptions {
  /** Which tasks the task rows count. */
  tasks?: TaskFilter;
  /** Which regions the region rows count. */
  regions?: RegionFilter;
  /** Also list the spans of the tasks that pass `tasks` (for a second pass). */
  instances?: boolean;
  /**
   * With `tasks.logText`: the ids of the tasks that have a matching log,
   * from {@linkcode TasksWithLogText}. Without it, only logs read while the
   * task was open count.
   */
  logMatches?: ReadonlySet<number>;
  /**
   * Only these rows: `"tasks"` leaves `regionTypes` empty and `"regions"`
   * leaves `taskTypes` empty, for a command that shows one table (each row
   * costs a latency sketch update per task or region). Default: both.
   */
  rows?: "tasks" | "regions";
}

/**
 * The ids of the tasks with a log whose message or category contains
 * `text`: the first pass of a `logText` filter. Memory follows the matches.
 * Feed it as a decoder's callback and visitor.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { TasksWithLogText } from "./streaming_summary.ts";
 * const m = new TasksWithLogText("timeout");
 * const d = new TraceDecoder(() => {}, m);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * m.ids; // Set of task ids
 * ```
 */
export class TasksWithLogText implements EventVisitor {
  /** Tasks with a matching log. */
  ids: Set<number> = new Set();
  private text: string;
  private utf8 = new TextDecoder("utf-8", { fatal: false });

  /** Finds the tasks with a log containing `text`. */
  constructor(text: string) {
    this.text = text;
  }

  /** Takes the events the visitor methods do not (none are needed). */
  add = (_e: TraceEvent): void => {};

  /** Visitor: not needed. */
  taskBegin(): void {}
  /** Visitor: not needed. */
  taskEnd(): void {}
  /** Visitor: not needed. */
  regionBegin(): void {}
  /** Visitor: not needed. */
  regionEnd(): void {}

  /** Visitor: a log; its message is decoded only if its task is not matched yet. */
  log(
    _time: number,
    _thread: number,
    task: number,
    category: string,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (task === 0 || this.ids.has(task)) return;
    if (
      category.includes(this.text) ||
      this.utf8.decode(bytes.subarray(start, end)).includes(this.text)
    ) {
      this.ids.add(task);
    }
  }
}

/** A task not yet complete: begun or referred to, and not both begun and ended. */
interface OpenTask {
  id: number;
  /** Index into the type names; NO_BEGIN until its begin is read. */
  type: number;
  start: number | undefined;
  end: number | undefined;
  /** A log of the task matched `logText`. */
  logHit: boolean;
}

/** Counts and durations of one row, and where the row's first item sits. */
interface Group {
  count: number;
  acc: LatencyAccumulator;
  /** The model's order of the first item: its start, then a tie-breaker. */
  keyStart: number;
  keyTie: number;
}

function newGroup(): Group {
  return { count: 0, acc: new LatencyAccumulator(), keyStart: Infinity, keyTie: Infinity };
}

function addTo(g: Group, start: number, tie: number, duration: number | undefined): void {
  g.count++;
  if (duration !== undefined) g.acc.add(duration);
  if (start < g.keyStart || (start === g.keyStart && tie < g.keyTie)) {
    g.keyStart = start;
    g.keyTie = tie;
  }
}

function mergeInto(g: Group, o: Group): void {
  g.count += o.count;
  g.acc.merge(o.acc);
  if (o.keyStart < g.keyStart || (o.keyStart === g.keyStart && o.keyTie < g.keyTie)) {
    g.keyStart = o.keyStart;
    g.keyTie = o.keyTie;
  }
}

const byKey = (a: [string, Group], b: [string, Group]) =>
  a[1].keyStart - b[1].keyStart || a[1].keyTie - b[1].keyTie;

function row(g: Group) {
  return {
    count: g.count,
    complete: g.acc.count,
    incomplete: g.count - g.acc.count,
    latency: g.acc.summary(),
  };
}

/** A region open in the stream. */
interface OpenRegion {
  id: number;
  type: string;
  task: number;
  start: number;
  /** Its place in file order: the model's tie-breaker for equal starts. */
  seq: number;
}

/** Spare objects kept for reuse, at most, of each kind. */
const SPARE = 256;

/** Ended regions remembered to name their type when ended again. */
const ENDED_CACHE = 4096;
/** Problems kept word for word; the rest are counted. */
const KEPT_PROBLEMS = 100;

/**
 * Collects {@linkcode StreamingSummary} from the events of a trace. Feed it
 * as a decoder's callback and visitor: `new TraceDecoder(c.add, c)`.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { SummaryCollector } from "./streaming_summary.ts";
 * const c = new SummaryCollector();
 * const d = new TraceDecoder(c.add, c);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * for (const t of c.result().taskTypes) console.log(t.type, t.latency?.p99);
 * ```
 */
export class SummaryCollector implements EventVisitor {
  private taskFilter: TaskFilter;
  private regionFilter: RegionFilter;
  private wantInstances: boolean;
  private taskRows: boolean;
  private regionRows: boolean;
  private logMatches: ReadonlySet<number> | undefined;
  private ids = new TaskIdTable();
  private typeNames: string[] = [];
  private typeIndex = new Map<string, number>();
  private open = new IntMap<OpenTask>();
  private taskGroups = new Map<string, Group>();
  private instances: TaskSpanRecord[] = [];
  private regionGroups = new Map<string, { all: Group; split: Map<string, Group> }>();
  /** Regions ended while their task's begin was not read yet, by task id. */
  private pending = new Map<number, Map<string, { all: Group; split: Group }>>();
  private seq = 0;
  /**
   * Ended regions and tasks, reused: an object per region or task would be
   * most of what a long stream allocates (nothing else keeps them).
   */
  private spareRegions: OpenRegion[] = [];
  private spareTasks: OpenTask[] = [];
  private problems: string[] = [];
  private problemCount = 0;
  /**
   * The last ENDED_CACHE ended regions, a ring searched only on a double end:
   * their fields, not the objects, which the ring would keep alive long
   * enough to move to the old generation (a major collection's work).
   */
  private endedKeys = new Float64Array(ENDED_CACHE).fill(-1);
  private endedTypes: string[] = new Array(ENDED_CACHE).fill("");
  private endedTasks = new Float64Array(ENDED_CACHE);
  private endedNext = 0;
  private nesting = new RegionNesting<OpenRegion>({
    problem: (m) => {
      if (this.problemCount++ < KEPT_PROBLEMS) this.problems.push(m);
    },
    ended: (thread, id) => {
      const i = this.endedKeys.indexOf(thread * 4294967296 + id);
      if (i < 0) return undefined;
      return { id, type: this.endedTypes[i], task: this.endedTasks[i], start: 0, seq: 0 };
    },
  });
  private utf8 = new TextDecoder("utf-8", { fatal: false });
  private duration = 0;
  private done?: StreamingSummary;

  /** Makes a collector; see {@linkcode SummaryOptions}. */
  constructor(options: SummaryOptions = {}) {
    this.taskFilter = options.tasks ?? {};
    this.regionFilter = options.regions ?? {};
    this.wantInstances = options.instances === true;
    this.taskRows = options.rows !== "regions";
    this.regionRows = options.rows !== "tasks";
    this.logMatches = options.logMatches;
  }

  /** Takes the events the visitor methods do not. */
  add = (e: TraceEvent): void => {
    if (e.kind === "end") this.finish(e.time);
  };

  /** A task began. */
  taskBegin(time: number, _thread: number, task: number, parent: number, type: string): void {
    if (parent !== 0) this.touch(parent);
    const state = this.ids.get(task);
    if (state >= 0 && !this.open.has(task)) return; // begun again after it ended
    let t = this.open.get(task);
    if (!t) this.open.set(task, t = this.newTask(task, 0, 0));
    t.type = this.intern(type);
    t.start = time;
    this.ids.set(task, t.type);
    const waiting = this.pending.get(task);
    if (waiting) this.resolvePending(task, waiting, this.taskTypeName(t.type));
    if (t.end !== undefined) this.finishTask(t, this.duration);
  }

  /** A task ended. */
  taskEnd(time: number, _thread: number, task: number): void {
    this.touch(task);
    const t = this.open.get(task);
    if (!t || t.end !== undefined) return;
    t.end = time;
    if (t.type !== NO_BEGIN) this.finishTask(t, this.duration);
  }

  /** A region began. */
  regionBegin(
    time: number,
    thread: number,
    region: number,
    task: number,
    type: string,
    _parent: number,
    lane: number,
  ): void {
    if (task !== 0) this.touch(task);
    let r = this.spareRegions.pop();
    if (r === undefined) r = { id: region, type, task, start: time, seq: this.seq++ };
    else {
      r.id = region;
      r.type = type;
      r.task = task;
      r.start = time;
      r.seq = this.seq++;
    }
    this.nesting.add(thread, region, r, lane);
  }

  /** A region ended. */
  regionEnd(time: number, thread: number, region: number): void {
    const r = this.nesting.end(thread, region, time);
    if (!r) return;
    this.endedKeys[this.endedNext] = thread * 4294967296 + region;
    this.endedTypes[this.endedNext] = r.type;
    this.endedTasks[this.endedNext] = r.task;
    this.endedNext = (this.endedNext + 1) % ENDED_CACHE;
    if (this.regionRows) this.addRegion(r, Math.max(0, time - r.start));
    if (this.spareRegions.length < SPARE) this.spareRegions.push(r);
  }

  /** A log. */
  log(
    _time: number,
    _thread: number,
    task: number,
    category: string,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void {
    if (task === 0) return;
    this.touch(task);
    const text = this.taskFilter.logText;
    if (text === undefined || this.logMatches !== undefined) return;
    const t = this.open.get(task);
    if (!t || t.logHit) return;
    if (category.includes(text) || this.utf8.decode(bytes.subarray(start, end)).includes(text)) {
      t.logHit = true;
    }
  }

  /** The summary; call after the `end` event. */
  result(): StreamingSummary {
    if (!this.done) throw new Error("runtrace: SummaryCollector.result() before the end event");
    return this.done;
  }

  /** A task id seen for the first time is open, its begin not read. */
  private touch(id: number): void {
    if (this.ids.get(id) !== UNSEEN) return;
    this.ids.set(id, NO_BEGIN);
    this.open.set(id, this.newTask(id, NO_BEGIN, undefined));
  }

  private newTask(id: number, type: number, start: number | undefined): OpenTask {
    const t = this.spareTasks.pop();
    if (t === undefined) return { id, type, start, end: undefined, logHit: false };
    t.id = id;
    t.type = type;
    t.start = start;
    t.end = undefined;
    t.logHit = false;
    return t;
  }

  private intern(type: string): number {
    let i = this.typeIndex.get(type);
    if (i === undefined) {
      i = this.typeNames.length;
      this.typeNames.push(type);
      this.typeIndex.set(type, i);
    }
    return i;
  }

  private taskTypeName(index: number): string {
    return index < 0 || this.typeNames[index] === "" ? UNKNOWN_TYPE : this.typeNames[index];
  }

  /** Counts a task whose span is known: complete, or cut by the trace's edge. */
  private finishTask(t: OpenTask, traceEnd: number): void {
    this.open.delete(t.id);
    this.countTask(t, traceEnd);
    if (this.spareTasks.length < SPARE) this.spareTasks.push(t);
  }

  /** Adds a finished task to its row (and to the instances), if it passes the filter. */
  private countTask(t: OpenTask, traceEnd: number): void {
    if (!this.taskRows && !this.wantInstances) return;
    const start = t.start ?? 0;
    const end = t.end ?? traceEnd;
    const complete = t.start !== undefined && t.end !== undefined;
    const duration = Math.max(0, end - start);
    const type = this.taskTypeName(t.type);
    const f = this.taskFilter;
    if (f.type !== undefined && type !== f.type) return;
    if (f.min !== undefined && duration < f.min) return;
    if (f.max !== undefined && duration > f.max) return;
    if (f.logText !== undefined && !(this.logMatches?.has(t.id) ?? t.logHit)) return;
    if (this.taskRows) {
      let g = this.taskGroups.get(type);
      if (!g) this.taskGroups.set(type, g = newGroup());
      addTo(g, start, t.id, complete ? duration : undefined);
    }
    if (this.wantInstances) this.instances.push({ id: t.id, start, end, duration, complete });
  }

  /** Counts a region (`duration` undefined: still running at the end). */
  private addRegion(r: OpenRegion, duration: number | undefined): void {
    const f = this.regionFilter;
    if (f.type !== undefined && r.type !== f.type) return;
    if (r.task !== 0 && this.ids.get(r.task) === NO_BEGIN) {
      // Its task's type is not known yet: held per task until its begin.
      let byType = this.pending.get(r.task);
      if (!byType) this.pending.set(r.task, byType = new Map());
      let p = byType.get(r.type);
      if (!p) byType.set(r.type, p = { all: newGroup(), split: newGroup() });
      addTo(p.all, r.start, r.seq, duration);
      addTo(p.split, r.start, r.seq, duration);
      return;
    }
    const taskType = r.task === 0 ? BACKGROUND : this.taskTypeName(this.ids.get(r.task));
    if (f.taskType !== undefined && taskType !== f.taskType) return;
    const g = this.regionGroup(r.type);
    addTo(g.all, r.start, r.seq, duration);
    let s = g.split.get(taskType);
    if (!s) g.split.set(taskType, s = newGroup());
    addTo(s, r.start, r.seq, duration);
  }

  private regionGroup(type: string) {
    let g = this.regionGroups.get(type);
    if (!g) this.regionGroups.set(type, g = { all: newGroup(), split: new Map() });
    return g;
  }

  private resolvePending(
    task: number,
    byType: Map<string, { all: Group; split: Group }>,
    taskType: string,
  ): void {
    this.pending.delete(task);
    if (this.regionFilter.taskType !== undefined && taskType !== this.regionFilter.taskType) {
      return;
    }
    for (const [type, p] of byType) {
      const g = this.regionGroup(type);
      mergeInto(g.all, p.all);
      let s = g.split.get(taskType);
      if (!s) g.split.set(taskType, s = newGroup());
      mergeInto(s, p.split);
    }
  }

  /** At the end event: what is still open is cut by the trace's end. */
  private finish(traceEnd: number): void {
    this.duration = traceEnd;
    if (this.regionRows) { for (const r of this.nesting.stillOpen()) this.addRegion(r, undefined); }
    let beganBefore = 0, running = 0;
    for (const t of [...this.open.values()]) {
      if (t.type === NO_BEGIN) beganBefore++;
      else running++;
      this.finishTask(t, traceEnd);
    }
    for (const [task, byType] of [...this.pending]) {
      this.resolvePending(task, byType, UNKNOWN_TYPE);
    }
    this.done = this.summary({
      tasksBeganBefore: beganBefore,
      tasksRunningAtEnd: running,
      regionsBeganBefore: this.nesting.beganBefore,
      regionsRunningAtEnd: this.nesting.openCount,
    });
  }

  private summary(window: WindowEdges): StreamingSummary {
    const taskTypes: TaskTypeSummary[] = [...this.taskGroups].sort(byKey)
      .map(([type, g]) => ({ type, ...row(g) }));
    const regionTypes: RegionTypeSummary[] = [...this.regionGroups]
      .map(([type, g]) => [type, g.all, g.split] as const)
      .sort((a, b) => byKey([a[0], a[1]], [b[0], b[1]]))
      .map(([type, all, split]) => ({
        type,
        ...row(all),
        byTaskType: [...split].sort(byKey).map(([taskType, s]) => ({ taskType, ...row(s) })),
      }));
    const instances = this.instances.sort((a, b) => a.start - b.start || a.id - b.id);
    return {
      taskTypes,
      regionTypes,
      instances,
      problems: this.problems,
      problemCount: this.problemCount,
      window,
      taskType: (id) => this.taskTypeName(this.ids.get(id)),
    };
  }
}
