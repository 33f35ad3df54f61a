/**
 * The consumer side of one thread's ring: reads its records in order, turns
 * the thread's string ids into the trace's, and hands each record to the
 * writers as a typed event.
 *
 * @module
 */

import type { TraceWriter } from "../../format/encoder.ts";
import {
  Ctrl,
  CTRL_BYTES,
  LOG_MESSAGE_ID,
  Rec,
  RECORD_BYTES,
  RECORD_WORDS,
  VALUE_F64,
  Word,
} from "../ring_layout.ts";
import type { OpenSet } from "./open_set.ts";
import type { StringTable } from "./string_table.ts";

/** Recent regions remembered per thread, to attribute stalls (a power of two). */
const HISTORY = 4096;

const utf8Encoder = new TextEncoder();

/**
 * What the drainer hands records to: a trace's writer, or a tap beside it
 * (trace_tap.ts). The last one of a drain's list must have a batch (`ev`):
 * its size ends the drain at the budget.
 */
export type RecordSink =
  & Pick<
    TraceWriter,
    | "open"
    | "close"
    | "lostEvents"
    | "defineString"
    | "taskBegin"
    | "taskEnd"
    | "regionBegin"
    | "regionEnd"
    | "logUtf8"
    | "counter"
    | "gc"
    | "stall"
    | "threadEnd"
    | "stack"
  >
  & { readonly ev: { readonly pos: number } };

/** Where a ring lives and whose it is. */
export interface RingSpec {
  /** The ring's shared memory (ring_layout.ts). */
  ring: SharedArrayBuffer;
  /** Record slots, a power of two. */
  capacity: number;
  /** UTF-16 units of text, a power of two. */
  textCapacity: number;
  /** The thread's id in the trace. */
  thread: number;
  /** The thread's name. */
  name: string;
}

/** Reads one thread's ring and hands its records to the writers. */
export class RingDrainer {
  /** The ring's control words (ring_layout.ts's `Ctrl`). */
  readonly ctrl: Int32Array;
  /** The thread's id in the trace. */
  readonly thread: number;
  /** The thread's name. */
  readonly name: string;
  /** Set while a flight recorder runs. */
  open: OpenSet | undefined;
  private f64: Float64Array;
  private u32: Uint32Array;
  private text: Uint16Array;
  private mask: number;
  private textMask: number;
  private table: StringTable;
  /** This thread's string ids → the table's. */
  private idMap: number[] = [0];
  /** Recent regions of this thread, by `id % HISTORY`, to attribute stalls. */
  private histId = new Uint32Array(HISTORY);
  private histTask = new Uint32Array(HISTORY);
  private histBegin = new Float64Array(HISTORY);
  private histEnd = new Float64Array(HISTORY);
  private lastBegun = 0;
  /** A log message transcoded from the text ring, UTF-8. */
  private msg = new Uint8Array(1 << 12);
  /** UTF-8 of messages sent by string id, by global id. */
  private msgById: Uint8Array[] = [];
  /** The text ring position after the last text read by this drain, -1 for none. */
  private textTail = -1;
  private scratch = new Uint16Array(1 << 12);
  private utf16 = new TextDecoder("utf-16le");

  constructor(spec: RingSpec, table: StringTable) {
    const textAt = CTRL_BYTES + spec.capacity * RECORD_BYTES;
    this.ctrl = new Int32Array(spec.ring, 0, CTRL_BYTES >> 2);
    this.f64 = new Float64Array(spec.ring, CTRL_BYTES, spec.capacity * (RECORD_BYTES >> 3));
    this.u32 = new Uint32Array(spec.ring, CTRL_BYTES, spec.capacity * RECORD_WORDS);
    this.text = new Uint16Array(spec.ring, textAt, spec.textCapacity);
    this.mask = spec.capacity - 1;
    this.textMask = spec.textCapacity - 1;
    this.thread = spec.thread;
    this.name = spec.name;
    this.table = table;
  }

  /** Records waiting in the ring. */
  pending(): number {
    return (Atomics.load(this.ctrl, Ctrl.HEAD) - Atomics.load(this.ctrl, Ctrl.TAIL)) | 0;
  }

  /**
   * Encodes up to `max` waiting records into one batch per writer, stopping
   * early once the last writer's batch holds `budget` bytes, and frees their
   * slots. Returns the number of records consumed.
   */
  drain(writers: readonly RecordSink[], max: number, budget: number): number {
    const ctrl = this.ctrl;
    const head = Atomics.load(ctrl, Ctrl.HEAD);
    const tail = Atomics.load(ctrl, Ctrl.TAIL);
    let n = (head - tail) | 0;
    const lost = Atomics.exchange(ctrl, Ctrl.LOST, 0);
    if (n === 0 && lost === 0) return 0;
    if (n > max) n = max;
    for (const w of writers) {
      w.open(this.thread);
      if (lost > 0) w.lostEvents(lost);
    }
    this.textTail = -1;
    const k = this.handOverAll(tail, n, writers, budget);
    for (const w of writers) w.close();
    if (this.textTail !== -1) Atomics.store(ctrl, Ctrl.TEXT_TAIL, this.textTail);
    Atomics.store(ctrl, Ctrl.TAIL, (tail + k) | 0);
    Atomics.notify(ctrl, Ctrl.TAIL);
    return k;
  }

