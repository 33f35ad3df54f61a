/**
 * Turning tracing on and off, and threads joining it: the recording API's
 * control functions (`start`, `stop`, `isEnabled`, `threadHandle`,
 * `joinTrace`, `leaveTrace`, `contextFrom`), re-exported by mod.ts.
 *
 * @module
 */

import type { Context } from "./context.ts";
import { enabled, ringClosed } from "./ring_writer.ts";
import {
  type StartOptions,
  startTrace,
  stopTrace,
  type ThreadHandle,
  threadHandle as newThreadHandle,
  type TraceStats,
  type WatchableWorker,
} from "./session.ts";
import { contextOf, joinThread, leaveThread } from "./thread_join.ts";
import type { LiveExportOnly, TraceDestination } from "./destination.ts";

/**
 * Start enables tracing and writes the trace to `w`: a file path (written by
 * the worker thread), a `WritableStream`, or an object with a `write(bytes)`
 * method such as `Deno.FsFile` or Bun's `FileSink`. With the `otlp` option
 * the spans also go live to an OpenTelemetry receiver; `w` = `{ otlp }`
 * exports them without writing a trace anywhere. Tracing is enabled when
 * `start` returns its promise; the promise rejects, with tracing disabled
 * again, if tracing is already enabled or `w` cannot be written. A `start`
 * called while a `stop` is finishing starts when that stop is done.
 *
 * A trace that is never stopped is finished when the program exits. A file
 * trace is complete also after `process.exit()`, `Deno.exit()`, an uncaught
 * exception or an unhandled rejection.
 *
 * @example
 * ```ts
 * import { start, stop } from "runtrace";
 * await start("trace.out");
 * // ... the program ...
 * await stop();
 * ```
 */
export function start(
  w: TraceDestination | LiveExportOnly,
  options?: StartOptions,
): Promise<void> {
  return startTrace(w, options);
}

/**
 * Stop stops the current tracing, if any. Its promise resolves, with the
 * trace's {@linkcode TraceStats} (events written, events lost, names over
 * the limit), only after every byte of the trace reached the destination.
 * It rejects with the destination's error if a write failed, or with the
 * cause if recording had failed (the drain worker died). The destination
 * is not closed. Calls to `start` and `stop` take effect in call order, so
 * they need not be awaited; a promise nobody awaits is never an unhandled
 * rejection. A destination slower than the trace is held to
 * `destinationBufferSize`: stop waits for it up to `maxWait`, then drops the
 * rest of the ring and counts it as lost.
 *
 * @example
 * ```ts
 * import { stop } from "runtrace";
 * const { events, lost } = await stop(); // zeros when not tracing
 * ```
 */
export function stop(): Promise<TraceStats> {
  return stopTrace();
}

/**
 * IsEnabled reports whether tracing is enabled: a trace or a
 * {@linkcode FlightRecorder} is recording. The information is advisory only:
 * the tracing status may have changed by the time it returns.
 *
 * @example
 * ```ts
 * import { isEnabled, log } from "runtrace";
 * if (isEnabled()) log("debug", JSON.stringify({ expensive: true }));
 * ```
 */
export function isEnabled(): boolean {
  return enabled && !ringClosed();
}

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
 * import { threadHandle } from "runtrace";
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
 * import { contextFrom, joinTrace, withRegion } from "runtrace";
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
 * import { leaveTrace } from "runtrace";
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
 * import { contextFrom, withRegion } from "runtrace";
 * const ctx = contextFrom({ taskId: 7 }); // e.g. from a message
 * withRegion(ctx, "decode", () => {});
 * ```
 */
export function contextFrom(value: { taskId: number }): Context {
  return contextOf(value);
}
