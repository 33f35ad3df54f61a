/**
 * What the main thread and the drain worker say to each other: the data the
 * worker starts with, and the messages each side posts.
 *
 * @module
 */

import type { HeaderFields } from "../../format/encoder.ts";
import type { OtlpLiveConfig, TapTotals } from "./trace_tap.ts";

/**
 * Where a trace's bytes go: a file the worker writes (or its parts, with
 * `split`), the main thread, or nowhere (a trace kept only for its live
 * export's tap).
 */
export type OutputTarget =
  | { kind: "file"; path: string; split?: SplitConfig }
  | { kind: "port" }
  | { kind: "none" };

/**
 * A trace written as parts `path.000`, `path.001`, …: a new part begins once
 * the current one holds `maxBytes` or spans `maxAge` ms (Infinity: no bound),
 * and only the newest `keep` parts stay on disk.
 */
export interface SplitConfig {
  /** Bytes a part holds before the next begins. */
  maxBytes: number;
  /** Milliseconds a part spans before the next begins. */
  maxAge: number;
  /** Parts kept on disk, the oldest deleted first (Infinity: all). */
  keep: number;
}

/** What the worker is started with (its `workerData`). */
export interface DrainWorkerData {
  /** The main thread's ring (ring_layout.ts). */
  ring: SharedArrayBuffer;
  /** Record slots of the ring, a power of two. */
  capacity: number;
  /** UTF-16 units of the ring's text, a power of two. */
  textCapacity: number;
  /** The main thread's id in the trace. */
  thread: number;
  /** The main thread's name in the trace. */
  threadName: string;
  /** Longest the worker sleeps between drains, ms. */
  flushInterval: number;
  /**
   * The session's number in the ring's `Ctrl.SESSION` word (0 when absent): the
   * loop stops once the word says another session owns the ring.
   */
  session?: number;
}

/** Messages the main thread sends. */
export type ToWorker =
  | {
    /** A new session: a fresh loop over `data`'s ring (the warm worker's next session). */
    type: "open";
    data: DrainWorkerData;
  }
  | { type: "close" }
  | {
    type: "startTrace";
    target: OutputTarget;
    header: HeaderFields;
    /** Unwritten bytes a port output may hold before draining pauses (default: no bound). */
    pendingLimit?: number;
    /** How long a finishing trace waits for a full port output, ms (default 200). */
    maxWait?: number;
    /** Export spans live to an OTLP/HTTP receiver too. */
    otlp?: OtlpLiveConfig;
    /** String id of `runtrace.otlp.dropped`, the counter of spans not delivered. */
    otlpDroppedName?: number;
  }
  | { type: "stopTrace"; endMs: number }
  | { type: "startFlight"; header: HeaderFields; minAge: number; maxBytes: number }
  | { type: "stopFlight" }
  | { type: "snapshot" }
  | {
    type: "addRing";
    ring: SharedArrayBuffer;
    capacity: number;
    textCapacity: number;
    thread: number;
    name: string;
  }
  | { type: "endRing"; thread: number; endMs: number };

/** An error as it crosses threads: plain data. */
export interface ErrorInfo {
  /** The error's `name`. */
  name?: string;
  /** The error's `message`. */
  message: string;
  /** The error's `code`, such as `ENOENT`. */
  code?: string;
}

/** Messages the worker sends. */
export type FromWorker =
  | { type: "ready" }
  | { type: "traceReady" }
  | { type: "traceError"; error: ErrorInfo }
  | { type: "data"; bytes: Uint8Array }
  | { type: "outputError"; error: ErrorInfo }
  | {
    type: "traceStopped";
    events: number;
    lost: number;
    error?: ErrorInfo;
    otlp?: TapTotals;
    /** A split trace: the paths of its parts still on disk, in order. */
    parts?: string[];
  }
  | { type: "flightReady" }
  | { type: "flightStopped" }
  | { type: "snapshot"; bytes: Uint8Array };

/** The end of a message channel the worker talks through: `parentPort`, or a test's stand-in. */
export interface WorkerPort {
  /** Sends `message` to the main thread, moving the buffers in `transfer`. */
  postMessage(message: FromWorker, transfer?: ArrayBuffer[]): void;
  /** Calls `listener` with each message from the main thread. */
  on(event: "message", listener: (message: ToWorker) => void): unknown;
}

/**
 * `e` as plain data for a message.
 *
 * @example
 * ```ts
 * import { errorInfo } from "./messages.ts";
 * errorInfo(new Error("disk full")); // { name: "Error", message: "disk full", code: undefined }
 * ```
 */
export function errorInfo(e: unknown): ErrorInfo {
  const err = e as { name?: string; message?: string; code?: string } | undefined;
  return { name: err?.name, message: err?.message ?? String(e), code: err?.code };
}
