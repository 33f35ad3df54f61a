/**
 * Crafts trace files event by event, for tests of what the recorder would
 * rarely or never write (regions ended twice, window edges, huge numbers of
 * types, hostile strings). Built on the encoder's {@linkcode TraceWriter}, so
 * the bytes are the real format.
 *
 * @example
 * ```ts
 * import { craftTrace } from "./craft_trace.ts";
 * const bytes = craftTrace((w) => {
 *   w.taskBegin(10, 1, 0, "request");
 *   w.regionBegin(20, 1, 1, "step");
 *   w.regionEnd(30, 1);
 *   w.taskEnd(40, 1);
 * });
 * ```
 *
 * @module
 */

import { TraceWriter } from "../lib/format/encoder.ts";

/** Writes events of one trace; times are ns since the trace start. */
export class TraceCrafter {
  private w = new TraceWriter();
  private ids = new Map<string, number>();
  private thread = 0;
  /** Events since the batch opened: batches are sealed every so many. */
  private inBatch = 0;

  constructor() {
    this.w.header({
      timeOrigin: 0,
      startTime: 0,
      resolutionNs: 1,
      runtime: "crafted",
      runtimeVersion: "0",
      pid: 1,
    });
  }

  /** Writes on `thread` from now on (1 is the main thread). */
  on(thread: number): this {
    if (thread !== this.thread) this.seal();
    this.thread = thread;
    return this;
  }

  /** A task began. */
  taskBegin(ns: number, task: number, parent: number, type: string): this {
    return this.put((w) => w.taskBegin(ns / 1e6, task, parent, this.str(type)));
  }

  /** A task ended. */
  taskEnd(ns: number, task: number): this {
    return this.put((w) => w.taskEnd(ns / 1e6, task));
  }

  /** A region began (`parent`: the enclosing withRegion region; `lane`: its chain). */
  regionBegin(
    ns: number,
    region: number,
    task: number,
    type: string,
    options: { parent?: number; lane?: number } = {},
  ): this {
    const typeId = this.str(type);
    return this.put((w) =>
      w.regionBegin(ns / 1e6, task, typeId, region, options.parent ?? 0, options.lane ?? 0)
    );
  }

  /** A region ended. */
  regionEnd(ns: number, region: number): this {
    return this.put((w) => w.regionEnd(ns / 1e6, region));
  }

  /** A stall from `start` to `end` ns (written at its end), charged to a region and task (or 0). */
  stall(start: number, end: number, region: number, task: number): this {
    return this.put((w) => w.stall(end / 1e6, (end - start) / 1e3, region, task));
  }

  /** A garbage collection from `start` to `end` ns (written at its end). */
  gc(start: number, end: number, inferred = false): this {
    return this.put((w) => w.gc(end / 1e6, (end - start) / 1e3, inferred ? 1 : 0, 1 << 20));
  }

  /** A log message. */
  log(ns: number, task: number, category: string, message: string): this {
    const categoryId = this.str(category);
    return this.put((w) => w.log(ns / 1e6, task, categoryId, 0, message));
  }

  /** Names a thread. */
  threadName(thread: number, name: string): this {
    this.seal();
    this.w.threadName(thread, name);
    return this;
  }

  /** The finished trace; `complete: false` leaves out the END batch (a cut trace). */
  bytes(options: { complete?: boolean } = {}): Uint8Array {
    if (options.complete === false) this.seal();
    else {
      this.open();
      this.w.end();
    }
    return this.w.out.buf.slice(0, this.w.out.pos);
  }

  /** Writes one event into the open batch (opening one), sealing every 4096. */
  private put(write: (w: TraceWriter) => void): this {
    this.open();
    write(this.w);
    if (++this.inBatch >= 4096) this.seal();
    return this;
  }

  private str(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.ids.size + 1;
      this.ids.set(s, id);
      this.w.defineString(id, s);
    }
    return id;
  }

  private open(): void {
    if (this.w.thread === 0) this.w.open(this.thread || 1);
  }

  private seal(): void {
    if (this.w.thread !== 0) {
      this.w.close();
      this.w.thread = 0;
    }
    this.inBatch = 0;
  }
}

/** Crafts a trace: `write` adds events to a {@linkcode TraceCrafter}. */
export function craftTrace(
  write: (w: TraceCrafter) => void,
  options: { complete?: boolean } = {},
): Uint8Array {
  const w = new TraceCrafter();
  write(w);
  return w.bytes(options);
}
