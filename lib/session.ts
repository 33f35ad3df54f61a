/**
 * One tracing session: the shared ring, the drain worker and the sink, from
 * `start` to `stop`, including the exits where `stop` was never called.
 *
 * @module
 */

import process from "node:process";
import { Worker } from "node:worker_threads";
import { Batch, Ev, FORMAT_VERSION, LOG_TRUNCATED, MAGIC } from "./format.ts";
import type { FormatNumbers, HeaderFields } from "./encoder.ts";
import type { DrainWorkerData, LayoutNumbers, SinkSpec } from "./drain_worker.ts";
import { Ctrl, CTRL_BYTES, Flush, Rec, RECORD_BYTES, ringBytes } from "./ring_layout.ts";
import { attachRing, detachRing, wakeWorker } from "./ring_writer.ts";
import { MainThreadSink, type TraceDestination } from "./sink.ts";

/** Options of {@linkcode startSession}; see `StartOptions` in mod.ts. */
export interface SessionOptions {
  bufferSize?: number;
  textBufferSize?: number;
  flushInterval?: number;
  maxWait?: number;
  maxMessageLength?: number;
}

interface Session {
  worker: Worker;
  ring: SharedArrayBuffer;
  ctrl: Int32Array;
  sink?: MainThreadSink;
  writesFile: boolean;
  stopping?: Promise<void>;
  workerError?: Error;
  stopped?: (m: StoppedMessage) => void;
}

interface StoppedMessage {
  events: number;
  lost: number;
  error?: WorkerErrorInfo;
}

interface WorkerErrorInfo {
  name?: string;
  message: string;
  code?: string;
}

let session: Session | undefined;
let exitHooksInstalled = false;

const FORMAT: FormatNumbers = {
  magic: [...MAGIC],
  version: FORMAT_VERSION,
  batch: Batch,
  ev: Ev,
  logTruncated: LOG_TRUNCATED,
};

const LAYOUT: LayoutNumbers = {
  ctrl: Ctrl,
  flush: Flush,
  rec: Rec,
  ctrlBytes: CTRL_BYTES,
  recordBytes: RECORD_BYTES,
};

/** Whether a session is running (or stopping). */
export function sessionActive(): boolean {
  return session !== undefined;
}

/** Starts a session writing to `dest`; see `start` in mod.ts. */
export async function startSession(
  dest: TraceDestination,
  options: SessionOptions = {},
  workerUrl: URL,
): Promise<void> {
  if (session) {
    throw new Error("runtrace: start() called while tracing is already enabled");
  }
  const capacity = powerOfTwo("bufferSize", options.bufferSize ?? 1 << 18);
  const textCapacity = powerOfTwo(
    "textBufferSize",
    (options.textBufferSize ?? 2 << 20) >> 1,
  );
  const flushInterval = positive("flushInterval", options.flushInterval ?? 50);
  const maxWait = positive("maxWait", options.maxWait ?? 200);
  const maxMessage = Math.min(
    positive("maxMessageLength", options.maxMessageLength ?? 1 << 20),
    textCapacity >> 1,
  );

  let sinkSpec: SinkSpec;
  let sink: MainThreadSink | undefined;
  if (typeof dest === "string") {
    if (dest === "") throw new TypeError("runtrace: start() got an empty file path");
    sinkSpec = { kind: "file", path: dest };
  } else {
    sink = new MainThreadSink(dest);
    sinkSpec = { kind: "port" };
  }

  const ring = new SharedArrayBuffer(ringBytes({ capacity, textCapacity }));
  const startTime = performance.now();
  const header: HeaderFields = {
    timeOrigin: performance.timeOrigin,
    startTime,
    resolutionNs: clockResolutionNs(),
    ...runtimeInfo(),
    pid: typeof process.pid === "number" ? process.pid : 0,
  };
  const data: DrainWorkerData = {
    ring,
    capacity,
    textCapacity,
    thread: 1,
    threadName: "main",
    layout: LAYOUT,
    format: FORMAT,
    header,
    sink: sinkSpec,
    flushInterval,
  };
  const worker = new Worker(workerUrl, { workerData: data } as never);
  const s: Session = {
    worker,
    ring,
    ctrl: new Int32Array(ring, 0, CTRL_BYTES >> 2),
    sink,
    writesFile: sink === undefined,
  };
  session = s;
  installExitHooks();
  attachRing(ring, { capacity, textCapacity, maxWait, maxMessage });

  const ready = new Promise<void>((resolve, reject) => {
    worker.on("message", (m: { type: string } & Record<string, unknown>) => {
      switch (m.type) {
        case "data":
          s.sink?.write(m.bytes as Uint8Array);
          break;
        case "ready":
          resolve();
          break;
        case "error":
          reject(sinkOpenError(dest, m.error as WorkerErrorInfo));
          break;
        case "sinkError":
          s.workerError = toError(m.error as WorkerErrorInfo);
          if (session === s) detachRing();
          break;
        case "stopped":
          s.stopped?.(m as unknown as StoppedMessage);
          break;
      }
    });
    worker.on("error", (e: Error) => {
      s.workerError = e;
      if (session === s) detachRing();
      reject(e);
      s.stopped?.({ events: 0, lost: 0 });
    });
    worker.on("exit", (code: number) => {
      if (session === s && !s.stopping) detachRing();
      reject(new Error(`runtrace: the drain worker exited (code ${code}) before it was ready`));
      s.stopped?.({ events: 0, lost: 0 });
    });
  });

  try {
    await ready;
    if (sink) {
      await sink.drained();
      if (sink.error !== undefined) throw sink.error;
    }
  } catch (e) {
    if (session === s) {
      detachRing();
      session = undefined;
    }
    await worker.terminate();
    throw e;
  }
  worker.unref();
}

