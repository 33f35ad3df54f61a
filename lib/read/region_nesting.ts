/**
 * The rules by which regions nest, and what counts as misuse: the one place
 * where the reader, the CLI and the viewer learn them.
 *
 * - A region belongs to an **async chain**: its thread, its task and its
 *   async lane. `withRegion` gives its body a lane of its own, and so does
 *   `newTask` (since lanes were given to tasks); regions of concurrent tasks
 *   or of concurrent `withRegion` bodies are in different chains and never
 *   nest across them, however their times interleave.
 * - Within one chain, regions nest by time: a region that begins while
 *   another is open is inside it (its recorded `parent` names the enclosing
 *   `withRegion` region; the time stack of the chain names the enclosing
 *   region of either kind).
 * - **Misuse** is only what is really wrong: a region ended twice, and a
 *   region ended while a region that began inside it, in the same chain, is
 *   still open.
 * - The **edges of the recorded window** are not misuse: a region or task
 *   that ended in the trace but began before it (a live trace started
 *   mid-request, a flight-recorder window) "began before the trace"; one
 *   open when the trace ends is "still running at the end".
 *
 * Region ids grow on each thread, so an end whose region is not open is
 * "ended twice" when its id is at least the smallest id that began on that
 * thread in the trace, and "began before the trace" when it is below.
 *
 * {@linkcode RegionNesting} applies the rules to a stream of begins and
 * ends in memory that grows with the regions open at once, not with the
 * length of the trace.
 *
 * @module
 */

import { IntMap, threadKey } from "./int_map.ts";

/** What the tracker needs to know of an open region. */
export interface NestedRegion {
  /** Region id, unique within its thread. */
  id: number;
  /** The region's type. */
  type: string;
  /** Task id; 0 is the background. */
  task: number;
}

/** Hooks of {@linkcode RegionNesting}; all optional. */
export interface NestingHooks<R extends NestedRegion> {
  /** A problem worth reporting (misuse), as a sentence. */
  problem?: (message: string) => void;
  /**
   * The region of `thread` with this id that already ended, if the caller
   * still knows it: names its type in an "ended twice" problem.
   */
  ended?: (thread: number, region: number) => R | undefined;
}

/**
 * A region's place in its chain, as {@linkcode RegionNesting.begin} returns
 * it: how deep it is and which region encloses it.
 */
export interface RegionPlace<R extends NestedRegion> {
  /** Open regions of the same chain around it (0: outermost). */
  depth: number;
  /** The innermost open region of the same chain when it began. */
  enclosing: R | undefined;
}

/** How many tasks and regions the edges of the recorded window cut. */
export interface WindowEdges {
  /** Tasks that ended (or were referred to) in the trace but began before it. */
  tasksBeganBefore: number;
  /** Tasks that began in the trace and had not ended at its end. */
  tasksRunningAtEnd: number;
  /** Regions that ended in the trace but began before it. */
  regionsBeganBefore: number;
  /** Regions that began in the trace and had not ended at its end. */
  regionsRunningAtEnd: number;
}

/**
 * The numeric key of an async chain's lane and thread, or -1 when they do
 * not pack exactly. Lanes number in the millions in a long trace (every
 * task and `withRegion` body takes one), so the task is not packed in: a
 * lane holds one task's regions (in traces older than lanes, lane 0 holds
 * every task's, which the string keys of {@linkcode chainKey} then tell apart).
 */
function laneKey(thread: number, lane: number): number {
  return thread < 64 && thread >= 0 && lane >= 0 && lane < 140737488355328
    ? lane * 64 + thread // < 2^53: exact
    : -1;
}

/** The key of an async chain that shares its lane key with another task's chain. */
function chainKey(thread: number, task: number, lane: number): string {
  return `${thread}:${task}:${lane}`;
}

/**
 * An open region. Most chains hold one region at a time (each `withRegion`
 * body and each task has a lane of its own): such a region stands alone in
 * the chain map, and a {@linkcode Chain} is made only when a second region
 * opens in the same chain.
 */
interface OpenEntry<R> {
  region: R;
  /** Its chain's key. */
  key: number | string;
  /** Its chain's stack, once the chain has held two regions at once. */
  chain: Chain<R> | undefined;
  /** Ended out of order: left in the chain's stack, skipped when on top. */
  ended: boolean;
}

/** Entries kept for reuse, at most. */
const SPARE_ENTRIES = 256;

