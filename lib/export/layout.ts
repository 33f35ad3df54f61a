/**
 * Lays a trace's event stream out on tracks for timeline viewers (Chrome
 * DevTools, Perfetto), as a stream: the part both exporters share.
 *
 * Regions nest within an async lane of one task, but many lanes run at once
 * on one thread, and viewers only nest slices per track. So each thread gets
 * a few tracks ("slots"): a (task, lane) pair takes the lowest free slot of
 * its thread when its first region begins and frees it when its last region
 * ends, as Perfetto packs async slices. A region ended out of nesting order
 * (the misuse `TraceBuilder` reports) closes the regions begun inside it and
 * reopens them at the same time, marked `continued`, so that every slice
 * still nests and no interval is lost. Tasks become async slices keyed by
 * id; a subtask is linked to its parent by a flow that starts on the
 * parent's track. Memory grows with what is open at once, not with the trace.
 *
 * @module
 */

import type { EndEvent, EventVisitor, TraceEvent, TraceHeader } from "../format/decoder.ts";

export type { TraceHeader };

/**
 * Why a slice ends where it does: its region `ended`; it is `split` to close
 * a region begun outside it (and continues); the trace ended with it open
 * (`incomplete`); or its region ended earlier, out of nesting order, and the
 * slice closes `late`, when the regions begun inside it have closed.
 */
export type SliceEndReason = "ended" | "split" | "incomplete" | "late";

