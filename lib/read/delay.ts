/**
 * Delay attribution, the JavaScript form of Go's goroutine analysis: where
 * each task's wall time went. A task is in one of four states at every
 * instant of its life, and its four totals add up to its duration:
 *
 * - **inRegions**: inside one of its own regions (on any thread), or running
 *   the code that stalled its own thread;
 * - **blocked**: its thread's event loop was stalled by *other* work (a STALL
 *   attributed to another task's region, or to no region): the task could not
 *   have run even if its I/O, timer or lock was ready;
 * - **gc**: inside a garbage-collection window on its thread (for inferred
 *   collections, the sampling window in which the heap shrank);
 * - **waiting**: none of the above: no region of its own was open and the
 *   loop was free; the task was waiting for I/O, a timer, a lock or a
 *   subtask outside any region.
 *
 * Where states overlap, the first in this order wins: a stall of its own,
 * a stall by other work, a collection, its own region.
 *
 * A task belongs to the thread it began on (its *home* thread): only stalls
 * and collections of that thread delay it.
 *
 * Streaming: {@linkcode DelayAnalyzer} reads the events once, in file order,
 * and reports each task once no later event can change it: when every
 * recording thread's events have passed its end (threads write their
 * batches independently, so a region on a worker may arrive after the end
 * on the main thread), or its home thread's have passed it by 1 s. It holds
 * only open tasks and those ended within that lag (each with the merged
 * spans of its regions and the stalls and GCs that overlapped it), open
 * regions, a bounded memory of recently
 * ended tasks and regions (to name a stall's culprit), and the stalls (at
 * most one per 50 ms of trace per thread with the default threshold).
 *
 * @example Tasks delayed by other work's stalls
 * ```ts
 * import { analyzeDelays } from "./delay.ts";
 * const { tasks } = analyzeDelays(await Deno.readFile("trace.out"));
 * for (const t of tasks) {
 *   for (const b of t.blockedBy) {
 *     console.log(`task ${t.id} delayed ${b.delay / 1e6} ms by ${b.stall.regionType}`);
 *   }
 * }
 * ```
 *
 * @module
 */

import {
  type EndEvent,
  type EventVisitor,
  TraceDecoder,
  type TraceEvent,
} from "../format/decoder.ts";
import { IntMap, threadKey } from "./int_map.ts";

const EMPTY = new Uint8Array(0);

/** A stall, with its culprit named and the tasks it delayed. */
export interface StallCause {
  /** Its position in the trace's stalls (in order of the stall events). */
  index: number;
  /** The thread whose event loop stalled (1 is the main thread). */
  thread: number;
  /** When it began, ns since the trace started. */
  start: number;
  /** When it ended, ns. */
  end: number;
  /** `end - start`. */
  duration: number;
  /** The region running at its midpoint (0 if none): the culprit. */
  region: number;
  /** That region's type, if the trace has its beginning. */
  regionType?: string;
  /** The culprit region's task (0: background, or no region). */
  task: number;
  /** That task's type, if known. */
  taskType?: string;
  /** Tasks it delayed: other tasks of its thread alive during it. */
  victims: StallVictim[];
  /** Sum of the victims' delays, ns. */
  totalDelay: number;
}

/** A task a stall delayed, and by how much. */
export interface StallVictim {
  /** Task id. */
  task: number;
  /** Its type. */
  type: string;
  /** The part of its life the stall covered, ns. */
  delay: number;
}

/** A stall's share of one task's `blocked` time. */
export interface BlockedShare {
  /** The stall (its `victims` fill in as the analysis proceeds). */
  stall: StallCause;
  /** ns of the task's life this stall accounts for. */
  delay: number;
}

