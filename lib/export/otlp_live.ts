/**
 * The live OTLP export: a tap (lib/record/drain_worker/trace_tap.ts, matched
 * by shape: lib/export does not import lib/record) the drain worker feeds with
 * the trace's bytes as it writes them. It decodes them as they come, maps
 * tasks and regions to spans as they end (otlp_spans.ts), batches them
 * (2048 spans, or `exportInterval` after the first ended span) and sends the
 * batches one at a time with {@linkcode OtlpHttpSender}. The queue of
 * batches waiting is bounded: a batch that finds it full is dropped and its
 * spans counted, so a receiver that is down costs bounded memory and never
 * slows the recording, which goes on in the same worker between sends.
 *
 * @module
 */

import process from "node:process";
import { TraceDecoder } from "../format/decoder.ts";
import { OtlpExporter } from "./otlp.ts";
import { OtlpHttpSender } from "./otlp_http.ts";
import {
  gzipFromEnv,
  headersFromEnv,
  resourceFromEnv,
  timeoutFromEnv,
  tracesUrl,
} from "./otel_env.ts";

/** Where and how to export; unset fields come from the `OTEL_*` environment variables. */
export interface OtlpLiveTapOptions {
  /** OTLP/HTTP base URL; `/v1/traces` is added. */
  endpoint?: string;
  /** Extra request headers, after `OTEL_EXPORTER_OTLP_HEADERS`. */
  headers?: Record<string, string>;
  /** `service.name`. */
  serviceName?: string;
  /** Longest time, ms, an ended span waits before it is sent (default 2000). */
  exportInterval?: number;
}

/** Spans the queue of batches waiting to be sent holds at most. */
const MAX_QUEUED_SPANS = 16_384;
/**
 * Spans per batch: each request costs the worker a fetch and its gzip
 * stream setup, so fewer, larger ones (about 400 KiB, 100 KiB gzipped) cost
 * less per span, far under the 20 MiB a Collector's OTLP/HTTP receiver takes.
 */
const BATCH_SPANS = 2048;
/** Time limit of one attempt, ms, unless `OTEL_EXPORTER_OTLP_TIMEOUT` says otherwise. */
const ATTEMPT_TIMEOUT = 5_000;

/**
 * Exports a trace's spans to an OTLP/HTTP receiver while it is recorded.
 * `write` never throws: bytes it cannot decode end the export, and the
 * spans lost with them are not counted (they are unknown), the rest is.
 *
 * @example
 * ```ts
 * import { OtlpLiveTap } from "./otlp_live.ts";
 * const tap = new OtlpLiveTap({ endpoint: "http://127.0.0.1:4318", serviceName: "checkout" });
 * // the drain worker calls tap.write(bytes) as it writes the trace, then:
 * const { sent, dropped } = await tap.close(performance.now() + 1);
 * ```
 */
export class OtlpLiveTap {
  private decoder: TraceDecoder | undefined;
  private exporter: OtlpExporter;
  private sender: OtlpHttpSender;
  private queue: { bytes: Uint8Array; spans: number }[] = [];
  private queued = 0;
  private sending: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private interval: number;
  private abort = new AbortController();
  private totals = { sent: 0, dropped: 0 };
  private closing: Promise<{ sent: number; dropped: number }> | undefined;

  /** Makes the export; see {@linkcode OtlpLiveTapOptions}. */
  constructor(config: OtlpLiveTapOptions) {
    const env = process.env;
    this.interval = config.exportInterval ?? 2000;
    this.sender = new OtlpHttpSender({
      url: tracesUrl(env, config.endpoint),
      headers: { ...headersFromEnv(env), ...config.headers },
      timeoutMs: timeoutFromEnv(env) ?? ATTEMPT_TIMEOUT,
      retries: 3,
      backoffMs: 250,
      gzip: gzipFromEnv(env),
    });
    this.exporter = new OtlpExporter({
      ...resourceFromEnv(env, { serviceName: config.serviceName }),
      maxBatchSpans: BATCH_SPANS,
      // The batch's memory is reused for the next one: keep a copy.
      onBatch: (bytes, spans) => this.enqueue(bytes.slice(), spans),
    });
    this.decoder = new TraceDecoder(this.exporter.add, this.exporter.visitor);
  }

  /** Decodes `bytes`, which may end spans; a batch that fills up is queued. */
  write(bytes: Uint8Array): void {
    if (!this.decoder || this.closing) return;
    const before = this.exporter.events;
    try {
      this.decoder.push(bytes);
    } catch {
      this.decoder = undefined; // a trace it cannot read: the export ends
      return;
    }
    if (this.exporter.events > before && this.timer === undefined && this.interval >= 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.exporter.flush();
      }, this.interval);
    }
  }

  private enqueue(bytes: Uint8Array, spans: number): void {
    if (this.queued + spans > MAX_QUEUED_SPANS || this.abort.signal.aborted) {
      this.totals.dropped += spans;
      return;
    }
    this.queue.push({ bytes, spans });
    this.queued += spans;
    this.sending ??= this.pump();
  }

  /** Sends the queued batches one at a time; a batch that fails is dropped, counted. */
  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const b = this.queue[0];
      let ok = true;
      try {
        await this.sender.send(b.bytes, this.abort.signal);
      } catch {
        ok = false;
      }
      // Given up at the deadline: close() counted the queue as dropped.
      if (this.abort.signal.aborted) return;
      if (ok) this.totals.sent += b.spans;
      else this.totals.dropped += b.spans;
      this.queue.shift();
      this.queued -= b.spans;
    }
    this.sending = undefined;
  }

  /**
   * Sends the spans still open or batched (the trace has ended: its END
   * batch came through `write`), waits for delivery until `deadline`, and
   * drops and counts what is left then.
   */
  close(deadline: number): Promise<{ sent: number; dropped: number }> {
    return this.closing ??= this.finish(deadline);
  }

  private async finish(deadline: number): Promise<{ sent: number; dropped: number }> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.exporter.flush();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((r) => {
      timer = setTimeout(r, Math.max(0, deadline - performance.now()));
    });
    while (this.sending) {
      const done = await Promise.race([this.sending.then(() => true), late.then(() => false)]);
      if (!done) break;
    }
    clearTimeout(timer);
    if (this.sending) {
      this.abort.abort();
      this.totals.dropped += this.queued;
      this.queue = [];
      this.queued = 0;
    }
    return { ...this.totals };
  }
}