/** What an exporter writes; {@linkcode TrackLayout} calls it in stream order. */
export interface LayoutEmitter {
  /** The recording process; called once, first. */
  process(pid: number, header: TraceHeader): void;
  /** A track appeared, or its thread got (re)named. `slot` 0 is the thread itself. */
  track(track: number, thread: number, slot: number, name: string): void;
  /** A region slice begins on `track`. */
  sliceBegin(
    track: number,
    time: number,
    type: string,
    task: number,
    region: number,
    continued: boolean,
  ): void;
  /**
   * The innermost open slice of `track` ends; `type` is its name, as given to
   * its `sliceBegin` (Chrome's trace engine wants a name on every event).
   */
  sliceEnd(
    track: number,
    time: number,
    reason: SliceEndReason,
    type: string,
    endedAt?: number,
  ): void;
  /**
   * Task `task` begins; `track` is the track of the thread that created it.
   * `flow` is true when {@linkcode LayoutEmitter.flowOut} started a flow to it.
   * `time` is 0 and `type` "" for a task that began before the trace.
   */
  taskBegin(
    task: number,
    parent: number,
    type: string,
    track: number,
    time: number,
    flow: boolean,
  ): void;
  /** Task `task` (of `type`, begun on `track`) ends. */
  taskEnd(task: number, type: string, track: number, time: number, incomplete: boolean): void;
  /**
   * A flow starts on the parent task's async track, towards its new subtask.
   * `track` is the track of the thread that created the parent.
   */
  flowOut(
    parent: number,
    parentType: string,
    child: number,
    childType: string,
    track: number,
    time: number,
  ): void;
  /** A log message, on the track of its thread. */
  log(track: number, time: number, task: number, category: string, message: string): void;
  /**
   * {@linkcode LayoutEmitter.log} with the message as the recorded UTF-8 in
   * `bytes[start, end)` (from the decoder's fast path), valid during the call.
   */
  logBytes(
    track: number,
    time: number,
    task: number,
    category: string,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void;
  /** The number of tasks open changed. */
  tasksOpen(time: number, open: number, track: number): void;
  /** The recorder dropped `count` events here; `total` so far. */
  lost(time: number, count: number, total: number, track: number): void;
  /** A sample of the process-wide counter `name` (heap, memory, event loop). */
  counter(name: string, time: number, value: number, track: number): void;
  /**
   * A span of runtime activity on its own track of the thread: an event-loop
   * stall (with the region and task it hit) or a garbage collection.
   */
  span(track: number, span: RuntimeSpan): void;
  /** The thread stopped recording. */
  threadEnd(track: number, time: number): void;
}

/** A stall or GC, for {@linkcode LayoutEmitter.span}. */
export type RuntimeSpan =
  | { kind: "stall"; time: number; duration: number; region: number; task: number }
  | { kind: "gc"; time: number; duration: number; inferred: boolean; freed: number };

/** Slot indices of the runtime tracks of a thread (regions use 0, 1, …). */
export const STALL_SLOT: -1 = -1;
/** Slot index of a thread's GC track. */
export const GC_SLOT: -2 = -2;

/** What the layout had to repair; exporters report it as warnings. */
export interface LayoutReport {
  /** Region slices split because a region ended before ones begun inside it. */
  splitRegions: number;
  /**
   * Regions that ended before many regions begun inside them: their slices
   * close late, when those have closed, with the real end as an argument.
   */
  lateRegionEnds: number;
  /** Region ends whose beginning is not in the trace (skipped). */
  orphanRegionEnds: number;
  /** Regions still open at the end, closed at the trace's end. */
  openRegions: number;
  /** Tasks still open at the end, closed at the trace's end. */
  openTasks: number;
  /** Tasks that ended but began before the trace (drawn from time 0). */
  tasksBeganBefore: number;
  /** Tracks used. */
  tracks: number;
  /** The trace was cut short. */
  truncated: boolean;
  /** Events the recorder lost. */
  lost: number;
}

interface OpenRegion {
  region: number;
  type: string;
  task: number;
  lane: number;
  slot: Slot;
  /** When the region ended, if its slice is left open to close late; else -1. */
  ended: number;
  /** Its index in `slot.stack` (kept by every push and compaction: no search per end). */
  at: number;
}

/**
 * Most slices above a region that ends out of nesting order which are split
 * and continued; with more, the region's slice closes late instead. Splitting
 * all of them would make output quadratic in the regions open at once
 * (10 000 nested regions ended outermost first: 50 million slices).
 */
const SPLIT_MAX = 4;
/** Late-closing slices a slot holds beyond its live regions before all are closed. */
const LATE_SLACK = 64;

/** A (task, lane) pair's slot; pairs sharing a lane id chain through `next`. */
interface LaneEntry {
  task: number;
  slot: Slot;
  next: LaneEntry | undefined;
}

interface Slot {
  track: number;
  index: number;
  stack: OpenRegion[];
  /** Regions of `stack` that have ended (their slices close late). */
  late: number;
}

interface ThreadState {
  id: number;
  name: string;
  /** Tracks of stalls and GCs, made when first needed. */
  stallTrack: number;
  gcTrack: number;
  slots: Slot[];
  /** Slots with nothing open, so low tracks fill first. */
  free: FreeSlots;
  /** Slot per (task, lane) while that pair has regions open, by lane. */
  byLane: IdTable<LaneEntry>;
  /** Open regions by id. */
  open: IdTable<OpenRegion>;
}

interface OpenTask {
  id: number;
  type: string;
  track: number;
  /** Order of beginning: tasks open at the end are closed in this order. */
  seq: number;
}

/**
 * A map from ids to values for ids handed out in sequence (tasks, regions,
 * lanes) that live a short while: a direct-mapped array indexed by the id's
 * low bits, with a `Map` for the ids whose place is taken by a live one. A
 * `Map` keyed by ever-growing ids costs a hash and a rehash now and then per
 * operation, the layout's main cost at millions of events per second.
 */
/** Direct-mapped slots of an {@linkcode IdTable}: it starts small and grows to this. */
const ID_TABLE_MAX = 4096;

class IdTable<T> {
  private mask = 63;
  private ids = new Float64Array(64);
  private vals: (T | undefined)[] = new Array(64).fill(undefined);
  private over = new Map<number, T>();
  /** Live entries. */
  size = 0;