/** Where one task's wall time went. The four states sum to `duration`. */
export interface TaskDelay {
  /** Task id. */
  id: number;
  /** Its type ("" if its beginning is not in the trace). */
  type: string;
  /** Parent task id; 0 is the background. */
  parent: number;
  /** The thread it began on, whose stalls and collections delay it. */
  thread: number;
  /** Start, ns; 0 if it began before the trace. */
  start: number;
  /** End, ns; the trace's end if it did not end inside it. */
  end: number;
  /** `end - start`. */
  duration: number;
  /** The trace holds both its beginning and its end. */
  complete: boolean;
  /** ns in its own regions (or stalling its own thread). */
  inRegions: number;
  /** ns its thread's loop was stalled by other work. */
  blocked: number;
  /** ns in garbage-collection windows of its thread. */
  gc: number;
  /** ns with no region of its own open and the loop free: I/O, timers, locks. */
  waiting: number;
  /** The stalls behind `blocked`, largest share first. */
  blockedBy: BlockedShare[];
}

/** Options of {@linkcode DelayAnalyzer}. */
export interface DelayOptions {
  /**
   * Called with each task as soon as it is settled (every recording
   * thread's events have passed its end, or its home thread's by 1 s), and
   * with the rest at the `end` event. When
   * given, `result().tasks` is empty: the caller keeps what it needs.
   */
  onTask?: (t: TaskDelay) => void;
  /**
   * `"stalls"`: only the stalls and their victims are wanted (`runtrace
   * stalls`): a task that saw no stall while it ran is settled without
   * working out where its time went, and neither `onTask` nor
   * `result().tasks` sees it.
   * Default `"all"`.
   */
  want?: "all" | "stalls";
}

/** What {@linkcode DelayAnalyzer.result} returns. */
export interface DelayResult {
  /** Every task in the order settled, unless `onTask` was given. */
  tasks: TaskDelay[];
  /** Every stall, in trace order, with its culprit and victims. */
  stalls: StallCause[];
  /** The trace's end event (duration, truncation, lost events). */
  end: EndEvent;
}

/**
 * How far past a task's end its home thread's events go before the task is
 * settled even though another thread has not caught up, ns: the drain
 * writes every thread's buffer far more often than this.
 */
const SETTLE_LAG = 1e9;

/** Tasks and regions remembered after they end, to name a stall's culprit. */
const RECENT = 4096;

/**
 * The stalls and collections of a task that saw none, shared (never pushed
 * to: replaced by its own array first): most tasks see none, and two arrays
 * per task would be two of the five objects made for each.
 */
const NO_STALLS: StallCause[] = [];
const NO_GCS: number[] = [];

interface OpenTask {
  id: number;
  /** Order of first sight: tasks left open settle in it at the end. */
  seq: number;
  type: string;
  parent: number;
  thread: number;
  start: number | undefined;
  end: number | undefined;
  /** Region spans, [begin, end) pairs as they closed (merged at settling). */
  spans: number[];
  /**
   * Open regions per thread: how many, and since when one has been open.
   * The first thread its regions run on is kept in fields (no allocation
   * in the common case); other threads in `more`.
   */
  open: OpenCount;
  more: Map<number, OpenCount> | undefined;
  /** Stalls and collections of its thread that overlapped it. */
  stalls: StallCause[];
  gcs: number[];
}

interface OpenCount {
  thread: number;
  n: number;
  since: number;
}

interface OpenRegion {
  task: number;
  type: string;
}

/**
 * Attributes every task's wall time as it streams past: feed it every event
 * (`add` is bound, usable as a decoder callback), then call `result`.
 *
 * Contract: `result()` before the `end` event throws. Regions ended twice or
 * never begun are ignored (the trace model reports them); a task without a
 * beginning is measured from 0, one without an end to the trace's end.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { DelayAnalyzer } from "./delay.ts";
 * const a = new DelayAnalyzer({ onTask: (t) => t.blocked > 0 && console.log(t.id, t.blockedBy) });
 * const d = new TraceDecoder(a.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * console.log(a.result().stalls.length, "stalls");
 * ```
 */
