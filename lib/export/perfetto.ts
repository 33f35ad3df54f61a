/**
 * Export to Perfetto's protobuf trace format (TrackEvent), written as a
 * stream: the compact choice for big traces (ui.perfetto.dev, trace
 * processor). The layout is {@linkcode TrackLayout}'s, as in the Chrome
 * export: thread tracks with region slices, one async track per task, flows
 * from parent to subtask, logs as instants, counter tracks for the tasks open
 * and the events lost. Names and debug-annotation keys are interned.
 *
 * The fields written (all from perfetto/trace/…/*.proto):
 * - `Trace.packet` 1
 * - `TracePacket`: timestamp 8, trusted_packet_sequence_id 10, track_event
 *   11, interned_data 12, sequence_flags 13, track_descriptor 60
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
    timestamp: 8,
    sequenceId: 10,
    trackEvent: 11,
    internedData: 12,
    sequenceFlags: 13,
    trackDescriptor: 60,
  },
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

/** A length as a varint padded to four bytes, as `ProtoWriter.end` patches it. */
function pad4(buf: Uint8Array, at: number, n: number): void {
  buf[at] = (n & 0x7f) | 0x80;
  buf[at + 1] = ((n >>> 7) & 0x7f) | 0x80;
  buf[at + 2] = ((n >>> 14) & 0x7f) | 0x80;
  buf[at + 3] = (n >>> 21) & 0x7f;
}

/** A debug annotation with a varint value, at `p`; returns the end. */
function annUintAt(buf: Uint8Array, p: number, iid: number, key: number, v: number): number {
  buf[p] = K.debugAnnotations;
  const at = p + 1;
  p += 5;
  buf[p++] = K.annName;
  buf[p++] = iid;
  buf[p++] = key;
  p = vput(buf, p, v);
  pad4(buf, at, p - at - 4);
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
} as const;

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
  while (v >= 10) {
    const d = Math.floor(v / 10);
    buf[--q] = 48 + v - d * 10;
    v = d;
  }
  buf[--q] = 48 + v;
  return end;
}

