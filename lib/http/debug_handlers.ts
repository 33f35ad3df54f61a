/**
 * Debug endpoints as fetch handlers, in the manner of Go's
 * `/debug/pprof/trace?seconds=N`: one records a live trace for a few seconds
 * and streams it back, one returns a flight-recorder snapshot. They expose
 * what the program does, so nothing mounts them by default: the caller routes
 * to them, behind whatever protects its other admin endpoints.
 *
 * @module
 */

import type { StartOptions } from "../record/session.ts";
import { start, stop } from "../record/tracing.ts";

/** A request handler in the fetch style that `Deno.serve` and `Bun.serve` take. */
export type FetchHandler = (req: Request) => Promise<Response>;

/** Options of {@linkcode traceHandler}. All are optional. */
export interface TraceHandlerOptions {
  /** Seconds recorded when the request has no `seconds` parameter (default 1). */
  defaultSeconds?: number;
  /** The most seconds a request may ask for (default 60). */
  maxSeconds?: number;
  /** Passed to `start` for each recording, e.g. a larger `bufferSize`. */
  startOptions?: StartOptions;
}

/**
 * What {@linkcode flightRecorderHandler} needs of a flight recorder: the
 * shape of runtrace's `FlightRecorder` (and of Go's), so a test double or
 * another implementation serves as well.
 */
export interface FlightRecorderLike {
  /** Whether the recorder is running. */
  enabled(): boolean;
  /**
   * Writes a snapshot of the recent window to `w` and resolves with the bytes
   * written; rejects when the recorder is not running or another `writeTo`
   * is under way.
   */
  writeTo(
    w: { write(p: Uint8Array): number | Promise<number> } | WritableStream<Uint8Array>,
  ): Promise<number>;
}

const TRACE_HEADERS = {
  "content-type": "application/octet-stream",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
};

/** True while one of this module's handlers is recording a live trace. */
let liveTraceRunning = false;

/**
 * Returns a handler that records a trace for `?seconds=N` seconds (default 1,
 * fractions allowed, at most `maxSeconds`) and streams it back as it is
 * written, as `application/octet-stream`. The response is the whole trace:
 * save it and open it with the reader, the CLI or the viewer.
 *
 * Answers 405 to methods other than GET, 400 to a bad `seconds`, and 409 when
 * tracing is already enabled (by `start`, or by another request to this
 * endpoint): there is one trace at a time, as in Go. If the client goes away
 * the recording stops early. The endpoint exposes what the program does:
 * mount it only behind authentication or on a private listener.
 *
 * @example Mount it on a path in Deno.serve (Bun.serve's `fetch` is the same)
 * ```ts
 * import { traceHandler } from "./debug_handlers.ts";
 * const debugTrace = traceHandler({ maxSeconds: 30 });
 * Deno.serve({ hostname: "127.0.0.1", port: 6060 }, (req) =>
 *   new URL(req.url).pathname === "/debug/trace"
 *     ? debugTrace(req)
 *     : new Response("hello"));
 * // curl -o trace.out 'http://127.0.0.1:6060/debug/trace?seconds=5'
 * ```
 */
