/// <reference lib="dom" />
/**
 * Where the page's views get the full model (the reader's trace model and
 * every task's delays) from, without holding the page: a
 * {@linkcode ModelSource} hands it to a view now if it is ready, else when
 * it is, after telling the view how far the reading is. Two sources: the
 * model the page's Web Worker built and posted packed, made back into
 * objects a slice at a time ({@linkcode WorkerModel}); and, for a small
 * trace or where no worker can start, the model built in the page itself, a
 * slice at a time ({@linkcode InPageModel}).
 *
 * @module
 */

import { TraceDecoder } from "../../format/decoder.ts";
import { type Trace, TraceBuilder } from "../../read/trace_model.ts";
import { responsivenessOf, type ThreadResponsiveness } from "../../read/responsiveness.ts";
import { type PageModel, PageModelBuilder } from "./delay.ts";
import { ModelUnpacker, type PackedModel } from "./model_pack.ts";

/** The page's model, now or later. */
export interface ModelSource {
  /**
   * Calls `use` with the model: now if it is ready, else once it is, after
   * calling `waiting` with the share read so far.
   */
  use(use: (m: PageModel) => void, waiting?: (share: number) => void): void;
  /** The responsiveness curves of every thread, once the model is read. */
  curves(): Promise<ThreadResponsiveness[]>;
}

/**
 * Longest slice of main-thread work, ms. Well under the 50 ms of a "long task"
 * because a garbage collection can land in any slice while a million objects
 * are made: at 20 ms, slices with a collection reached 122 ms.
 */
const SLICE_MS = 8;

/** Hands the model to waiting views, each in a task of its own: none adds to another's time. */
class Waiters {
  model?: PageModel;
  private list: ((m: PageModel) => void)[] = [];

  constructor(private onReady: (m: PageModel) => void) {}

  use(use: (m: PageModel) => void, waiting: ((share: number) => void) | undefined, share: number) {
    if (this.model) return use(this.model);
    waiting?.(share);
    this.list.push(use);
  }

  ready(model: PageModel): void {
    this.model = model;
    for (const f of [this.onReady, ...this.list.splice(0)]) setTimeout(() => f(model), 0);
  }
}

/**
 * The model the page's worker posted: made back into objects in slices of
 * about 20 ms once it arrives.
 *
 * @example
 * ```ts
 * import { WorkerModel } from "./model_source.ts";
 * import type { PackedModel } from "./model_pack.ts";
 * declare const packed: PackedModel;
 * const source = new WorkerModel((m) => console.log(m.trace.tasks.length));
 * source.arrived(packed, []);
 * ```
 */
export class WorkerModel implements ModelSource {
  private waiters: Waiters;
  private unpacker?: ModelUnpacker;
  private curveList?: Promise<ThreadResponsiveness[]>;
  private curvesReady!: (c: ThreadResponsiveness[]) => void;
  private failed?: string;

  /** `onReady` is called with the model once it is complete. */
  constructor(onReady: (m: PageModel) => void) {
    this.waiters = new Waiters(onReady);
    this.curveList = new Promise((done) => this.curvesReady = done);
  }

  /**
   * The worker posted the model, the curves and the pages' rows: unpack it
   * in the background; `messages` are the logs' messages, if the model came
   * without them (the columns' `logs.message`).
   */
  arrived(
    packed: PackedModel,
    curves: ThreadResponsiveness[],
    stats?: PageModel["stats"],
    messages?: readonly string[],
  ): void {
    this.curvesReady(curves);
    const u = this.unpacker = new ModelUnpacker(packed, messages);
    const tick = () => {
      const model = u.step(SLICE_MS);
      if (model) this.waiters.ready({ ...model, stats });
      else setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
  }

  /** The worker could not build the model: views waiting for it say so. */
  fail(message: string, show: (message: string) => void): void {
    this.failed = message;
    show(message);
  }

  /** See {@linkcode ModelSource.use}. */
  use(use: (m: PageModel) => void, waiting?: (share: number) => void): void {
    if (this.failed) return;
    // Reading in the worker counts for the first half, unpacking for the second.
    this.waiters.use(use, waiting, this.unpacker ? 0.5 + this.unpacker.share / 2 : 0);
  }

  /** See {@linkcode ModelSource.curves}. */
  curves(): Promise<ThreadResponsiveness[]> {
    return this.curveList!;
  }
}

/** Traces up to this size are read at once when a view needs them, rather than waited for. */
const SYNC_BYTES = 1 << 19;

/**
 * The model built in the page from the same bytes, a slice at a time so the
 * page stays responsive; a small trace is read at once when a view needs it.
 * For small traces (no worker is worth starting) and where a worker cannot
 * start.
 *
 * @example
 * ```ts
 * import { InPageModel } from "./model_source.ts";
 * const source = new InPageModel(await Deno.readFile("trace.out"), () => {});
 * source.start();
 * source.use((m) => console.log(m.trace.tasks.length));
 * ```
 */
export class InPageModel implements ModelSource {
  private builder = new PageModelBuilder(new TraceBuilder());
  private decoder = new TraceDecoder(this.builder.add);
  private at = 0;
  private waiters: Waiters;
  private finished = false;
  private trace?: Trace;

  /** Reads `bytes`; `onReady` is called with the model once it is complete. */
  constructor(private bytes: Uint8Array, onReady: (m: PageModel) => void) {
    this.waiters = new Waiters(onReady);
  }

  /** Starts the background work. */
  start(): void {
    const tick = () => {
      if (this.waiters.model) return;
      const until = performance.now() + 30;
      while (!this.waiters.model && performance.now() < until) if (this.step()) break;
      if (!this.waiters.model) setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
  }

  /** See {@linkcode ModelSource.use}; a small trace is read at once. */
  use(use: (m: PageModel) => void, waiting?: (share: number) => void): void {
    if (!this.waiters.model && this.bytes.length <= SYNC_BYTES) {
      while (!this.waiters.model) this.step();
    }
    this.waiters.use(use, waiting, this.at / Math.max(1, this.bytes.length));
  }

  /** See {@linkcode ModelSource.curves}. */
  curves(): Promise<ThreadResponsiveness[]> {
    return new Promise((done) => this.use((m) => done(responsivenessOf(m.trace))));
  }

  /**
   * One step of the reading: a chunk of input, or one of the phases after
   * the last (each long on a large trace). True after a phase, to end the
   * slice there and let the page breathe between phases.
   */
  private step(): boolean {
    const chunk = 1 << 16;
    if (this.at < this.bytes.length) {
      this.decoder.push(this.bytes.subarray(this.at, this.at + chunk));
      this.at += chunk;
      return false;
    }
    if (!this.finished) {
      this.decoder.finish();
      this.finished = true;
      return true;
    }
    if (!this.trace) {
      this.trace = this.builder.trace();
      return true;
    }
    if (!this.waiters.model) this.waiters.ready(this.builder.withDelays(this.trace));
    return true;
  }
}
