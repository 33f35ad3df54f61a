/**
 * The producer side of this thread's ring: everything the recording API does
 * on the caller's thread. One clock read and a few plain stores into shared
 * memory per event; the slow path runs once per {@linkcode PUBLISH_EVERY}
 * records.
 *
 * Hand-over in batches: a record is written at `head` but the worker sees it
 * only once `Ctrl.HEAD` is published, with one `Atomics.store` for many
 * records (a sequentially consistent store costs 13–25 ns, as much as the
 * rest of a record). The slow path publishes every {@linkcode PUBLISH_EVERY}
 * records, and the timer the thread already runs while it records (the
 * runtime sampler's heartbeat, or idle_watch.ts's check) publishes at each
 * tick; a microtask per synchronous run would cost more than it saves in
 * async code (100–500 ns per `queueMicrotask` in Bun). {@linkcode publish}
 * hands over at once, for the session's points where the worker must see
 * everything (a request to it, a stop, an exit, a wait for room, dormancy).
 * A joined worker thread, which its parent may terminate at any instruction,
 * publishes every record.
 *
 * @module
 */

import { Ctrl, CTRL_BYTES, LOG_MESSAGE_ID, Rec, RECORD_BYTES } from "./ring_layout.ts";

/** Whether events are being recorded; read on every API call. */
export let enabled = false;
/** Bumped at every start and stop; a Region or Task of another is stale. */
export let generation = 0;

/** The recording flags the hot API calls read: see {@linkcode hot}. */
export interface HotFlags {
  /** {@linkcode enabled}. */
  enabled: boolean;
  /** {@linkcode generation}. */
  generation: number;
  /** {@linkcode stacks}. */
  stacks: boolean;
}

/**
 * {@linkcode enabled}, {@linkcode generation} and {@linkcode stacks} again,
 * as fields of one object, which the recording API (annotations.ts) reads
 * instead of the bindings: in Bun (JavaScriptCore) a read of an imported `let` binding
 * costs a few nanoseconds more than a field load (about 8 ns per region
 * pair, 0.2 of a clock read); in Deno they cost the same. Written only here,
 * always together with the bindings ({@linkcode setRecording}).
 */
export const hot: HotFlags = { enabled: false, generation: 0, stacks: false };

/** Sets `enabled` and bumps `generation`, in the bindings and in {@linkcode hot} alike. */
function setRecording(on: boolean): void {
  enabled = on;
  generation++;
  hot.enabled = on;
  hot.generation = generation;
  hot.stacks = stacks;
}

let ctrl: Int32Array<ArrayBufferLike> = new Int32Array(CTRL_BYTES >> 2);
/** The main ring's control words: the task counter every thread shares. */
let seqCtrl: Int32Array<ArrayBufferLike> = ctrl;
/** Added to this thread's clock to get the main thread's. */
let clockShift = 0;
/** Whether calls record their call stack (`start(w, { stacks: true })`). */
export let stacks = false;
let f64: Float64Array<ArrayBufferLike> = new Float64Array(0);
let u32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let text: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
/** The text ring again, two units per word: {@linkcode writeText} stores pairs. */
let text32: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
/**
 * Whether a Uint32Array word holds the unit at the lower address in its low
 * half (every platform the runtimes run on); if not, text is stored unit by
 * unit.
 */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
let capacity = 0;
let mask = 0;
let textCapacity = 0;
let textMask = 0;
let head = 0;
let limit = 0;
/** The `head` last stored in `Ctrl.HEAD`: records below it are the worker's to read. */
let published = 0;
/**
 * Whether every record is published as it is written: on a joined thread,
 * which its parent may `terminate()` at any instruction, before its timer
 * runs (the main thread's ends all run {@linkcode publish}).
 */
let publishEach = false;
/**
 * Whether a task's begin is published as it is written: once a worker thread
 * joined (see {@linkcode tasksCrossThreads}).
 */
export let publishTaskBegins = false;
/**
 * Records written between two publications at most: the hot path stores no
 * atomic; the slow path at `limit` publishes them all with one.
 */
export const PUBLISH_EVERY = 256;
let textHead = 0;
let maxWait = 0;
let maxMessage = 0;
let stalled = false;
let strings = new Map<string, number>();
/**
 * Bounds of `strings`: distinct strings one thread defines (names,
 * categories, stacks, repeated messages) and the UTF-16 units they hold. A
 * program that makes a name per request cannot grow the tables of this
 * thread and the worker without limit: past the bounds, a new name is
 * recorded as {@linkcode OVERFLOW_NAME} and counted.
 */
