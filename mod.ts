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

export { background, Context } from "./lib/record/context.ts";
export type { RuntimeEventOptions } from "./lib/record/runtime_sampler.ts";
export type {
  StartOptions,
  ThreadHandle,
  TraceStats,
  WatchableWorker,
} from "./lib/record/session.ts";
export { FlightRecorder, type FlightRecorderOptions } from "./lib/record/flight_recorder.ts";
export type {
  LiveExportOnly,
  OtlpLiveOptions,
  SplitOptions,
  TraceDestination,
  TraceWriterLike,
} from "./lib/record/destination.ts";
export {
  contextFrom,
  isEnabled,
  joinTrace,
  leaveTrace,
  start,
  stop,
  threadHandle,
} from "./lib/record/tracing.ts";
export {
  log,
  logf,
  newTask,
  Region,
  startRegion,
  Task,
  withRegion,
} from "./lib/record/annotations.ts";

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
export { currentContext } from "./lib/record/context.ts";