export function traceHandler(options: TraceHandlerOptions = {}): FetchHandler {
  const maxSeconds = checkSeconds("maxSeconds", options.maxSeconds ?? 60, Infinity);
  const defaultSeconds = checkSeconds(
    "defaultSeconds",
    options.defaultSeconds ?? Math.min(1, maxSeconds),
    maxSeconds,
  );
  const startOptions = options.startOptions;

  return async (req: Request): Promise<Response> => {
    if (req.method !== "GET") {
      return plain(405, `runtrace: use GET to record a trace, not ${req.method}\n`, {
        allow: "GET",
      });
    }
    const seconds = parseSeconds(new URL(req.url).searchParams, defaultSeconds, maxSeconds);
    if (typeof seconds === "string") return plain(400, seconds);
    // Not isEnabled(): that is also true while a flight recorder runs, and a
    // trace may run beside one. start() itself refuses a second trace.
    if (liveTraceRunning) return busy();

    liveTraceRunning = true;
    const body = new ByteQueue();
    try {
      await start(body.writable, startOptions);
    } catch (e) {
      liveTraceRunning = false;
      if (/already enabled/.test(message(e))) return busy();
      return plain(500, `runtrace: could not start tracing: ${message(e)}\n`);
    }

    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      // The recording ends now, not when a slow client has read it all: what
      // is left (within the destination's bound) waits in the body.
      body.unblock();
      // Free before the body ends, so a client that saw its trace end can
      // start the next one at once.
      stop().then(
        () => {
          liveTraceRunning = false;
          body.close();
        },
        (e) => {
          liveTraceRunning = false;
          body.fail(e);
        },
      );
    };
    const timer = setTimeout(finish, seconds * 1000);
    // A client that leaves cancels the body. (Not req.signal: Deno fires it
    // on every completed response and warns about that.)
    body.onCancel = finish;

    return new Response(body.readable, {
      status: 200,
      headers: {
        ...TRACE_HEADERS,
        "content-disposition": 'attachment; filename="trace.out"',
        "x-runtrace-seconds": String(seconds),
      },
    });
  };
}

/**
 * Returns a handler that answers with a snapshot of `recorder`'s recent
 * window: a complete trace, streamed as the recorder writes it. Answers 503
 * when the recorder is not running, 409 while another snapshot is being
 * written, 405 to methods other than GET. Like {@linkcode traceHandler} it is
 * a debug endpoint: mount it only where it is protected.
 *
 * @example Snapshot on demand, after something went wrong
 * ```ts
 * import { flightRecorderHandler, type FlightRecorderLike } from "./debug_handlers.ts";
 * declare const recorder: FlightRecorderLike; // e.g. a started FlightRecorder
 * const snapshot = flightRecorderHandler(recorder);
 * Deno.serve({ hostname: "127.0.0.1", port: 6060 }, (req) =>
 *   new URL(req.url).pathname === "/debug/flight"
 *     ? snapshot(req)
 *     : new Response("not found", { status: 404 }));
 * ```
 */
export function flightRecorderHandler(recorder: FlightRecorderLike): FetchHandler {
  if (
    !recorder || typeof recorder.enabled !== "function" ||
    typeof recorder.writeTo !== "function"
  ) {
    throw new TypeError(
      "runtrace: flightRecorderHandler() needs an object with enabled() and writeTo(w) methods",
    );
  }
  let writing = false;

  return async (req: Request): Promise<Response> => {
    if (req.method !== "GET") {
      return plain(405, `runtrace: use GET to take a snapshot, not ${req.method}\n`, {
        allow: "GET",
      });
    }
    if (!recorder.enabled()) return notRecording();
    if (writing) return snapshotBusy();

    writing = true;
    const body = new ByteQueue();
    const done = recorder.writeTo(body.writer).then(
      () => body.close(),
      (e) => {
        body.fail(e);
        throw e;
      },
    ).finally(() => writing = false);
    // The status line depends on whether the recorder refuses, which it does
    // before writing anything: wait for the first bytes or the refusal.
    const outcome = await Promise.race([
      body.firstChunk.then(() => "data" as const),
      done.then(() => "data" as const, (e: unknown) => e),
    ]);
    if (outcome !== "data") {
      if (!recorder.enabled()) return notRecording();
      if (/progress|concurrent|already|another/i.test(message(outcome))) return snapshotBusy();
      return plain(500, `runtrace: the flight recorder could not write: ${message(outcome)}\n`);
    }
    done.catch(() => {}); // a later failure ends the body stream with an error
    return new Response(body.readable, {
      status: 200,
      headers: {
        ...TRACE_HEADERS,
        "content-disposition": 'attachment; filename="flight.trace"',
      },
    });
  };
}

