/**
 * The recording session: the shared ring and the drain worker, alive while a
 * trace (`start` … `stop`) or a flight recorder runs, or both. Also the exits
 * where `stop` was never called.
 *
 * @module
 */

import process from "node:process";
import { clearTimeout, setTimeout } from "node:timers";
import { Worker } from "node:worker_threads";
import type { HeaderFields } from "../format/encoder.ts";
import type {
  DrainWorkerData,
  ErrorInfo,
  OutputTarget,
  SplitConfig,
  ToWorker,
} from "./drain_worker/messages.ts";
import type { OtlpLiveConfig } from "./drain_worker/trace_tap.ts";
import { Ctrl, CTRL_BYTES, Flush, ringBytes } from "./ring_layout.ts";
import {
  attachRing,
  detachRing,
  enabled,
  intern,
  namesOverLimit,
  publish,
  recordNamesOverLimit,
  resumeRing,
  tasksCrossThreads,
  wakeWorker,
} from "./ring_writer.ts";
import {
  type RuntimeEventOptions,
  startRuntimeSampler,
  stopRuntimeSampler,
} from "./runtime_sampler.ts";
import { startIdleWatch, stopIdleWatch } from "./idle_watch.ts";
import {
  type LiveExportOnly,
  MainThreadOutput,
  type OtlpLiveOptions,
  type SplitOptions,
  type TraceDestination,
} from "./destination.ts";
import { toText } from "./printf.ts";
import { drainWorkerUrl } from "./worker_source.ts";

/** Options of {@linkcode start}. All are optional. */
export interface StartOptions {
  /**
   * Events the shared ring holds, a power of two (default 2^18, 8 MiB). The
   * worker drains it every `flushInterval` ms, and early when half full.
   */
  bufferSize?: number;
  /** Bytes of shared memory for log text and names (default 2 MiB). */
  textBufferSize?: number;
  /** Longest time, ms, an event waits in the ring before the worker writes it (default 50). */
  flushInterval?: number;
  /**
   * How long, ms, a caller waits for room when the ring is full (default
   * 200). After that the worker is deemed stalled and events are dropped and
   * counted (the trace records how many) until there is room again.
   */
  maxWait?: number;
  /**
   * Bytes of encoded trace the worker holds for a stream or writer
   * destination that writes slowly (default 16 MiB). Beyond it the worker
   * stops draining the ring, and the full-ring policy applies: callers wait
   * up to `maxWait`, then events are dropped and counted.
   */
  destinationBufferSize?: number;
  /** Longest log message kept, in UTF-16 units; longer ones are cut and flagged. */
  maxMessageLength?: number;
  /**
   * Record the call stack of every task creation, region start and log
   * (default false). A stack costs microseconds (about 2 µs in Bun, 19 µs in
   * Deno), so this is for finding where events come from, not for production.
   */
  stacks?: boolean;
  /**
   * The execution side of the trace: heap and memory counters, inferred GC,
   * event-loop stalls and utilisation, sampled on one 10 ms timer while the
   * program is active (on by default). After 100 ms with nothing recorded
   * and little CPU used the timer sleeps until the next event (or a check
   * every 0.5 s finds the process busy), so an idle process is not woken; a
   * stall in code that records nothing after such a quiet spell is seen only
   * if it holds up that check. `false` turns it off.
   */
  runtime?: RuntimeEventOptions | false;
  /**
   * How long, ms, the drain worker and the ring stay alive after the last
   * session ends (default 60 000), so that the next `start()` finds them
   * ready: a warm start takes a few milliseconds instead of a new worker's
   * startup. The worker never keeps the process alive. 0 ends it with the
   * session.
   */
  keepWarm?: number;
  /**
   * Export spans live to an OpenTelemetry (OTLP/HTTP) receiver too, from
   * the drain worker as tasks and regions end: `{}` takes everything from the
   * `OTEL_*` environment variables (endpoint `http://localhost:4318`).
   * Spans that cannot be delivered are dropped and counted (see
   * {@linkcode TraceStats}); a receiver that is down never slows the program.
   */
  otlp?: OtlpLiveOptions;
  /**
   * Writes a file trace as self-contained parts, `path.000`, `path.001`, …
   * (as Go's trace generations): a new part begins once the current one
   * holds `maxBytes` or spans `maxAge` ms, and `keep` deletes the oldest
   * parts. Each part reads on its own (it restates the string table and the
   * tasks and regions still open); `runtrace` reads them as one trace. Only
   * for a file path destination; the file `path` and the parts of an earlier
   * recording to it are deleted at the start.
   */
  split?: SplitOptions;
}

