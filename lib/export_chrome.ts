/**
 * Export to the Trace Event Format (Chrome DevTools, ui.perfetto.dev), as
 * JSON in array form, written as a stream. The array form stays loadable
 * when the output is cut short, and viewers need no closing bracket.
 *
 * - Timestamps are microseconds since the trace start, with the
 *   nanoseconds as decimals (epoch microseconds would lose them in doubles).
 * - Regions are `B`/`E` slices on thread tracks laid out by
 *   {@linkcode TrackLayout}: every `B` has its `E` on the same `tid`, nested.
 * - Tasks are nestable async slices (`b`/`e`, category `task`, `id` = task
 *   id); a subtask is linked to its parent by a flow (`bind_id`, `flow_out`
 *   on a `n` instant on the parent's slice, `flow_in` on the child's `b`).
 * - Logs are thread instants (`i`, `s: "t"`) named by category, with the
 *   message in `args`. Tasks open and lost events are counters (`C`).
 *
 * @module
 */

import type { TraceEvent, TraceHeader } from "./decoder.ts";
import {
  type LayoutReport,
  type LayoutSink,
  type SliceEndReason,
  TrackLayout,
} from "./export_layout.ts";

/** Microseconds with up to three decimals, from nanoseconds. */
function us(ns: number): string {
  // Division is correctly rounded, and the shortest round-trip form of the
  // result is the exact decimal: 1234567 ns gives "1234.567".
  return String(ns / 1000);
}

/** Writes Trace Event Format JSON into a string buffer the caller drains. */
class ChromeSink implements LayoutSink {
  out = "";
  events = 0;
  private sep = "[\n";
  private pid = 1;
  private names = new Map<string, string>();

  private q(s: string): string {
    let j = this.names.get(s);
    if (j === undefined) {
      j = JSON.stringify(s);
      if (this.names.size < 100_000) this.names.set(s, j);
    }
    return j;
  }

  private emit(json: string): void {
    this.out += this.sep + json;
    this.sep = ",\n";
    this.events++;
  }

  process(pid: number, header: TraceHeader): void {
    this.pid = pid > 0 ? pid : 1;
    const name = `${header.runtime} ${header.runtimeVersion}${pid > 0 ? ` pid ${pid}` : ""}`;
    this.emit(
      `{"name":"process_name","ph":"M","pid":${this.pid},"tid":0,"args":{"name":${this.q(name)}}}`,
    );
  }

  track(track: number, _thread: number, _slot: number, name: string): void {
    this.emit(
      `{"name":"thread_name","ph":"M","pid":${this.pid},"tid":${track},"args":{"name":${
        JSON.stringify(name)
      }}}`,
    );
    this.emit(
      `{"name":"thread_sort_index","ph":"M","pid":${this.pid},"tid":${track},"args":{"sort_index":${track}}}`,
    );
  }

  sliceBegin(
    track: number,
    time: number,
    type: string,
    task: number,
    region: number,
    continued: boolean,
  ): void {
    this.emit(
      `{"ph":"B","cat":"region","name":${this.q(type)},"ts":${
        us(time)
      },"pid":${this.pid},"tid":${track},"args":{"task":${task},"region":${region}${
        continued ? ',"continued":true' : ""
      }}}`,
    );
  }

  sliceEnd(track: number, time: number, reason: SliceEndReason): void {
    this.emit(
      `{"ph":"E","ts":${us(time)},"pid":${this.pid},"tid":${track}${
        reason === "ended" ? "" : `,"args":{"${reason === "split" ? "split" : "incomplete"}":true}`
      }}`,
    );
  }

  taskBegin(
    task: number,
    parent: number,
    type: string,
    track: number,
    time: number,
    flow: boolean,
  ): void {
    this.emit(
      `{"ph":"b","cat":"task","name":${this.q(type || "(unknown task)")},"id":${task},"ts":${
        us(time)
      },"pid":${this.pid},"tid":${track},"args":{"task":${task},"parent":${parent}}${
        flow ? `,"bind_id":${task},"flow_in":true` : ""
      }}`,
    );
  }

  taskEnd(task: number, type: string, track: number, time: number, incomplete: boolean): void {
    this.emit(
      `{"ph":"e","cat":"task","name":${this.q(type || "(unknown task)")},"id":${task},"ts":${
        us(time)
      },"pid":${this.pid},"tid":${track}${incomplete ? ',"args":{"incomplete":true}' : ""}}`,
    );
  }

  flowOut(
    parent: number,
    parentType: string,
    child: number,
    childType: string,
    track: number,
    time: number,
  ): void {
    // The instant must carry the parent's name and id to land on its track.
    this.emit(
      `{"ph":"n","cat":"task","name":${this.q(parentType)},"id":${parent},"ts":${
        us(time)
      },"pid":${this.pid},"tid":${track},"args":{"newTask":${
        this.q(childType)
      },"child":${child}},"bind_id":${child},"flow_out":true}`,
    );
  }

  log(track: number, time: number, task: number, category: string, message: string): void {
    this.emit(
      `{"ph":"i","s":"t","cat":"log","name":${this.q(category || "log")},"ts":${
        us(time)
      },"pid":${this.pid},"tid":${track},"args":{"task":${task},"message":${
        JSON.stringify(message)
      }}}`,
    );
  }

  tasksOpen(time: number, open: number, track: number): void {
    this.emit(
      `{"ph":"C","name":"tasks","ts":${
        us(time)
      },"pid":${this.pid},"tid":${track},"args":{"open":${open}}}`,
    );
  }

  lost(time: number, count: number, total: number, track: number): void {
    this.emit(
      `{"ph":"C","name":"lost events","ts":${
        us(time)
      },"pid":${this.pid},"tid":${track},"args":{"lost":${total}}}`,
    );
    this.emit(
      `{"ph":"i","s":"p","cat":"lost","name":"events lost","ts":${
        us(time)
      },"pid":${this.pid},"tid":${track},"args":{"count":${count}}}`,
    );
  }

  close(): void {
    this.out += this.sep === "[\n" ? "[\n]\n" : "\n]\n";
  }
}

/**
 * Streams a trace out as Trace Event Format JSON. Feed it every event with
 * `add`; after each chunk of input, `take()` the JSON produced so far and
 * write it; `take()` once more after the `end` event for the tail.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "./decoder.ts";
 * import { ChromeExporter } from "./export_chrome.ts";
 * const x = new ChromeExporter();
 * const d = new TraceDecoder(x.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * await Deno.writeTextFile("trace.json", x.take());
 * ```
 */
export class ChromeExporter {
  private sink = new ChromeSink();
  private layout = new TrackLayout(this.sink);

  /** Takes the next event; the `end` event closes the JSON array. */
  add = (e: TraceEvent): void => {
    this.layout.add(e);
    if (e.kind === "end") this.sink.close();
  };

  /** The JSON written since the last call. */
  take(): string {
    const s = this.sink.out;
    this.sink.out = "";
    return s;
  }

  /** Trace events written so far. */
  get events(): number {
    return this.sink.events;
  }

  /** What the layout repaired; complete after the `end` event. */
  get report(): LayoutReport {
    return this.layout.report;
  }
}
