/**
 * The page's model (the reader's trace model and every task's delays) as a
 * few typed arrays and strings, so the Web Worker that builds it can hand it
 * to the page without cloning a million objects in one go: the structured
 * clone of the packed form is a handful of buffers (transferred, not
 * copied), and the page makes the objects back a slice at a time
 * ({@linkcode ModelUnpacker}), never holding its main thread for long.
 *
 * Unpacking gives back a model equal to the one packed (a test checks it on
 * every fixture), including which records are shared: a task's `regions`
 * and `logs` are the very records of `trace.regions` and `trace.logs`.
 *
 * @module
 */

import type {
  CounterSample,
  LogRecord,
  RegionRecord,
  TaskRecord,
  Trace,
} from "../../read/trace_model.ts";
import type { StallCause, TaskDelay } from "../../read/delay.ts";
import { type PageModel, TaskDelays } from "./delay.ts";

/** What of a trace is small enough to clone as it is. */
type TraceRest = Omit<Trace, "tasks" | "regions" | "logs" | "counters" | "task">;

/** A {@linkcode PageModel} packed by {@linkcode packModel}. */
export interface PackedModel {
  /** Header, threads, stalls, GCs, problems, window and end fields. */
  rest: TraceRest;
  /** Type names, categories, counter names, each once; index 0 is "". */
  strings: string[];
  /** Distinct stacks; stack columns hold index + 1 (0: no stack). */
  stacks: string[][];
  tasks: {
    id: Float64Array;
    parent: Float64Array;
    type: Int32Array;
    /** NaN: undefined. */
    start: Float64Array;
    end: Float64Array;
    stack: Int32Array;
    /** Task `i`'s children are `children[childAt[i] .. childAt[i + 1]]`, likewise regions and logs. */
    childAt: Int32Array;
    children: Float64Array;
    regionAt: Int32Array;
    /** Indices into the regions. */
    regions: Int32Array;
    logAt: Int32Array;
    logs: Int32Array;
  };
  regions: {
    id: Float64Array;
    type: Int32Array;
    task: Float64Array;
    start: Float64Array;
    /** NaN: undefined. */
    end: Float64Array;
    thread: Float64Array;
    lane: Float64Array;
    parent: Float64Array;
    stack: Int32Array;
  };
  logs: {
    task: Float64Array;
    category: Int32Array;
    time: Float64Array;
    thread: Float64Array;
    truncated: Uint8Array;
    stack: Int32Array;
    /** The messages one after another, and each one's length. */
    text: string;
    length: Int32Array;
  };
  counters: { name: Int32Array; time: Float64Array; value: Float64Array; thread: Float64Array };
  delays: {
    /** Every stall with its culprit and victims (few: cloned as they are). */
    causes: StallCause[];
    id: Float64Array;
    type: Int32Array;
    parent: Float64Array;
    thread: Float64Array;
    start: Float64Array;
    end: Float64Array;
    duration: Float64Array;
    complete: Uint8Array;
    inRegions: Float64Array;
    blocked: Float64Array;
    gc: Float64Array;
    waiting: Float64Array;
    /** Task `i`'s shares are `[blockedAt[i], blockedAt[i + 1])` of `cause` and `delay`. */
    blockedAt: Int32Array;
    cause: Int32Array;
    delay: Float64Array;
  };
}

/** Interns strings and stacks into tables. */
class Tables {
  strings = [""];
  stacks: string[][] = [];
  private s = new Map<string, number>([["", 0]]);
  private k = new Map<string, number>();

  str(x: string): number {
    let i = this.s.get(x);
    if (i === undefined) {
      this.s.set(x, i = this.strings.length);
      this.strings.push(x);
    }
    return i;
  }

  stack(x: string[] | undefined): number {
    if (!x) return 0;
    const key = x.join("\n");
    let i = this.k.get(key);
    if (i === undefined) {
      this.k.set(key, i = this.stacks.length + 1);
      this.stacks.push(x);
    }
    return i;
  }
}

/** `n` values of `f`, as a Float64Array. */
const f64 = (n: number, f: (i: number) => number) => {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
};

const i32 = (n: number, f: (i: number) => number) => {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
};