/**
 * What a worker thread needs to join the trace: pass it with `postMessage`
 * and call `joinTrace(handle)` in the worker.
 */
export interface ThreadHandle {
  /** The thread's own ring. */
  ring: SharedArrayBuffer;
  /** The main thread's ring (its task-id counter is shared). */
  mainRing: SharedArrayBuffer;
  /** `performance.timeOrigin` of the main thread. */
  mainTimeOrigin: number;
  /** The thread it happened on (1 is the main thread). */
  thread: number;
  /** The name. */
  name: string;
  /** Record slots of the ring. */
  capacity: number;
  /** UTF-16 units of the text ring. */
  textCapacity: number;
  /** How long a caller waits for room, ms. */
  maxWait: number;
  /** Longest message kept, UTF-16 units. */
  maxMessage: number;
  /** Whether calls record their stack. */
  stacks: boolean;
  /** Runtime sampling options, or false. */
  runtime: RuntimeEventOptions | false;
}

/**
 * A worker whose end can be watched, so that {@linkcode threadHandle} records
 * the thread's end: `node:worker_threads`' `Worker` (its `exit` event covers
 * both exiting and `terminate()`), or the platform's `Worker` in Deno and Bun,
 * which has no exit event in Deno: there `terminate()` is what ends a worker
 * from outside, so runtrace wraps that instance's `terminate` to record the end
 * first, and Bun's `close` event covers a worker that exits by itself.
 */
export interface WatchableWorker {
  /** `node:worker_threads`: calls `listener` once, when the worker has exited. */
  once?(event: "exit", listener: () => void): unknown;
  /** The platform's `Worker`: ends the worker. */
  terminate?(): unknown;
  /** The platform's `Worker`: Bun dispatches `close` when the worker has exited. */
  addEventListener?(type: "close", listener: () => void): unknown;
}

/** A message from the worker, its fields read by `type`. */
interface Reply {
  /** Which message: a `FromWorker` type such as `traceReady` or `data`. */
  type: string;
  bytes?: Uint8Array;
  error?: ErrorInfo;
  /** Events in the trace. */
  events?: number;
  lost?: number;
  otlp?: { sent: number; dropped: number };
  parts?: string[];
}

/** What `stop` reports about the trace it finished. */
export interface TraceStats {
  /** Events written to the trace. */
  events: number;
  /**
   * Events dropped because the ring stayed full (a slow worker or
   * destination); the trace records them as lost too.
   */
  lost: number;
  /**
   * Calls that named a new task type, region type or log category after
   * the name table was full (65 536 names): they are recorded under the
   * name `runtrace: too many distinct names`, and the trace has this count
   * as the counter `runtrace.names.overLimit`.
   */
  namesOverLimit: number;
  /**
   * With the `otlp` option: spans delivered to the receiver, and spans
   * dropped (receiver down or too slow, its queue full, or still undelivered
   * at `stopTimeout`); the trace has a non-zero drop count as the counter
   * `runtrace.otlp.dropped`.
   */
  otlp?: { sent: number; dropped: number };
  /**
   * With the `split` option: the paths of the trace's parts still on disk,
   * oldest first (`keep` deleted the ones before them).
   */
  parts?: string[];
}

interface TraceConsumer {
  output?: MainThreadOutput;
  stopping?: Promise<TraceStats>;
  /** {@linkcode namesOverLimit} when the trace started. */
  namesBefore: number;
  /** The worker reported that writing the file failed. */
  error?: Error;
}