export class DelayAnalyzer {
  private open = new IntMap<OpenTask>();
  /** Ended tasks not yet settled, in the order their ends arrived; from `head`. */
  private pending: OpenTask[] = [];
  private head = 0;
  private pendingById = new IntMap<OpenTask>();
  /** Per thread id: the write time of its last event (a stall's or GC's end). */
  private marks: number[] = [];
  /** Threads that have recorded and not ended. */
  private threads = new Set<number>();
  /** Keys `thread * 2^32 + region`. */
  private regions = new IntMap<OpenRegion>();
  /** Per thread: the last regions ended, to name a stall's culprit after its region ended. */
  private ended = new Map<number, EndedRegions>();
  /** The ring of the thread of the last region end: most ends are on one thread. */
  private lastRing: EndedRegions | undefined;
  private lastRingThread = -1;
  private recentTasks = new Recent<string>();
  /** Tasks seen so far. */
  private seen = 0;
  private stalls: StallCause[] = [];
  private settled: TaskDelay[] = [];
  private end?: EndEvent;
  private onTask?: (t: TaskDelay) => void;
  private stallsOnly: boolean;

  /**
   * The decoder's fast path for the frequent kinds (no event objects): pass
   * it with `add` to a `TraceDecoder` (`new TraceDecoder(a.add, a.visitor)`);
   * `add` alone gives the same result.
   */
  readonly visitor: EventVisitor = {
    taskBegin: (time, thread, task, parent, type) => {
      const t = this.live(task, thread);
      if (!t) return;
      t.type = type;
      t.parent = parent;
      t.start = time;
      t.thread = thread;
      this.advance(thread, time);
    },
    taskEnd: (time, thread, task) => {
      const t = this.live(task, thread);
      if (t && t.end === undefined) {
        t.end = time;
        this.open.delete(t.id);
        this.pending.push(t);
        this.pendingById.set(t.id, t);
      }
      this.advance(thread, time);
    },
    regionBegin: (time, thread, region, task, type) => {
      this.regionBegin(thread, region, task, type, time);
      this.advance(thread, time);
    },
    regionEnd: (time, thread, region) => {
      this.regionEnd(thread, region, time);
      this.advance(thread, time);
    },
    log: (time, thread, task) => {
      if (task !== 0) this.live(task, thread);
      this.advance(thread, time);
    },
  };

  /** Makes an analyzer; see {@linkcode DelayOptions}. */
  constructor(options: DelayOptions = {}) {
    this.onTask = options.onTask;
    this.stallsOnly = options.want === "stalls";
  }

  /** Takes the next event. */
  add = (e: TraceEvent): void => {
    switch (e.kind) {
      case "taskBegin":
        this.visitor.taskBegin(e.time, e.thread, e.task, e.parent, e.type, undefined);
        return;
      case "taskEnd":
        this.visitor.taskEnd(e.time, e.thread, e.task);
        return;
      case "regionBegin":
        this.visitor.regionBegin(e.time, e.thread, e.region, e.task, e.type, 0, 0, undefined);
        return;
      case "regionEnd":
        this.visitor.regionEnd(e.time, e.thread, e.region);
        return;
      case "log":
        this.visitor.log(e.time, e.thread, e.task, "", EMPTY, 0, 0, false, undefined);
        return;
      case "stall":
        this.stall(e.thread, e.time, e.duration, e.region, e.task);
        this.advance(e.thread, e.time + e.duration);
        return;
      case "gc":
        this.gc(e.thread, e.time, e.time + e.duration);
        this.advance(e.thread, e.time + e.duration);
        return;
      case "end":
        this.finish(e);
        return;
      case "threadEnd":
        this.advance(e.thread, e.time);
        this.threads.delete(e.thread);
        return;
      case "thread":
        // A named thread is waited for from now on, even before its first event.
        if (this.marks[e.thread] === undefined) this.advance(e.thread, e.time);
        return;
      case "header":
        return;
    }
    this.advance(e.thread, e.time);
  };

  /** Every settled task (unless `onTask` took them) and every stall. */
  result(): DelayResult {
    if (!this.end) throw new Error("runtrace: DelayAnalyzer.result() before the end event");
    return { tasks: this.settled, stalls: this.stalls, end: this.end };
  }

