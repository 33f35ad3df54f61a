/**
 * The destinations `start` accepts, and the main-thread writer for the ones
 * the worker cannot write itself (streams and writer objects).
 *
 * @module
 */

/** Something with a `write` method: `Deno.FsFile`, Bun's `FileSink`, … */
export interface TraceWriterLike {
  /** Writes some or all of `p`; returns the bytes taken (or nothing: all). */
  write(p: Uint8Array): number | void | Promise<number | void>;
  /** Called by `stop` after the last write, where present. */
  flush?(): unknown;
}

/** Where and how `start`'s `otlp` option exports spans live. */
export interface OtlpLiveOptions {
  /** OTLP/HTTP base URL, `/v1/traces` is added (default `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4318`). */
  endpoint?: string;
  /** Extra request headers, e.g. authentication (added to `OTEL_EXPORTER_OTLP_HEADERS`). */
  headers?: Record<string, string>;
  /** `service.name` (default `OTEL_SERVICE_NAME`, else `unknown_service:<runtime>`). */
  serviceName?: string;
  /** Longest time, ms, an ended span waits to be sent (default 2000); a batch of 2048 goes at once. */
  exportInterval?: number;
  /** How long, ms, `stop` waits for the last spans to be delivered before dropping them (default 2000). */
  stopTimeout?: number;
}

/**
 * How `start` splits a file trace into parts (`split`): give `maxBytes`,
 * `maxAge` or both. A part ends at the first drain past either bound (every
 * `flushInterval` ms while the program records), so parts overshoot
 * `maxBytes` by at most a sixteenth of it; an idle program starts no part.
 *
 * @example Parts of 64 MiB or 10 minutes, the last 24 kept
 * ```ts
 * import { start, stop } from "runtrace";
 * await start("service.trace", {
 *   split: { maxBytes: 64 << 20, maxAge: 600_000, keep: 24 },
 * });
 * const { parts } = await stop(); // ["service.trace.000", …]
 * ```
 */
export interface SplitOptions {
  /** Bytes a part holds before the next begins (at least 4096). */
  maxBytes?: number;
  /** Milliseconds a part spans before the next begins. */
  maxAge?: number;
  /**
   * Parts kept on disk: when a new part begins, the one `keep` parts older
   * is deleted (default: all are kept). For an always-on recording.
   */
  keep?: number;
}

/** Where `start` writes the trace: a file path, a stream or a writer. */
export type TraceDestination =
  | string
  | WritableStream<Uint8Array>
  | TraceWriterLike;

/** `start`'s destination for no trace at all: its spans are only exported live. */
export interface LiveExportOnly {
  /** Where and how to export. */
  otlp: OtlpLiveOptions;
}

/** Callbacks of a {@linkcode MainThreadOutput}. */
export interface OutputCallbacks {
  /** Called once, at the first write that fails. */
  onError?: (e: unknown) => void;
  /** Called with the byte count of each chunk once it is written (or dropped after an error). */
  onDone?: (bytes: number) => void;
}

/** Chunks queued while a write is under way go out as one write of at most this. */
const COALESCE_BYTES = 1 << 20;

/**
 * Writes chunks in order to a stream or writer on the main thread. Chunks
 * that arrive while a write is under way are joined into the next write, so
 * a destination slow per call (50 ms a write) still keeps up in bytes.
 */
export class MainThreadOutput {
  /** The first error the destination raised, if any. */
  error: unknown = undefined;
  private queue: Uint8Array[] = [];
  private pumping: Promise<void> | undefined;
  private streamWriter?: WritableStreamDefaultWriter<Uint8Array>;
  private writer?: TraceWriterLike;
  private callbacks: OutputCallbacks;

  /** Takes hold of the destination; throws if it cannot be written. */
  constructor(dest: WritableStream<Uint8Array> | TraceWriterLike, callbacks: OutputCallbacks = {}) {
    this.callbacks = callbacks;
    if (dest instanceof WritableStream) {
      if (dest.locked) {
        throw new TypeError(
          "runtrace: the WritableStream given to start() is locked by another writer",
        );
      }
      this.streamWriter = dest.getWriter();
      // An error surfaces through write(); this keeps it from being unhandled.
      this.streamWriter.closed.catch(() => {});
    } else if (dest && typeof dest.write === "function") {
      this.writer = dest;
    } else {
      throw new TypeError(
        "runtrace: start() needs a file path, a WritableStream or an object with a write(bytes) method",
      );
    }
  }

  /** Queues `bytes` behind earlier writes. Errors are kept, not thrown. */
  write(bytes: Uint8Array): void {
    if (this.error !== undefined) {
      this.callbacks.onDone?.(bytes.length);
      return;
    }
    this.queue.push(bytes);
    this.pumping ??= this.pump();
  }

  /** Resolves when every queued write has finished (or failed). */
  async drained(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** Flushes a writer that buffers and lets go of a stream. */
  async release(): Promise<void> {
    await this.drained();
    try {
      if (this.writer?.flush && this.error === undefined) {
        await this.writer.flush();
      }
    } catch (e) {
      this.error ??= e;
    }
    this.streamWriter?.releaseLock();
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const bytes = this.takeQueued();
        if (this.error === undefined) {
          try {
            await this.writeAll(bytes);
          } catch (e) {
            this.error = e;
            this.callbacks.onError?.(e);
          }
        }
        this.callbacks.onDone?.(bytes.length);
      }
    } finally {
      this.pumping = undefined;
    }
  }

  /** The queued chunks, joined up to {@linkcode COALESCE_BYTES}. */
  private takeQueued(): Uint8Array {
    let k = 1, n = this.queue[0].length;
    while (k < this.queue.length && n + this.queue[k].length <= COALESCE_BYTES) {
      n += this.queue[k++].length;
    }
    const parts = this.queue.splice(0, k);
    if (k === 1) return parts[0];
    const out = new Uint8Array(n);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  private async writeAll(bytes: Uint8Array): Promise<void> {
    if (this.streamWriter) {
      await this.streamWriter.write(bytes);
      return;
    }
    let off = 0;
    while (off < bytes.length) {
      const n = await this.writer!.write(bytes.subarray(off));
      if (typeof n !== "number") return;
      if (n <= 0) {
        throw new Error(`runtrace: trace writer accepted ${n} bytes`);
      }
      off += n;
    }
  }
}