/** Stops the session, if any; see `stop` in mod.ts. */
export function stopSession(): Promise<void> {
  const s = session;
  if (!s) return Promise.resolve();
  s.stopping ??= finishSession(s);
  return s.stopping;
}

async function finishSession(s: Session): Promise<void> {
  detachRing();
  s.worker.ref();
  let result: StoppedMessage;
  try {
    result = await new Promise<StoppedMessage>((resolve) => {
      s.stopped = resolve;
      s.worker.postMessage({ type: "stop" });
      wakeWorker();
    });
    if (s.sink) await s.sink.release();
  } finally {
    session = undefined;
    await s.worker.terminate();
  }
  const err = s.sink?.error ??
    (result.error ? toError(result.error) : s.workerError);
  if (err !== undefined) throw err;
}

/**
 * On a normal exit (the event loop ran dry) a forgotten `stop` runs by
 * itself. On `process.exit()`, which allows no asynchronous work, the worker
 * is asked to drain and write synchronously while this thread waits: that
 * completes traces written to a file path.
 */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("beforeExit", () => {
    if (!session || session.stopping) return;
    stopSession().catch((e) => {
      console.error(`runtrace: could not finish the trace at exit: ${e}`);
    });
  });
  process.on("exit", () => {
    const s = session;
    if (!s || !s.writesFile) return;
    Atomics.store(s.ctrl, Ctrl.FLUSH, Flush.REQUESTED);
    wakeWorker();
    Atomics.wait(s.ctrl, Ctrl.FLUSH, Flush.REQUESTED, 5000);
  });
}

function sinkOpenError(dest: TraceDestination, e: WorkerErrorInfo): Error {
  const what = typeof dest === "string" ? `file "${dest}"` : "destination";
  const err = new Error(`runtrace: cannot open trace ${what}: ${e.message}`);
  (err as { code?: string }).code = e.code;
  return err;
}

function toError(e: WorkerErrorInfo): Error {
  const err = new Error(e.message);
  if (e.name) err.name = e.name;
  if (e.code) (err as { code?: string }).code = e.code;
  return err;
}

function powerOfTwo(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1024 || v > 1 << 26 || (v & (v - 1)) !== 0) {
    throw new RangeError(
      `runtrace: ${name} must be a power of two between 1024 and 2^26, got ${v}`,
    );
  }
  return v;
}

function positive(name: string, v: number): number {
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`runtrace: ${name} must be a positive number, got ${v}`);
  }
  return v;
}

function clockResolutionNs(): number {
  let best = Infinity;
  let prev = performance.now();
  for (let k = 0; k < 2000 && best > 0.00001; k++) {
    const t = performance.now();
    if (t > prev && t - prev < best) best = t - prev;
    prev = t;
  }
  return Number.isFinite(best) ? Math.max(1, Math.round(best * 1e6)) : 1000;
}

function runtimeInfo(): { runtime: string; runtimeVersion: string } {
  const g = globalThis as {
    Deno?: { version: { deno: string } };
    Bun?: { version: string };
  };
  if (g.Deno) return { runtime: "deno", runtimeVersion: g.Deno.version.deno };
  if (g.Bun) return { runtime: "bun", runtimeVersion: g.Bun.version };
  return { runtime: "node", runtimeVersion: process.versions?.node ?? "" };
}