  /**
   * The task with this id, open or ended but not settled; made on first
   * sight (a task begun before the trace). Undefined for a task already
   * settled: events after its end do not bring it back.
   */
  private live(id: number, thread: number): OpenTask | undefined {
    let t = this.open.get(id) ?? this.pendingTask(id);
    if (!t && !this.recentTasks.has(id)) {
      t = {
        id,
        seq: this.seen++,
        type: "",
        parent: 0,
        thread,
        start: undefined,
        end: undefined,
        spans: [],
        open: { thread: 0, n: 0, since: 0 },
        more: undefined,
        stalls: NO_STALLS,
        gcs: NO_GCS,
      };
      this.open.set(id, t);
    }
    return t;
  }

  /** Opens a region, and its task's span on this thread if none was open. */
  private regionBegin(thread: number, id: number, task: number, type: string, time: number): void {
    this.regions.set(threadKey(thread, id), { task, type });
    if (task === 0) return;
    const t = this.live(task, thread);
    if (!t) return;
    const o = openCount(t, thread, true)!;
    if (o.n++ === 0) o.since = time;
  }

  /** Ends a region, closing its task's span when the last one ends. */
  private regionEnd(thread: number, id: number, time: number): void {
    const r = this.regions.delete(threadKey(thread, id));
    if (!r) return;
    let ring = this.lastRing;
    if (this.lastRingThread !== thread) {
      ring = this.ended.get(thread);
      if (!ring) this.ended.set(thread, ring = new EndedRegions());
      this.lastRing = ring;
      this.lastRingThread = thread;
    }
    ring!.add(id, r);
    if (r.task === 0) return;
    const t = this.open.get(r.task) ?? this.pendingTask(r.task);
    const o = t && openCount(t, thread, false);
    if (!t || !o || o.n === 0) return;
    if (--o.n === 0) t.spans.push(o.since, time);
  }

  /** An ended, unsettled task by id. */
  private pendingTask(id: number): OpenTask | undefined {
    return this.pendingById.get(id);
  }

  /** The type of a task that is open, pending or recently settled. */
  private typeOfTask(id: number): string | undefined {
    return this.open.get(id)?.type ?? this.recentTasks.get(id) ?? this.pendingTask(id)?.type;
  }

  /** Records a stall, naming its culprit, and claims it on the tasks alive during it. */
  private stall(
    thread: number,
    start: number,
    duration: number,
    region: number,
    task: number,
  ): void {
    const key = threadKey(thread, region);
    const r = region === 0
      ? undefined
      : this.regions.get(key) ?? this.ended.get(thread)?.find(region);
    const s: StallCause = {
      index: this.stalls.length,
      thread,
      start,
      end: start + duration,
      duration,
      region,
      task,
      victims: [],
      totalDelay: 0,
    };
    if (r) s.regionType = r.type;
    const type = task === 0 ? undefined : this.typeOfTask(task);
    if (type !== undefined) s.taskType = type;
    this.stalls.push(s);
    this.overlapping(thread, s.start, s.end, (t) => {
      if (t.stalls === NO_STALLS) t.stalls = [];
      t.stalls.push(s);
    });
  }

  /** Claims a collection window on the tasks of its thread alive during it. */
  private gc(thread: number, start: number, end: number): void {
    this.overlapping(thread, start, end, (t) => {
      if (t.gcs === NO_GCS) t.gcs = [];
      t.gcs.push(start, end);
    });
  }

  /** Calls `f` for each unsettled task of `thread` alive during [start, end). */
  private overlapping(thread: number, start: number, end: number, f: (t: OpenTask) => void) {
    const alive = (t: OpenTask) =>
      t.thread === thread && (t.start ?? 0) < end && (t.end === undefined || t.end > start);
    for (const t of this.open.values()) if (alive(t)) f(t);
    for (let i = this.head; i < this.pending.length; i++) {
      if (alive(this.pending[i])) f(this.pending[i]);
    }
  }

