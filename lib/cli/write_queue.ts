/**
 * Writes in flight while the caller makes the next chunk: the output's
 * writes run on the runtime's I/O threads (a file's page-cache copy, a
 * pipe's reader) while the main thread encodes, up to a bound.
 *
 * @module
 */

import type { CliOutput } from "./io.ts";

/**
 * A bounded queue of writes to one output, started in order. `start` begins
 * a write without waiting for it; `room` waits until fewer than `limit`
 * writes are in flight; `drain` waits for all of them. A failed write is
 * reported by the next `room` or `drain`, and no write starts after it.
 *
 * The chunks must stay unchanged until written. With an exporter's
 * `takeView`, whose latest `VIEWS_KEPT` views stay valid (see
 * lib/export/chunk_buffer.ts), a `limit` of at most `VIEWS_KEPT` and
 * `await room()` before each `takeView` keep every chunk in flight valid:
 * `room` leaves at most `limit - 1` writes in flight, all of them among the
 * latest views.
 *
 * @example
 * ```ts
 * import { WriteQueue } from "./write_queue.ts";
 * const written: Uint8Array[] = [];
 * const q = new WriteQueue({ write: async (c) => void written.push(c as Uint8Array) }, 2);
 * for (const chunk of [new Uint8Array([1]), new Uint8Array([2])]) {
 *   await q.room();
 *   q.start(chunk);
 * }
 * await q.drain(); // written: [1], [2]
 * ```
 */
export class WriteQueue {
  private inFlight: Promise<void>[] = [];
  private failure: { error: unknown } | undefined;

  /**
   * A queue writing to `out`, at most `limit` writes at once (1 when the
   * output cannot take writes before the earlier ones end).
   */
  constructor(private out: CliOutput, private limit: number) {
    if (!(limit >= 1)) {
      throw new RangeError(`runtrace: a write queue needs a limit ≥ 1, not ${limit}`);
    }
  }

  /**
   * Waits until fewer than `limit` writes are in flight (they end in the
   * order they started); throws the error of a write that failed.
   */
  async room(): Promise<void> {
    while (this.inFlight.length >= this.limit) await this.inFlight.shift();
    this.check();
  }

  /** Starts writing `chunk` after the writes before it; an empty chunk is skipped. */
  start(chunk: Uint8Array): void {
    this.check();
    if (chunk.length === 0) return;
    const w = this.out.write(chunk).catch((error) => {
      this.failure ??= { error };
    });
    this.inFlight.push(w);
  }

  /** Waits for every write started; throws the error of one that failed. */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight.shift();
    this.check();
  }

  /** Waits for every write started, ignoring failures: before closing on an error. */
  async settle(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight.shift();
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }
}