interface Session {
  worker: Worker;
  /** The thread's own ring. */
  ring: SharedArrayBuffer;
  ctrl: Int32Array;
  options: ReturnType<typeof ringOptions>;
  /** Rings of the threads that joined, closed when the session ends. */
  joined: Int32Array[];
  nextThread: number;
  trace?: TraceConsumer;
  flight: boolean;
  /** Waiters for the worker's replies, by reply type, oldest first. */
  waiting: Map<string, ((r: Reply) => void)[]>;
  pending: number;
  dead?: Error;
  /** Set once the session is being closed. */
  closing?: Promise<void>;
}

/**
 * The drain worker, kept between sessions while the process runs (for
 * `keepWarm` ms after the last one): a session opens a fresh loop in it
 * instead of starting a thread and compiling its code again.
 */
interface DrainHost {
  worker: Worker;
  /** The session it serves, if any. */
  current?: Session;
  /** The last session's ring, for the next session of the same size. */
  ring?: SharedArrayBuffer;
  /** Ends the parked worker after `keepWarm` ms without a session. */
  idle?: ReturnType<typeof setTimeout>;
  /** Set when the worker failed, exited or was retired. */
  dead?: boolean;
}

let session: Session | undefined;
let host: DrainHost | undefined;
/** Numbers the sessions, for the ring's `Ctrl.SESSION` word. */
let sessionSeq = 0;
let exitHooksInstalled = false;
/**
 * Trace calls made while a stop was still finishing wait here, in call
 * order: `start(); stop(); start(); stop()` needs no awaits.
 */
let queued: Promise<unknown> | undefined;
/** Why a session's worker died under a trace (or recorder), for its stop. */
let traceFailure: Error | undefined;
let flightFailure: Error | undefined;

/** Whether a trace is being written (and not yet stopping). */
export function traceActive(): boolean {
  return session?.trace !== undefined && session.trace.stopping === undefined;
}

/**
 * Starts writing a trace to `dest`; see `start` in tracing.ts. After a stop that
 * is still finishing, it starts once that stop is done. The promise is
 * marked handled: awaiting it reports an error, dropping it is harmless.
 */
export function startTrace(
  dest: TraceDestination | LiveExportOnly,
  options: StartOptions = {},
): Promise<void> {
  const busy = queued ?? session?.trace?.stopping;
  if (busy === undefined) return handled(beginTrace(dest, options));
  const begin = () => beginTrace(dest, options);
  return handled(enqueue(busy.then(begin, begin)));
}

async function beginTrace(
  dest: TraceDestination | LiveExportOnly,
  options: StartOptions,
): Promise<void> {
  if (session?.trace) {
    throw new Error("runtrace: start() called while tracing is already enabled");
  }
  const sizes = ringOptions(options);
  const pendingLimit = Math.min(
    positive("destinationBufferSize", options.destinationBufferSize ?? 16 << 20),
    1 << 30,
  );
  let target: OutputTarget;
  let output: MainThreadOutput | undefined;
  let live = options.otlp;
  if (isLiveOnly(dest)) {
    // No destination: the trace exists for its live export alone.
    live = dest.otlp;
    target = { kind: "none" };
  } else if (typeof dest === "string") {
    if (dest === "") throw new TypeError("runtrace: start() got an empty file path");
    target = { kind: "file", path: dest, split: splitConfig(options.split) };
  } else {
    if (options.split !== undefined) {
      throw new TypeError("runtrace: start()'s split option needs a file path destination");
    }
    // A destination that fails ends the recording; stop() reports why.
    output = new MainThreadOutput(dest, {
      onError: () => {
        if (session === s && s.trace === consumer && !s.flight) detachRing();
      },
      // Frees room under the worker's bound, and wakes it if it waits for that.
      onDone: (n) => {
        if (Atomics.sub(s.ctrl, Ctrl.OUTPUT_PENDING, n) >= pendingLimit) {
          Atomics.add(s.ctrl, Ctrl.WAKE, 1);
          Atomics.notify(s.ctrl, Ctrl.WAKE);
        }
      },
    });
    target = { kind: "port" };
  }
  const otlp = otlpConfig(live);
  traceFailure = undefined;
  const s = ensureSession(sizes);
  const consumer: TraceConsumer = { output, namesBefore: namesOverLimit() };
  Atomics.store(s.ctrl, Ctrl.OUTPUT_PENDING, 0);
  s.trace = consumer;
  try {
    const msg: ToWorker = {
      type: "startTrace",
      target,
      header: header(),
      pendingLimit,
      maxWait: sizes.maxWait,
      otlp,
      otlpDroppedName: otlp ? intern(OTLP_DROPPED) : undefined,
    };
    const r = await request(s, msg, [
      "traceReady",
      "traceError",
    ]);
    if (r.type === "traceError") throw openError(dest, r.error!);
    if (output) {
      await output.drained();
      if (output.error !== undefined) throw output.error;
    }
  } catch (e) {
    if (s.trace === consumer) s.trace = undefined;
    await closeIfIdle(s);
    throw e;
  }
}

