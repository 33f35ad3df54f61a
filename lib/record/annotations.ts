/**
 * Tasks, regions and logs: the recording API's annotations, as in Go's
 * runtime/trace annotation.go, re-exported by mod.ts. Each call costs about
 * one clock read and a few stores into the ring (ring_writer.ts).
 *
 * @module
 */

import { background, Context, currentContext, storage } from "./context.ts";
import { Rec } from "./ring_layout.ts";
import {
  hot,
  internCategory,
  internType,
  nextLane,
  nextRegionId,
  nextTaskId,
  publish,
  publishTaskBegins,
  record,
  recordEnd,
  recordLog,
  recordStack,
} from "./ring_writer.ts";
import { formatLog, toText } from "./printf.ts";
import { activeTraceparent } from "./otel_join.ts";

/*
 * Arguments of any type: a recording call never throws into the app. A
 * first argument that is not a string is the context slot if it is a
 * Context, null, undefined or any other object (not a Context: the current
 * context is used); a number, boolean, symbol or bigint there is the name.
 * Names and messages that are not strings are converted with `toText`
 * (`String(v)`, or a marker for values that cannot be). Ordinary calls with
 * strings take none of these paths.
 */

/** Whether a first argument that is not a string stands in the context's place. */
function inContextSlot(a: unknown): boolean {
  return a === null || a === undefined || typeof a === "object" || typeof a === "function";
}

/** `a` if it is a Context, else the current context. */
function contextOr(a: unknown): Context {
  return a instanceof Context ? a : currentContext();
}

/**
 * Task is a traced logical operation, such as a request, that may span many
 * async steps and threads. Its latency is the time from {@linkcode newTask} to
 * the first call of `end`.
 */
export class Task {
  #id: number;
  #gen: number;
  #ended = false;

  /** Tasks come from {@linkcode newTask}; this is internal. */
  constructor(id: number, gen: number) {
    this.#id = id;
    this.#gen = gen;
  }

  /** The task's id in the trace. */
  get id(): number {
    return this.#id;
  }

  /**
   * End marks the end of the operation. Only the first call counts; later
   * calls, and calls after tracing stopped, do nothing.
   *
   * @example
   * ```ts
   * import { newTask } from "runtrace";
   * const [, task] = newTask("job");
   * task.end();
   * task.end(); // ignored
   * ```
   */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#gen === hot.generation) recordEnd(Rec.TASK_END, this.#id);
  }
}

/**
 * NewTask creates a task of type `taskType` and returns it with a context
 * that carries it. If the parent context carries a task, the new one is its
 * subtask. Without a context argument, the current context is the parent.
 * Keep the number of distinct task types small: tools group by type (past
 * 65 536 names a thread records new ones as `runtrace: too many distinct
 * names`). Arguments of any type are accepted, never thrown on: a type that
 * is not a string is converted with `String()`.
 *
 * @example
 * ```ts
 * import { newTask, withRegion } from "runtrace";
 * const [ctx, task] = newTask("makeCappuccino");
 * withRegion(ctx, "steamMilk", () => {});
 * task.end();
 * ```
 */
export function newTask(taskType: string): [Context, Task];
/** NewTask with an explicit parent context; see above. */
export function newTask(ctx: Context, taskType: string): [Context, Task];
export function newTask(
  a: Context | string,
  b?: string,
): [Context, Task] {
  let parent: Context, type: string;
  if (typeof a === "string") {
    parent = currentContext();
    type = a;
  } else if (inContextSlot(a)) {
    parent = contextOr(a);
    type = typeof b === "string" ? b : toText(b);
  } else {
    parent = currentContext();
    type = toText(a);
  }
  const id = nextTaskId();
  if (!hot.enabled) {
    return [new Context(id, parent.regionId, parent.lane), new Task(id, -1)];
  }
  if (hot.stacks) recordStack(newTask);
  record(Rec.TASK_BEGIN, id, parent.taskId, internType(type), 0, 0);
  if (publishTaskBegins) publish();
  if (parent.taskId === 0) {
    // A root task joins the OpenTelemetry span active now, if any: the OTLP
    // export takes its trace id and parent span from this log.
    const tp = activeTraceparent();
    if (tp !== undefined) recordLog(id, internCategory("traceparent"), tp);
  }
  // A lane of its own: concurrent tasks are separate async chains, so their
  // `startRegion` regions never nest across tasks (lib/read/region_nesting.ts).
  return [new Context(id, parent.regionId, nextLane()), new Task(id, hot.generation)];
}

/**
 * Region is a traced interval of code, started by {@linkcode startRegion}.
 * Regions nest: within one async chain, a region started after this one
 * should end before it. Ending out of order, or twice, is recorded as it
 * happened and reported by the reader.
 */
