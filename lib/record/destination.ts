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

/** Where `start` writes the trace: a file path, a stream or a writer. */
export type TraceDestination =
  | string
  | WritableStream<Uint8Array>
  | TraceWriterLike;

/** Writes chunks in order to a stream or writer on the main thread. */
export class MainThreadOutput {
  /** The first error the destination raised, if any. */
  error: unknown = undefined;
  private chain: Promise<void> = Promise.resolve();
  private streamWriter?: WritableStreamDefaultWriter<Uint8Array>;
  private writer?: TraceWriterLike;

  /** Takes hold of the destination; throws if it cannot be written. */
  constructor(dest: WritableStream<Uint8Array> | TraceWriterLike) {
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
    this.chain = this.chain.then(async () => {
      if (this.error !== undefined) return;
      try {
        await this.writeAll(bytes);
      } catch (e) {
        this.error = e;
      }
    });
  }

  /** Resolves when every queued write has finished (or failed). */
  drained(): Promise<void> {
    return this.chain;
  }

  /** Flushes a writer that buffers and lets go of a stream. */
  async release(): Promise<void> {
    await this.chain;
    try {
      if (this.writer?.flush && this.error === undefined) {
        await this.writer.flush();
      }
    } catch (e) {
      this.error ??= e;
    }
    this.streamWriter?.releaseLock();
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