/** Lists flattened: offsets (n + 1) and the values. */
function flatten<T>(lists: T[][], value: (x: T) => number) {
  const at = new Int32Array(lists.length + 1);
  for (let i = 0; i < lists.length; i++) at[i + 1] = at[i] + lists[i].length;
  const out = new Float64Array(at[lists.length]);
  for (let i = 0, k = 0; i < lists.length; i++) for (const x of lists[i]) out[k++] = value(x);
  return { at, out };
}

/**
 * Packs `model` for the page's main thread. The arrays are fresh: pass
 * {@linkcode packedBuffers} as the transfer list of `postMessage`.
 *
 * @example
 * ```ts
 * import { parseTrace } from "../../read/trace_model.ts";
 * import { analyzeDelays } from "../../read/delay.ts";
 * import { TaskDelays } from "./delay.ts";
 * import { packModel, packedBuffers } from "./model_pack.ts";
 * const bytes = await Deno.readFile("trace.out");
 * const trace = parseTrace(bytes);
 * const packed = packModel({ trace, delays: new TaskDelays(trace, analyzeDelays(bytes).tasks) });
 * console.log(packedBuffers(packed).length, "buffers");
 * ```
 */
export function packModel(model: PageModel): PackedModel {
  const { trace } = model;
  const { tasks: _t, regions, logs, counters, task: _f, ...rest } = trace;
  const t = new Tables();
  const regionAt = new Map<RegionRecord, number>(regions.map((r, i) => [r, i]));
  const logAt = new Map<LogRecord, number>(logs.map((l, i) => [l, i]));
  const tasks = trace.tasks;
  const children = flatten(tasks.map((x) => x.children), (x) => x);
  const taskRegions = flatten(tasks.map((x) => x.regions), (r) => regionAt.get(r) ?? -1);
  const taskLogs = flatten(tasks.map((x) => x.logs), (l) => logAt.get(l) ?? -1);
  const undef = (x: number | undefined) => x ?? NaN;
  const delays = model.delays.all();
  const causes = model.delays.causes();
  const causeAt = new Map<StallCause, number>(causes.map((c, i) => [c, i]));
  const shares = flatten(delays.map((d) => d.blockedBy), (b) => causeAt.get(b.stall) ?? -1);
  return {
    rest,
    tasks: {
      id: f64(tasks.length, (i) => tasks[i].id),
      parent: f64(tasks.length, (i) => tasks[i].parent),
      type: i32(tasks.length, (i) => t.str(tasks[i].type)),
      start: f64(tasks.length, (i) => undef(tasks[i].start)),
      end: f64(tasks.length, (i) => undef(tasks[i].end)),
      stack: i32(tasks.length, (i) => t.stack(tasks[i].stack)),
      childAt: children.at,
      children: children.out,
      regionAt: taskRegions.at,
      regions: Int32Array.from(taskRegions.out),
      logAt: taskLogs.at,
      logs: Int32Array.from(taskLogs.out),
    },
    regions: {
      id: f64(regions.length, (i) => regions[i].id),
      type: i32(regions.length, (i) => t.str(regions[i].type)),
      task: f64(regions.length, (i) => regions[i].task),
      start: f64(regions.length, (i) => regions[i].start),
      end: f64(regions.length, (i) => undef(regions[i].end)),
      thread: f64(regions.length, (i) => regions[i].thread),
      lane: f64(regions.length, (i) => regions[i].lane),
      parent: f64(regions.length, (i) => regions[i].parent),
      stack: i32(regions.length, (i) => t.stack(regions[i].stack)),
    },
    logs: {
      task: f64(logs.length, (i) => logs[i].task),
      category: i32(logs.length, (i) => t.str(logs[i].category)),
      time: f64(logs.length, (i) => logs[i].time),
      thread: f64(logs.length, (i) => logs[i].thread),
      truncated: Uint8Array.from(logs, (l) => l.truncated ? 1 : 0),
      stack: i32(logs.length, (i) => t.stack(logs[i].stack)),
      text: logs.map((l) => l.message).join(""),
      length: i32(logs.length, (i) => logs[i].message.length),
    },
    counters: {
      name: i32(counters.length, (i) => t.str(counters[i].name)),
      time: f64(counters.length, (i) => counters[i].time),
      value: f64(counters.length, (i) => counters[i].value),
      thread: f64(counters.length, (i) => counters[i].thread),
    },
    delays: {
      causes,
      id: f64(delays.length, (i) => delays[i].id),
      type: i32(delays.length, (i) => t.str(delays[i].type)),
      parent: f64(delays.length, (i) => delays[i].parent),
      thread: f64(delays.length, (i) => delays[i].thread),
      start: f64(delays.length, (i) => delays[i].start),
      end: f64(delays.length, (i) => delays[i].end),
      duration: f64(delays.length, (i) => delays[i].duration),
      complete: Uint8Array.from(delays, (d) => d.complete ? 1 : 0),
      inRegions: f64(delays.length, (i) => delays[i].inRegions),
      blocked: f64(delays.length, (i) => delays[i].blocked),
      gc: f64(delays.length, (i) => delays[i].gc),
      waiting: f64(delays.length, (i) => delays[i].waiting),
      blockedAt: shares.at,
      cause: Int32Array.from(shares.out),
      delay: Float64Array.from(delays.flatMap((d) => d.blockedBy.map((b) => b.delay))),
    },
    strings: t.strings,
    stacks: t.stacks,
  };
}