/** One chain's stack of open regions, innermost last. */
interface Chain<R> {
  key: number | string;
  /** The task of its regions. */
  task: number;
  stack: OpenEntry<R>[];
}

/**
 * Applies the nesting rules (see the module doc) to regions as they begin
 * and end, reporting misuse through `hooks.problem` and counting regions cut
 * by the window's edges. Every operation is amortised O(1): a chain's stack
 * drops regions that ended out of order lazily, when they reach its top.
 *
 * @example
 * ```ts
 * import { RegionNesting } from "./region_nesting.ts";
 * const problems: string[] = [];
 * const n = new RegionNesting({ problem: (m) => problems.push(m) });
 * n.begin(1, 1, { id: 1, type: "outer", task: 0 }, 0);
 * n.begin(1, 2, { id: 2, type: "inner", task: 0 }, 0);
 * n.end(1, 1, 30); // ends before "inner": a problem
 * n.end(1, 2, 40);
 * n.end(1, 2, 50); // ended twice: a problem
 * problems.length; // 2
 * ```
 */
export class RegionNesting<R extends NestedRegion = NestedRegion> {
  /** Regions that began before the trace and ended in it. */
  beganBefore = 0;
  private hooks: NestingHooks<R>;
  /** Open regions by {@linkcode threadKey}. */
  private open = new IntMap<OpenEntry<R>>();
  /** Chains with open regions, by {@linkcode laneKey}: a lone region, or a stack. */
  private chains = new IntMap<OpenEntry<R> | Chain<R>>();
  /**
   * The chains keyed by {@linkcode chainKey}: a lane shared by two tasks'
   * open regions at once, or a lane or thread that does not pack.
   */
  private bigChains = new Map<string, OpenEntry<R> | Chain<R>>();
  /** The key {@linkcode RegionNesting.findChain} found or chose. */
  private foundKey: number | string = 0;
  /** Smallest region id that began on each thread. */
  private firstId = new Map<number, number>();
  /**
   * Entries of ended regions, reused: one object per region begun would be
   * most of what a long stream allocates.
   */
  private spare: OpenEntry<R>[] = [];
  /** The last thread seen by `add` and its smallest id: skips the map for it. */
  private lastThread = -1;
  private lastFirst = 0;

  /** Makes a tracker that reports through `hooks`. */
  constructor(hooks: NestingHooks<R> = {}) {
    this.hooks = hooks;
  }

  /** Regions open now. */
  get openCount(): number {
    return this.open.size;
  }

  /** A region began on `thread`, in `lane` of its task; returns its place. */
  begin(thread: number, id: number, region: R, lane: number): RegionPlace<R> {
    const found = this.findChain(thread, region.task, lane);
    let place: RegionPlace<R>;
    if (found === undefined) place = { depth: 0, enclosing: undefined };
    else if (!("stack" in found)) place = { depth: 1, enclosing: found.region };
    else {
      const stack = found.stack;
      while (stack.length > 0 && stack[stack.length - 1].ended) stack.pop();
      place = { depth: stack.length, enclosing: stack[stack.length - 1]?.region };
    }
    this.add(thread, id, region, lane);
    return place;
  }

  /** {@linkcode begin} without the place: for callers that only need the rules. */
  add(thread: number, id: number, region: R, lane: number): void {
    if (thread !== this.lastThread || id < this.lastFirst) this.noteFirst(thread, id);
    const found = this.findChain(thread, region.task, lane);
    const key = this.foundKey;
    let entry = this.spare.pop();
    if (entry === undefined) entry = { region, key, chain: undefined, ended: false };
    else {
      entry.region = region;
      entry.key = key;
    }
    if (found === undefined) this.setChain(key, entry);
    else if ("stack" in found) {
      entry.chain = found;
      found.stack.push(entry);
    } else {
      // A second region in the chain: now it needs a stack.
      const chain: Chain<R> = { key, task: region.task, stack: [found, entry] };
      found.chain = chain;
      entry.chain = chain;
      this.setChain(key, chain);
    }
    this.open.set(threadKey(thread, id), entry);
  }

  /**
   * The chain of (thread, task, lane), and in `foundKey` the key it has, or
   * would have if made now: the lane key, unless another task's chain holds
   * it (or it does not pack), then the string key. Without such a clash (the
   * usual case) no string is made.
   */
  private findChain(
    thread: number,
    task: number,
    lane: number,
  ): OpenEntry<R> | Chain<R> | undefined {
    const k = laneKey(thread, lane);
    const found = k < 0 ? undefined : this.chains.get(k);
    if (found !== undefined && ("stack" in found ? found.task : found.region.task) === task) {
      this.foundKey = k;
      return found;
    }
    if (k >= 0 && found === undefined && this.bigChains.size === 0) {
      this.foundKey = k;
      return undefined;
    }
    const key = chainKey(thread, task, lane);
    const big = this.bigChains.get(key);
    this.foundKey = big !== undefined || k < 0 || found !== undefined ? key : k;
    return big;
  }