  get(id: number): T | undefined {
    const i = id & this.mask;
    const v = this.vals[i];
    if (v !== undefined && this.ids[i] === id) return v;
    return this.over.size === 0 ? undefined : this.over.get(id);
  }

  set(id: number, v: T): void {
    const i = id & this.mask;
    const here = this.vals[i];
    if (here === undefined) {
      if (this.over.size !== 0 && this.over.has(id)) {
        this.over.set(id, v);
        return;
      }
      this.ids[i] = id;
      this.vals[i] = v;
      this.size++;
    } else if (this.ids[i] === id) {
      this.vals[i] = v;
    } else {
      if (!this.over.has(id)) this.size++;
      this.over.set(id, v);
      // Many live ids at once: a bigger table (memory stays small per thread).
      if (this.over.size > (this.mask + 1) >> 3 && this.mask + 1 < ID_TABLE_MAX) this.grow();
    }
  }

  delete(id: number): void {
    const i = id & this.mask;
    if (this.vals[i] !== undefined && this.ids[i] === id) {
      this.vals[i] = undefined;
      this.size--;
    } else if (this.over.delete(id)) this.size--;
  }

  private grow(): void {
    const ids = this.ids;
    const vals = this.vals;
    const over = this.over;
    const n = (this.mask + 1) * 2;
    this.mask = n - 1;
    this.ids = new Float64Array(n);
    this.vals = new Array(n).fill(undefined);
    this.over = new Map();
    this.size = 0;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v !== undefined) this.set(ids[i], v);
    }
    for (const [id, v] of over) this.set(id, v);
  }

  /** The live values, in no particular order. */
  values(): T[] {
    const out: T[] = [];
    for (const v of this.vals) if (v !== undefined) out.push(v);
    for (const v of this.over.values()) out.push(v);
    return out;
  }

  clear(): void {
    this.vals.fill(undefined);
    this.over.clear();
    this.size = 0;
  }
}

/**
 * Turns decoded events into calls on a {@linkcode LayoutEmitter}. Feed it every
 * event of the trace in order (`add` is bound, usable as a decoder callback;
 * the layout is also an {@linkcode EventVisitor}, the decoder's fast path:
 * `new TraceDecoder(layout.add, layout)`); the `end` event closes whatever is
 * still open.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { type LayoutEmitter, TrackLayout } from "./layout.ts";
 * declare const emitter: LayoutEmitter;
 * const layout = new TrackLayout(emitter);
 * const d = new TraceDecoder(layout.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * console.log(layout.report);
 * ```
 */
export class TrackLayout implements EventVisitor {
  /** Repairs made so far; complete after the `end` event. */
  report: LayoutReport = {
    splitRegions: 0,
    lateRegionEnds: 0,
    orphanRegionEnds: 0,
    openRegions: 0,
    openTasks: 0,
    tasksBeganBefore: 0,
    tracks: 0,
    truncated: false,
    lost: 0,
  };
  private emitter: LayoutEmitter;
  private threads = new Map<number, ThreadState>();
  private tasks = new IdTable<OpenTask>();
  private taskSeq = 0;
  private lostTotal = 0;
  private lastThread?: ThreadState;
  /**
   * Records no longer in use, reused: a region, lane or task each begins and
   * ends millions of times, and an object per one was a large part of the
   * layout's cost. Each pool holds at most what was open at once.
   */
  private regionPool: OpenRegion[] = [];
  private lanePool: LaneEntry[] = [];
  private taskPool: OpenTask[] = [];

  /** Makes a layout writing to `emitter`. */
  constructor(emitter: LayoutEmitter) {
    this.emitter = emitter;
  }

