/**
 * Export to Perfetto's protobuf trace format (TrackEvent), written as a
 * stream: the compact choice for big traces (ui.perfetto.dev, trace
 * processor). The layout is {@linkcode TrackLayout}'s, as in the Chrome
 * export: thread tracks with region slices, one async track per task, flows
 * from parent to subtask, logs as instants, counter tracks for the tasks open
 * and the events lost. Names, categories and debug-annotation keys are
 * interned, and timestamps are deltas on an incremental clock, as Perfetto's
 * own SDK writes them: a packet costs about 27 bytes (35 per trace event
 * of bench/gen_trace.ts's workload, 49 before).
 *
 * Timestamps: the first packet clears the sequence's incremental state and
 * sets its default clock to {@linkcode Clock.INCREMENTAL}; the second, a
 * `ClockSnapshot`, ties that clock at 0 to `BOOTTIME` at 0 and makes
 * `BOOTTIME` the trace's clock. Each later timestamp is then the time since
 * the timestamp before it on that clock, in nanoseconds since the trace
 * began. A time earlier than the last one (a runtime span written when it
 * ended) is written whole on `BOOTTIME` instead (`timestamp_clock_id`),
 * which leaves the incremental clock where it was.
 *
 * Lengths of the small messages written per event take one byte (a varint
 * under 128); longer ones are moved to make room, or keep a four-byte
 * padded length on the general path.
 *
 * The fields written (all from perfetto/trace/…/*.proto):
 * - `Trace.packet` 1
 * - `TracePacket`: clock_snapshot 6, timestamp 8, trusted_packet_sequence_id
 *   10, track_event 11, interned_data 12, sequence_flags 13,
 *   timestamp_clock_id 58, trace_packet_defaults 59, track_descriptor 60
 * - `TracePacketDefaults`: timestamp_clock_id 58
 * - `ClockSnapshot`: clocks 1 (clock_id 1, timestamp 2, is_incremental 3),
 *   primary_trace_clock 2
 * - `TrackDescriptor`: uuid 1, name 2, process 3 (pid 1, process_name 6),
 *   thread 4 (pid 1, tid 2, thread_name 5), parent_uuid 5, counter 8
 * - `TrackEvent`: category_iids 3, debug_annotations 4, type 9, name_iid 10,
 *   track_uuid 11, counter_value 30, double_counter_value 44, flow_ids 47,
 *   terminating_flow_ids 48
 * - `DebugAnnotation`: name_iid 1, bool_value 2, uint_value 3, string_value 6
 * - `InternedData`: event_categories 1, event_names 2,
 *   debug_annotation_names 3 (each entry: iid 1, name 2)
 *
 * @module
 */

import type { TraceHeader } from "../format/decoder.ts";
import {
  Exporter,
  GC_SLOT,
  type LayoutEmitter,
  type LayoutReport,
  type RuntimeSpan,
  type SliceEndReason,
  STALL_SLOT,
} from "./layout.ts";

export type { LayoutReport };
import { capName } from "./name_cap.ts";
import { ProtoWriter } from "./protobuf_writer.ts";

/** Field numbers used, by message. */
export const PF = {
  trace: { packet: 1 },
  packet: {
    clockSnapshot: 6,
    timestamp: 8,
    sequenceId: 10,
    trackEvent: 11,
    internedData: 12,
    sequenceFlags: 13,
    timestampClockId: 58,
    defaults: 59,
    trackDescriptor: 60,
  },
  defaults: { timestampClockId: 58 },
  clockSnapshot: { clocks: 1, primaryTraceClock: 2 },
  clock: { id: 1, timestamp: 2, incremental: 3 },
  track: { uuid: 1, name: 2, process: 3, thread: 4, parentUuid: 5, counter: 8 },
  process: { pid: 1, processName: 6 },
  thread: { pid: 1, tid: 2, threadName: 5 },
  event: {
    categoryIids: 3,
    debugAnnotations: 4,
    type: 9,
    nameIid: 10,
    trackUuid: 11,
    counterValue: 30,
    doubleCounterValue: 44,
    flowIds: 47,
    terminatingFlowIds: 48,
  },
  annotation: { nameIid: 1, bool: 2, uint: 3, string: 6 },
  interned: { categories: 1, names: 2, annotationNames: 3 },
  entry: { iid: 1, name: 2 },
} as const;

