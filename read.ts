/**
 * Reading runtrace traces: {@linkcode parseTrace} for a trace in memory, and
 * {@linkcode readEvents} to stream one of any size.
 *
 * @example Latency of every task
 * ```ts
 * import { parseTrace } from "./read.ts";
 * const trace = parseTrace(await Deno.readFile("trace.out"));
 * for (const task of trace.tasks) {
 *   if (task.end !== undefined && task.start !== undefined) {
 *     console.log(task.type, (task.end - task.start) / 1e6, "ms");
 *   }
 * }
 * ```
 *
 * @module
 */

import { TraceDecoder, type TraceEvent } from "./lib/format/decoder.ts";

export { parseTrace, TraceBuilder } from "./lib/read/trace_model.ts";
export type {
  CounterSample,
  GcRecord,
  LogRecord,
  RegionRecord,
  StallRecord,
  TaskRecord,
  ThreadRecord,
  Trace,
  WindowEdges,
} from "./lib/read/trace_model.ts";
export { TraceDecoder, TraceFormatError } from "./lib/format/decoder.ts";
export { analyzeDelays, DelayAnalyzer } from "./lib/read/delay.ts";
export {
  compareDurations,
  FINE_BUCKETS_PER_DECADE,
  FineHistogram,
  mannWhitney,
  TypeDurations,
} from "./lib/read/compare.ts";
export type { ShiftTest, SideSummary, TypeDiff } from "./lib/read/compare.ts";
export {
  MMU_WINDOWS,
  mmuCurve,
  ResponsivenessCollector,
  responsivenessOf,
} from "./lib/read/responsiveness.ts";
export type { BlockedInterval, MmuPoint, ThreadResponsiveness } from "./lib/read/responsiveness.ts";
export type {
  BlockedShare,
  DelayOptions,
  DelayResult,
  StallCause,
  StallVictim,
  TaskDelay,
} from "./lib/read/delay.ts";
export type { HeaderFields } from "./lib/format/encoder.ts";
export type {
  CounterEvent,
  EndEvent,
  EventVisitor,
  GcEvent,
  HeaderEvent,
  LogEvent,
  LostEvent,
  RegionBeginEvent,
  RegionEndEvent,
  StallEvent,
  TaskBeginEvent,
  TaskEndEvent,
  ThreadEndEvent,
  ThreadEvent,
  TraceEvent,
  TraceHeader,
} from "./lib/format/decoder.ts";

/** Bytes a trace can be read from. */
export type TraceSource =
  | Uint8Array
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

/**
 * Streams the events of a trace, in file order: a `header` event first, an
 * `end` event last (which says whether the trace was truncated and how many
 * events were lost). Memory stays bounded by the largest batch. Throws
 * `TraceFormatError` on input that is not a trace.
 *
 * @example Count regions by type in a large trace
 * ```ts
 * import { readEvents } from "./read.ts";
 * const file = await Deno.open("trace.out");
 * const counts = new Map<string, number>();
 * for await (const e of readEvents(file.readable)) {
 *   if (e.kind === "regionBegin") counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
 * }
 * ```
 */
export async function* readEvents(
  source: TraceSource,
): AsyncGenerator<TraceEvent, void, undefined> {
  let pending: TraceEvent[] = [];
  const decoder = new TraceDecoder((e) => pending.push(e));
  for await (const chunk of chunks(source)) {
    decoder.push(chunk);
    if (pending.length > 0) {
      const ready = pending;
      pending = [];
      yield* ready;
    }
  }
  decoder.finish();
  yield* pending;
}

/** Yields `source` as chunks of at most 1 MiB. */
export async function* chunks(
  source: TraceSource,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (source instanceof Uint8Array) {
    for (let off = 0; off < source.length; off += 1 << 20) {
      yield source.subarray(off, off + (1 << 20));
    }
    return;
  }
  if (source instanceof ReadableStream) {
    const reader = source.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }
  if (source && Symbol.asyncIterator in source) {
    yield* source;
    return;
  }
  throw new TypeError(
    "runtrace: readEvents() needs a Uint8Array, a ReadableStream or an async iterable of Uint8Array",
  );
}