  /** Takes the next event. */
  add = (e: TraceEvent): void => {
    switch (e.kind) {
      case "regionBegin":
        this.regionBegin(e.time, e.thread, e.region, e.task, e.type, e.parent, e.lane, undefined);
        break;
      case "regionEnd":
        this.regionEnd(e.time, e.thread, e.region);
        break;
      case "taskBegin":
        this.taskBegin(e.time, e.thread, e.task, e.parent, e.type, undefined);
        break;
      case "taskEnd":
        this.taskEnd(e.time, e.thread, e.task);
        break;
      case "log":
        this.emitter.log(
          this.slot(this.thread(e.thread), 0).track,
          e.time,
          e.task,
          e.category,
          e.message,
        );
        break;
      case "lost":
        this.lostTotal += e.count;
        this.emitter.lost(
          e.time,
          e.count,
          this.lostTotal,
          this.slot(this.thread(e.thread), 0).track,
        );
        break;
      case "thread": {
        const t = this.thread(e.thread);
        t.name = e.name;
        for (const s of t.slots) {
          this.emitter.track(s.track, t.id, s.index, this.trackName(t, s.index));
        }
        if (t.stallTrack) {
          this.emitter.track(t.stallTrack, t.id, STALL_SLOT, this.trackName(t, STALL_SLOT));
        }
        if (t.gcTrack) this.emitter.track(t.gcTrack, t.id, GC_SLOT, this.trackName(t, GC_SLOT));
        break;
      }
      case "counter":
        this.emitter.counter(e.name, e.time, e.value, this.slot(this.thread(e.thread), 0).track);
        break;
      case "stall":
        this.emitter.span(this.runtimeTrack(this.thread(e.thread), STALL_SLOT), {
          kind: "stall",
          time: e.time,
          duration: e.duration,
          region: e.region,
          task: e.task,
        });
        break;
      case "gc":
        this.emitter.span(this.runtimeTrack(this.thread(e.thread), GC_SLOT), {
          kind: "gc",
          time: e.time,
          duration: e.duration,
          inferred: e.inferred,
          freed: e.freed,
        });
        break;
      case "threadEnd":
        this.emitter.threadEnd(this.slot(this.thread(e.thread), 0).track, e.time);
        break;
      case "header":
        this.emitter.process(e.header.pid, e.header);
        break;
      case "end":
        this.end(e);
        break;
    }
  };

  private thread(id: number): ThreadState {
    const last = this.lastThread;
    if (last !== undefined && last.id === id) return last;
    let t = this.threads.get(id);
    if (!t) {
      t = {
        id,
        name: "",
        stallTrack: 0,
        gcTrack: 0,
        slots: [],
        free: new FreeSlots(),
        byLane: new IdTable(),
        open: new IdTable(),
      };
      this.threads.set(id, t);
    }
    return this.lastThread = t;
  }

  private trackName(t: ThreadState, index: number): string {
    const name = t.name || `thread ${t.id}`;
    if (index === STALL_SLOT) return `${name} · event-loop stalls`;
    if (index === GC_SLOT) return `${name} · GC`;
    return index === 0 ? name : `${name} · async ${index}`;
  }

  private runtimeTrack(t: ThreadState, slot: typeof STALL_SLOT | typeof GC_SLOT): number {
    const have = slot === STALL_SLOT ? t.stallTrack : t.gcTrack;
    if (have !== 0) return have;
    const track = ++this.report.tracks;
    if (slot === STALL_SLOT) t.stallTrack = track;
    else t.gcTrack = track;
    this.emitter.track(track, t.id, slot, this.trackName(t, slot));
    return track;
  }

  private slot(t: ThreadState, index: number): Slot {
    while (t.slots.length <= index) {
      const s: Slot = {
        track: ++this.report.tracks,
        index: t.slots.length,
        stack: [],
        late: 0,
      };
      t.slots.push(s);
      t.free.add(s.index);
      this.emitter.track(s.track, t.id, s.index, this.trackName(t, s.index));
    }
    return t.slots[index];
  }

  private freeSlot(t: ThreadState): Slot {
    if (t.free.size === 0) this.slot(t, t.slots.length);
    return t.slots[t.free.takeLowest()];
  }