  /**
   * The loop of {@linkcode drain}: hands over up to `n` records from `tail`,
   * until the last writer's batch holds `budget` bytes; returns how many. A
   * function of its own so that nothing follows the loop: V8 compiles a long
   * first drain's loop on the stack (OSR), and with the writers' `close`
   * after it, code that had never run then, that code deoptimised at the end
   * of each new session's first long drain, about once a session.
   */
  private handOverAll(tail: number, n: number, writers: readonly RecordSink[], budget: number) {
    const last = writers[writers.length - 1];
    let k = 0;
    while (k < n) {
      this.handOver(((tail + k) & this.mask) * RECORD_WORDS, writers);
      k++;
      if (last.ev.pos > budget) break;
    }
    return k;
  }

  /**
   * Consumes up to `max` waiting records without encoding them: each is
   * counted as lost in every writer (the full-ring policy's drop, for a trace
   * that finishes behind a slow destination). Strings are still learnt and
   * defined. Returns the number of records consumed.
   */
  discard(writers: readonly RecordSink[], max: number): number {
    const ctrl = this.ctrl, u32 = this.u32;
    let tail = Atomics.load(ctrl, Ctrl.TAIL);
    let n = (Atomics.load(ctrl, Ctrl.HEAD) - tail) | 0;
    if (n > max) n = max;
    if (n <= 0) return 0;
    for (const w of writers) w.open(this.thread);
    this.textTail = -1;
    let lost = 0;
    for (let k = 0; k < n; k++, tail = (tail + 1) | 0) {
      const i = (tail & this.mask) * RECORD_WORDS;
      const kind = u32[i + Word.KIND];
      if (kind === Rec.STRING) {
        this.defineString(u32[i + Word.A], u32[i + Word.C], u32[i + Word.D], writers);
        continue;
      }
      lost++;
      if (kind === Rec.LOG && (u32[i + Word.E] & LOG_MESSAGE_ID) === 0) {
        this.textTail = (u32[i + Word.C] + u32[i + Word.D]) | 0;
      }
    }
    for (const w of writers) {
      w.lostEvents(lost);
      w.close();
    }
    if (this.textTail !== -1) Atomics.store(ctrl, Ctrl.TEXT_TAIL, this.textTail);
    Atomics.store(ctrl, Ctrl.TAIL, tail);
    Atomics.notify(ctrl, Ctrl.TAIL);
    return n;
  }

  /**
   * Hands the record at word `i` to every writer (and to the open set),
   * with this thread's string ids mapped to the table's. One switch over the
   * record kinds, run for every record: kept in one function.
   */
  private handOver(i: number, writers: readonly RecordSink[]): void {
    const u32 = this.u32, idMap = this.idMap;
    const ms = this.f64[i >> 1];
    const a = u32[i + Word.A], b = u32[i + Word.B], c = u32[i + Word.C];
    switch (u32[i + Word.KIND]) {
      case Rec.TASK_BEGIN: {
        const type = idMap[c] ?? 0;
        for (const w of writers) w.taskBegin(ms, a, b, type);
        this.open?.taskBegun(a, b, type, ms);
        break;
      }
      case Rec.TASK_END:
        for (const w of writers) w.taskEnd(ms, a);
        this.open?.taskEnded(a);
        break;
      case Rec.REGION_BEGIN: {
        const type = idMap[b] ?? 0, parent = u32[i + Word.D], lane = u32[i + Word.E];
        this.regionBegun(c, a, ms);
        for (const w of writers) w.regionBegin(ms, a, type, c, parent, lane);
        this.open?.regionBegun(this.thread, c, { task: a, type, parent, lane, ms });
        break;
      }
      case Rec.REGION_END:
        this.regionEnded(a, ms);
        for (const w of writers) w.regionEnd(ms, a);
        this.open?.regionEnded(this.thread, a);
        break;
      case Rec.LOG:
        this.handOverLog(i, ms, writers);
        break;
      case Rec.COUNTER: {
        const name = idMap[a] ?? 0, value = this.f64[(i >> 1) + VALUE_F64];
        for (const w of writers) w.counter(ms, name, value);
        break;
      }
      case Rec.GC: {
        const freed = this.f64[(i >> 1) + VALUE_F64];
        for (const w of writers) w.gc(ms, a, b, freed);
        break;
      }
      case Rec.STALL: {
        const h = this.regionAt(ms - a / 2000);
        const region = h < 0 ? b : this.histId[h], task = h < 0 ? c : this.histTask[h];
        for (const w of writers) w.stall(ms, a, region, task);
        break;
      }
      case Rec.THREAD_END:
        for (const w of writers) w.threadEnd(ms);
        break;
      case Rec.STACK: {
        const stack = idMap[a] ?? 0;
        for (const w of writers) w.stack(ms, stack);
        break;
      }
      case Rec.STRING:
        this.defineString(a, c, u32[i + Word.D], writers);
        break;
      default:
        throw new Error(`runtrace: unknown record kind ${u32[i + Word.KIND]} in ring`);
    }
  }