/**
 * Stops the trace, if any; see `stop` in tracing.ts. It rejects with the cause
 * if the worker died under the trace. The promise is marked handled.
 */
export function stopTrace(): Promise<TraceStats> {
  if (queued) return handled(enqueue(queued.then(stopNow, stopNow)));
  return handled(stopNow());
}

function stopNow(): Promise<TraceStats> {
  const s = session;
  const t = s?.trace;
  if (!s || !t) {
    const failure = traceFailure;
    traceFailure = undefined;
    return failure ? Promise.reject(failure) : Promise.resolve({ ...NOTHING_STOPPED });
  }
  t.stopping ??= finishTrace(s, t);
  return t.stopping;
}

/** What a stop with no trace to stop reports. */
const NOTHING_STOPPED: TraceStats = { events: 0, lost: 0, namesOverLimit: 0 };

/** Makes `p` the last of the queued calls until it settles. */
function enqueue<T>(p: Promise<T>): Promise<T> {
  queued = p;
  const clear = () => {
    if (queued === p) queued = undefined;
  };
  p.then(clear, clear);
  return p;
}

/** `p`, with a no-op handler attached so that nobody awaiting it is harmless. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

async function finishTrace(s: Session, t: TraceConsumer): Promise<TraceStats> {
  recordNamesOverLimit();
  const namesOver = namesOverLimit() - t.namesBefore;
  const endMs = performance.now();
  if (!s.flight) detachRing();
  let r: Reply;
  try {
    r = await request(s, { type: "stopTrace", endMs }, ["traceStopped"]);
    if (t.output) await t.output.release();
  } finally {
    s.trace = undefined;
    await closeIfIdle(s);
  }
  const err = t.output?.error ?? (r.error ? toError(r.error) : t.error);
  if (err !== undefined) throw err;
  const stats: TraceStats = { events: r.events ?? 0, lost: r.lost ?? 0, namesOverLimit: namesOver };
  if (r.otlp) stats.otlp = { sent: r.otlp.sent, dropped: r.otlp.dropped };
  if (r.parts) stats.parts = r.parts;
  return stats;
}

/** `start`'s `split` option checked, as plain data for the worker; undefined when off. */
function splitConfig(o: SplitOptions | undefined): SplitConfig | undefined {
  if (o === undefined || o === null) return undefined;
  if (typeof o !== "object") {
    throw new TypeError("runtrace: start()'s split option must be an object");
  }
  if (o.maxBytes === undefined && o.maxAge === undefined) {
    throw new TypeError("runtrace: start()'s split option needs maxBytes, maxAge or both");
  }
  const maxBytes = o.maxBytes === undefined ? Infinity : positive("split.maxBytes", o.maxBytes);
  if (maxBytes < 4096) {
    throw new RangeError(`runtrace: split.maxBytes must be at least 4096, got ${o.maxBytes}`);
  }
  const keep = o.keep === undefined ? Infinity : positive("split.keep", o.keep);
  if (!Number.isInteger(keep) && keep !== Infinity) {
    throw new RangeError(`runtrace: split.keep must be a whole number of parts, got ${o.keep}`);
  }
  return {
    maxBytes,
    maxAge: o.maxAge === undefined ? Infinity : positive("split.maxAge", o.maxAge),
    keep,
  };
}