  private laneSlot(t: ThreadState, task: number, lane: number): Slot {
    const head = t.byLane.get(lane);
    for (let e = head; e !== undefined; e = e.next) if (e.task === task) return e.slot;
    const slot = this.freeSlot(t);
    const e = this.lanePool.pop();
    if (e === undefined) t.byLane.set(lane, { task, slot, next: head });
    else {
      e.task = task;
      e.slot = slot;
      e.next = head;
      t.byLane.set(lane, e);
    }
    return slot;
  }

  private releaseLane(t: ThreadState, task: number, lane: number): void {
    let prev: LaneEntry | undefined;
    for (let e = t.byLane.get(lane); e !== undefined; prev = e, e = e.next) {
      if (e.task !== task) continue;
      if (prev) prev.next = e.next;
      else if (e.next) t.byLane.set(lane, e.next);
      else t.byLane.delete(lane);
      t.free.add(e.slot.index);
      e.next = undefined;
      this.lanePool.push(e);
      return;
    }
  }

  /** A message logged; {@linkcode EventVisitor.log}. */
  log(
    time: number,
    thread: number,
    task: number,
    category: string,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void {
    this.emitter.logBytes(
      this.slot(this.thread(thread), 0).track,
      time,
      task,
      category,
      bytes,
      start,
      end,
    );
  }

  /** A region begins; {@linkcode EventVisitor.regionBegin}. */
  regionBegin(
    time: number,
    thread: number,
    region: number,
    task: number,
    type: string,
    _parent: number,
    lane: number,
    _stack: string[] | undefined,
  ): void {
    const t = this.thread(thread);
    const s = this.laneSlot(t, task, lane);
    const stack = s.stack;
    let r = this.regionPool.pop();
    if (r === undefined) r = { region, type, task, lane, slot: s, ended: -1, at: stack.length };
    else {
      r.region = region;
      r.type = type;
      r.task = task;
      r.lane = lane;
      r.slot = s;
      r.ended = -1;
      r.at = stack.length;
    }
    stack.push(r);
    t.open.set(region, r);
    this.emitter.sliceBegin(s.track, time, type, task, region, false);
  }

  /** A region ends; {@linkcode EventVisitor.regionEnd}. */
  regionEnd(time: number, thread: number, region: number): void {
    const t = this.thread(thread);
    const r = t.open.get(region);
    if (r === undefined) {
      this.report.orphanRegionEnds++;
      return;
    }
    t.open.delete(region);
    const s = r.slot;
    const stack = s.stack;
    const task = r.task;
    const lane = r.lane;
    const at = r.at;
    if (at === stack.length - 1) {
      stack.pop();
      this.emitter.sliceEnd(s.track, time, "ended", r.type);
      this.regionPool.push(r);
      this.closeLate(s, time);
    } else if (stack.length - 1 - at <= SPLIT_MAX) {
      this.split(s, at, time);
    } else {
      // Too many slices above to split: r's slice closes when they have.
      r.ended = time;
      s.late++;
      this.report.lateRegionEnds++;
      if (s.late > stack.length - s.late + LATE_SLACK) this.split(s, -1, time);
    }
    if (stack.length === 0) this.releaseLane(t, task, lane);
  }

  /** Closes the late slices that the last end left on top of `s`. */
  private closeLate(s: Slot, time: number): void {
    const stack = s.stack;
    while (stack.length > 0 && stack[stack.length - 1].ended >= 0) {
      const x = stack.pop()!;
      s.late--;
      this.emitter.sliceEnd(s.track, time, "late", x.type, x.ended);
      this.regionPool.push(x);
    }
  }

  /**
   * Closes every slice of `s` above `at` and the one at `at` (whose region
   * ended; none when `at` is -1), then reopens the live ones, marked
   * continued: still nested. Late slices among them close for good.
   */
  private split(s: Slot, at: number, time: number): void {
    const stack = s.stack;
    for (let i = stack.length - 1; i > at; i--) {
      const x = stack[i];
      if (x.ended >= 0) this.emitter.sliceEnd(s.track, time, "late", x.type, x.ended);
      else this.emitter.sliceEnd(s.track, time, "split", x.type);
    }
    if (at >= 0) {
      this.emitter.sliceEnd(s.track, time, "ended", stack[at].type);
      this.regionPool.push(stack[at]);
    }
    let n = Math.max(at, 0);
    for (let i = n + (at >= 0 ? 1 : 0); i < stack.length; i++) {
      const x = stack[i];
      if (x.ended >= 0) {
        this.regionPool.push(x);
        continue;
      }
      x.at = n;
      stack[n++] = x;
      this.emitter.sliceBegin(s.track, time, x.type, x.task, x.region, true);
      this.report.splitRegions++;
    }
    stack.length = n;
    s.late = 0;
    for (const x of stack) if (x.ended >= 0) s.late++;
  }

  /** A task begins; {@linkcode EventVisitor.taskBegin}. */
  taskBegin(
    time: number,
    thread: number,
    task: number,
    parent: number,
    type: string,
    _stack: string[] | undefined,
  ): void {
    const track = this.slot(this.thread(thread), 0).track;
    const p = parent === 0 ? undefined : this.tasks.get(parent);
    if (p) this.emitter.flowOut(parent, p.type, task, type, p.track, time);
    // A task begun twice keeps its first place in the closing order, as in a Map.
    const was = this.tasks.get(task);
    if (was !== undefined) {
      // Its record is updated in place (no other holder: pooled on end).
      was.type = type;
      was.track = track;
    } else {
      let o = this.taskPool.pop();
      if (o === undefined) o = { id: task, type, track, seq: this.taskSeq++ };
      else {
        o.id = task;
        o.type = type;
        o.track = track;
        o.seq = this.taskSeq++;
      }
      this.tasks.set(task, o);
    }
    this.emitter.taskBegin(task, parent, type, track, time, p !== undefined);
    this.emitter.tasksOpen(time, this.tasks.size, track);
  }

  /** A task ends; {@linkcode EventVisitor.taskEnd}. */
  taskEnd(time: number, thread: number, task: number): void {
    const open = this.tasks.get(task);
    let type = "";
    let track: number;
    if (open === undefined) {
      // Began before the trace: draw it from the start.
      track = this.slot(this.thread(thread), 0).track;
      this.report.tasksBeganBefore++;
      this.emitter.taskBegin(task, 0, "", track, 0, false);
    } else {
      this.tasks.delete(task);
      type = open.type;
      track = open.track;
      this.taskPool.push(open);
    }
    this.emitter.taskEnd(task, type, track, time, false);
    this.emitter.tasksOpen(time, this.tasks.size, track);
  }

  private end(e: EndEvent): void {
    for (const t of this.threads.values()) {
      for (const s of t.slots) {
        for (let i = s.stack.length - 1; i >= 0; i--) {
          const x = s.stack[i];
          if (x.ended >= 0) this.emitter.sliceEnd(s.track, e.time, "late", x.type, x.ended);
          else {
            this.emitter.sliceEnd(s.track, e.time, "incomplete", x.type);
            this.report.openRegions++;
          }
        }
        s.stack.length = 0;
        s.late = 0;
      }
      t.open.clear();
      t.byLane.clear();
      t.free = new FreeSlots();
      for (const s of t.slots) t.free.add(s.index);
    }
    for (const task of this.tasks.values().sort((a, b) => a.seq - b.seq)) {
      this.emitter.taskEnd(task.id, task.type, task.track, e.time, true);
      this.report.openTasks++;
    }
    this.tasks.clear();
    this.report.truncated = e.truncated;
    this.report.lost = e.lost;
  }
}

/**
 * A set of slot indices that hands out its lowest: a bit per slot and the
 * lowest word that may hold one. A lane takes and frees a slot for every
 * burst of regions, so this runs per region: a heap of slots cost a sift per
 * take and per free; here both are a bit operation, and the search for the
 * lowest word only moves past words emptied since the last free below them.
 */
class FreeSlots {
  private bits = new Uint32Array(2);
  /** No word below this has a bit set. */
  private low = 0;
  /** Indices in the set. */
  size = 0;

