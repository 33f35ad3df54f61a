/**
 * Layout of one thread's shared ring: the contract between the recording
 * thread (single producer) and the drain worker (single consumer).
 *
 * ```
 * bytes 0..127     control words (Int32), indexed by {@linkcode Ctrl}: the
 *                  producer's in the first 64-byte cache line, the worker's
 *                  in the second, so that neither side's stores evict the
 *                  other's line on every event
 * bytes 128..      records, RECORD_BYTES each, `capacity` of them (power of two)
 * then             text ring, UTF-16 code units, `textCapacity` of them (power of two);
 *                  each text starts at an even unit (the writer stores two units per
 *                  32-bit word; an odd length leaves one unit of padding after it)
 * ```
 *
 * A record is `f64 time (performance.now() ms, on the main thread's clock)`,
 * then six u32 words: `kind, a, b, c, d, e`. Records that carry a float
 * `value` keep it in place of `d, e` (an aligned f64). Counters (head, tail)
 * run freely and wrap at 2^32; the slot is `counter & (capacity - 1)`.
 *
 * @module
 */

import { Ev } from "../format/constants.ts";

/** Indices of the Int32 control words at the start of the ring. */
export const Ctrl = {
  /**
   * Records published by the producer: one atomic store for a batch of them
   * (ring_writer.ts), so the worker never reads a record still being written.
   */
  HEAD: 0,
  /** Records consumed by the worker; the producer waits on it when full. */
  TAIL: 16,
  /** Text units consumed by the worker. */
  TEXT_TAIL: 17,
  /** Bumped by the producer to wake the worker early (ring half full). */
  WAKE: 3,
  /**
   * 1 while the producer is dormant (nothing recorded for a while): its next
   * record wakes the worker, which may sleep without a timeout meanwhile.
   */
  DORMANT: 5,
  /**
   * The session the ring serves now, set by the main thread before the
   * worker's loop for it opens: a warm worker's loop of a session before
   * (not yet closed) leaves a reused ring alone once this differs.
   */
  SESSION: 7,
  /**
   * Consumers (a trace, a flight recorder) the main thread asked for that the
   * worker has not set up yet: the loop does not drain meanwhile, so that
   * events logged right after an unawaited `start()` reach every consumer
   * started before them, not only the first one set up.
   */
  OPENING: 8,
  /** Events the producer dropped because the ring stayed full. */
  LOST: 4,
  /** Exit handshake: see {@linkcode Flush}. */
  FLUSH: 18,
  /** Next task id; only the main ring's word is used, by every thread. */
  TASK_SEQ: 6,
  /** Set to 1 when the session ended: a joined thread stops recording. */
  CLOSED: 19,
  /**
   * Bytes the worker handed to a main-thread destination (stream or writer)
   * that it has not written yet: the worker adds, the destination subtracts.
   * Over the trace's bound the worker stops draining, and the full-ring
   * policy takes over.
   */
  OUTPUT_PENDING: 20,
} as const;

/**
 * Ring-only LOG flag (never written to a trace): the message is the string
 * with id `c`, not text in the text ring.
 */
export const LOG_MESSAGE_ID = 2;

/**
 * Values of the {@linkcode Ctrl.FLUSH} word: the main thread, about to exit,
 * sets REQUESTED (finish the trace; the worker answers DONE) or CHECKPOINT
 * (write everything and an END batch, then go on; the worker answers IDLE).
 */
export const Flush = { IDLE: 0, REQUESTED: 1, DONE: 2, CHECKPOINT: 3 } as const;

/** Bytes of control words before the first record. */
export const CTRL_BYTES = 128;
/** Bytes per record. */
export const RECORD_BYTES = 32;
/** Uint32 words per record. */
export const RECORD_WORDS = 8;

/**
 * Uint32 offsets of a record's fields within its words; words 0 and 1 hold
 * its f64 time. ring_writer.ts writes these offsets as literals (the hot path).
 */
export const Word = { KIND: 2, A: 3, B: 4, C: 5, D: 6, E: 7 } as const;

/** Float64 offset within a record of its `value`, which takes the place of `d, e`. */
export const VALUE_F64 = 3;

/**
 * Record kinds. Records of events share their numbers with the format's
 * `Ev`, so the encoder needs no mapping.
 */
export const Rec = {
  /** a=task, b=parent task, c=type string id */
  TASK_BEGIN: Ev.TASK_BEGIN,
  /** a=task */
  TASK_END: Ev.TASK_END,
  /** a=task, b=type string id, c=region id, d=parent region id, e=lane */
  REGION_BEGIN: Ev.REGION_BEGIN,
  /** a=region id */
  REGION_END: Ev.REGION_END,
  /** a=task, b=category string id, c=text position, d=text length, e=flags */
  LOG: Ev.LOG,
  /** a=name string id, value=the sample */
  COUNTER: Ev.COUNTER,
  /** a=duration in µs (stamped at the stall's end) */
  STALL: Ev.STALL,
  /** a=duration in µs, b=flags, value=bytes freed (stamped at its end) */
  GC: Ev.GC,
  /** no arguments */
  THREAD_END: Ev.THREAD_END,
  /** a=stack string id, for the next record */
  STACK: Ev.STACK,
  /** a=string id, c=text position, d=text length */
  STRING: 16,
} as const;

/** Sizes of one ring. */
export interface RingSizes {
  /** Record slots, a power of two. */
  capacity: number;
  /** UTF-16 code units of text, a power of two. */
  textCapacity: number;
}

/** Bytes of shared memory a ring of these sizes needs. */
export function ringBytes(sizes: RingSizes): number {
  return CTRL_BYTES + sizes.capacity * RECORD_BYTES + sizes.textCapacity * 2;
}
