/**
 * Helpers for the recorder's unit tests: a ring filled by the real ring
 * writer, drained in this thread by the worker's RingDrainer into a
 * TraceWriter, and read back as events.
 *
 * @module
 */

import { type HeaderFields, TraceWriter } from "../lib/format/encoder.ts";
import { TraceDecoder, type TraceEvent } from "../lib/format/decoder.ts";
import { ringBytes, type RingSizes } from "../lib/record/ring_layout.ts";
import { attachRing, detachRing, type JoinedThread, publish } from "../lib/record/ring_writer.ts";
import { RingDrainer } from "../lib/record/drain_worker/ring_drainer.ts";
import { StringTable } from "../lib/record/drain_worker/string_table.ts";

/** A header for traces made in tests: time 0 is now. */
export function testHeader(): HeaderFields {
  return {
    timeOrigin: performance.timeOrigin,
    startTime: performance.now(),
    resolutionNs: 1,
    runtime: "test",
    runtimeVersion: "1",
    pid: 0,
  };
}

/** A TraceWriter that has written its header, with time 0 now. */
export function newWriter(): TraceWriter {
  const w = new TraceWriter();
  const h = testHeader();
  w.startMs = h.startTime;
  w.header(h);
  w.threadName(1, "main");
  return w;
}

/** Every event of a trace, the header and the end included. */
export function decodeAll(bytes: Uint8Array): TraceEvent[] {
  const events: TraceEvent[] = [];
  const d = new TraceDecoder((e) => events.push(e));
  d.push(bytes);
  d.finish();
  return events;
}

/** Ends `w`'s trace and returns its events. */
export function finish(w: TraceWriter): TraceEvent[] {
  w.end();
  return decodeAll(w.out.buf.slice(0, w.out.pos));
}

/** A ring attached to this thread's ring writer, and a drainer of it. */
export interface TestRing {
  ring: SharedArrayBuffer;
  drainer: RingDrainer;
  table: StringTable;
}

/**
 * Makes a ring of `sizes`, points this thread's ring writer at it (recording
 * is on until {@linkcode detachRing}) and returns it with a drainer.
 */
export function attachTestRing(
  sizes: RingSizes,
  options: { maxWait?: number; maxMessage?: number; thread?: number; joined?: JoinedThread } = {},
  table: StringTable = new StringTable(),
): TestRing {
  const ring = new SharedArrayBuffer(ringBytes(sizes));
  attachRing(ring, {
    ...sizes,
    maxWait: options.maxWait ?? 1000,
    maxMessage: options.maxMessage ?? sizes.textCapacity >> 1,
  }, options.joined);
  const thread = options.thread ?? 1;
  const drainer = new RingDrainer({ ring, ...sizes, thread, name: `thread ${thread}` }, table);
  return { ring, drainer, table };
}

/**
 * Drains everything waiting in `drainer` into `writers`, after publishing
 * what this thread wrote (a drain worker sees it at the end of the caller's
 * synchronous run; a test drains within that run).
 */
export function drainAll(drainer: RingDrainer, writers: TraceWriter[]): number {
  publish();
  let total = 0;
  for (let n; (n = drainer.drain(writers, 1 << 15, 1 << 20)) > 0;) total += n;
  return total;
}

export { detachRing, publish };