  /**
   * Notes how far `thread`'s events have come, and settles the ended tasks
   * no later event can change: every thread still recording has passed the
   * task's end (a region of it on another thread could still arrive until
   * then), or its home thread has passed it by {@linkcode SETTLE_LAG}
   * (threads that record nothing for a while do not hold tasks forever).
   */
  private advance(thread: number, time: number): void {
    const m = this.marks[thread];
    if (m === undefined) {
      this.threads.add(thread);
      this.marks[thread] = time;
    } else if (time > m) this.marks[thread] = time;
    while (this.head < this.pending.length) {
      const t = this.pending[this.head];
      const end = t.end!;
      const home = this.marks[t.thread] ?? -Infinity;
      if (home < end) return;
      if (home < end + SETTLE_LAG) {
        for (const other of this.threads) if (this.marks[other] < end) return;
      }
      this.head++;
      this.pendingById.delete(t.id);
      this.settle(t, end);
    }
    // Drop the settled prefix now and then, not on every task.
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  /** At the end of the trace: settles every task left. */
  private finish(e: EndEvent): void {
    this.end = e;
    for (let i = this.head; i < this.pending.length; i++) {
      this.settle(this.pending[i], this.pending[i].end!);
    }
    this.pending = [];
    this.head = 0;
    this.pendingById.clear();
    const left = [...this.open.values()].sort((a, b) => a.seq - b.seq);
    for (const t of left) this.settle(t, e.time);
    this.open.clear();
  }

  /** Attributes a task and hands it over; its stalls learn their victim. */
  private settle(t: OpenTask, end: number): void {
    this.recentTasks.set(t.id, t.type);
    // No stall ran during it: nothing a stalls-only caller keeps.
    if (this.stallsOnly && t.stalls.length === 0) return;
    const start = t.start ?? 0;
    if (t.open.n > 0) t.spans.push(t.open.since, end);
    for (const o of t.more?.values() ?? []) if (o.n > 0) t.spans.push(o.since, end);
    const d = attribute(t, start, Math.max(start, end));
    for (const b of d.blockedBy) {
      b.stall.victims.push({ task: t.id, type: t.type, delay: b.delay });
      b.stall.totalDelay += b.delay;
    }
    if (this.onTask) this.onTask(d);
    else this.settled.push(d);
  }
}

/**
 * The last {@linkcode RECENT} regions ended on a thread, in a ring: two
 * stores per region end, a scan only when a stall needs its culprit (the
 * stall is written just after the loop frees, so its region ended just
 * before).
 */
class EndedRegions {
  // Fields, not the region objects: a ring holding objects would keep each
  // alive long enough to reach the old generation, a major collection's work.
  private ids = new Float64Array(RECENT).fill(NaN);
  private tasks = new Float64Array(RECENT);
  private types: string[] = new Array(RECENT).fill("");
  private at = 0;

  add(id: number, r: OpenRegion): void {
    this.ids[this.at] = id;
    this.tasks[this.at] = r.task;
    this.types[this.at] = r.type;
    this.at = (this.at + 1) % RECENT;
  }

  find(id: number): OpenRegion | undefined {
    for (let k = 1; k <= RECENT; k++) {
      const i = (this.at - k + RECENT) % RECENT;
      if (this.ids[i] === id) return { task: this.tasks[i], type: this.types[i] };
    }
    return undefined;
  }
}

/** A task's open-region count on `thread`; made if `make`. */
function openCount(t: OpenTask, thread: number, make: boolean): OpenCount | undefined {
  if (t.open.thread === thread) return t.open;
  if (t.open.thread === 0 && make) {
    t.open.thread = thread;
    return t.open;
  }
  let o = t.more?.get(thread);
  if (!o && make) (t.more ??= new Map()).set(thread, o = { thread, n: 0, since: 0 });
  return o;
}

/**
 * A map of the last {@linkcode RECENT} keys set: each new key evicts the one
 * set RECENT keys before it (a ring of keys: evicting the oldest from the
 * Map itself would walk its deleted entries every time).
 */
class Recent<V> {
  private map = new IntMap<V>();
  private ring = new Float64Array(RECENT).fill(NaN);
  private at = 0;

  get(key: number): V | undefined {
    return this.map.get(key);
  }

  has(key: number): boolean {
    return this.map.has(key);
  }