  private setChain(key: number | string, value: OpenEntry<R> | Chain<R>): void {
    if (typeof key === "number") this.chains.set(key, value);
    else this.bigChains.set(key, value);
  }

  private deleteChain(key: number | string): void {
    if (typeof key === "number") this.chains.delete(key);
    else this.bigChains.delete(key);
  }

  /** Keeps the smallest region id begun on each thread. */
  private noteFirst(thread: number, id: number): void {
    const first = this.firstId.get(thread);
    if (first === undefined || id < first) this.firstId.set(thread, id);
    this.lastThread = thread;
    this.lastFirst = Math.min(first ?? id, id);
  }

  /**
   * A region ended: returns it if it was open, else `undefined` (ended
   * twice, or began before the trace).
   */
  end(thread: number, id: number, time: number): R | undefined {
    const key = threadKey(thread, id);
    const entry = this.open.delete(key);
    if (!entry) {
      this.unknownEnd(thread, id, time);
      return undefined;
    }
    const r = entry.region;
    if (entry.chain === undefined) {
      // Alone in its chain: nothing can have begun inside it, and nothing
      // else refers to the entry: it is reused.
      this.deleteChain(entry.key);
      if (this.spare.length < SPARE_ENTRIES) {
        entry.region = undefined as unknown as R; // not kept alive by the spare
        this.spare.push(entry);
      }
      return r;
    }
    const stack = entry.chain.stack;
    while (stack.length > 0 && stack[stack.length - 1].ended) stack.pop();
    if (stack[stack.length - 1] === entry) {
      stack.pop();
      while (stack.length > 0 && stack[stack.length - 1].ended) stack.pop();
    } else {
      entry.ended = true;
      const inner = stack[stack.length - 1].region;
      this.hooks.problem?.(
        `region ${id} "${r.type}" (task ${r.task}) ended at ${time}ns before region ${inner.id} "${inner.type}" that began inside it`,
      );
    }
    if (stack.length === 0) this.deleteChain(entry.key);
    return r;
  }

  /** The regions still open, in no particular order. */
  *stillOpen(): IterableIterator<R> {
    for (const e of this.open.values()) yield e.region;
  }

  /** An end of a region that is not open: ended twice, or the window's edge. */
  private unknownEnd(thread: number, id: number, time: number): void {
    const first = this.firstId.get(thread);
    if (first === undefined || id < first) {
      this.beganBefore++;
      return;
    }
    const done = this.hooks.ended?.(thread, id);
    this.hooks.problem?.(
      done
        ? `region ${id} "${done.type}" (task ${done.task}) ended twice, again at ${time}ns`
        : `region ${id} on thread ${thread} ended twice, again at ${time}ns`,
    );
  }
}

/**
 * A sentence about the edges of the recorded window, or `undefined` when the
 * trace holds every task and region whole. Not misuse: a live trace started
 * mid-request, or a flight-recorder window, cuts what runs across its edges.
 *
 * @example
 * ```ts
 * import { describeWindowEdges } from "./region_nesting.ts";
 * describeWindowEdges({
 *   tasksBeganBefore: 1,
 *   tasksRunningAtEnd: 0,
 *   regionsBeganBefore: 2,
 *   regionsRunningAtEnd: 0,
 * }); // "1 task and 2 regions began before the trace"
 * ```
 */
export function describeWindowEdges(w: WindowEdges): string | undefined {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  const both = (tasks: number, regions: number) =>
    [tasks > 0 ? count(tasks, "task") : "", regions > 0 ? count(regions, "region") : ""]
      .filter((s) => s !== "").join(" and ");
  const parts: string[] = [];
  const before = both(w.tasksBeganBefore, w.regionsBeganBefore);
  if (before) parts.push(`${before} began before the trace`);
  const running = both(w.tasksRunningAtEnd, w.regionsRunningAtEnd);
  if (running) {
    parts.push(`${running} ${/ and |s$/.test(running) ? "were" : "was"} still running at the end`);
  }
  return parts.length > 0 ? parts.join("; ") : undefined;
}