const MAX_STRINGS = 1 << 16;
const MAX_STRING_UNITS = 1 << 22;
let stringUnits = 0;
/** Calls whose new name found the table full, since the ring was attached. */
let overflowed = 0;
/** The name recorded in place of a new one once the table is full. */
export const OVERFLOW_NAME = "runtrace: too many distinct names";
/** The counter that records {@linkcode namesOverLimit} in the trace. */
const OVERFLOW_COUNTER = "runtrace.names.overLimit";
/** Text units known to be free without re-reading TEXT_TAIL. */
let textFree = 0;
/** One-entry caches in front of `strings`: most call sites repeat one name. */
let lastType = "", lastTypeId = 0;
let lastCategory = "", lastCategoryId = 0;
/**
 * A message logged twice in a row is interned and then sent by id, without
 * copying its text again; at most MESSAGE_IDS short messages, so unique
 * messages cannot grow the table.
 */
let lastMessage = "", lastMessageId = 0, messageIds = 0;
/**
 * The last unit of `lastMessage` (NaN for none): compared before the
 * messages themselves, since `===` of two distinct strings of one length
 * reads both (about 10 ns in Deno for a 15-unit message), and messages that
 * differ mostly differ at their end (ids, counters).
 */
let lastMessageEnd = NaN;
const MESSAGE_IDS = 4096;
const MESSAGE_ID_MAX_LENGTH = 256;
/** Task ids are taken from the shared counter in blocks, not one atomic add per task. */
let taskNext = 0;
let taskEnd = 0;
const TASK_BLOCK = 256;

/**
 * Whether the ring is dormant ({@linkcode sleepUntilNextRecord}): `limit`
 * equals `head`, so the next record takes the slow path, which wakes the
 * worker and calls `onWake`. The hot path pays nothing for it.
 */
let dormant = false;
let onWake: (() => void) | undefined;

let regionSeq = 0;
let laneSeq = 0;
let taskSeq = 0;

/** Options that shape this thread's ring. */
export interface RingOptions {
  capacity: number;
  textCapacity: number;
  maxWait: number;
  maxMessage: number;
  stacks?: boolean;
}

/** How a thread other than the main one joins: see `joinTrace`. */
export interface JoinedThread {
  /** The main ring, whose TASK_SEQ word hands out task ids. */
  mainRing: SharedArrayBuffer;
  /** `performance.timeOrigin` of the main thread. */
  mainTimeOrigin: number;
}

/** Points the writer at a fresh ring and enables recording. */
export function attachRing(
  ring: SharedArrayBuffer,
  o: RingOptions,
  joined?: JoinedThread,
): void {
  ctrl = new Int32Array(ring, 0, CTRL_BYTES >> 2);
  seqCtrl = joined ? new Int32Array(joined.mainRing, 0, CTRL_BYTES >> 2) : ctrl;
  clockShift = joined ? performance.timeOrigin - joined.mainTimeOrigin : 0;
  stacks = o.stacks === true;
  f64 = new Float64Array(ring, CTRL_BYTES, o.capacity * 4);
  u32 = new Uint32Array(ring, CTRL_BYTES, o.capacity * 8);
  text = new Uint16Array(
    ring,
    CTRL_BYTES + o.capacity * RECORD_BYTES,
    o.textCapacity,
  );
  text32 = new Uint32Array(ring, CTRL_BYTES + o.capacity * RECORD_BYTES, o.textCapacity >> 1);
  capacity = o.capacity;
  mask = capacity - 1;
  textCapacity = o.textCapacity;
  textMask = textCapacity - 1;
  head = 0;
  limit = 0;
  published = 0;
  publishEach = joined !== undefined;
  publishTaskBegins = false;
  textHead = 0;
  maxWait = o.maxWait;
  maxMessage = o.maxMessage;
  stalled = false;
  strings = new Map();
  stringUnits = overflowed = 0;
  textFree = textCapacity;
  lastTypeId = lastCategoryId = 0;
  lastMessage = "";
  lastMessageEnd = NaN;
  lastMessageId = messageIds = 0;
  taskNext = taskEnd = 0;
  dormant = false;
  onWake = undefined;
  Atomics.store(ctrl, Ctrl.DORMANT, 0);
  if (!joined) Atomics.store(ctrl, Ctrl.TASK_SEQ, taskSeq);
  setRecording(true);
}

