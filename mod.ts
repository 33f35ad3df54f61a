/**
 * runtrace: Go's execution tracer (`runtime/trace`) for Deno and Bun.
 *
 * Tasks are logical operations (a request), regions are steps inside them,
 * logs are timestamped messages. Calls cost about one clock read: they write
 * fixed-size records into shared memory, and a worker thread encodes them into
 * the trace. Read traces with `runtrace/read`, analyse them with the CLI.
 *
 * @example Trace a cappuccino order
 * ```ts
 * import * as trace from "./mod.ts";
 *
 * await trace.start("trace.out");
 * const [ctx, task] = trace.newTask("makeCappuccino");
 * trace.log(ctx, "orderID", "42");
 * await trace.withRegion(ctx, "steamMilk", async () => {});
 * task.end();
 * await trace.stop();
 * ```
 *
 * @module
 */

import { background, Context, currentContext, storage } from "./lib/record/context.ts";
import { Rec } from "./lib/record/ring_layout.ts";
import {
  enabled,
  generation,
  internCategory,
  internType,
  nextLane,
  nextRegionId,
  nextTaskId,
  record,
  recordEnd,
  recordLog,
  recordStack,
  ringClosed,
  stacks,
} from "./lib/record/ring_writer.ts";
import {
  type StartOptions,
  startTrace,
  stopTrace,
  type ThreadHandle,
  threadHandle as newThreadHandle,
  type WatchableWorker,
} from "./lib/record/session.ts";
import { contextOf, joinThread, leaveThread } from "./lib/record/thread_join.ts";
import type { RuntimeEventOptions } from "./lib/record/runtime_sampler.ts";
import type { TraceDestination, TraceWriterLike } from "./lib/record/destination.ts";
import { formatLog } from "./lib/record/printf.ts";

export { background, Context };
export type { RuntimeEventOptions, StartOptions, ThreadHandle, WatchableWorker };
export { FlightRecorder, type FlightRecorderOptions } from "./lib/record/flight_recorder.ts";
export type { TraceDestination, TraceWriterLike };

/**
 * Start enables tracing and writes the trace to `w`: a file path (written by
 * the worker thread), a `WritableStream`, or an object with a `write(bytes)`
 * method such as `Deno.FsFile` or Bun's `FileSink`. Tracing is enabled when
 * `start` returns its promise; the promise rejects, with tracing disabled
 * again, if tracing is already enabled or `w` cannot be written.
 *
 * A trace that is never stopped is finished when the program exits.
 *
 * @example
 * ```ts
 * import { start, stop } from "./mod.ts";
 * await start("trace.out");
 * // ... the program ...
 * await stop();
 * ```
 */
export function start(
  w: TraceDestination,
  options?: StartOptions,
): Promise<void> {
  return startTrace(w, options);
}

/**
 * Stop stops the current tracing, if any. Its promise resolves only after
 * every byte of the trace reached the destination; it rejects with the
 * destination's error if a write failed. The destination is not closed.
 *
 * @example
 * ```ts
 * import { stop } from "./mod.ts";
 * await stop(); // a no-op when not tracing
 * ```
 */
export function stop(): Promise<void> {
  return stopTrace();
}

/**
 * IsEnabled reports whether tracing is enabled: a trace or a
 * {@linkcode FlightRecorder} is recording. The information is advisory only:
 * the tracing status may have changed by the time it returns.
 *
 * @example
 * ```ts
 * import { isEnabled, log } from "./mod.ts";
 * if (isEnabled()) log("debug", JSON.stringify({ expensive: true }));
 * ```
 */
export function isEnabled(): boolean {
  return enabled && !ringClosed();
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
   * import { newTask } from "./mod.ts";
   * const [, task] = newTask("job");
   * task.end();
   * task.end(); // ignored
   * ```
   */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#gen === generation) recordEnd(Rec.TASK_END, this.#id);
  }
}

/**
 * NewTask creates a task of type `taskType` and returns it with a context
 * that carries it. If the parent context carries a task, the new one is its
 * subtask. Without a context argument, the current context is the parent.
 * Keep the number of distinct task types small: tools group by type.
 *
 * @example
 * ```ts
 * import { newTask, withRegion } from "./mod.ts";
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
  const parent = typeof a === "string" || a === undefined ? currentContext() : a;
  const type = typeof a === "string" ? a : b!;
  const id = nextTaskId();
  if (!enabled) {
    return [new Context(id, parent.regionId, parent.lane), new Task(id, -1)];
  }
  if (stacks) recordStack(newTask);
  record(Rec.TASK_BEGIN, id, parent.taskId, internType(type), 0, 0);
  // A lane of its own: concurrent tasks are separate async chains, so their
  // `startRegion` regions never nest across tasks (lib/read/region_nesting.ts).
  return [new Context(id, parent.regionId, nextLane()), new Task(id, generation)];
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
   * import { startRegion } from "./mod.ts";
   * const r = startRegion("parse");
   * r.end();
   * ```
   */
  end(): void {
    if (this.#gen === generation) recordEnd(Rec.REGION_END, this.#id);
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
 * tracing is off it returns a shared no-op region and allocates nothing.
 *
 * @example
 * ```ts
 * import { startRegion } from "./mod.ts";
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
  if (!enabled) return noopRegion;
  let ctx: Context, type: string;
  if (typeof a === "string") {
    ctx = storage.getStore() ?? background;
    type = a;
  } else {
    ctx = a ?? currentContext();
    type = b!;
  }
  const id = nextRegionId();
  if (stacks) recordStack(startRegion);
  record(Rec.REGION_BEGIN, ctx.taskId, internType(type), id, ctx.regionId, ctx.lane);
  return new Region(id, generation);
}