/** Whether `dest` is `{ otlp }`: no trace destination, a live export only. */
function isLiveOnly(dest: TraceDestination | LiveExportOnly): dest is LiveExportOnly {
  return typeof dest === "object" && dest !== null && !(dest instanceof WritableStream) &&
    typeof (dest as { write?: unknown }).write !== "function" &&
    typeof (dest as { otlp?: unknown }).otlp === "object" &&
    (dest as { otlp?: unknown }).otlp !== null;
}

/** The counter of spans the live export dropped. */
const OTLP_DROPPED = "runtrace.otlp.dropped";

/** `start`'s `otlp` option checked, as plain data for the worker; undefined when off. */
function otlpConfig(o: OtlpLiveOptions | undefined): OtlpLiveConfig | undefined {
  if (o === undefined || o === null) return undefined;
  if (typeof o !== "object") {
    throw new TypeError("runtrace: start()'s otlp option must be an object");
  }
  if (o.endpoint !== undefined && !/^https?:\/\//.test(String(o.endpoint))) {
    throw new TypeError(
      `runtrace: start()'s otlp.endpoint must be an http:// or https:// URL, not "${o.endpoint}"`,
    );
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.headers ?? {})) headers[String(k)] = String(v);
  const ms = (name: string, v: number | undefined) =>
    v === undefined ? undefined : positive(name, v);
  return {
    endpoint: o.endpoint === undefined ? undefined : String(o.endpoint),
    headers,
    serviceName: o.serviceName === undefined ? undefined : String(o.serviceName),
    exportInterval: ms("otlp.exportInterval", o.exportInterval),
    stopTimeout: ms("otlp.stopTimeout", o.stopTimeout),
    env: otelEnv(),
  };
}

/** The `OTEL_*` environment variables now, for the worker (see `OtlpLiveConfig.env`). */
function otelEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  try {
    for (const [k, v] of Object.entries(process.env)) {
      if (k.startsWith("OTEL_") && typeof v === "string") env[k] = v;
    }
  } catch {
    // No permission to read the environment: the worker's defaults.
  }
  return env;
}

/** Starts the flight recorder's window in the worker. */
export function startFlight(minAge: number, maxBytes: number, options: StartOptions): void {
  flightFailure = undefined;
  const s = ensureSession(ringOptions(options));
  s.flight = true;
  request(s, { type: "startFlight", header: header(), minAge, maxBytes }, ["flightReady"])
    .catch(() => {});
}

/** Stops the flight recorder's window; rejects if the worker died under it. */
export async function stopFlight(): Promise<void> {
  const s = session;
  if (!s?.flight) {
    const failure = flightFailure;
    flightFailure = undefined;
    if (failure) throw failure;
    return;
  }
  s.flight = false;
  try {
    await request(s, { type: "stopFlight" }, ["flightStopped"]);
  } finally {
    await closeIfIdle(s);
  }
}

/** A complete trace of the flight recorder's current window. */
export async function snapshotFlight(): Promise<Uint8Array> {
  const s = session;
  if (!s?.flight) throw new Error("runtrace: cannot snapshot a disabled flight recorder");
  const r = await request(s, { type: "snapshot" }, ["snapshot"]);
  return r.bytes!;
}