/** One-byte keys (field × 8 + wire type) of the fields written per event. */
const K = {
  packet: PF.trace.packet * 8 + 2,
  timestamp: PF.packet.timestamp * 8,
  sequenceId: PF.packet.sequenceId * 8,
  sequenceFlags: PF.packet.sequenceFlags * 8,
  trackEvent: PF.packet.trackEvent * 8 + 2,
  internedData: PF.packet.internedData * 8 + 2,
  type: PF.event.type * 8,
  trackUuid: PF.event.trackUuid * 8,
  categoryIids: PF.event.categoryIids * 8,
  nameIid: PF.event.nameIid * 8,
  debugAnnotations: PF.event.debugAnnotations * 8 + 2,
  annName: PF.annotation.nameIid * 8,
  annUint: PF.annotation.uint * 8,
  annBool: PF.annotation.bool * 8,
} as const;

/** `TrackEvent.Type`. */
export const EventType = { SLICE_BEGIN: 1, SLICE_END: 2, INSTANT: 3, COUNTER: 4 } as const;

/**
 * Clock ids: Perfetto's built-in `BOOTTIME`, the trace's clock here, and the
 * sequence's incremental clock (ids 64 to 127 are a sequence's own).
 */
export const Clock = { BOOTTIME: 6, INCREMENTAL: 64 } as const;

/** `TracePacket.SequenceFlags`. */
export const SequenceFlags = { INCREMENTAL_STATE_CLEARED: 1, NEEDS_INCREMENTAL_STATE: 2 } as const;

/**
 * Track uuids: fixed ones below 16, then thread tracks (odd) and tasks (even)
 * interleaved, so that uuids stay small varints; counters far above.
 */
export const Uuid = {
  PROCESS: 1,
  TASKS_OPEN: 2,
  LOST: 3,
  slot: (track: number) => 17 + 2 * track,
  task: (task: number) => 16 + 2 * task,
  counter: (index: number) => 2 ** 50 + index,
} as const;

const SEQ = 1;
/** As the decoder decodes messages: invalid bytes become U+FFFD. */
const utf8d = new TextDecoder("utf-8", { fatal: false });
const CATEGORIES = ["region", "task", "log", "lost", "runtime"] as const;
const ANNOTATIONS = [
  "task",
  "region",
  "parent",
  "message",
  "continued",
  "split",
  "incomplete",
  "newTask",
  "child",
  "count",
  "freed",
  "endedAt",
] as const;
type Annotation = typeof ANNOTATIONS[number];
type Category = typeof CATEGORIES[number];

const catIid = (c: Category) => CATEGORIES.indexOf(c) + 1;
const annIid = (a: Annotation) => ANNOTATIONS.indexOf(a) + 1;
const ANN = Object.fromEntries(ANNOTATIONS.map((a) => [a, annIid(a)])) as Record<
  Annotation,
  number
>;
const CAT = Object.fromEntries(CATEGORIES.map((c) => [c, catIid(c)])) as Record<Category, number>;

