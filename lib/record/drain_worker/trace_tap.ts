/**
 * A consumer of the trace's records beside its writer: the ring drainer
 * hands each record to it as it hands it to the trace's writer, with the
 * trace's string ids. The live OTLP export is one (lib/export/otlp_live.ts);
 * the worker's entry module wires it, so that lib/record does not depend on
 * lib/export.
 *
 * @module
 */

import type { HeaderFields } from "../../format/encoder.ts";
import type { RecordSink } from "./ring_drainer.ts";

/** What a tap reports when it is closed. */
export interface TapTotals {
  /** Spans delivered. */
  sent: number;
  /** Spans that could not be delivered (receiver down, queue full, stop's deadline). */
  dropped: number;
  /** The most spans that waited to be sent at once (at most the queue's cap). */
  maxQueued: number;
}

/** Settings of the live OTLP export, as `start`'s `otlp` option gives them (plain data). */
export interface OtlpLiveConfig {
  /** OTLP/HTTP base URL (default `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4318`). */
  endpoint?: string;
  /** Extra request headers (default `OTEL_EXPORTER_OTLP_HEADERS`). */
  headers?: Record<string, string>;
  /** `service.name` (default `OTEL_SERVICE_NAME`, else `unknown_service:<runtime>`). */
  serviceName?: string;
  /** Longest time, ms, an ended span waits before it is sent (default 2000). */
  exportInterval?: number;
  /** How long, ms, `stop` waits for the last spans to be delivered (default 2000). */
  stopTimeout?: number;
  /**
   * The main thread's `OTEL_*` environment variables when `start` was
   * called: the worker's own `process.env` is a copy made when it started,
   * and the worker outlives sessions.
   */
  env?: Record<string, string>;
}

/**
 * Receives the trace's records, as its writer does (the drainer's
 * {@linkcode RecordSink} calls, `ms` stamps of the recording thread's clock,
 * the trace's string ids), and what the writer gets besides. A tap never
 * throws: a failure inside it is its own to count (as dropped spans).
 */
export interface TraceTap extends RecordSink {
  /**
   * The trace begins: its header (time 0 is `header.startTime`), the threads
   * and the trace's string table so far, indexed by id; the table is the
   * drain worker's, which only grows, so the tap may keep it to look ids up.
   */
  begin(
    header: HeaderFields,
    threads: readonly [number, string][],
    strings: readonly string[],
  ): void;
  /** A thread joined the trace. */
  threadName(thread: number, name: string): void;
  /** Records stamped after this (`stop` was called) are left out, as the writer does. */
  endMs: number;
  /**
   * The trace has ended: sends what it holds, waiting no later than
   * `deadline` (`performance.now()` time), then stops; what is still
   * undelivered then is dropped and counted. Finishing twice gives the same
   * totals.
   */
  finish(deadline: number): Promise<TapTotals>;
}

/** Makes the live OTLP tap of a trace; supplied by the worker's entry module. */
export type OtlpTapFactory = (config: OtlpLiveConfig) => TraceTap;