export class Region {
  #id: number;
  #gen: number;

  /** Regions come from {@linkcode startRegion}; this is internal. */
  constructor(id: number, gen: number) {
    this.#id = id;
    this.#gen = gen;
  }

  /**
   * End marks the end of the region. It does nothing for the no-op region
   * returned while tracing is off, or once tracing has stopped.
   *
   * @example
   * ```ts
   * import { startRegion } from "runtrace";
   * const r = startRegion("parse");
   * r.end();
   * ```
   */
  end(): void {
    if (this.#gen === hot.generation) recordEnd(Rec.REGION_END, this.#id);
  }

  /** Ends the region, so that `using r = startRegion(...)` works. */
  [Symbol.dispose](): void {
    this.end();
  }
}

const noopRegion = new Region(0, -1);

/**
 * StartRegion starts a region and returns it; call `end` on it (or declare
 * it with `using`) when the interval is over. The region belongs to the
 * context's task; without a context argument, the current context's. While
 * tracing is off it returns a shared no-op region and allocates nothing. A
 * region type that is not a string is converted with `String()`.
 *
 * @example
 * ```ts
 * import { startRegion } from "runtrace";
 * {
 *   using _r = startRegion("serialize");
 *   JSON.stringify({ a: 1 });
 * }
 * ```
 */
export function startRegion(regionType: string): Region;
/** StartRegion with an explicit context; see above. */
export function startRegion(ctx: Context, regionType: string): Region;
export function startRegion(a: Context | string, b?: string): Region {
  if (!hot.enabled) return noopRegion;
  // The explicit form alone, in a body small enough for the JITs to inline
  // (Bun's did not inline it with the other forms here: 8% of a pair); the
  // others take startRegionOther.
  if (!(a instanceof Context && typeof b === "string")) return startRegionOther(a, b);
  const id = nextRegionId();
  if (hot.stacks) recordStack(startRegion);
  record(Rec.REGION_BEGIN, a.taskId, internType(b), id, a.regionId, a.lane);
  return new Region(id, hot.generation);
}

/**
 * {@linkcode startRegion} without a context, or with arguments of other types
 * (see the top of this file).
 */
function startRegionOther(a: unknown, b: unknown): Region {
  let ctx: Context, type: string;
  if (typeof a === "string") {
    ctx = storage.getStore() ?? background;
    type = a;
  } else if (inContextSlot(a)) {
    ctx = contextOr(a);
    type = typeof b === "string" ? b : toText(b);
  } else {
    ctx = currentContext();
    type = toText(a);
  }
  const id = nextRegionId();
  if (hot.stacks) recordStack(startRegion);
  record(Rec.REGION_BEGIN, ctx.taskId, internType(type), id, ctx.regionId, ctx.lane);
  return new Region(id, hot.generation);
}

/**
 * WithRegion runs `fn` inside a region of type `regionType` and returns what
 * `fn` returns. If `fn` returns a promise, the region ends when it settles
 * (also on rejection), and that same promise is returned. Inside `fn`,
 * across its awaits and in the callbacks it schedules, the region's context
 * is the current one, on its own async lane, so concurrent `withRegion`
 * calls nest correctly. That lane is an `AsyncLocalStorage.run`: 20–40 ns in
 * Bun, but in Deno 0.5–0.7 µs, 1.6–2 times that inside another frame (a
 * task's `Context.run`, a `traceRequests` handler), plus the collector's
 * work for it, which makes it most of what a `withRegion` costs there. For
 * synchronous code, `using _r = startRegion(ctx, type)` records the same
 * region without one. While tracing is off, `withRegion` calls `fn` (with
 * an explicit context made current if it is not).
 *
 * @example
 * ```ts
 * import { withRegion, log } from "runtrace";
 * const body = await withRegion("fetchUser", async () => {
 *   log("cache", "miss");
 *   return "ok";
 * });
 * ```
 */
export function withRegion<T>(regionType: string, fn: () => T): T;
/** WithRegion with an explicit context; see above. */
export function withRegion<T>(ctx: Context, regionType: string, fn: () => T): T;
export function withRegion<T>(
  a: Context | string,
  b: string | (() => T),
  c?: () => T,
): T {
  let ctx: Context, type: string, fn: () => T;
  if (typeof a === "string") {
    fn = b as () => T;
    // Off, the current context stays current: the call is fn's own.
    if (!hot.enabled && typeof fn === "function") return fn();
    ctx = currentContext();
    type = a;
  } else if (inContextSlot(a) && typeof b !== "function") {
    ctx = contextOr(a);
    type = typeof b === "string" ? b : toText(b);
    fn = c!;
  } else {
    ctx = currentContext();
    type = toText(a);
    fn = b as () => T;
  }
  if (typeof fn !== "function") {
    throw new TypeError(`runtrace: withRegion("${toText(type)}") needs a function to run`);
  }
  if (!hot.enabled) {
    // Nothing to record: an explicit context that is not the current one
    // still becomes current (tracing may start while fn runs).
    return ctx === currentContext() ? fn() : storage.run(ctx, fn);
  }
  const id = nextRegionId();
  const lane = nextLane();
  if (hot.stacks) recordStack(withRegion);
  record(Rec.REGION_BEGIN, ctx.taskId, internType(type), id, ctx.regionId, lane);
  const gen = hot.generation;
  let result: T;
  try {
    result = storage.run(new Context(ctx.taskId, id, lane), fn);
  } catch (e) {
    if (gen === hot.generation) recordEnd(Rec.REGION_END, id);
    throw e;
  }
  if (result instanceof Promise) {
    // The region ends when the promise settles, in a reaction registered
    // before the caller's: the caller gets fn's own promise (a rejection
    // reaches it unchanged, and an unhandled one is still reported), and
    // the side chain costs one closure and one promise, never a rejection.
    const end = () => {
      if (gen === hot.generation) recordEnd(Rec.REGION_END, id);
    };
    result.then(end, end);
    return result;
  }
  if (gen === hot.generation) recordEnd(Rec.REGION_END, id);
  return result;
}

/**
 * Log emits a one-off event with a category and a message, attached to the
 * context's task (without a context argument, the current context's). The
 * category may be empty; keep the number of categories small. A category or
 * message that is not a string is converted with `String()`, or recorded as
 * `<runtrace: unprintable object>` if it cannot be; this never throws.
 *
 * @example
 * ```ts
 * import { log, newTask } from "runtrace";
 * const [ctx, task] = newTask("order");
 * log(ctx, "orderID", "42");
 * log("cache", "hit"); // current context
 * task.end();
 * ```
 */
export function log(category: string, message: string): void;
/** Log with an explicit context; see above. */
export function log(ctx: Context, category: string, message: string): void;
export function log(a: Context | string, b: string, c?: string): void {
  if (!hot.enabled) return;
  if (hot.stacks) recordStack(log);
  // The two ordinary forms first; other arguments take logOther.
  if (a instanceof Context && typeof b === "string" && typeof c === "string") {
    recordLog(a.taskId, internCategory(b), c);
  } else if (typeof a === "string" && typeof b === "string") {
    recordLog(currentContext().taskId, internCategory(a), b);
  } else {
    logOther(a, b, c);
  }
}

/** {@linkcode log} with arguments of other types (see the top of this file). */
function logOther(a: unknown, b: unknown, c: unknown): void {
  if (typeof a === "string") {
    recordLog(currentContext().taskId, internCategory(a), typeof b === "string" ? b : toText(b));
  } else if (inContextSlot(a)) {
    const category = typeof b === "string" ? b : toText(b);
    recordLog(contextOr(a).taskId, internCategory(category), toText(c));
  } else {
    recordLog(currentContext().taskId, internCategory(toText(a)), toText(b));
  }
}

/**
 * Logf is like {@linkcode log}, with the message formatted from `format` and
 * `args` (`%s %d %i %f %v %j %o %q %x %%`, as Go's fmt or console.log). The
 * formatting happens only while tracing is enabled, and never throws: a
 * value its verb cannot convert prints as `%!d(symbol)`.
 *
 * @example
 * ```ts
 * import { logf } from "runtrace";
 * logf("http", "%s %s took %dms", "GET", "/users", 12);
 * ```
 */
export function logf(category: string, format: string, ...args: unknown[]): void;
/** Logf with an explicit context; see above. */
export function logf(
  ctx: Context,
  category: string,
  format: string,
  ...args: unknown[]
): void;
export function logf(a: Context | string, b: string, ...rest: unknown[]): void {
  if (!hot.enabled) return;
  if (hot.stacks) recordStack(logf);
  if (typeof a === "string") {
    const format = typeof b === "string" ? b : toText(b);
    recordLog(currentContext().taskId, internCategory(a), formatLog(format, rest, 0));
  } else if (inContextSlot(a)) {
    const category = typeof b === "string" ? b : toText(b);
    recordLog(
      contextOr(a).taskId,
      internCategory(category),
      formatLog(toText(rest[0]), rest, 1),
    );
  } else {
    recordLog(currentContext().taskId, internCategory(toText(a)), formatLog(toText(b), rest, 0));
  }
}