/** Stops recording; Regions and Tasks of this trace become inert. */
export function detachRing(): void {
  if (!enabled) return;
  publish();
  setRecording(false);
  if (dormant) {
    // The next record (after a resume) still takes the slow path, which
    // recomputes the limit; the watcher that slept is gone with the session.
    dormant = false;
    onWake = undefined;
    Atomics.store(ctrl, Ctrl.DORMANT, 0);
  }
  taskSeq = Math.max(taskSeq, Atomics.load(seqCtrl, Ctrl.TASK_SEQ));
}

/**
 * Enables recording again on the ring that {@linkcode detachRing} paused,
 * where it left off: its session is still alive (a trace was stopping when a
 * flight recorder started).
 */
export function resumeRing(): void {
  if (enabled) return;
  setRecording(true);
}

/** Whether the session this thread recorded into has ended. */
export function ringClosed(): boolean {
  return Atomics.load(ctrl, Ctrl.CLOSED) !== 0;
}

/**
 * Records written to this thread's ring since it was attached (wrapping at
 * 2^32): a watcher compares two readings to see whether anything happened.
 */
export function recordCount(): number {
  return head;
}

/**
 * Marks the ring dormant: nothing was recorded for a while, so the worker
 * may sleep without a timeout and the caller's timer may stop. The next
 * record, of any kind, wakes the worker and then calls `wake` (which must not
 * record synchronously), before it is written; the caller's recording path
 * is unchanged (the `head === limit` test it already makes). Does nothing
 * when not recording; a second call replaces `wake`.
 *
 * @example
 * ```ts
 * import { sleepUntilNextRecord } from "./ring_writer.ts";
 * sleepUntilNextRecord(() => console.log("recording again"));
 * ```
 */
export function sleepUntilNextRecord(wake: () => void): void {
  if (!enabled) return;
  publish();
  dormant = true;
  onWake = wake;
  limit = head;
  Atomics.store(ctrl, Ctrl.DORMANT, 1);
}

/**
 * Ends the ring's dormancy now, as its next record would: wakes the worker
 * and calls the `wake` given to {@linkcode sleepUntilNextRecord}. Does
 * nothing when the ring is not dormant.
 *
 * @example
 * ```ts
 * import { endDormancy } from "./ring_writer.ts";
 * endDormancy(); // the program is busy again, though it records nothing
 * ```
 */
export function endDormancy(): void {
  if (dormant) wakeFromDormancy();
}

function wakeFromDormancy(): void {
  dormant = false;
  Atomics.store(ctrl, Ctrl.DORMANT, 0);
  wakeWorker();
  const wake = onWake;
  onWake = undefined;
  wake?.();
}

/** Publishes this thread's records and wakes the worker for an early drain. */
export function wakeWorker(): void {
  publish();
  Atomics.add(ctrl, Ctrl.WAKE, 1);
  Atomics.notify(ctrl, Ctrl.WAKE);
}

/** Allocates a task id, unique across traces of this process. */
export function nextTaskId(): number {
  if (!enabled) return ++taskSeq;
  if (taskNext === taskEnd) {
    taskNext = Atomics.add(seqCtrl, Ctrl.TASK_SEQ, TASK_BLOCK);
    taskEnd = taskNext + TASK_BLOCK;
  }
  return ++taskNext;
}

/** Allocates a region id for this thread. */
export function nextRegionId(): number {
  return regionSeq = (regionSeq + 1) >>> 0;
}

/** Allocates an async lane id for this thread. */
export function nextLane(): number {
  return laneSeq = (laneSeq + 1) >>> 0;
}

/**
 * Writes one record stamped with the clock. Returns false if the event was
 * dropped (counted as lost).
 */
export function record(
  kind: number,
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
): boolean {
  if (head === limit && !reserve()) return false;
  const i = (head & mask) << 3;
  f64[i >> 1] = performance.now() + clockShift;
  u32[i + 2] = kind;
  u32[i + 3] = a;
  u32[i + 4] = b;
  u32[i + 5] = c;
  u32[i + 6] = d;
  u32[i + 7] = e;
  head = (head + 1) | 0;
  if (publishEach) publish();
  return true;
}

/** Writes a record whose only argument is `a` (the ends of tasks and regions). */
export function recordEnd(kind: number, a: number): void {
  if (head === limit && !reserve()) return;
  const i = (head & mask) << 3;
  f64[i >> 1] = performance.now() + clockShift;
  u32[i + 2] = kind;
  u32[i + 3] = a;
  head = (head + 1) | 0;
  if (publishEach) publish();
}