/** How many decimal digits a safe integer ≥ 0 has. */
function digits(v: number): number {
  let n = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    n++;
  }
  return n;
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

  /** Starts a packet; returns its offset for `endPacket`. */
  private packet(time: number | undefined): number {
    const w = this.w;
    const at = w.begin1(K.packet);
    if (time !== undefined) w.u(K.timestamp, time);
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
        w.end(e);
      }
      w.end(d);
      this.fresh.length = 0;
    }
    this.w.end(at);
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
    p += 5;
    buf[p++] = K.timestamp;
    p = vput(buf, p, time);
    buf[p++] = K.sequenceId;
    buf[p++] = SEQ;
    buf[p++] = K.sequenceFlags;
    buf[p++] = SequenceFlags.NEEDS_INCREMENTAL_STATE;
    buf[p] = K.trackEvent;
    this.te = p + 1;
    p += 5;
    buf[p++] = K.type;
    buf[p++] = type;
    buf[p++] = K.trackUuid;
    this.events++;
    return vput(buf, p, uuid);
  }

  /** Ends the TrackEvent and the packet {@linkcode head} began, at `p`. */
  private tail(p: number): void {
    const buf = this.w.buf;
    pad4(buf, this.te, p - this.te - 4);
    pad4(buf, this.pk, p - this.pk - 4);
    this.w.pos = p;
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
    w.end(d);
  }

  private annBool(a: Annotation): void {
    const w = this.w;
    const d = w.begin1(K.debugAnnotations);
    w.u(K.annName, ANN[a]);
    w.u(K.annBool, 1);
    w.end(d);
  }

  private annString(a: Annotation, v: string): void {
    const w = this.w;
    const d = w.begin1(K.debugAnnotations);
    w.u(K.annName, ANN[a]);
    w.string(PF.annotation.string, v);
    w.end(d);
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
    w.end(t);
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
      w.end(e);
    }
    for (const a of ANNOTATIONS) {
      const e = w.begin(PF.interned.annotationNames);
      w.uint(PF.entry.iid, ANN[a]);
      w.string(PF.entry.name, a);
      w.end(e);
    }
    w.end(d);
    w.end(p);
    this.events++;
    const name = `${header.runtime} ${header.runtimeVersion}`;
    this.descriptor(Uuid.PROCESS, name, (w) => {
      const m = w.begin(PF.track.process);
      w.uint(PF.process.pid, this.pid);
      w.string(PF.process.processName, name);
      w.end(m);
    });
    const counter = (w: ProtoWriter) => w.end(w.begin(PF.track.counter));
    this.descriptor(Uuid.TASKS_OPEN, "tasks open", counter, Uuid.PROCESS);
    this.descriptor(Uuid.LOST, "events lost", counter, Uuid.PROCESS);
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
      w.end(m);
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
    this.w.end(e);
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
    this.w.end(e);
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
    this.w.end(e);
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
    p += 5;
    buf[p++] = K.sequenceId;
    buf[p++] = SEQ;
    buf[p++] = K.sequenceFlags;
    buf[p++] = SequenceFlags.NEEDS_INCREMENTAL_STATE;
    buf[p++] = K2.trackDescriptor[0];
    buf[p++] = K2.trackDescriptor[1];
    const td = p;
    p += 4;
    buf[p++] = PF.track.uuid * 8;
    p = vput(buf, p, Uuid.task(task));
    buf[p++] = PF.track.parentUuid * 8;
    p = vput(buf, p, Uuid.PROCESS);
    buf[p++] = PF.track.name * 8 + 2;
    // `ProtoWriter.string` sizes the length by 3 bytes per character.
    const at = p;
    p += n * 3 < 128 ? 1 : 4;
    for (let i = 0; i < ascii.length; i++) buf[p++] = ascii[i];
    p = intAt(buf, p, task);
    if (n * 3 < 128) buf[at] = n;
    else pad4(buf, at, n);
    pad4(buf, td, p - td - 4);
    pad4(buf, pk, p - pk - 4);
    w.pos = p;
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
    this.w.end(e);
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
    this.w.end(e);
    this.endPacket(p);
  }

  log(track: number, time: number, task: number, category: string, message: string): void {
    const p = this.packet(time);
    const e = this.event(EventType.INSTANT, Uuid.slot(track), category || "log", "log");
    this.annUint("task", task);
    this.annString("message", message);
    this.w.end(e);
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
    for (let i = start; i < end; i++) {
      if (bytes[i] >= 0x80) {
        this.log(track, time, task, category, utf8d.decode(bytes.subarray(start, end)));
        return;
      }
    }
    const iid = this.name(category || "log");
    if (this.fresh.length > 0) {
      this.log(track, time, task, category, utf8d.decode(bytes.subarray(start, end)));
      return;
    }
    const n = end - start;
    let p = this.head(time, EventType.INSTANT, Uuid.slot(track), n);
    const buf = this.w.buf;
    buf[p++] = K.categoryIids;
    buf[p++] = CAT.log;
    buf[p++] = K.nameIid;
    p = vput(buf, p, iid);
    p = annUintAt(buf, p, ANN.task, K.annUint, task);
    buf[p] = K.debugAnnotations;
    const d = p + 1;
    p += 5;
    buf[p++] = K.annName;
    buf[p++] = ANN.message;
    buf[p++] = PF.annotation.string * 8 + 2;
    // As `ProtoWriter.string` writes the same text.
    const at = p;
    p += n * 3 < 128 ? 1 : 4;
    if (n < 64) { for (let i = start; i < end; i++) buf[p++] = bytes[i]; }
    else {
      buf.set(bytes.subarray(start, end), p);
      p += n;
    }
    if (n * 3 < 128) buf[at] = n;
    else pad4(buf, at, n);
    pad4(buf, d, p - d - 4);
    this.tail(p);
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
    this.w.end(e);
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
      this.descriptor(uuid, name, (w) => w.end(w.begin(PF.track.counter)), Uuid.PROCESS);
    }
    const p = this.packet(time);
    const e = this.event(EventType.COUNTER, uuid);
    this.w.double(PF.event.doubleCounterValue, value);
    this.w.end(e);
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
    this.w.end(e);
    this.endPacket(p);
    p = this.packet(s.time + s.duration);
    e = this.event(EventType.SLICE_END, uuid);
    this.w.end(e);
    this.endPacket(p);
  }

  threadEnd(track: number, time: number): void {
    const p = this.packet(time);
    const e = this.event(EventType.INSTANT, Uuid.slot(track), "thread end", "runtime");
    this.w.end(e);
    this.endPacket(p);
  }

  lost(time: number, count: number, total: number, track: number): void {
    this.count(Uuid.LOST, time, total);
    const p = this.packet(time);
    const e = this.event(EventType.INSTANT, Uuid.slot(track), "events lost", "lost");
    this.annUint("count", count);
    this.w.end(e);
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
