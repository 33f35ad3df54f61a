/**
 * The worker-thread side of a multi-threaded trace: a thread joins with the
 * handle its parent got from `threadHandle`, records into its own ring (no
 * contention with other threads), and leaves when it is done or exits.
 *
 * @module
 */

import process from "node:process";
import { Context } from "./context.ts";
import { Rec } from "./ring_layout.ts";
import { attachRing, detachRing, enabled, record } from "./ring_writer.ts";
import { startRuntimeSampler, stopRuntimeSampler } from "./runtime_sampler.ts";
import type { ThreadHandle } from "./session.ts";

let joined = false;
let exitHook = false;

/** Joins this thread to the trace `handle` came from; null does nothing. */
export function joinThread(handle: ThreadHandle | null | undefined): void {
  if (handle === null || handle === undefined) return;
  if (
    typeof handle !== "object" || !(handle.ring instanceof SharedArrayBuffer) ||
    !(handle.mainRing instanceof SharedArrayBuffer) || typeof handle.thread !== "number"
  ) {
    throw new TypeError(
      "runtrace: joinTrace() needs the handle returned by threadHandle() in the parent thread",
    );
  }
  if (enabled) {
    throw new Error("runtrace: joinTrace() on a thread that is already recording");
  }
  attachRing(handle.ring, handle, {
    mainRing: handle.mainRing,
    mainTimeOrigin: handle.mainTimeOrigin,
  });
  joined = true;
  if (handle.runtime !== false) startRuntimeSampler(handle.runtime, false);
  if (!exitHook) {
    exitHook = true;
    process.on?.("exit", () => leaveThread());
    leaveOnClose();
  }
}

/**
 * A platform Worker that ends itself calls `self.close()`, which neither
 * Deno nor Bun reports as a process exit: record the thread's end first.
 */
function leaveOnClose(): void {
  const scope = globalThis as { close?: (...args: unknown[]) => unknown };
  const close = scope.close;
  if (typeof close !== "function") return;
  scope.close = function (this: unknown, ...args: unknown[]): unknown {
    leaveThread();
    return Reflect.apply(close, this, args);
  };
}

/** Records this thread's end and stops its recording, if it had joined. */
export function leaveThread(): void {
  if (!joined) return;
  joined = false;
  stopRuntimeSampler();
  if (enabled) record(Rec.THREAD_END, 0, 0, 0, 0, 0);
  detachRing();
}

/** A context for `task` (a Context sent from another thread). */
export function contextOf(value: { taskId: number }): Context {
  if (!value || !Number.isInteger(value.taskId) || value.taskId < 0) {
    throw new TypeError(
      "runtrace: contextFrom() needs a Context (or { taskId }) from another thread",
    );
  }
  return new Context(value.taskId, 0, 0);
}
