/**
 * The live OTLP export: a tap (lib/record/drain_worker/trace_tap.ts, matched
 * by shape: lib/export does not import lib/record) that the drain worker
 * hands every record of the trace, as it hands them to the trace's writer.
 * It maps tasks and regions to spans as they end (otlp_spans.ts, fed
 * through the same calls a decoder makes: the trace is not decoded again),
 * batches them (2048 spans, or `exportInterval` after the first ended span)
 * and sends the batches one at a time with {@linkcode OtlpHttpSender}. The
 * queue of batches waiting is bounded: a batch that finds it full is dropped
 * and its spans counted, so a receiver that is down costs bounded memory
 * and never slows the recording, which goes on in the same worker between
 * sends.
 *
 * @module
 */

import process from "node:process";
import type { EventVisitor } from "../format/decoder.ts";
import { LOG_TRUNCATED } from "../format/constants.ts";
import type { HeaderFields } from "../format/encoder.ts";
import { OtlpExporter } from "./otlp.ts";
import { OtlpHttpSender } from "./otlp_http.ts";
import {
  compressionFromEnv,
  headersFromEnv,
  isLoopback,
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
  /** The `OTEL_*` environment variables to use (default this thread's `process.env`). */
  env?: Record<string, string | undefined>;
}

/**
 * Spans the queue of batches waiting to be sent holds at most (about 3 MiB
 * of encoded batches): a batch that would pass it is dropped, counted.
 */
export const MAX_QUEUED_SPANS = 16_384;
/**
 * Spans per batch: each request costs the worker a fetch, so fewer,
 * larger ones (about 400 KiB, 100 KiB gzipped) cost
 * less per span, far under the 20 MiB a Collector's OTLP/HTTP receiver takes.
 */
const BATCH_SPANS = 2048;
/** Time limit of one attempt, ms, unless `OTEL_EXPORTER_OTLP_TIMEOUT` says otherwise. */
const ATTEMPT_TIMEOUT = 5_000;

/**
 * Exports a trace's spans to an OTLP/HTTP receiver while it is recorded.
 * No method throws: a failure to map ends the export, and the spans lost
 * with it are not counted (they are unknown), the rest are.
 *
 * @example
 * ```ts
 * import { OtlpLiveTap } from "./otlp_live.ts";
 * const tap = new OtlpLiveTap({ endpoint: "http://127.0.0.1:4318", serviceName: "checkout" });
 * const header = {
 *   timeOrigin: performance.timeOrigin,
 *   startTime: performance.now(),
 *   resolutionNs: 1000,
 *   runtime: "deno",
 *   runtimeVersion: "2",
 *   pid: 1,
 * };
 * tap.begin(header, [[1, "main"]], ["", "order"]);
 * tap.open(1); // the drain worker's calls, record by record:
 * tap.taskBegin(header.startTime + 1, 7, 0, 1);
 * tap.taskEnd(header.startTime + 2, 7);
 * tap.close();
 * const { sent, dropped } = await tap.finish(performance.now() + 1);
 * ```
 */
export class OtlpLiveTap {
  /** A tap holds no batch of encoded events: always empty (the drain's budget is the writers'). */
  readonly ev: { readonly pos: number } = { pos: 0 };
  /** Records stamped after this are left out, as the trace's writer leaves them out. */
  endMs = Infinity;
  private startMs = 0;
  private exporter: OtlpExporter;
  private map: EventVisitor | undefined;
  private strings: readonly string[] = [""];
  /** Thread of the records being handed over. */
  private thread = 0;
  /** Latest record time handed over, ns: where spans still open at the end end. */
  private last = 0;
  private lost = 0;
  private sender: OtlpHttpSender;
  private queue: { bytes: Uint8Array; spans: number }[] = [];
  private queued = 0;
  private sending: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private interval: number;
  private abort = new AbortController();
  private totals = { sent: 0, dropped: 0, maxQueued: 0 };
  private closing: Promise<{ sent: number; dropped: number; maxQueued: number }> | undefined;

  /** Makes the export; see {@linkcode OtlpLiveTapOptions}. */
  constructor(config: OtlpLiveTapOptions) {
    const env = config.env ?? process.env;
    this.interval = config.exportInterval ?? 2000;
    const url = tracesUrl(env, config.endpoint);
    // Gzip costs the worker more CPU than the rest of sending: not for a
    // Collector on this host, unless asked.
    const compression = compressionFromEnv(env);
    this.sender = new OtlpHttpSender({
      url,
      headers: { ...headersFromEnv(env), ...config.headers },
      timeoutMs: timeoutFromEnv(env) ?? ATTEMPT_TIMEOUT,
      retries: 3,
      backoffMs: 250,
      gzip: compression ? compression === "gzip" : !isLoopback(url),
    });
    this.exporter = new OtlpExporter({
      ...resourceFromEnv(env, { serviceName: config.serviceName }),
      maxBatchSpans: BATCH_SPANS,
      // The batch's memory is reused for the next one: keep a copy.
      onBatch: (bytes, spans) => this.enqueue(bytes.slice(), spans),
    });
  }

  /** The trace begins: its header, threads and the string table (kept, to look ids up). */
  begin(
    header: HeaderFields,
    threads: readonly [number, string][],
    strings: readonly string[],
  ): void {
    this.startMs = header.startTime;
    this.strings = strings;
    this.guard(() => {
      const { flags: _, ...fields } = header;
      this.exporter.add({
        kind: "header",
        time: 0,
        header: { version: 1, snapshot: false, ...fields },
      });
      for (const [thread, name] of threads) this.threadName(thread, name);
      this.map = this.exporter.visitor;
    });
  }

