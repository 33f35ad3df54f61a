/**
 * A consumer of the encoded trace beside its destination: the drain worker
 * hands it every sealed byte of the trace as it writes them. The live OTLP
 * export is one (lib/export/otlp_live.ts); the worker's entry module wires
 * it, so that lib/record does not depend on lib/export.
 *
 * @module
 */

/** What a tap reports when it is closed. */
export interface TapTotals {
  /** Spans delivered. */
  sent: number;
  /** Spans that could not be delivered (receiver down, queue full, stop's deadline). */
  dropped: number;
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
}

/**
 * Receives the trace's bytes. A tap never throws: a failure inside it is
 * its own to count (as dropped spans).
 */
export interface TraceTap {
  /** The next bytes of the trace, in order; the tap may keep them. */
  write(bytes: Uint8Array): void;
  /**
   * Delivers what it holds, waiting no later than `deadline`
   * (`performance.now()` time), then stops; what is still undelivered then
   * is dropped and counted. Closing twice gives the same totals.
   */
  close(deadline: number): Promise<TapTotals>;
}

/** Makes the live OTLP tap of a trace; supplied by the worker's entry module. */
export type OtlpTapFactory = (config: OtlpLiveConfig) => TraceTap;