/**
 * Writes a record that carries a float `value` (counters, GC) stamped with
 * `time` (a `performance.now()` reading of this thread).
 */
export function recordValue(kind: number, time: number, a: number, b: number, value: number) {
  if (head === limit && !reserve()) return;
  const i = (head & mask) << 3;
  f64[i >> 1] = time + clockShift;
  u32[i + 2] = kind;
  u32[i + 3] = a;
  u32[i + 4] = b;
  u32[i + 5] = 0;
  f64[(i >> 1) + 3] = value;
  head = (head + 1) | 0;
  if (publishEach) publish();
}

/**
 * Records the call stack above `api` (the public function the user called)
 * as a STACK record that belongs to the next record. Only with `stacks` on:
 * capturing a stack costs microseconds.
 */
// deno-lint-ignore ban-types
export function recordStack(api: Function): void {
  const holder: { stack?: string } = {};
  const E = Error as { captureStackTrace?: (o: object, f: unknown) => void };
  if (E.captureStackTrace) E.captureStackTrace(holder, api);
  else holder.stack = new Error().stack;
  const s = holder.stack;
  if (typeof s !== "string") return;
  const id = strings.get(s) ?? (tableFull() ? 0 : define(s, 8192));
  if (id !== 0) record(Rec.STACK, id, 0, 0, 0, 0);
}

/**
 * The small id of an interned string, defining it on first use; once the
 * table is full, the id of {@linkcode OVERFLOW_NAME}, counted.
 */
export function intern(s: string): number {
  const id = strings.get(s);
  if (id !== undefined) return id;
  return tableFull() ? overflow() : define(s, 1024);
}

/** Calls since recording began whose new name was recorded as {@linkcode OVERFLOW_NAME}. */
export function namesOverLimit(): number {
  return overflowed;
}

/** Records {@linkcode namesOverLimit} as a counter, if any name was over the limit. */
export function recordNamesOverLimit(): void {
  if (overflowed === 0 || !enabled) return;
  const name = strings.get(OVERFLOW_COUNTER) ?? define(OVERFLOW_COUNTER, 1024);
  if (name !== 0) recordValue(Rec.COUNTER, performance.now(), name, 0, overflowed);
}

function tableFull(): boolean {
  return strings.size >= MAX_STRINGS || stringUnits >= MAX_STRING_UNITS;
}

/** The marker's id (defined past the bound, once); the count in the trace now and then. */
function overflow(): number {
  if ((overflowed++ & 4095) === 0) recordNamesOverLimit();
  return strings.get(OVERFLOW_NAME) ?? define(OVERFLOW_NAME, 1024);
}

/** {@linkcode intern} for task and region types, behind a one-entry cache. */
export function internType(s: string): number {
  if (s === lastType && lastTypeId > 0) return lastTypeId;
  lastType = s;
  return lastTypeId = intern(s); // 0 (a failed definition) is never a hit
}

/** {@linkcode intern} for log categories, behind a one-entry cache. */
export function internCategory(s: string): number {
  if (s === lastCategory && lastCategoryId > 0) return lastCategoryId;
  lastCategory = s;
  return lastCategoryId = intern(s);
}

/**
 * Records a log event whose message is copied into the text ring. Messages
 * longer than `maxMessage` UTF-16 units are cut and flagged as truncated.
 */
export function recordLog(task: number, category: number, message: string) {
  if (head === limit && !reserve()) return;
  const end = message.charCodeAt(message.length - 1); // NaN for "": never a repeat
  if (end === lastMessageEnd && message === lastMessage) {
    if (
      lastMessageId === 0 && messageIds < MESSAGE_IDS &&
      message.length <= MESSAGE_ID_MAX_LENGTH && !tableFull()
    ) {
      lastMessageId = strings.get(message) ?? define(message, MESSAGE_ID_MAX_LENGTH);
      if (lastMessageId !== 0) messageIds++;
    }
    if (lastMessageId !== 0) {
      record(Rec.LOG, task, category, lastMessageId, 0, LOG_MESSAGE_ID);
      return;
    }
  } else {
    lastMessage = message;
    lastMessageEnd = end;
    lastMessageId = 0;
  }
  let n = message.length;
  let flags = 0;
  if (n > maxMessage) {
    n = maxMessage;
    flags = 1;
  }
  const pos = writeText(message, n);
  if (pos >= 0) record(Rec.LOG, task, category, pos >>> 0, n, flags);
}