/** Writes `v` (a safe integer ≥ 0) as a varint at `p`; returns the end. */
function vput(buf: Uint8Array, p: number, v: number): number {
  if (v < 0x80) {
    buf[p] = v;
    return p + 1;
  }
  if (v < 0x80000000) {
    let x = v;
    while (x >= 0x80) {
      buf[p++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    buf[p] = x;
    return p + 1;
  }
  while (v >= 0x80) {
    const low = v % 128;
    buf[p++] = low | 0x80;
    v = (v - low) / 128;
  }
  buf[p] = v;
  return p + 1;
}

/**
 * Ends a message whose length has a one-byte slot at `at` and whose bytes
 * end at `p`: a length over 127 moves the bytes to make room for its
 * varint (`buf` must have 3 bytes to spare). Returns the new end.
 */
function close1(buf: Uint8Array, at: number, p: number): number {
  const n = p - at - 1;
  if (n < 0x80) {
    buf[at] = n;
    return p;
  }
  const extra = n < 0x4000 ? 1 : n < 0x200000 ? 2 : 3;
  buf.copyWithin(at + 1 + extra, at + 1, p);
  vput(buf, at, n);
  return p + extra;
}

/** A debug annotation with a varint value, at `p`; returns the end. */
function annUintAt(buf: Uint8Array, p: number, iid: number, key: number, v: number): number {
  buf[p] = K.debugAnnotations;
  const at = p + 1;
  buf[p + 2] = K.annName;
  buf[p + 3] = iid;
  buf[p + 4] = key;
  p = vput(buf, p + 5, v);
  // Two bytes of name, a key and at most ten of value: under 128.
  buf[at] = p - at - 1;
  return p;
}

/** Two-byte keys of the fixed64 flow fields and the counter value. */
const K2 = {
  flowIds: [(PF.event.flowIds * 8 + 1) & 0x7f | 0x80, (PF.event.flowIds * 8 + 1) >> 7],
  terminatingFlowIds: [
    (PF.event.terminatingFlowIds * 8 + 1) & 0x7f | 0x80,
    (PF.event.terminatingFlowIds * 8 + 1) >> 7,
  ],
  counterValue: [(PF.event.counterValue * 8) & 0x7f | 0x80, (PF.event.counterValue * 8) >> 7],
  trackDescriptor: [
    (PF.packet.trackDescriptor * 8 + 2) & 0x7f | 0x80,
    (PF.packet.trackDescriptor * 8 + 2) >> 7,
  ],
  timestampClockId: [
    (PF.packet.timestampClockId * 8) & 0x7f | 0x80,
    (PF.packet.timestampClockId * 8) >> 7,
  ],
} as const;

/**
 * A packet's timestamp at `p`: the time since `last` on the incremental
 * clock, or, for a time before `last`, the whole time on `BOOTTIME`.
 * Returns the end; the caller moves `last` to `time` when `time >= last`.
 */
function stampAt(buf: Uint8Array, p: number, time: number, last: number): number {
  buf[p++] = K.timestamp;
  if (time >= last) return vput(buf, p, time - last);
  p = vput(buf, p, time);
  buf[p++] = K2.timestampClockId[0];
  buf[p++] = K2.timestampClockId[1];
  buf[p++] = Clock.BOOTTIME;
  return p;
}

/** A fixed64 field with a two-byte key at `p`; returns the end. */
function fixed64At(buf: Uint8Array, p: number, key: readonly number[], v: number): number {
  buf[p++] = key[0];
  buf[p++] = key[1];
  const lo = v >>> 0;
  const hi = Math.floor(v / 4294967296);
  buf[p++] = lo & 0xff;
  buf[p++] = (lo >>> 8) & 0xff;
  buf[p++] = (lo >>> 16) & 0xff;
  buf[p++] = lo >>> 24;
  buf[p++] = hi & 0xff;
  buf[p++] = (hi >>> 8) & 0xff;
  buf[p++] = (hi >>> 16) & 0xff;
  buf[p++] = hi >>> 24;
  return p;
}

/** A safe integer ≥ 0 in decimal ASCII at `p`; returns the end. */
function intAt(buf: Uint8Array, p: number, v: number): number {
  const end = p + digits(v);
  let q = end;
  while (v >= 0x80000000) {
    const d = Math.floor(v / 10);
    buf[--q] = 48 + v - d * 10;
    v = d;
  }
  // Below 2^31 in 32-bit integers: no floating-point division per digit.
  let x = v | 0;
  while (x >= 10) {
    const d = (x / 10) | 0;
    buf[--q] = 48 + x - d * 10;
    x = d;
  }
  buf[--q] = 48 + x;
  return end;
}

/** How many decimal digits a safe integer ≥ 0 has (powers of ten are exact doubles). */
function digits(v: number): number {
  let n = 1;
  for (let ten = 10; v >= ten; ten *= 10) n++;
  return n;
}

/** Whether `bytes[start..end)` is ASCII. */
function ascii(bytes: Uint8Array, start: number, end: number): boolean {
  let high = 0;
  for (let i = start; i < end; i++) high |= bytes[i];
  return high < 0x80;
}

/** Room for the fixed part of any packet the fast paths write. */
const FAST_ROOM = 160;

/**
 * Writes Perfetto `TracePacket`s with interned names into a byte buffer the
 * caller drains.
 *
 * Each frequent event has a fast path that writes its packet in place after
 * `head` (the fields as bytes, then `tail`) and a general path through
 * nested messages; the fast paths of slices and tasks look alike line by
 * line, deliberately: they are the export's hot loop, where a shared helper
 * taking the fields as arguments would add a call and an argument list per
 * event.
 */
class PerfettoEmitter implements LayoutEmitter {
  w = new ProtoWriter(1 << 20);
  events = 0;
  private pid = 1;
  private names = new Map<string, number>();
  private counters = new Map<string, number>();
  /** Names met while writing the current packet, to intern in it. */
  private fresh: [number, string][] = [];
  /** The incremental clock's time: the last time written as a delta. */
  private last = 0;

  /** Starts a packet; returns its offset for `endPacket`. */
  private packet(time: number | undefined): number {
    const w = this.w;
    const at = w.begin1(K.packet);
    if (time !== undefined) {
      w.ensure(24);
      w.pos = stampAt(w.buf, w.pos, time, this.last);
      if (time >= this.last) this.last = time;
    }
    w.u(K.sequenceId, SEQ);
    w.u(K.sequenceFlags, SequenceFlags.NEEDS_INCREMENTAL_STATE);
    this.events++;
    return at;
  }

  private name(s: string): number {
    let iid = this.names.get(s);
    if (iid === undefined) {
      iid = this.names.size + 1;
      this.names.set(s, iid);
      this.fresh.push([iid, s]);
    }
    return iid;
  }

  /** Writes the interned names the event used, then closes the packet. */
  private endPacket(at: number): void {
    if (this.fresh.length > 0) {
      const w = this.w;
      const d = w.begin(PF.packet.internedData);
      for (const [iid, s] of this.fresh) {
        const e = w.begin(PF.interned.names);
        w.uint(PF.entry.iid, iid);
        w.string(PF.entry.name, s);
        w.endShort(e);
      }
      w.endShort(d);
      this.fresh.length = 0;
    }
    this.w.endShort(at);
  }

  /** Length slots of the packet and the TrackEvent the fast path is writing. */
  private pk = 0;
  private te = 0;

  /**
   * The fast path: writes a packet's head and its TrackEvent's head in place
   * (the bytes `packet` and `event` write), with room for `extra` bytes more;
   * returns the position to go on from. {@linkcode tail} closes both.
   */
  private head(time: number, type: number, uuid: number, extra: number): number {
    const w = this.w;
    if (w.pos + extra + FAST_ROOM > w.buf.length) w.ensure(extra + FAST_ROOM);
    const buf = w.buf;
    let p = w.pos;
    buf[p] = K.packet;
    this.pk = p + 1;
    p = stampAt(buf, p + 2, time, this.last);
    if (time >= this.last) this.last = time;
    buf[p++] = K.sequenceId;
    buf[p++] = SEQ;
    buf[p++] = K.sequenceFlags;
    buf[p++] = SequenceFlags.NEEDS_INCREMENTAL_STATE;
    buf[p] = K.trackEvent;
    this.te = p + 1;
    p += 2;
    buf[p++] = K.type;
    buf[p++] = type;
    buf[p++] = K.trackUuid;
    this.events++;
    return vput(buf, p, uuid);
  }

  /** Ends the TrackEvent and the packet {@linkcode head} began, at `p`. */
  private tail(p: number): void {
    const buf = this.w.buf;
    this.w.pos = close1(buf, this.pk, close1(buf, this.te, p));
  }

  /** Track descriptor names of tasks, `type id`, by type: ASCII bytes or undefined. */
  private labels = new Map<string, Uint8Array | null>();

  /** Starts a TrackEvent on `track`; returns its offset. */
  private event(type: number, track: number, name?: string, cat?: Category): number {
    const w = this.w;
    const at = w.begin1(K.trackEvent);
    w.u(K.type, type);
    w.u(K.trackUuid, track);
    if (cat !== undefined) w.u(K.categoryIids, CAT[cat]);
    if (name !== undefined) w.u(K.nameIid, this.name(name));
    return at;
  }

  private annUint(a: Annotation, v: number): void {
    const w = this.w;
    const d = w.begin1(K.debugAnnotations);
    w.u(K.annName, ANN[a]);
    w.u(K.annUint, v);
    w.endShort(d);
  }

  private annBool(a: Annotation): void {
    const w = this.w;
    const d = w.begin1(K.debugAnnotations);
    w.u(K.annName, ANN[a]);
    w.u(K.annBool, 1);
    w.endShort(d);
  }

  private annString(a: Annotation, v: string): void {
    const w = this.w;
    const d = w.begin1(K.debugAnnotations);
    w.u(K.annName, ANN[a]);
    w.string(PF.annotation.string, v);
    w.endShort(d);
  }

  private descriptor(
    uuid: number,
    name: string,
    body?: (w: ProtoWriter) => void,
    parent?: number,
  ): void {
    const w = this.w;
    const p = this.packet(undefined);
    const t = w.begin(PF.packet.trackDescriptor);
    w.uint(PF.track.uuid, uuid);
    if (parent !== undefined) w.uint(PF.track.parentUuid, parent);
    w.string(PF.track.name, name);
    body?.(w);
    w.endShort(t);
    this.endPacket(p);
  }

  process(pid: number, header: TraceHeader): void {
    this.pid = pid > 0 ? pid : 1;
    const w = this.w;
    // The first packet clears the sequence's state and defines the fixed names.
    const p = w.begin(PF.trace.packet);
    w.uint(PF.packet.sequenceId, SEQ);
    w.uint(PF.packet.sequenceFlags, SequenceFlags.INCREMENTAL_STATE_CLEARED);
    const d = w.begin(PF.packet.internedData);
    for (const c of CATEGORIES) {
      const e = w.begin(PF.interned.categories);
      w.uint(PF.entry.iid, CAT[c]);
      w.string(PF.entry.name, c);
      w.endShort(e);
    }
    for (const a of ANNOTATIONS) {
      const e = w.begin(PF.interned.annotationNames);
      w.uint(PF.entry.iid, ANN[a]);
      w.string(PF.entry.name, a);
      w.endShort(e);
    }
    w.endShort(d);
    const defaults = w.begin(PF.packet.defaults);
    w.uint(PF.defaults.timestampClockId, Clock.INCREMENTAL);
    w.endShort(defaults);
    w.endShort(p);
    this.events++;
    this.clockSnapshot();
    const name = `${header.runtime} ${header.runtimeVersion}`;
    this.descriptor(Uuid.PROCESS, name, (w) => {
      const m = w.begin(PF.track.process);
      w.uint(PF.process.pid, this.pid);
      w.string(PF.process.processName, name);
      w.endShort(m);
    });
    const counter = (w: ProtoWriter) => w.endShort(w.begin(PF.track.counter));
    this.descriptor(Uuid.TASKS_OPEN, "tasks open", counter, Uuid.PROCESS);
    this.descriptor(Uuid.LOST, "events lost", counter, Uuid.PROCESS);
  }

  /**
   * The sequence's incremental clock at 0 is `BOOTTIME` at 0, the trace's
   * clock: times in nanoseconds since the trace began, as before.
   */
  private clockSnapshot(): void {
    const w = this.w;
    const p = this.packet(undefined);
    const c = w.begin(PF.packet.clockSnapshot);
    const boot = w.begin(PF.clockSnapshot.clocks);
    w.uint(PF.clock.id, Clock.BOOTTIME);
    w.uint(PF.clock.timestamp, 0);
    w.endShort(boot);
    const inc = w.begin(PF.clockSnapshot.clocks);
    w.uint(PF.clock.id, Clock.INCREMENTAL);
    w.uint(PF.clock.timestamp, 0);
    w.uint(PF.clock.incremental, 1);
    w.endShort(inc);
    w.uint(PF.clockSnapshot.primaryTraceClock, Clock.BOOTTIME);
    w.endShort(c);
    this.endPacket(p);
    this.last = 0;
  }

  track(track: number, _thread: number, slot: number, full: string): void {
    const name = capName(full);
    if (slot === STALL_SLOT || slot === GC_SLOT) {
      // Runtime tracks are async tracks of the process: thread tracks would
      // merge with the thread's slices.
      this.descriptor(Uuid.slot(track), name, undefined, Uuid.PROCESS);
      return;
    }
    this.descriptor(Uuid.slot(track), name, (w) => {
      const m = w.begin(PF.track.thread);
      w.uint(PF.thread.pid, this.pid);
      w.uint(PF.thread.tid, track);
      w.string(PF.thread.threadName, name);
      w.endShort(m);
    });
  }

  sliceBegin(
    track: number,
    time: number,
    type: string,
    task: number,
    region: number,
    continued: boolean,
  ): void {
    const iid = this.name(type);
    if (this.fresh.length === 0 && !continued) {
      let p = this.head(time, EventType.SLICE_BEGIN, Uuid.slot(track), 0);
      const buf = this.w.buf;
      buf[p++] = K.categoryIids;
      buf[p++] = CAT.region;
      buf[p++] = K.nameIid;
      p = vput(buf, p, iid);
      p = annUintAt(buf, p, ANN.task, K.annUint, task);
      p = annUintAt(buf, p, ANN.region, K.annUint, region);
      this.tail(p);
      return;
    }
    const p = this.packet(time);
    const e = this.event(EventType.SLICE_BEGIN, Uuid.slot(track), type, "region");
    this.annUint("task", task);
    this.annUint("region", region);
    if (continued) this.annBool("continued");
    this.w.endShort(e);
    this.endPacket(p);
  }

  sliceEnd(
    track: number,
    time: number,
    reason: SliceEndReason,
    _type: string,
    endedAt = 0,
  ): void {
    if (reason === "ended") {
      this.tail(this.head(time, EventType.SLICE_END, Uuid.slot(track), 0));
      return;
    }
    const p = this.packet(time);
    const e = this.event(EventType.SLICE_END, Uuid.slot(track));
    if (reason === "late") this.annUint("endedAt", endedAt);
    else this.annBool(reason === "split" ? "split" : "incomplete");
    this.w.endShort(e);
    this.endPacket(p);
  }

  taskBegin(
    task: number,
    parent: number,
    type: string,
    _track: number,
    time: number,
    flow: boolean,
  ): void {
    const label = type || "(unknown task)";
    // The track's name repeats per task: capped, unlike the interned slice name.
    this.taskTrack(task, capName(label));
    const iid = this.name(label);
    if (this.fresh.length === 0) {
      let p = this.head(time, EventType.SLICE_BEGIN, Uuid.task(task), 0);
      const buf = this.w.buf;
      buf[p++] = K.categoryIids;
      buf[p++] = CAT.task;
      buf[p++] = K.nameIid;
      p = vput(buf, p, iid);
      p = annUintAt(buf, p, ANN.task, K.annUint, task);
      p = annUintAt(buf, p, ANN.parent, K.annUint, parent);
      if (flow) p = fixed64At(buf, p, K2.terminatingFlowIds, task);
      this.tail(p);
      return;
    }
    const p = this.packet(time);
    const e = this.event(EventType.SLICE_BEGIN, Uuid.task(task), label, "task");
    this.annUint("task", task);
    this.annUint("parent", parent);
    if (flow) this.w.fixed64(PF.event.terminatingFlowIds, task);
    this.w.endShort(e);
    this.endPacket(p);
  }

  /** The async track of a task: a descriptor named `type id`. */
  private taskTrack(task: number, label: string): void {
    let ascii = this.labels.get(label);
    if (ascii === undefined) {
      const bytes = new TextEncoder().encode(label + " ");
      ascii = bytes.length === label.length + 1 ? bytes : null;
      if (this.labels.size < 10_000) this.labels.set(label, ascii);
    }
    if (ascii === null) {
      this.descriptor(Uuid.task(task), `${label} ${task}`, undefined, Uuid.PROCESS);
      return;
    }
    // What `descriptor` writes, for an ASCII name: its length is the text's.
    const w = this.w;
    const n = ascii.length + digits(task);
    if (w.pos + n + FAST_ROOM > w.buf.length) w.ensure(n + FAST_ROOM);
    const buf = w.buf;
    let p = w.pos;
    buf[p] = K.packet;
    const pk = p + 1;
    p += 2;
    buf[p++] = K.sequenceId;
    buf[p++] = SEQ;
    buf[p++] = K.sequenceFlags;
    buf[p++] = SequenceFlags.NEEDS_INCREMENTAL_STATE;
    buf[p++] = K2.trackDescriptor[0];
    buf[p++] = K2.trackDescriptor[1];
    const td = p;
    p += 1;
    buf[p++] = PF.track.uuid * 8;
    p = vput(buf, p, Uuid.task(task));
    buf[p++] = PF.track.parentUuid * 8;
    p = vput(buf, p, Uuid.PROCESS);
    buf[p++] = PF.track.name * 8 + 2;
    p = vput(buf, p, n);
    for (let i = 0; i < ascii.length; i++) buf[p++] = ascii[i];
    p = intAt(buf, p, task);
    w.pos = close1(buf, pk, close1(buf, td, p));
    this.events++;
  }

  taskEnd(task: number, _type: string, _track: number, time: number, incomplete: boolean): void {
    if (!incomplete) {
      this.tail(this.head(time, EventType.SLICE_END, Uuid.task(task), 0));
      return;
    }
    const p = this.packet(time);
    const e = this.event(EventType.SLICE_END, Uuid.task(task));
    if (incomplete) this.annBool("incomplete");
    this.w.endShort(e);
    this.endPacket(p);
  }

  flowOut(
    parent: number,
    _parentType: string,
    child: number,
    childType: string,
    _track: number,
    time: number,
  ): void {
    const p = this.packet(time);
    const e = this.event(EventType.INSTANT, Uuid.task(parent), "newTask", "task");
    this.annString("newTask", childType);
    this.annUint("child", child);
    this.w.fixed64(PF.event.flowIds, child);
    this.w.endShort(e);
    this.endPacket(p);
  }

  log(track: number, time: number, task: number, category: string, message: string): void {
    const p = this.packet(time);
    const e = this.event(EventType.INSTANT, Uuid.slot(track), category || "log", "log");
    this.annUint("task", task);
    this.annString("message", message);
    this.w.endShort(e);
    this.endPacket(p);
  }

  logBytes(
    track: number,
    time: number,
    task: number,
    category: string,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void {
    // ASCII is copied as it is; anything else goes through a decoded string,
    // so that invalid UTF-8 is replaced as the decoder replaces it.
    const iid = this.name(category || "log");
    const n = end - start;
    if (this.fresh.length > 0 || (n >= 64 && !ascii(bytes, start, end))) {
      this.log(track, time, task, category, utf8d.decode(bytes.subarray(start, end)));
      return;
    }
    const last = this.last;
    let p = this.head(time, EventType.INSTANT, Uuid.slot(track), n);
    const buf = this.w.buf;
    buf[p++] = K.categoryIids;
    buf[p++] = CAT.log;
    buf[p++] = K.nameIid;
    p = vput(buf, p, iid);
    p = annUintAt(buf, p, ANN.task, K.annUint, task);
    buf[p] = K.debugAnnotations;
    const d = p + 1;
    p += 2;
    buf[p++] = K.annName;
    buf[p++] = ANN.message;
    buf[p++] = PF.annotation.string * 8 + 2;
    p = vput(buf, p, n);
    if (n < 64) {
      // A short message is checked as it is copied: one pass, not two.
      let high = 0;
      for (let i = start; i < end; i++) high |= buf[p++] = bytes[i];
      if (high >= 0x80) {
        // Not ASCII: forget the packet begun (the buffer's end did not move).
        this.events--;
        this.last = last;
        this.log(track, time, task, category, utf8d.decode(bytes.subarray(start, end)));
        return;
      }
    } else {
      buf.set(bytes.subarray(start, end), p);
      p += n;
    }
    this.tail(close1(buf, d, p));
  }

  private count(uuid: number, time: number, value: number): void {
    if (this.fresh.length === 0) {
      let p = this.head(time, EventType.COUNTER, uuid, 0);
      const buf = this.w.buf;
      buf[p++] = K2.counterValue[0];
      buf[p++] = K2.counterValue[1];
      this.tail(vput(buf, p, value));
      return;
    }
    const p = this.packet(time);
    const e = this.event(EventType.COUNTER, uuid);
    this.w.uint(PF.event.counterValue, value);
    this.w.endShort(e);
    this.endPacket(p);
  }

  tasksOpen(time: number, open: number): void {
    this.count(Uuid.TASKS_OPEN, time, open);
  }

  counter(name: string, time: number, value: number): void {
    if (!Number.isFinite(value)) return;
    let uuid = this.counters.get(name);
    if (uuid === undefined) {
      uuid = Uuid.counter(this.counters.size);
      this.counters.set(name, uuid);
      this.descriptor(uuid, name, (w) => w.endShort(w.begin(PF.track.counter)), Uuid.PROCESS);
    }
    const p = this.packet(time);
    const e = this.event(EventType.COUNTER, uuid);
    this.w.double(PF.event.doubleCounterValue, value);
    this.w.endShort(e);
    this.endPacket(p);
  }

  span(track: number, s: RuntimeSpan): void {
    const uuid = Uuid.slot(track);
    const name = s.kind === "stall" ? "stall" : s.inferred ? "GC (inferred)" : "GC";
    let p = this.packet(s.time);
    let e = this.event(EventType.SLICE_BEGIN, uuid, name, "runtime");
    if (s.kind === "stall") {
      this.annUint("region", s.region);
      this.annUint("task", s.task);
    } else this.annUint("freed", s.freed);
    this.w.endShort(e);
    this.endPacket(p);
    p = this.packet(s.time + s.duration);
    e = this.event(EventType.SLICE_END, uuid);
    this.w.endShort(e);
    this.endPacket(p);
  }

  threadEnd(track: number, time: number): void {
    const p = this.packet(time);
    const e = this.event(EventType.INSTANT, Uuid.slot(track), "thread end", "runtime");
    this.w.endShort(e);
    this.endPacket(p);
  }

  lost(time: number, count: number, total: number, track: number): void {
    this.count(Uuid.LOST, time, total);
    const p = this.packet(time);
    const e = this.event(EventType.INSTANT, Uuid.slot(track), "events lost", "lost");
    this.annUint("count", count);
    this.w.endShort(e);
    this.endPacket(p);
  }
}

/**
 * Streams a trace out as a Perfetto protobuf trace. Feed it every event with
 * `add`; after each chunk of input, `take()` the bytes produced so far and
 * write them; `take()` once more after the `end` event.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { PerfettoExporter } from "./perfetto.ts";
 * const x = new PerfettoExporter();
 * const d = new TraceDecoder(x.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * await Deno.writeFile("trace.pftrace", x.take());
 * ```
 */
export class PerfettoExporter extends Exporter<PerfettoEmitter> {
  /** Makes an exporter; see {@linkcode Exporter}. */
  constructor() {
    super(new PerfettoEmitter());
  }
}