/** Parses `seconds`; returns the number, or the text of a 400 answer. */
function parseSeconds(
  params: URLSearchParams,
  defaultSeconds: number,
  maxSeconds: number,
): number | string {
  const all = params.getAll("seconds");
  if (all.length === 0) return defaultSeconds;
  if (all.length > 1) return "runtrace: give the seconds parameter once\n";
  const raw = all[0].trim();
  const seconds = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(seconds > 0) || seconds > maxSeconds) {
    return `runtrace: seconds must be a number above 0 and at most ${maxSeconds}, got ${
      JSON.stringify(all[0].slice(0, 40))
    }\n`;
  }
  return seconds;
}

function checkSeconds(name: string, v: number, max: number): number {
  if (typeof v !== "number" || !(v > 0) || v > max) {
    throw new RangeError(
      `runtrace: traceHandler option ${name} must be a number above 0${
        max < Infinity ? ` and at most maxSeconds (${max})` : ""
      }, got ${v}`,
    );
  }
  return v;
}

function busy(): Response {
  return plain(
    409,
    "runtrace: tracing is already enabled (another live trace, or start() in this program); " +
      "try again when it has finished\n",
  );
}

function snapshotBusy(): Response {
  return plain(409, "runtrace: another flight-recorder snapshot is being written; try again\n");
}

function notRecording(): Response {
  return plain(503, "runtrace: the flight recorder is not running\n");
}

function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(text, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A byte pipe from a tracer to a response body. Unlike a TransformStream it
 * never blocks the first write on a reader that is not there yet (the trace
 * header is written before the response exists), and it applies back-pressure
 * once `highWater` bytes wait unread.
 */
class ByteQueue {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** A writer object for APIs that take `{ write(p) }`. */
  readonly writer: { write(p: Uint8Array): Promise<number> };
  /** Resolves at the first chunk written. */
  readonly firstChunk: Promise<void>;
  /** Called once if the reader cancels (the client went away). */
  onCancel?: () => void;

  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #cancelled: unknown = undefined;
  #closed = false;
  #unblocked = false;
  #wake?: () => void;
  #gotFirst!: () => void;

  constructor(highWater = 4 << 20) {
    this.firstChunk = new Promise((resolve) => this.#gotFirst = resolve);
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => {
        this.#wake?.();
      },
      cancel: (reason) => {
        this.#cancelled = reason ?? new Error("runtrace: the client stopped reading the trace");
        this.#wake?.();
        this.onCancel?.();
      },
    }, { highWaterMark: highWater, size: (chunk) => chunk.byteLength });
    this.writable = new WritableStream<Uint8Array>({ write: (p) => this.#push(p).then(() => {}) });
    this.writer = { write: (p) => this.#push(p) };
  }

  async #push(p: Uint8Array): Promise<number> {
    if (this.#cancelled !== undefined) {
      throw new Error("runtrace: the client stopped reading the trace");
    }
    if (this.#closed) throw new Error("runtrace: write after the trace response ended");
    // The writer may reuse its buffer once write returns.
    this.#controller.enqueue(p.slice());
    this.#gotFirst();
    while (
      (this.#controller.desiredSize ?? 1) <= 0 && this.#cancelled === undefined &&
      !this.#unblocked
    ) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    return p.byteLength;
  }

  /**
   * Stops applying back-pressure: the rest of the trace is queued at once.
   * Its size is bounded by the destination's bound, `start`'s
   * `destinationBufferSize`, plus one ring.
   */
  unblock(): void {
    this.#unblocked = true;
    this.#wake?.();
  }

  close(): void {
    if (this.#closed || this.#cancelled !== undefined) return;
    this.#closed = true;
    this.#controller.close();
  }

  fail(e: unknown): void {
    if (this.#closed || this.#cancelled !== undefined) return;
    this.#closed = true;
    this.#controller.error(e);
  }
}