function ensureSession(o: ReturnType<typeof ringOptions>): Session {
  if (session) {
    // A trace that is stopping paused the ring; a new consumer resumes it.
    if (!enabled) resumeRing();
    return session;
  }
  const h = warmHost();
  if (h.idle !== undefined) clearTimeout(h.idle);
  h.idle = undefined;
  // The last session's ring is reused: its loop is closed (or stands aside
  // once Ctrl.SESSION changes), and every word the producer reads is reset.
  const bytes = ringBytes(o);
  const ring = h.ring?.byteLength === bytes ? h.ring : new SharedArrayBuffer(bytes);
  h.ring = undefined;
  const ctrl = new Int32Array(ring, 0, CTRL_BYTES >> 2);
  ctrl.fill(0);
  const number = ++sessionSeq;
  Atomics.store(ctrl, Ctrl.SESSION, number);
  const data: DrainWorkerData = {
    ring,
    capacity: o.capacity,
    textCapacity: o.textCapacity,
    thread: 1,
    threadName: "main",
    flushInterval: o.flushInterval,
    session: number,
  };
  h.worker.postMessage({ type: "open", data } satisfies ToWorker);
  const s: Session = {
    worker: h.worker,
    ring,
    ctrl,
    options: o,
    joined: [],
    nextThread: 2,
    flight: false,
    waiting: new Map(),
    pending: 0,
  };
  h.current = s;
  session = s;
  installExitHooks();
  attachRing(ring, o);
  if (o.runtime !== false) startRuntimeSampler(o.runtime, true);
  else startIdleWatch();
  return s;
}

/** The warm drain worker, started (unref'd) if there is none. */
function warmHost(): DrainHost {
  if (host && !host.dead) return host;
  const worker = new Worker(drainWorkerUrl(), { workerData: {} } as never);
  worker.unref();
  const h: DrainHost = { worker };
  host = h;
  worker.on("message", (m: Reply) => {
    const s = h.current;
    if (!s) return;
    if (m.type === "data") {
      s.trace?.output?.write(m.bytes!);
    } else if (m.type === "outputError") {
      if (s.trace) s.trace.error = toError(m.error!);
      if (!s.flight && session === s) detachRing();
    } else {
      s.waiting.get(m.type)?.shift()?.(m);
    }
  });
  const die = (e: Error) => {
    if (h.dead) return;
    h.dead = true;
    if (host === h) host = undefined;
    if (h.idle !== undefined) clearTimeout(h.idle);
    const s = h.current;
    h.current = undefined;
    if (s) sessionDied(s, e);
  };
  worker.on("error", (e: Error) => die(e));
  worker.on("exit", (code: number) => {
    die(new Error(`runtrace: the drain worker exited (code ${code})`));
  });
  return h;
}

/** The worker died under `s`: recording ends, and the stops report why. */
function sessionDied(s: Session, e: Error): void {
  s.dead = e;
  if (session === s) {
    const failure = new Error(
      `runtrace: recording stopped: the drain worker failed: ${e.message}`,
    );
    if (s.trace && !s.trace.stopping) traceFailure = failure;
    if (s.flight) flightFailure = failure;
    detachRing();
    stopSamplers();
    session = undefined;
  }
  for (const waiters of s.waiting.values()) {
    for (const w of waiters.splice(0)) w({ type: "dead" });
  }
}

function stopSamplers(): void {
  stopRuntimeSampler();
  stopIdleWatch();
}

/** The current session's drain worker: tests use it to make the worker fail. */
export function drainWorker(): Worker | undefined {
  return session?.worker;
}

/** Sends `msg` and resolves with the first reply of one of `types`. */
function request(s: Session, msg: ToWorker, types: string[]): Promise<Reply> {
  if (s.dead) return Promise.reject(s.dead);
  return new Promise<Reply>((resolve, reject) => {
    let settled = false;
    const done = (r: Reply) => {
      if (settled) return;
      settled = true;
      for (const t of types) {
        const list = s.waiting.get(t);
        const at = list?.indexOf(done) ?? -1;
        if (at >= 0) list!.splice(at, 1);
      }
      if (--s.pending === 0 && !s.dead) {
        s.worker.unref();
        // A stop that found this request in flight left the closing to it.
        void closeIfIdle(s);
      }
      if (r.type === "dead") reject(s.dead);
      else resolve(r);
    };
    for (const t of types) {
      const list = s.waiting.get(t);
      if (list) list.push(done);
      else s.waiting.set(t, [done]);
    }
    if (s.pending++ === 0) s.worker.ref();
    if (msg.type === "startTrace" || msg.type === "startFlight") {
      Atomics.add(s.ctrl, Ctrl.OPENING, 1);
    }
    // The worker answers from the records it can see: all of them.
    publish();
    s.worker.postMessage(msg);
    wakeWorker();
  });
}