  /** Puts `index` (not in the set) in. */
  add(index: number): void {
    const w = index >>> 5;
    if (w >= this.bits.length) {
      const bits = new Uint32Array(Math.max(w + 1, this.bits.length * 2));
      bits.set(this.bits);
      this.bits = bits;
    }
    this.bits[w] |= 1 << (index & 31);
    if (w < this.low) this.low = w;
    this.size++;
  }

  /** Takes the lowest index out; the set must not be empty. */
  takeLowest(): number {
    const bits = this.bits;
    let w = this.low;
    while (bits[w] === 0) w++;
    this.low = w;
    const word = bits[w];
    const bit = 31 - Math.clz32(word & -word);
    bits[w] = word & (word - 1);
    this.size--;
    return (w << 5) + bit;
  }
}

/** Warnings about repairs, one line each, for standard error. */
export function layoutWarnings(r: LayoutReport): string[] {
  const out: string[] = [];
  if (r.splitRegions > 0) {
    out.push(
      `${r.splitRegions} region slices were split where a region ended before regions begun inside it (marked "continued")`,
    );
  }
  if (r.lateRegionEnds > 0) {
    out.push(
      `${r.lateRegionEnds} regions ended before many regions begun inside them: their slices close when those have closed (the real end is in "endedAt")`,
    );
  }
  if (r.orphanRegionEnds > 0) {
    out.push(`${r.orphanRegionEnds} region ends had no beginning in the trace and were skipped`);
  }
  if (r.openRegions > 0) {
    out.push(`${r.openRegions} regions had not ended; they end at the end of the trace`);
  }
  if (r.openTasks > 0) {
    out.push(`${r.openTasks} tasks had not ended; they end at the end of the trace`);
  }
  return out;
}

/** What an exporter's emitter holds besides the layout's callbacks: its output. */
export interface ExportEmitter extends LayoutEmitter {
  /** The output buffer. */
  w: { take(): Uint8Array; takeView(): Uint8Array };
  /** Output events written so far. */
  events: number;
  /** Finishes the output after the `end` event, where the format needs it. */
  close?(): void;
}

/**
 * An exporter: the track layout driving a format's emitter. Feed it every event
 * of a trace through `add` (or the decoder's fast path, `visitor`); after
 * each chunk of input, `take()` the output so far.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { ChromeExporter } from "./chrome.ts";
 * const x = new ChromeExporter();
 * const d = new TraceDecoder(x.add, x.visitor);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * await Deno.writeFile("trace.json", x.take());
 * ```
 */
export class Exporter<S extends ExportEmitter> {
  /** The format's writer. */
  protected emitter: S;
  /** Places slices on tracks and repairs what needs it. */
  protected layout: TrackLayout;

  /** Makes an exporter writing through `emitter`. */
  constructor(emitter: S) {
    this.emitter = emitter;
    this.layout = new TrackLayout(emitter);
  }

  /** Takes the next event; the `end` event finishes the output. */
  add = (e: TraceEvent): void => {
    this.layout.add(e);
    if (e.kind === "end") this.emitter.close?.();
  };

  /**
   * The decoder's fast path for the frequent kinds, the same output as
   * `add`: `new TraceDecoder(x.add, x.visitor)`.
   */
  get visitor(): EventVisitor {
    return this.layout;
  }

  /** The output written since the last call. */
  take(): Uint8Array {
    return this.emitter.w.take();
  }

  /** Like `take`, without a copy: valid until the next `takeView`. */
  takeView(): Uint8Array {
    return this.emitter.w.takeView();
  }

  /** Output events written so far. */
  get events(): number {
    return this.emitter.events;
  }

  /** What the layout repaired; complete after the `end` event. */
  get report(): LayoutReport {
    return this.layout.report;
  }
}