  set(key: number, value: V): void {
    const old = this.ring[this.at];
    if (old === old && old !== key) this.map.delete(old);
    this.ring[this.at] = key;
    this.at = (this.at + 1) % RECENT;
    this.map.set(key, value);
  }
}

/** State changes of a task's sweep: +1 opens, -1 closes. */
const REGION = 0, GC = 1, STALL = 2;

/**
 * Splits [start, end) into the four states by sweeping the task's region
 * spans, collections and stalls in time order (one function: the
 * precedence rule reads best in one place).
 */
function attribute(t: OpenTask, start: number, end: number): TaskDelay {
  if (t.stalls.length === 0 && t.gcs.length === 0 && t.more === undefined) {
    // The common case: regions on one thread, whose spans are disjoint and in
    // order; nothing else to weigh.
    let inRegions = 0;
    for (let i = 0; i < t.spans.length; i += 2) {
      const a = Math.max(t.spans[i], start), b = Math.min(t.spans[i + 1], end);
      if (b > a) inRegions += b - a;
    }
    return delayOf(t, start, end, inRegions, 0, 0, end - start - inRegions, []);
  }
  // [time, kind, +1|-1, stall index]
  const points: [number, number, number, number][] = [];
  const add = (a: number, b: number, kind: number, ref: number) => {
    a = Math.max(a, start);
    b = Math.min(b, end);
    if (b <= a) return;
    points.push([a, kind, 1, ref], [b, kind, -1, ref]);
  };
  for (let i = 0; i < t.spans.length; i += 2) add(t.spans[i], t.spans[i + 1], REGION, 0);
  for (let i = 0; i < t.gcs.length; i += 2) add(t.gcs[i], t.gcs[i + 1], GC, 0);
  t.stalls.forEach((s, i) => add(s.start, s.end, STALL, i));
  points.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
  let inRegions = 0, blocked = 0, gc = 0, waiting = 0;
  let regions = 0, gcs = 0;
  const active: number[] = [];
  const shares = new Map<number, number>();
  let at = start;
  const account = (until: number) => {
    const d = until - at;
    if (d <= 0) return;
    const own = active.find((i) => t.stalls[i].task === t.id);
    const other = active.find((i) => t.stalls[i].task !== t.id);
    if (own !== undefined) inRegions += d;
    else if (other !== undefined) {
      blocked += d;
      shares.set(other, (shares.get(other) ?? 0) + d);
    } else if (gcs > 0) gc += d;
    else if (regions > 0) inRegions += d;
    else waiting += d;
    at = until;
  };
  for (const [time, kind, step, ref] of points) {
    account(time);
    if (kind === REGION) regions += step;
    else if (kind === GC) gcs += step;
    else if (step > 0) active.push(ref);
    else active.splice(active.indexOf(ref), 1);
  }
  account(end);
  const blockedBy = [...shares].map(([i, delay]) => ({ stall: t.stalls[i], delay }))
    .sort((a, b) => b.delay - a.delay);
  return delayOf(t, start, end, inRegions, blocked, gc, waiting, blockedBy);
}

function delayOf(
  t: OpenTask,
  start: number,
  end: number,
  inRegions: number,
  blocked: number,
  gc: number,
  waiting: number,
  blockedBy: BlockedShare[],
): TaskDelay {
  return {
    id: t.id,
    type: t.type,
    parent: t.parent,
    thread: t.thread,
    start,
    end,
    duration: end - start,
    complete: t.start !== undefined && t.end !== undefined,
    inRegions,
    blocked,
    gc,
    waiting,
    blockedBy,
  };
}

/**
 * Attributes the delays of a whole trace held in memory: every task, in the
 * order settled (about the order of their ends), and every stall with its
 * victims.
 *
 * @example
 * ```ts
 * import { analyzeDelays } from "./delay.ts";
 * const { tasks, stalls } = analyzeDelays(await Deno.readFile("trace.out"));
 * const waitingMost = tasks.toSorted((a, b) => b.waiting - a.waiting)[0];
 * ```
 */
export function analyzeDelays(bytes: Uint8Array): DelayResult {
  const a = new DelayAnalyzer();
  const d = new TraceDecoder(a.add, a.visitor);
  d.push(bytes);
  d.finish();
  return a.result();
}