function closeIfIdle(s: Session): Promise<void> {
  // With requests in flight (a start right after a stop), the last reply
  // closes the session.
  if (s.trace || s.flight || s.pending > 0) return Promise.resolve();
  return s.closing ??= close(s);
}

function close(s: Session): Promise<void> {
  if (session === s) {
    if (enabled) detachRing();
    stopSamplers();
    session = undefined;
  }
  for (const ctrl of s.joined) Atomics.store(ctrl, Ctrl.CLOSED, 1);
  Atomics.store(s.ctrl, Ctrl.CLOSED, 1);
  const h = host;
  if (!h || h.worker !== s.worker || h.current !== s) return Promise.resolve();
  h.current = undefined;
  const keep = s.options.keepWarm;
  if (keep === 0) return retire(h);
  // Parked: the worker drops the session's loop and waits for the next one.
  s.worker.postMessage({ type: "close" } satisfies ToWorker);
  h.ring = s.ring;
  h.idle = setTimeout(() => void retire(h), keep);
  h.idle.unref?.();
  return Promise.resolve();
}

/** Ends a parked worker; the next session starts a new one. */
async function retire(h: DrainHost): Promise<void> {
  if (h.current || h.dead) return;
  h.dead = true;
  if (host === h) host = undefined;
  if (h.idle !== undefined) clearTimeout(h.idle);
  h.ring = undefined;
  await h.worker.terminate();
}

/**
 * A handle for a worker thread to join the current session, or null when
 * nothing is recording. With `worker`, the thread's end is recorded when it
 * exits.
 */
export function threadHandle(name?: string, worker?: WatchableWorker): ThreadHandle | null {
  const s = session;
  if (!s || s.dead) return null;
  const o = s.options;
  const thread = s.nextThread++;
  const ring = new SharedArrayBuffer(ringBytes(o));
  const label = name === undefined || name === null ? `worker ${thread - 1}` : toText(name);
  // The joining thread's regions must not reach the trace before their task's begin.
  tasksCrossThreads();
  s.joined.push(new Int32Array(ring, 0, CTRL_BYTES >> 2));
  s.worker.postMessage(
    {
      type: "addRing",
      ring,
      capacity: o.capacity,
      textCapacity: o.textCapacity,
      thread,
      name: label,
    } satisfies ToWorker,
  );
  if (worker) {
    watchExit(worker, () => {
      if (session === s && !s.dead) {
        s.worker.postMessage(
          { type: "endRing", thread, endMs: performance.now() } satisfies ToWorker,
        );
        wakeWorker();
      }
    });
  }
  return {
    ring,
    mainRing: s.ring,
    mainTimeOrigin: performance.timeOrigin,
    thread,
    name: label,
    capacity: o.capacity,
    textCapacity: o.textCapacity,
    maxWait: o.maxWait,
    maxMessage: o.maxMessage,
    stacks: o.stacks,
    runtime: o.runtime,
  };
}

/**
 * Calls `onExit` once when `worker` has ended: on `exit` for a
 * `node:worker_threads` Worker; for the platform's Worker, on Bun's `close`
 * event or just before the instance's `terminate()` runs. A worker that
 * offers none of these (or a value that is not a worker) is not watched: its
 * end is recorded when it calls `leaveTrace()`.
 */
function watchExit(worker: WatchableWorker, onExit: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    onExit();
  };
  if (typeof worker.once === "function") {
    worker.once("exit", once);
    return;
  }
  if (typeof worker.addEventListener === "function") worker.addEventListener("close", once);
  const terminate = worker.terminate;
  if (typeof terminate === "function") {
    worker.terminate = function (this: unknown, ...args: unknown[]): unknown {
      once();
      return Reflect.apply(terminate, this, args);
    };
  }
}

function header(): HeaderFields {
  const g = globalThis as {
    Deno?: { version: { deno: string } };
    Bun?: { version: string };
  };
  const [runtime, runtimeVersion] = g.Deno
    ? ["deno", g.Deno.version.deno]
    : g.Bun
    ? ["bun", g.Bun.version]
    : ["node", process.versions?.node ?? ""];
  return {
    timeOrigin: performance.timeOrigin,
    startTime: performance.now(),
    resolutionNs: resolutionNs ??= clockResolutionNs(),
    runtime,
    runtimeVersion,
    pid: typeof process.pid === "number" ? process.pid : 0,
  };
}

