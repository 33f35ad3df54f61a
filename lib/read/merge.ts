/**
 * Merging traces into one: several processes or isolates traced apart (each
 * `deno test` module runs in an isolate of its own) become one trace on one
 * clock, each input's threads kept apart and its task ids renumbered.
 *
 * @module
 */

import {
  TraceDecoder,
  type TraceEvent,
  TraceFormatError,
  type TraceHeader,
} from "../format/decoder.ts";
import { TraceWriter } from "../format/encoder.ts";
import { GC_INFERRED, LOG_TRUNCATED } from "../format/constants.ts";

/** One trace to merge and the name its threads are shown under. */
export interface MergeInput {
  name: string;
  bytes: Uint8Array;
}

/** What {@linkcode mergeTraces} made, and what it noticed on the way. */
export interface MergeResult {
  bytes: Uint8Array;
  /** Inputs that were cut short: merged up to their last complete batch. */
  truncated: string[];
}

/**
 * Merges traces into one. Time 0 is the earliest input's; each input's
 * events keep their wall-clock time. Every thread of every input becomes a
 * thread of its own, named `NAME` (or `NAME: THREAD` when an input has
 * several); task ids are renumbered so they stay unique. Throws a
 * `TraceFormatError` naming the input when one is not a trace.
 *
 * @example
 * ```ts
 * import { mergeTraces } from "./merge.ts";
 * const a = await Deno.readFile("trace.api_test.out");
 * const b = await Deno.readFile("trace.http_test.out");
 * const { bytes } = mergeTraces([{ name: "api", bytes: a }, { name: "http", bytes: b }]);
 * await Deno.writeFile("trace.out", bytes);
 * ```
 */
export function mergeTraces(inputs: readonly MergeInput[]): MergeResult {
  if (inputs.length === 0) throw new Error("runtrace: nothing to merge");
  // First pass: headers and thread names only, so that no input's events are
  // held in memory; the second pass writes each input's events as they decode.
  const scanned = inputs.map((input) => scanInput(input));
  const m = startMerge(scanned);
  for (let i = 0; i < inputs.length; i++) {
    m.beginInput(scanned[i]);
    decodeInput(inputs[i], m.write);
    m.endInput();
  }
  return m.finish();
}

/** One trace to merge, read as a stream, twice: the first pass scans, the second writes. */
export interface MergeSource {
  /** The name its threads are shown under. */
  name: string;
  /** The trace's bytes from the start; called once per pass. */
  open(): AsyncIterable<Uint8Array>;
}

/**
 * {@linkcode mergeTraces} for inputs of any size: each input is read twice
 * as a stream and the merged trace goes to `write` as it is made, so memory
 * holds a chunk of input, its encoding and the string table, not the
 * traces. Resolves with the inputs that were cut short.
 *
 * @example
 * ```ts
 * import { mergeTraceStreams } from "./merge.ts";
 * const file = (path: string) => ({
 *   name: path,
 *   async *open() {
 *     yield await Deno.readFile(path);
 *   },
 * });
 * const out: Uint8Array[] = [];
 * await mergeTraceStreams([file("a.trace"), file("b.trace")], (b) => {
 *   out.push(b);
 *   return Promise.resolve();
 * });
 * ```
 */
