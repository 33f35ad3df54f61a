/**
 * `runtrace logs FILE [--category C] [--task ID] [--grep S]`: the log
 * messages, streamed in file order (time order within each thread).
 *
 * @module
 */

import { type LogFilter, logMatches } from "../read/analysis.ts";
import type { EventVisitor, TraceEvent } from "../format/decoder.ts";
import { formatTimestamp } from "../read/duration.ts";
import { parseArgs, traceArg } from "./flags.ts";
import type { CliIO } from "./io.ts";
import { finishCommand, streamTrace } from "./read.ts";
import { escapeControls } from "./terminal_text.ts";
import { LogLines } from "./log_lines.ts";

/** Usage line of the command. */
export const LOGS_USAGE = "runtrace logs FILE [--category C] [--task ID] [--grep S] [--json]";

/** Runs `runtrace logs`; returns the exit status. */
export async function logsCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("logs", args, {
    category: { kind: "string" },
    task: { kind: "integer" },
    grep: { kind: "string" },
    json: { kind: "boolean" },
  });
  const path = traceArg("logs", positional);
  const filter: LogFilter = {
    category: flags.category as string | undefined,
    task: flags.task as number | undefined,
    grep: flags.grep as string | undefined,
  };
  const json = flags.json === true;
  const threads = new Map<number, string>();
  /** Escaped and padded cells by thread and by category, as UTF-8: few distinct, many lines. */
  const threadCells = new Map<number, Uint8Array>();
  const categoryCells = new Map<string, Uint8Array>();
  let out = json ? "[" : "";
  let shown = 0;
  const utf8 = new TextDecoder("utf-8", { fatal: false });
  const utf8e = new TextEncoder();
  const lines = new LogLines();
  // The text lines need the message as a string only to grep it.
  const bytesPath = !json && filter.grep === undefined;
  const textLine: EventVisitor["log"] = (time, thread, task, category, bytes, start, end, cut) => {
    if (filter.category !== undefined && category !== filter.category) return;
    if (filter.task !== undefined && task !== filter.task) return;
    if (shown === 0) lines.text("        Time   Task  Thread  Category      Message\n");
    let th = threadCells.get(thread);
    if (th === undefined) {
      th = utf8e.encode(escapeControls(threads.get(thread) || String(thread)).padEnd(6));
      threadCells.set(thread, th);
    }
    let cat = categoryCells.get(category);
    if (cat === undefined) {
      cat = utf8e.encode(escapeControls(category).padEnd(12));
      if (categoryCells.size < 4096) categoryCells.set(category, cat);
    }
    lines.line(time, task, th, cat, bytes, start, end, cut);
    shown++;
  };
  const line = (
    time: number,
    thread: number,
    task: number,
    category: string,
    message: string,
    truncated: boolean,
  ) => {
    if (!logMatches({ task, category, message }, filter)) return;
    if (json) {
      out += (shown === 0 ? "\n" : ",\n") +
        JSON.stringify({ time, task, thread, category, message, truncated });
    } else {
      if (shown === 0) out += "        Time   Task  Thread  Category      Message\n";
      out += `${formatTimestamp(time).padStart(12)}  ${String(task).padStart(5)}  ${
        escapeControls(threads.get(thread) || String(thread)).padEnd(6)
      }  ${escapeControls(category).padEnd(12)}  ${escapeControls(message)}${
        truncated ? " …" : ""
      }\n`;
    }
    shown++;
  };
  const onEvent = (e: TraceEvent) => {
    if (e.kind === "thread") {
      threads.set(e.thread, e.name);
      threadCells.delete(e.thread);
    }
  };
  const none = () => {};
  // Only logs are printed: the decoder's fast path skips every other event's object.
  const visitor: EventVisitor = {
    taskBegin: none,
    taskEnd: none,
    regionBegin: none,
    regionEnd: none,
    log: bytesPath ? textLine : (time, thread, task, category, bytes, start, end, truncated) => {
      line(time, thread, task, category, utf8.decode(bytes.subarray(start, end)), truncated);
    },
  };
  // One write in flight while the next chunk is formatted, as `export` does:
  // `takeView` reuses the memory of the view before, so that write must be done first.
  let pending: Promise<void> | undefined;
  const flush = async () => {
    if (pending) await pending;
    pending = undefined;
    if (out.length > 0) {
      lines.text(out);
      out = "";
    }
    const chunk = lines.takeView();
    if (chunk.length === 0) return;
    pending = io.stdout.write(chunk);
    // Awaited at the next flush; until then, not an unhandled rejection.
    pending.catch(() => {});
  };
  const end = await streamTrace(path, io, onEvent, { afterChunk: flush, visitor });
  if (json) out += shown === 0 ? "]\n" : "\n]\n";
  else if (shown === 0) out += "No logs match.\n";
  await flush();
  await pending;
  return await finishCommand(io, path, end);
}