/**
 * On a normal exit (the event loop ran dry) a forgotten `stop` runs by
 * itself. On `process.exit()`, which allows no asynchronous work, the worker
 * is asked to finish the trace synchronously while this thread waits: that
 * completes traces written to a file path. Deno fires no process "exit" on
 * `Deno.exit()` (only "unload"), nor on a fatal error or unhandled rejection:
 * those fire "error" or "unhandledrejection" and then end the process unless
 * a listener prevents it, which a listener cannot know. So there the worker
 * writes a checkpoint: everything so far and an END batch that the next
 * write replaces if the program lives on.
 */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("beforeExit", () => {
    if (!traceActive()) return;
    stopTrace().catch((e) => {
      console.error(`runtrace: could not finish the trace at exit: ${e}`);
    });
  });
  process.on("exit", () => flushAtExit(Flush.REQUESTED));
  const g = globalThis as {
    Deno?: unknown;
    addEventListener?: (type: string, listener: () => void) => void;
  };
  if (g.Deno !== undefined && typeof g.addEventListener === "function") {
    g.addEventListener("unload", () => flushAtExit(Flush.REQUESTED));
    g.addEventListener("error", () => flushAtExit(Flush.CHECKPOINT));
    g.addEventListener("unhandledrejection", () => flushAtExit(Flush.CHECKPOINT));
  }
}

/** Has the worker finish (or checkpoint) a file trace while this thread waits. */
function flushAtExit(kind: number): void {
  const s = session;
  if (!s?.trace || s.trace.output || s.dead) return;
  if (Atomics.compareExchange(s.ctrl, Ctrl.FLUSH, Flush.IDLE, kind) !== Flush.IDLE) return;
  publish();
  Atomics.add(s.ctrl, Ctrl.WAKE, 1);
  Atomics.notify(s.ctrl, Ctrl.WAKE);
  Atomics.wait(s.ctrl, Ctrl.FLUSH, kind, 5000);
}

function ringOptions(o: StartOptions) {
  const capacity = powerOfTwo("bufferSize", o.bufferSize ?? 1 << 18);
  const textCapacity = powerOfTwo("textBufferSize", (o.textBufferSize ?? 2 << 20) >> 1);
  return {
    capacity,
    textCapacity,
    flushInterval: positive("flushInterval", o.flushInterval ?? 50),
    maxWait: positive("maxWait", o.maxWait ?? 200),
    maxMessage: Math.min(
      positive("maxMessageLength", o.maxMessageLength ?? 1 << 20),
      textCapacity >> 1,
    ),
    stacks: o.stacks === true,
    runtime: o.runtime === false ? false as const : runtimeOptions(o.runtime ?? {}),
    keepWarm: o.keepWarm === 0
      ? 0
      : Math.min(positive("keepWarm", o.keepWarm ?? 60_000), 2 ** 31 - 1),
  };
}

function runtimeOptions(r: RuntimeEventOptions): RuntimeEventOptions {
  return {
    heartbeat: positive("runtime.heartbeat", r.heartbeat ?? 10),
    stallThreshold: positive("runtime.stallThreshold", r.stallThreshold ?? 50),
    heapInterval: r.heapInterval === 0 ? 0 : positive("runtime.heapInterval", r.heapInterval ?? 10),
  };
}

function openError(dest: TraceDestination | LiveExportOnly, e: ErrorInfo): Error {
  const what = typeof dest === "string" ? `file "${dest}"` : "destination";
  const err = new Error(`runtrace: cannot open trace ${what}: ${e.message}`);
  (err as { code?: string }).code = e.code;
  return err;
}

function toError(e: ErrorInfo): Error {
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

/** The clock's resolution, measured once per process (it costs 2000 clock reads). */
let resolutionNs: number | undefined;

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
