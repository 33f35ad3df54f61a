/**
 * The flight recorder: Go 1.25's `runtime/trace.FlightRecorder`. It keeps a
 * moving window of the most recent trace data in memory and writes a
 * snapshot on demand, typically when something slow or wrong was noticed.
 *
 * @module
 */

import { writeFile } from "node:fs/promises";
import { snapshotFlight, startFlight, stopFlight } from "./session.ts";
import { MainThreadOutput, type TraceDestination } from "./destination.ts";

/** Options of {@linkcode FlightRecorder}. */
export interface FlightRecorderOptions {
  /**
   * The window keeps at least this many milliseconds of recent events
   * (default 10 000, as Go's 10 s), unless `maxBytes` forces it shorter.
   */
  minAge?: number;
  /**
   * Upper bound on the window's size in bytes (default 10 MiB, as Go). It
   * takes precedence over `minAge`; a snapshot may exceed it by one chunk
   * (an eighth of it).
   */
  maxBytes?: number;
  /** Ring size, in events, if this recorder is the first to start recording. */
  bufferSize?: number;
}

let active: FlightRecorder | undefined;

/**
 * FlightRecorder tracks a moving window over the trace, always holding the
 * most recent data, at the same caller cost as a trace written with `start`.
 * At most one flight recorder may run at a time; it may run alongside a
 * trace started with `start`.
 *
 * @example Keep the last 5 s, write them out when a request was slow
 * ```ts
 * import { FlightRecorder } from "runtrace";
 * const fr = new FlightRecorder({ minAge: 5_000 });
 * fr.start();
 * // ... later, on a slow request:
 * await fr.writeTo("slow-request.trace");
 * await fr.stop();
 * ```
 */
export class FlightRecorder {
  #minAge: number;
  #maxBytes: number;
  #bufferSize?: number;
  #enabled = false;
  #writing = false;

  /** Makes a recorder; it records nothing until {@linkcode FlightRecorder.start}. */
  constructor(options: FlightRecorderOptions = {}) {
    const minAge = options.minAge || 10_000;
    const maxBytes = options.maxBytes || 10 << 20;
    if (!(minAge > 0) || !Number.isFinite(minAge)) {
      throw new RangeError(
        `runtrace: FlightRecorder minAge must be a positive number of ms, got ${minAge}`,
      );
    }
    if (!Number.isInteger(maxBytes) || maxBytes < 64 << 10) {
      throw new RangeError(
        `runtrace: FlightRecorder maxBytes must be an integer ≥ 65536, got ${maxBytes}`,
      );
    }
    this.#minAge = minAge;
    this.#maxBytes = maxBytes;
    this.#bufferSize = options.bufferSize;
  }

  /**
   * Start begins recording into the window. It throws if this recorder is
   * already started, or if another flight recorder is running.
   *
   * @example
   * ```ts
   * import { FlightRecorder } from "runtrace";
   * const fr = new FlightRecorder();
   * fr.start();
   * await fr.stop();
   * ```
   */
  start(): void {
    if (this.#enabled) throw new Error("runtrace: cannot enable an enabled flight recorder");
    if (active) {
      throw new Error(
        "runtrace: another flight recorder is already running; only one may run at a time",
      );
    }
    startFlight(this.#minAge, this.#maxBytes, { bufferSize: this.#bufferSize });
    this.#enabled = true;
    active = this;
  }

  /**
   * Stop ends recording and frees the window. It waits for a `writeTo` in
   * progress. Stopping a stopped recorder does nothing. Start and stop may
   * be called in any order without awaiting: each takes effect in call
   * order. The promise rejects only if recording had failed (the drain
   * worker died), with the cause; it is marked handled, so a stop that
   * nobody awaits is never an unhandled rejection.
   *
   * @example
   * ```ts
   * import { FlightRecorder } from "runtrace";
   * await new FlightRecorder().stop(); // not started: a no-op
   * ```
   */
  stop(): Promise<void> {
    if (!this.#enabled) return Promise.resolve();
    this.#enabled = false;
    if (active === this) active = undefined;
    const stopped = stopFlight();
    stopped.catch(() => {});
    return stopped;
  }

  /**
   * Enabled reports whether the recorder is running: `start` succeeded and
   * `stop` has not been called.
   *
   * @example
   * ```ts
   * import { FlightRecorder } from "runtrace";
   * const fr = new FlightRecorder();
   * fr.enabled(); // false
   * ```
   */
  enabled(): boolean {
    return this.#enabled;
  }

  /**
   * WriteTo writes a snapshot of the window, a complete trace that the
   * reader, the CLI and the viewer open, to `w` (a file path, a
   * `WritableStream` or an object with a `write(bytes)` method), and resolves
   * with the number of bytes written. It rejects if the recorder is not
   * running, if another `writeTo` is in progress, or if writing fails.
   *
   * @example
   * ```ts
   * import { FlightRecorder } from "runtrace";
   * const fr = new FlightRecorder();
   * fr.start();
   * const n = await fr.writeTo("snapshot.trace");
   * await fr.stop();
   * ```
   */
  async writeTo(w: TraceDestination): Promise<number> {
    if (!this.#enabled) throw new Error("runtrace: cannot snapshot a disabled flight recorder");
    if (this.#writing) {
      throw new Error("runtrace: a writeTo call on this flight recorder is already in progress");
    }
    this.#writing = true;
    try {
      const bytes = await snapshotFlight();
      if (typeof w === "string") {
        await writeFile(w, bytes);
      } else {
        const output = new MainThreadOutput(w);
        output.write(bytes);
        await output.release();
        if (output.error !== undefined) throw output.error;
      }
      return bytes.length;
    } finally {
      this.#writing = false;
    }
  }
}
