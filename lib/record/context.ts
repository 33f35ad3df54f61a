/**
 * The trace context: which task (and which enclosing region and async lane)
 * the current code belongs to, carried implicitly with AsyncLocalStorage.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Context carries the current task, as Go's `context.Context` does for
 * `runtime/trace`. Get one from {@linkcode newTask}, or use `background`.
 * Contexts are immutable and cheap; pass them explicitly, or let runtrace find
 * the current one through the async context.
 *
 * @example Run code with a context as the current one
 * ```ts
 * import { background } from "./context.ts";
 * background.run(() => {
 *   // calls here that omit the context use `background`
 * });
 * ```
 */
export class Context {
  /** Id of the task this context carries; 0 is the background task. */
  readonly taskId: number;
  /** Id of the innermost region entered with `withRegion`, 0 if none. */
  readonly regionId: number;
  /** The async lane (concurrent chain) this context's code runs on. */
  readonly lane: number;

  /** Contexts come from `newTask` and `withRegion`; this is internal. */
  constructor(taskId: number, regionId: number, lane: number) {
    this.taskId = taskId;
    this.regionId = regionId;
    this.lane = lane;
  }

  /**
   * Runs `fn` with this context as the current one, so that calls that omit
   * the context (such as `log(category, message)`) attach to its task. An
   * async `fn` keeps the context across its awaits.
   *
   * @example
   * ```ts
   * import { newTask, log } from "runtrace";
   * const [ctx, task] = newTask("request");
   * await ctx.run(async () => {
   *   log("step", "inside the task");
   * });
   * task.end();
   * ```
   */
  run<T>(fn: () => T): T {
    return storage.run(this, fn);
  }
}

/** The root context: no task (task 0), no region. */
export const background: Context = new Context(0, 0, 0);

/** Holds the current context across awaits. */
export const storage: AsyncLocalStorage<Context> = new AsyncLocalStorage<
  Context
>();

/** The current context, or `background` outside any. */
export function currentContext(): Context {
  return storage.getStore() ?? background;
}