/**
 * WithRegion runs `fn` inside a region of type `regionType` and returns what
 * `fn` returns. If `fn` returns a promise, the region ends when it settles
 * (also on rejection, which passes through unchanged). Inside `fn` the
 * region's context is the current one, on its own async lane, so concurrent
 * `withRegion` calls nest correctly.
 *
 * @example
 * ```ts
 * import { withRegion, log } from "./mod.ts";
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
    ctx = currentContext();
    type = a;
    fn = b as () => T;
  } else {
    ctx = a ?? currentContext();
    type = b as string;
    fn = c!;
  }
  if (typeof fn !== "function") {
    throw new TypeError(`runtrace: withRegion("${type}") needs a function to run`);
  }
  if (!enabled) return ctx === currentContext() ? fn() : storage.run(ctx, fn);
  const id = nextRegionId();
  const lane = nextLane();
  if (stacks) recordStack(withRegion);
  record(Rec.REGION_BEGIN, ctx.taskId, internType(type), id, ctx.regionId, lane);
  const region = new Region(id, generation);
  let result: T;
  try {
    result = storage.run(new Context(ctx.taskId, id, lane), fn);
  } catch (e) {
    region.end();
    throw e;
  }
  if (result instanceof Promise) {
    // then(ok, fail) makes one promise where finally() makes three.
    return result.then((v) => {
      region.end();
      return v;
    }, (e) => {
      region.end();
      throw e;
    }) as T;
  }
  region.end();
  return result;
}

/**
 * Log emits a one-off event with a category and a message, attached to the
 * context's task (without a context argument, the current context's). The
 * category may be empty; keep the number of categories small.
 *
 * @example
 * ```ts
 * import { log, newTask } from "./mod.ts";
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
  if (!enabled) return;
  if (stacks) recordStack(log);
  if (typeof a === "string") {
    recordLog(currentContext().taskId, internCategory(a), String(b));
  } else {
    recordLog((a ?? currentContext()).taskId, internCategory(b), String(c));
  }
}

/**
 * Logf is like {@linkcode log}, with the message formatted from `format` and
 * `args` (`%s %d %i %f %v %j %o %q %x %%`, as Go's fmt or console.log). The
 * formatting happens only while tracing is enabled.
 *
 * @example
 * ```ts
 * import { logf } from "./mod.ts";
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
  if (!enabled) return;
  if (stacks) recordStack(logf);
  if (typeof a === "string") {
    recordLog(currentContext().taskId, internCategory(a), formatLog(b, rest, 0));
  } else {
    recordLog(
      (a ?? currentContext()).taskId,
      internCategory(b),
      formatLog(String(rest[0]), rest, 1),
    );
  }
}

/**
 * The current context: the one set by `withRegion`, `Context.run` or a
 * surrounding call, or `background`.
 *
 * @example
 * ```ts
 * import { currentContext, newTask } from "./mod.ts";
 * const [ctx] = newTask("job");
 * ctx.run(() => console.log(currentContext().taskId === ctx.taskId)); // true
 * ```
 */
export { currentContext };

/**
 * ThreadHandle returns what a worker thread needs to join the current trace
 * (or flight recorder) on its own thread id and ring, or null when nothing
 * is recording. Send it to the worker (it survives `postMessage`) and call
 * {@linkcode joinTrace} there. Pass the worker, the platform's `Worker` (Deno,
 * Bun) or `node:worker_threads`' one, to record the thread's end when it
 * exits, closes itself or is terminated.
 *
 * @example In the parent
 * ```ts
 * import { threadHandle } from "./mod.ts";
 * const worker = new Worker(new URL("./resize.ts", import.meta.url), { type: "module" });
 * worker.postMessage({ trace: threadHandle("resizer", worker) });
 * ```
 */
export function threadHandle(name?: string, worker?: WatchableWorker): ThreadHandle | null {
  return newThreadHandle(name, worker);
}

/**
 * JoinTrace, called in a worker thread with the handle from
 * {@linkcode threadHandle}, makes this thread's calls record into the trace
 * under its own thread id. A null handle (nothing was recording) does
 * nothing. Recording stops by itself when the trace ends.
 *
 * @example In the worker
 * ```ts
 * /// <reference lib="deno.worker" />
 * import { contextFrom, joinTrace, withRegion } from "./mod.ts";
 * self.onmessage = ({ data }) => {
 *   joinTrace(data.trace);
 *   withRegion(contextFrom(data.ctx), "resize", () => {});
 * };
 * ```
 */
export function joinTrace(handle: ThreadHandle | null | undefined): void {
  joinThread(handle);
}

/**
 * LeaveTrace records that this worker thread is done and stops its
 * recording. It runs by itself when the thread exits normally.
 *
 * @example
 * ```ts
 * import { leaveTrace } from "./mod.ts";
 * leaveTrace(); // a no-op on a thread that never joined
 * ```
 */
export function leaveTrace(): void {
  leaveThread();
}

/**
 * ContextFrom rebuilds a context sent from another thread (contexts are
 * plain data and survive `postMessage`), so that a task started on one thread
 * gets regions and logs from another.
 *
 * @example
 * ```ts
 * import { contextFrom, withRegion } from "./mod.ts";
 * const ctx = contextFrom({ taskId: 7 }); // e.g. from a message
 * withRegion(ctx, "decode", () => {});
 * ```
 */
export function contextFrom(value: { taskId: number }): Context {
  return contextOf(value);
}