/**
 * The buffers of a packed model, for the transfer list of `postMessage`.
 *
 * @example
 * ```ts
 * import { packedBuffers, type PackedModel } from "./model_pack.ts";
 * declare const packed: PackedModel;
 * postMessage({ packed }, { transfer: packedBuffers(packed) });
 * ```
 */
export function packedBuffers(p: PackedModel): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const group of [p.tasks, p.regions, p.logs, p.counters, p.delays]) {
    for (const v of Object.values(group)) {
      if (ArrayBuffer.isView(v)) out.add(v.buffer as ArrayBuffer);
    }
  }
  return [...out];
}

/** Items made per check of the clock while unpacking. */
const STRIDE = 512;

/**
 * One empty list for every empty list of the unpacked model (most tasks have
 * no subtasks and no stall delayed them): fewer objects for the page's
 * garbage collector, whose pauses were most of the unpacking's. Frozen: the
 * page only reads the model.
 */
const EMPTY: never[] = Object.freeze([]) as unknown as never[];

/** `from[at[k]]` for k in [lo, hi): plain loops, cheaper than `Array.from` of a subarray. */
function pick<T>(from: T[], at: Int32Array, lo: number, hi: number): T[] {
  if (lo === hi) return EMPTY;
  const out: T[] = [];
  for (let k = lo; k < hi; k++) out.push(from[at[k]]);
  return out;
}

/**
 * Makes a packed model's objects back, a slice at a time: call `step` until
 * it returns the model. Each step works for about `sliceMs` and returns
 * `undefined` while there is more to do.
 *
 * @example
 * ```ts
 * import { ModelUnpacker, type PackedModel } from "./model_pack.ts";
 * declare const packed: PackedModel;
 * const u = new ModelUnpacker(packed);
 * const next = () => {
 *   const model = u.step(20);
 *   if (model) console.log(model.trace.tasks.length, "tasks");
 *   else setTimeout(next, 0);
 * };
 * next();
 * ```
 */
export class ModelUnpacker {
  private regions: RegionRecord[] = [];
  private logs: LogRecord[] = [];
  private tasks: TaskRecord[] = [];
  private counters: CounterSample[] = [];
  private delays: TaskDelay[] = [];
  private index = new Map<number, TaskRecord>();
  private made?: Trace;
  private delayIndex?: TaskDelays;
  private textAt = 0;
  private phase = 0;
  private at = 0;

  /**
   * Unpacks `p` (which it keeps: do not change it meanwhile). With
   * `messages`, the logs' messages are those strings (the page's columns
   * hold them, in the model's order), not cut from `p.logs.text` anew.
   */
  constructor(private p: PackedModel, private messages?: readonly string[]) {}

  /** Share of the work done, 0 to 1. */
  get share(): number {
    const p = this.p;
    const sizes = [
      p.regions.id.length,
      p.logs.time.length,
      p.tasks.id.length,
      p.counters.time.length,
      p.delays.id.length,
      1,
    ];
    const total = sizes.reduce((a, b) => a + b, 0) || 1;
    let done = this.at;
    for (let k = 0; k < this.phase && k < sizes.length; k++) done += sizes[k];
    return Math.min(1, done / total);
  }