  /** A thread joined the trace. */
  threadName(thread: number, name: string): void {
    this.guard(() => this.exporter.add({ kind: "thread", time: this.last, thread, name }));
  }

  /**
   * Runs `f` (for the rare records; the frequent ones inline the same
   * try): an exception ends the export (`map` unset), never reaching the
   * worker.
   */
  private guard(f: () => void): void {
    if (this.closing) return;
    try {
      f();
    } catch {
      this.map = undefined;
    }
  }

  /**
   * Nanoseconds since the trace start of a stamp, or -1 outside the trace
   * (the writer's rule: the same records become events and spans).
   */
  private at(ms: number): number {
    if (ms < this.startMs || ms > this.endMs) return -1;
    const t = Math.round((ms - this.startMs) * 1e6);
    if (t > this.last) this.last = t;
    return t;
  }

  /** The records that follow are `thread`'s. */
  open(thread: number): void {
    this.thread = thread;
  }

  /** The records of one drain are handed over: start the wait before the next send. */
  close(): void {
    if (this.timer !== undefined || this.interval < 0 || this.closing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.guard(() => this.exporter.flush());
    }, this.interval);
  }

  /** The recorder dropped `count` events. */
  lostEvents(count: number): void {
    this.lost += count;
  }

  /** Strings are looked up in the shared table. */
  defineString(_id: number, _s: string): void {}

  /** A task began. */
  taskBegin(ms: number, task: number, parent: number, type: number): void {
    const t = this.at(ms);
    if (t < 0 || !this.map) return;
    try {
      this.map.taskBegin(t, this.thread, task, parent, this.strings[type] ?? "", undefined);
    } catch {
      this.map = undefined;
    }
  }

  /** A task ended. */
  taskEnd(ms: number, task: number): void {
    const t = this.at(ms);
    if (t < 0 || !this.map) return;
    try {
      this.map.taskEnd(t, this.thread, task);
    } catch {
      this.map = undefined;
    }
  }

  /** A region began. */
  regionBegin(
    ms: number,
    task: number,
    type: number,
    region: number,
    parent: number,
    lane: number,
  ): void {
    const t = this.at(ms);
    if (t < 0 || !this.map) return;
    const name = this.strings[type] ?? "";
    try {
      this.map.regionBegin(t, this.thread, region, task, name, parent, lane, undefined);
    } catch {
      this.map = undefined;
    }
  }

  /** A region ended. */
  regionEnd(ms: number, region: number): void {
    const t = this.at(ms);
    if (t < 0 || !this.map) return;
    try {
      this.map.regionEnd(t, this.thread, region);
    } catch {
      this.map = undefined;
    }
  }

  /** A log, its message `bytes[0, n)` in UTF-8. */
  logUtf8(
    ms: number,
    task: number,
    category: number,
    flags: number,
    bytes: Uint8Array,
    n: number,
  ): void {
    const t = this.at(ms);
    if (t < 0 || !this.map) return;
    const cat = this.strings[category] ?? "", truncated = (flags & LOG_TRUNCATED) !== 0;
    try {
      this.map.log(t, this.thread, task, cat, bytes, 0, n, truncated, undefined);
    } catch {
      this.map = undefined;
    }
  }

  /** An event-loop stall that ended at `ms`. */
  stall(ms: number, durationUs: number, region: number, task: number): void {
    const t = this.at(ms);
    if (t < 0 || !this.map) return;
    const duration = Math.round(durationUs * 1e3), thread = this.thread;
    this.guard(() =>
      this.exporter.add({
        kind: "stall",
        time: Math.max(0, t - duration),
        duration,
        thread,
        region,
        task,
      })
    );
  }

  /** Not part of the spans. */
  counter(_ms: number, _name: number, _value: number): void {}
  /** Not part of the spans. */
  gc(_ms: number, _durationUs: number, _flags: number, _freedBytes: number): void {}
  /** Not part of the spans. */
  threadEnd(_ms: number): void {}
  /** Not part of the spans. */
  stack(_ms: number, _stack: number): void {}

  private enqueue(bytes: Uint8Array, spans: number): void {
    if (this.queued + spans > MAX_QUEUED_SPANS || this.abort.signal.aborted) {
      this.totals.dropped += spans;
      return;
    }
    this.queue.push({ bytes, spans });
    this.queued += spans;
    if (this.queued > this.totals.maxQueued) this.totals.maxQueued = this.queued;
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
      // Given up at the deadline: finish() counted the queue as dropped.
      if (this.abort.signal.aborted) return;
      if (ok) this.totals.sent += b.spans;
      else this.totals.dropped += b.spans;
      this.queue.shift();
      this.queued -= b.spans;
    }
    this.sending = undefined;
  }

  /**
   * The trace has ended: ends the spans still open at its last record
   * (attribute `runtrace.open_at_end`), sends them with the ones batched,
   * waits for delivery until `deadline`, and drops and counts what is left
   * then.
   */
  finish(deadline: number): Promise<{ sent: number; dropped: number; maxQueued: number }> {
    if (!this.closing) {
      this.guard(() => {
        if (this.map) {
          this.exporter.add({
            kind: "end",
            time: this.last,
            truncated: false,
            lost: this.lost,
            events: 0,
            bytes: 0,
          });
        }
      });
      this.closing = this.deliver(deadline);
    }
    return this.closing;
  }

  private async deliver(
    deadline: number,
  ): Promise<{ sent: number; dropped: number; maxQueued: number }> {
    clearTimeout(this.timer);
    this.timer = undefined;
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
