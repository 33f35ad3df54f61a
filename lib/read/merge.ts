/**
 * Merging traces into one: several processes or isolates traced apart (each
 * `deno test` module runs in an isolate of its own) become one trace on one
 * clock, each input's threads kept apart and its task ids renumbered.
 *
 * @module
 */

import { TraceDecoder, type TraceEvent, type TraceHeader } from "../format/decoder.ts";
import { FORMAT_NUMBERS, TraceWriter } from "../format/encoder.ts";
import { GC_INFERRED, LOG_TRUNCATED } from "../format/constants.ts";
import { Rec } from "../record/ring_layout.ts";

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
  const decoded = inputs.map((input) => decodeAll(input));
  const origin = Math.min(...decoded.map((d) => d.header.timeOrigin + d.header.startTime));
  const first = decoded[0].header;
  const w = new TraceWriter(FORMAT_NUMBERS);
  w.header({
    timeOrigin: origin,
    startTime: 0,
    resolutionNs: Math.max(...decoded.map((d) => d.header.resolutionNs)),
    runtime: first.runtime,
    runtimeVersion: first.runtimeVersion,
    pid: first.pid,
  });
  const strings = new Map<string, number>([["", 0]]);
  const id = (s: string) => {
    let n = strings.get(s);
    if (n === undefined) {
      n = strings.size;
      strings.set(s, n);
      w.defineString(n, s);
    }
    return n;
  };
  let nextThread = 1;
  let taskBase = 0;
  let lost = 0;
  const truncated: string[] = [];
  for (const d of decoded) {
    const shiftMs = d.header.timeOrigin + d.header.startTime - origin;
    const threadNames = new Map<number, string>();
    for (const e of d.events) if (e.kind === "thread") threadNames.set(e.thread, e.name);
    const threads = new Map<number, number>();
    const threadOf = (t: number) => {
      let n = threads.get(t);
      if (n === undefined) {
        n = nextThread++;
        threads.set(t, n);
        const name = threadNames.size > 1 ? `${d.name}: ${threadNames.get(t) ?? t}` : d.name;
        w.threadName(n, name);
      }
      return n;
    };
    let maxTask = 0;
    const task = (t: number) => {
      if (t > maxTask) maxTask = t;
      return t === 0 ? 0 : t + taskBase;
    };
    let open = -1;
    const at = (thread: number) => {
      const n = threadOf(thread);
      if (open !== n) {
        if (open !== -1) w.close();
        w.open(n);
        open = n;
      }
    };
    const ms = (ns: number) => ns / 1e6 + shiftMs;
    for (const e of d.events) {
      switch (e.kind) {
        case "taskBegin":
          at(e.thread);
          stack(w, e.stack, ms(e.time), id);
          w.record(
            Rec.TASK_BEGIN,
            ms(e.time),
            task(e.task),
            task(e.parent),
            id(e.type),
            0,
            0,
            "",
            0,
          );
          break;
        case "taskEnd":
          at(e.thread);
          w.record(Rec.TASK_END, ms(e.time), task(e.task), 0, 0, 0, 0, "", 0);
          break;
        case "regionBegin":
          at(e.thread);
          stack(w, e.stack, ms(e.time), id);
          w.record(
            Rec.REGION_BEGIN,
            ms(e.time),
            task(e.task),
            id(e.type),
            e.region,
            e.parent,
            e.lane,
            "",
            0,
          );
          break;
        case "regionEnd":
          at(e.thread);
          w.record(Rec.REGION_END, ms(e.time), e.region, 0, 0, 0, 0, "", 0);
          break;
        case "log":
          at(e.thread);
          stack(w, e.stack, ms(e.time), id);
          w.record(
            Rec.LOG,
            ms(e.time),
            task(e.task),
            id(e.category),
            0,
            0,
            e.truncated ? LOG_TRUNCATED : 0,
            e.message,
            0,
          );
          break;
        case "counter":
          at(e.thread);
          w.record(Rec.COUNTER, ms(e.time), id(e.name), 0, 0, 0, 0, "", e.value);
          break;
        case "stall":
          at(e.thread);
          w.record(
            Rec.STALL,
            ms(e.time + e.duration),
            Math.round(e.duration / 1000),
            e.region,
            task(e.task),
            0,
            0,
            "",
            0,
          );
          break;
        case "gc":
          at(e.thread);
          w.record(
            Rec.GC,
            ms(e.time + e.duration),
            Math.round(e.duration / 1000),
            e.inferred ? GC_INFERRED : 0,
            0,
            0,
            0,
            "",
            e.freed,
          );
          break;
        case "threadEnd":
          at(e.thread);
          w.record(Rec.THREAD_END, ms(e.time), 0, 0, 0, 0, 0, "", 0);
          break;
        case "lost":
          at(e.thread);
          w.lostEvents(e.count);
          break;
        case "end":
          if (e.truncated) truncated.push(d.name);
          lost += e.lost;
          break;
      }
    }
    if (open !== -1) w.close();
    taskBase += maxTask;
  }
  w.end(lost);
  return { bytes: w.out.buf.slice(0, w.out.pos), truncated };
}

/** A STACK event for the next event, rebuilt from the frames the reader gave. */
function stack(
  w: TraceWriter,
  frames: string[] | undefined,
  ms: number,
  id: (s: string) => number,
): void {
  if (!frames) return;
  const text = "Error\n" + frames.map((f) => `    at ${f}`).join("\n");
  w.record(Rec.STACK, ms, id(text), 0, 0, 0, 0, "", 0);
}

function decodeAll(input: MergeInput): { name: string; header: TraceHeader; events: TraceEvent[] } {
  const events: TraceEvent[] = [];
  const d = new TraceDecoder((e) => events.push(e));
  try {
    d.push(input.bytes);
    d.finish();
  } catch (e) {
    throw new Error(`${input.name}: ${(e as Error).message.replace(/^runtrace: /, "")}`);
  }
  return { name: input.name, header: d.header!, events };
}