export async function mergeTraceStreams(
  inputs: readonly MergeSource[],
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<{ truncated: string[] }> {
  if (inputs.length === 0) throw new Error("runtrace: nothing to merge");
  const scanned: ScannedInput[] = [];
  for (const input of inputs) {
    const threadNames = new Map<number, string>();
    let header: TraceHeader | undefined;
    await decodeStream(input, (e) => {
      if (e.kind === "thread") threadNames.set(e.thread, e.name);
      else if (e.kind === "header") header = e.header;
    });
    scanned.push({ name: input.name, header: header!, threadNames });
  }
  const m = startMerge(scanned);
  for (let i = 0; i < inputs.length; i++) {
    m.beginInput(scanned[i]);
    await decodeStream(inputs[i], m.write, () => write(m.take()));
    m.endInput();
  }
  const { bytes, truncated } = m.finish();
  await write(bytes);
  return { truncated };
}

/** Decodes a streamed input, calling `afterChunk` after each chunk; names the input in a format error. */
async function decodeStream(
  input: MergeSource,
  onEvent: (e: TraceEvent) => void,
  afterChunk?: () => Promise<void>,
): Promise<void> {
  const d = new TraceDecoder(onEvent);
  try {
    for await (const chunk of input.open()) {
      d.push(chunk);
      if (afterChunk) await afterChunk();
    }
    d.finish();
  } catch (e) {
    if (!(e instanceof TraceFormatError)) throw e;
    throw new Error(`${input.name}: ${e.message.replace(/^runtrace: /, "")}`);
  }
}

/** A merge writer with the merged header written: time 0 is the earliest input's. */
function startMerge(scanned: readonly ScannedInput[]): MergeWriter {
  let origin = Infinity, resolutionNs = 0;
  for (const s of scanned) {
    origin = Math.min(origin, s.header.timeOrigin + s.header.startTime);
    resolutionNs = Math.max(resolutionNs, s.header.resolutionNs);
  }
  const first = scanned[0].header;
  const m = new MergeWriter(origin);
  m.w.header({
    timeOrigin: origin,
    startTime: 0,
    resolutionNs,
    runtime: first.runtime,
    runtimeVersion: first.runtimeVersion,
    pid: first.pid,
  });
  return m;
}

/** What the first pass learns of an input. */
interface ScannedInput {
  name: string;
  header: TraceHeader;
  threadNames: Map<number, string>;
}

function scanInput(input: MergeInput): ScannedInput {
  const threadNames = new Map<number, string>();
  let header: TraceHeader | undefined;
  decodeInput(input, (e) => {
    if (e.kind === "thread") threadNames.set(e.thread, e.name);
    else if (e.kind === "header") header = e.header;
  });
  return { name: input.name, header: header!, threadNames };
}

/** Decodes one input, naming it in a format error. */
function decodeInput(input: MergeInput, onEvent: (e: TraceEvent) => void): void {
  const d = new TraceDecoder(onEvent);
  try {
    d.push(input.bytes);
    d.finish();
  } catch (e) {
    throw new Error(`${input.name}: ${(e as Error).message.replace(/^runtrace: /, "")}`);
  }
}

/**
 * Writes the events of the inputs, one input after the other, into one
 * trace: strings interned once, threads renumbered, task ids shifted past
 * those of the inputs before.
 */
class MergeWriter {
  w: TraceWriter = new TraceWriter();
  private strings = new Map<string, number>([["", 0]]);
  private nextThread = 1;
  private taskBase = 0;
  private lost = 0;
  private truncated: string[] = [];
  // The input being written:
  private name = "";
  private threadNames = new Map<number, string>();
  private threads = new Map<number, number>();
  /** The input's clock shift in whole ns: begin and end move alike, durations stay exact. */
  private shiftNs = 0;
  private maxTask = 0;
  /** The merged thread whose batch is open, -1 if none. */
  private open = -1;

  /** The merged trace's time 0, ms since the epoch. */
  private origin: number;

  /** A writer of a trace whose time 0 is `origin` ms since the epoch. */
  constructor(origin: number) {
    this.origin = origin;
  }

  /** Starts an input; its clock is shifted onto the merged trace's. */
  beginInput(s: ScannedInput): void {
    this.name = s.name;
    this.threadNames = s.threadNames;
    this.threads = new Map();
    this.shiftNs = Math.round((s.header.timeOrigin + s.header.startTime - this.origin) * 1e6);
    this.maxTask = 0;
    this.open = -1;
  }

  /** Ends the input: its task ids are taken. */
  endInput(): void {
    if (this.open !== -1) this.w.close();
    this.taskBase += this.maxTask;
  }

  /** The bytes sealed so far (the open batch closed), taken out of the writer. */
  take(): Uint8Array {
    if (this.open !== -1) this.w.close();
    this.open = -1;
    const o = this.w.out;
    const bytes = o.buf.slice(0, o.pos);
    o.reset();
    return bytes;
  }

  /** The merged trace. */
  finish(): MergeResult {
    this.w.end(this.lost);
    return { bytes: this.w.out.buf.slice(0, this.w.out.pos), truncated: this.truncated };
  }

  /** Writes one event of the current input. */
  write = (e: TraceEvent): void => {
    switch (e.kind) {
      case "header":
      case "thread":
        return;
      case "end":
        if (e.truncated) this.truncated.push(this.name);
        this.lost += e.lost;
        return;
      case "lost":
        this.at(e.thread);
        this.w.lostEvents(e.count);
        return;
      case "taskBegin":
      case "regionBegin":
      case "log":
        this.at(e.thread);
        this.stack(e.stack, e.time);
        break;
      default:
        this.at(e.thread);
    }
    this.encode(e);
  };

  /** Encodes an event with the writer's method for its kind. */
  private encode(e: TraceEvent): void {
    const task = (t: number) => {
      if (t > this.maxTask) this.maxTask = t;
      return t === 0 ? 0 : t + this.taskBase;
    };
    const w = this.w;
    // A shift in fractional ns, rounded with each time apart, moved a
    // region's end and begin differently: 1 ns off a duration now and then.
    const ms = (ns: number) => (ns + this.shiftNs) / 1e6;
    switch (e.kind) {
      case "taskBegin":
        return w.taskBegin(ms(e.time), task(e.task), task(e.parent), this.id(e.type));
      case "taskEnd":
        return w.taskEnd(ms(e.time), task(e.task));
      case "regionBegin": {
        const type = this.id(e.type);
        return w.regionBegin(ms(e.time), task(e.task), type, e.region, e.parent, e.lane);
      }
      case "regionEnd":
        return w.regionEnd(ms(e.time), e.region);
      case "log": {
        const flags = e.truncated ? LOG_TRUNCATED : 0;
        return w.log(ms(e.time), task(e.task), this.id(e.category), flags, e.message);
      }
      case "counter":
        return w.counter(ms(e.time), this.id(e.name), e.value);
      case "stall":
        // Stalls and GCs are stamped at their end, their duration in µs.
        return w.stall(
          ms(e.time + e.duration),
          Math.round(e.duration / 1000),
          e.region,
          task(e.task),
        );
      case "gc":
        return w.gc(
          ms(e.time + e.duration),
          Math.round(e.duration / 1000),
          e.inferred ? GC_INFERRED : 0,
          e.freed,
        );
      case "threadEnd":
        return w.threadEnd(ms(e.time));
    }
  }

  /** Opens a batch on the merged thread of the input's `thread`. */
  private at(thread: number): void {
    let n = this.threads.get(thread);
    if (n === undefined) {
      n = this.nextThread++;
      this.threads.set(thread, n);
      const name = this.threadNames.size > 1
        ? `${this.name}: ${this.threadNames.get(thread) ?? thread}`
        : this.name;
      this.w.threadName(n, name);
    }
    if (this.open !== n) {
      if (this.open !== -1) this.w.close();
      this.w.open(n);
      this.open = n;
    }
  }

  private id(s: string): number {
    let n = this.strings.get(s);
    if (n === undefined) {
      n = this.strings.size;
      this.strings.set(s, n);
      this.w.defineString(n, s);
    }
    return n;
  }

  /** A STACK event for the next event, rebuilt from the frames the reader gave. */
  private stack(frames: string[] | undefined, ns: number): void {
    if (!frames) return;
    const text = "Error\n" + frames.map((f) => `    at ${f}`).join("\n");
    this.w.stack((ns + this.shiftNs) / 1e6, this.id(text));
  }
}