  /** A LOG record: its message from the text ring, or by string id. */
  private handOverLog(i: number, ms: number, writers: readonly RecordSink[]): void {
    const u32 = this.u32;
    const task = u32[i + Word.A], category = this.idMap[u32[i + Word.B]] ?? 0;
    const flags = u32[i + Word.E];
    let bytes: Uint8Array, n: number;
    if (flags & LOG_MESSAGE_ID) {
      const id = this.idMap[u32[i + Word.C]] ?? 0;
      bytes = this.msgById[id] ??= utf8Encoder.encode(this.table.list[id] ?? "");
      n = bytes.length;
    } else {
      const pos = u32[i + Word.C], len = u32[i + Word.D];
      n = this.transcode(pos, len);
      bytes = this.msg;
      this.textTail = (pos + len) | 0;
    }
    const traceFlags = flags & ~LOG_MESSAGE_ID;
    for (const w of writers) w.logUtf8(ms, task, category, traceFlags, bytes, n);
  }

  /**
   * A STRING record: this thread's id `local` names the text at `pos`. A
   * string new to the trace is defined in every writer; a known one only
   * maps `local` to its id.
   */
  private defineString(
    local: number,
    pos: number,
    len: number,
    writers: readonly RecordSink[],
  ): void {
    const text = this.readText(pos, len);
    this.textTail = (pos + len) | 0;
    const known = this.table.ids.get(text);
    if (known !== undefined) {
      this.idMap[local] = known;
      return;
    }
    const id = this.table.add(text);
    this.idMap[local] = id;
    for (const w of writers) w.defineString(id, text);
  }

  private regionBegun(id: number, task: number, ms: number): void {
    const h = id & (HISTORY - 1);
    this.histId[h] = id;
    this.histTask[h] = task;
    this.histBegin[h] = ms;
    this.histEnd[h] = 0;
    this.lastBegun = id;
  }

  private regionEnded(id: number, ms: number): void {
    const h = id & (HISTORY - 1);
    if (this.histId[h] === id) this.histEnd[h] = ms;
  }

  /**
   * The history slot of the innermost region open at `mid`, or -1. A stall
   * is attributed to the region open at its midpoint: the heartbeat knows the
   * stall only to within its period.
   */
  private regionAt(mid: number): number {
    for (let id = this.lastBegun, left = HISTORY - 1; left > 0 && id > 0; id--, left--) {
      const h = id & (HISTORY - 1);
      if (this.histId[h] !== id) break;
      if (this.histBegin[h] <= mid && (this.histEnd[h] === 0 || this.histEnd[h] > mid)) return h;
    }
    return -1;
  }

  /**
   * Transcodes `len` UTF-16 units of the text ring into `msg` as UTF-8, by
   * hand: TextDecoder plus TextEncoder cost ten times more per short message.
   * A lone surrogate becomes U+FFFD, as TextEncoder would make it. Returns
   * the number of bytes.
   */
  private transcode(pos: number, len: number): number {
    if (len * 3 > this.msg.length) {
      this.msg = new Uint8Array(Math.max(len * 3, this.msg.length * 2));
    }
    const src = this.text, m = this.textMask, out = this.msg;
    let o = 0;
    for (let k = 0; k < len; k++) {
      let c = src[(pos + k) & m];
      if (c < 0x80) {
        out[o++] = c;
        continue;
      }
      if (c < 0x800) {
        out[o++] = 0xc0 | (c >> 6);
        out[o++] = 0x80 | (c & 63);
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = k + 1 < len ? src[(pos + k + 1) & m] : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          out[o++] = 0xf0 | (cp >> 18);
          out[o++] = 0x80 | ((cp >> 12) & 63);
          out[o++] = 0x80 | ((cp >> 6) & 63);
          out[o++] = 0x80 | (cp & 63);
          k++;
          continue;
        }
        c = 0xfffd;
      }
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    }
    return o;
  }

  private readText(pos: number, len: number): string {
    if (len > this.scratch.length) {
      this.scratch = new Uint16Array(Math.max(len, this.scratch.length * 2));
    }
    const text = this.text, m = this.textMask, s = this.scratch;
    for (let k = 0; k < len; k++) s[k] = text[(pos + k) & m];
    return this.utf16.decode(s.subarray(0, len));
  }
}