  /** Works for about `sliceMs`; returns the model when it is complete. */
  step(sliceMs: number): PageModel | undefined {
    const until = performance.now() + sliceMs;
    const phases: [number, (i: number) => void][] = [
      [this.p.regions.id.length, (i) => this.regions.push(this.region(i))],
      [this.p.logs.time.length, (i) => this.logs.push(this.log(i))],
      [this.p.tasks.id.length, (i) => {
        const t = this.task(i);
        this.tasks.push(t);
        this.index.set(t.id, t);
      }],
      [this.p.counters.time.length, (i) => this.counters.push(this.counter(i))],
      [this.p.delays.id.length, (i) => this.delays.push(this.delay(i))],
      // The delays' index is the last piece, alone in its step (a look-up of every task).
      [1, () => this.delayIndex = new TaskDelays(this.trace(), this.delays, this.p.delays.causes)],
    ];
    while (this.phase < phases.length) {
      const [n, make] = phases[this.phase];
      while (this.at < n) {
        const stop = Math.min(n, this.at + STRIDE);
        for (; this.at < stop; this.at++) make(this.at);
        if (performance.now() >= until) return undefined;
      }
      this.phase++;
      this.at = 0;
    }
    return { trace: this.trace(), delays: this.delayIndex! };
  }

  private stackOf(target: { stack?: string[] }, k: number): void {
    if (k > 0) target.stack = this.p.stacks[k - 1];
  }

  private region(i: number): RegionRecord {
    const c = this.p.regions;
    const r: RegionRecord = {
      id: c.id[i],
      type: this.p.strings[c.type[i]],
      task: c.task[i],
      start: c.start[i],
      end: Number.isNaN(c.end[i]) ? undefined : c.end[i],
      thread: c.thread[i],
      lane: c.lane[i],
      parent: c.parent[i],
    };
    this.stackOf(r, c.stack[i]);
    return r;
  }

  private log(i: number): LogRecord {
    const c = this.p.logs;
    const from = this.textAt;
    this.textAt += c.length[i];
    const l: LogRecord = {
      task: c.task[i],
      category: this.p.strings[c.category[i]],
      message: this.messages ? this.messages[i] : c.text.slice(from, this.textAt),
      time: c.time[i],
      thread: c.thread[i],
      truncated: c.truncated[i] === 1,
    };
    this.stackOf(l, c.stack[i]);
    return l;
  }

  private task(i: number): TaskRecord {
    const c = this.p.tasks;
    const t: TaskRecord = {
      id: c.id[i],
      parent: c.parent[i],
      type: this.p.strings[c.type[i]],
      start: Number.isNaN(c.start[i]) ? undefined : c.start[i],
      end: Number.isNaN(c.end[i]) ? undefined : c.end[i],
      logs: pick(this.logs, c.logs, c.logAt[i], c.logAt[i + 1]),
      regions: pick(this.regions, c.regions, c.regionAt[i], c.regionAt[i + 1]),
      children: c.childAt[i] === c.childAt[i + 1] ? EMPTY : [],
    };
    for (let k = c.childAt[i]; k < c.childAt[i + 1]; k++) t.children.push(c.children[k]);
    this.stackOf(t, c.stack[i]);
    return t;
  }

  private counter(i: number): CounterSample {
    const c = this.p.counters;
    return {
      name: this.p.strings[c.name[i]],
      time: c.time[i],
      value: c.value[i],
      thread: c.thread[i],
    };
  }

  private delay(i: number): TaskDelay {
    const c = this.p.delays;
    const blockedBy: TaskDelay["blockedBy"] = c.blockedAt[i] === c.blockedAt[i + 1] ? EMPTY : [];
    for (let k = c.blockedAt[i]; k < c.blockedAt[i + 1]; k++) {
      blockedBy.push({ stall: c.causes[c.cause[k]], delay: c.delay[k] });
    }
    return {
      id: c.id[i],
      type: this.p.strings[c.type[i]],
      parent: c.parent[i],
      thread: c.thread[i],
      start: c.start[i],
      end: c.end[i],
      duration: c.duration[i],
      complete: c.complete[i] === 1,
      inRegions: c.inRegions[i],
      blocked: c.blocked[i],
      gc: c.gc[i],
      waiting: c.waiting[i],
      blockedBy,
    };
  }

  /** The trace model, made once the tasks are. */
  private trace(): Trace {
    const index = this.index;
    this.made ??= {
      ...this.p.rest,
      tasks: this.tasks,
      regions: this.regions,
      logs: this.logs,
      counters: this.counters,
      task: (id: number) => index.get(id),
    };
    return this.made;
  }
}