function define(s: string, max: number): number {
  if (typeof s !== "string") s = String(s);
  const id = strings.size + 1;
  if (head === limit && !reserve()) return 0;
  const n = Math.min(s.length, max);
  const pos = writeText(s, n);
  if (pos < 0) return 0;
  if (!record(Rec.STRING, id, 0, pos >>> 0, n, 0)) return 0;
  strings.set(s, id);
  stringUnits += n;
  return id;
}

/**
 * Copies `n` units of `s` into the text ring; returns their position, or -1
 * if the worker did not make room in time. Every text starts at an even
 * position and takes an even number of units (a padding unit after an odd
 * length), so that two units go in one 32-bit store: in Bun a quarter
 * cheaper per unit than one store each (the same in Deno). No closure here
 * (the wait is in {@linkcode makeTextRoom}): a closure over `n` would
 * allocate a scope on every call.
 */
function writeText(s: string, n: number): number {
  const size = (n + 1) & ~1;
  if (size > textFree && !makeTextRoom(size)) return -1;
  const pos = textHead;
  const at = pos & textMask;
  if (at + size <= textCapacity && LITTLE_ENDIAN) {
    let w = at >> 1, k = 0;
    for (; k + 1 < n; k += 2) text32[w++] = s.charCodeAt(k) | (s.charCodeAt(k + 1) << 16);
    if (k < n) text32[w] = s.charCodeAt(k);
  } else {
    for (let k = 0; k < n; k++) text[(pos + k) & textMask] = s.charCodeAt(k);
  }
  textHead = (pos + size) | 0;
  textFree -= size;
  return pos;
}

/** Slow path of {@linkcode writeText}: re-reads the worker's text tail, waits for room. */
function makeTextRoom(n: number): boolean {
  const free = () => textCapacity - ((textHead - Atomics.load(ctrl, Ctrl.TEXT_TAIL)) | 0);
  textFree = free();
  if (n > textFree) {
    if (!waitForWorker(() => n <= free())) return false;
    textFree = free();
  }
  return true;
}

/**
 * Hands every record written so far to the worker: one atomic store of the
 * head, if it moved. Call it where the worker must see everything now, and
 * from the thread's timer while it records.
 *
 * @example
 * ```ts
 * import { publish } from "./ring_writer.ts";
 * publish(); // before asking the worker for a snapshot
 * ```
 */
export function publish(): void {
  if (head === published) return;
  published = head;
  Atomics.store(ctrl, Ctrl.HEAD, head);
}

/**
 * From now on until the ring is attached again, publishes every task's begin
 * at once, and publishes now: a task's context may cross to a joined thread
 * (which publishes every record), and a streaming reader of the trace must
 * meet the task before that thread's regions in it.
 *
 * @example
 * ```ts
 * import { tasksCrossThreads } from "./ring_writer.ts";
 * tasksCrossThreads(); // a worker thread is about to join
 * ```
 */
export function tasksCrossThreads(): void {
  publishTaskBegins = true;
  publish();
}

/** Slow path, every PUBLISH_EVERY records: publishes, refreshes `limit`, waits when full. */
function reserve(): boolean {
  publish();
  if (!enabled) return false;
  if (Atomics.load(ctrl, Ctrl.CLOSED) !== 0) {
    // The session ended under a joined thread: nobody drains this ring now.
    detachRing();
    return false;
  }
  if (dormant) wakeFromDormancy();
  let used = (head - Atomics.load(ctrl, Ctrl.TAIL)) | 0;
  if (used >= capacity >> 1) wakeWorker();
  if (used >= capacity) {
    const roomy = () => ((head - Atomics.load(ctrl, Ctrl.TAIL)) | 0) < capacity;
    if (!waitForWorker(roomy)) return false;
    used = (head - Atomics.load(ctrl, Ctrl.TAIL)) | 0;
  }
  limit = (head + Math.min(capacity - used, capacity >> 2, PUBLISH_EVERY)) | 0;
  return true;
}

function waitForWorker(ready: () => boolean): boolean {
  publish();
  if (!stalled) {
    wakeWorker();
    const deadline = performance.now() + maxWait;
    while (!ready()) {
      if (performance.now() > deadline) {
        stalled = true;
        break;
      }
      Atomics.wait(ctrl, Ctrl.TAIL, Atomics.load(ctrl, Ctrl.TAIL), 2);
    }
  }
  if (ready()) {
    stalled = false;
    return true;
  }
  Atomics.add(ctrl, Ctrl.LOST, 1);
  return false;
}
