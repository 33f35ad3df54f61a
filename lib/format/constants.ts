/**
 * Constants of the runtrace trace format, version 1. The normative
 * description is docs/format.md; this file and that document change together.
 *
 * @module
 */

/** The eight bytes every runtrace trace starts with: `runtrace` in ASCII. */
export const MAGIC: Uint8Array = new Uint8Array([
  0x72,
  0x75,
  0x6e,
  0x74,
  0x72,
  0x61,
  0x63,
  0x65,
]);

/** The format version this code writes and reads. */
export const FORMAT_VERSION = 1;

/** Batch types: every batch is `type u8, length uvarint, payload`. */
export const Batch = {
  /** String table entries: `(id uvarint, length uvarint, utf-8 bytes)*`. */
  STRINGS: 1,
  /** Events of one thread. */
  EVENTS: 2,
  /** A thread's id and name. */
  THREAD: 3,
  /** The last batch of a complete trace: totals. */
  END: 4,
  /**
   * Begin events of tasks and regions still open where a flight-recorder
   * chunk starts, at their real times; the same payload as EVENTS.
   */
  RESTATE: 5,
} as const;

/** Header flag: the trace is a flight-recorder snapshot (a window). */
export const HEADER_SNAPSHOT = 1;

/** Event types inside an EVENTS batch. */
export const Ev = {
  TASK_BEGIN: 1,
  TASK_END: 2,
  REGION_BEGIN: 3,
  REGION_END: 4,
  LOG: 5,
  LOST: 6,
  /** A sampled value: heap, memory, event-loop utilisation. */
  COUNTER: 7,
  /** The thread's event loop did not run for a while; at its end. */
  STALL: 8,
  /** A garbage collection, measured or inferred; at its end. */
  GC: 9,
  /** The thread stopped recording (it left the trace or exited). */
  THREAD_END: 10,
  /** The call stack of the thread's next event. */
  STACK: 11,
} as const;

/** Bit set in a GC event's flags when it was inferred, not reported by the runtime. */
export const GC_INFERRED = 1;

/** Largest batch payload a reader accepts; larger claims mean corruption. */
export const MAX_BATCH_BYTES: number = 64 << 20;

/** Largest header block a reader accepts. */
export const MAX_HEADER_BYTES: number = 64 << 10;

/** Bit set in a log's flags when its message was cut to the length limit. */
export const LOG_TRUNCATED = 1;
