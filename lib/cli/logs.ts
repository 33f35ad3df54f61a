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
  /** Escaped and padded cells by thread and by category: few distinct, many lines. */
  const threadCells = new Map<number, string>();
  const categoryCells = new Map<string, string>();
  let out = json ? "[" : "";
  let shown = 0;
  const utf8 = new TextDecoder("utf-8", { fatal: false });
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
      let th = threadCells.get(thread);
      if (th === undefined) {
        threadCells.set(
          thread,
          th = escapeControls(threads.get(thread) || String(thread)).padEnd(6),
        );
      }
      let cat = categoryCells.get(category);
      if (cat === undefined) categoryCells.set(category, cat = escapeControls(category).padEnd(12));
      out += `${formatTimestamp(time).padStart(12)}  ${String(task).padStart(5)}  ${th}  ${cat}  ${
        escapeControls(message)
      }${truncated ? " …" : ""}\n`;
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
    log(time, thread, task, category, bytes, start, end, truncated) {
      line(time, thread, task, category, utf8.decode(bytes.subarray(start, end)), truncated);
    },
  };
  const flush = async () => {
    if (out.length === 0) return;
    const s = out;
    out = "";
    await io.stdout.write(s);
  };
  const end = await streamTrace(path, io, onEvent, { afterChunk: flush, visitor });
  if (json) out += shown === 0 ? "]\n" : "\n]\n";
  else if (shown === 0) out += "No logs match.\n";
  await flush();
  return await finishCommand(io, path, end);
}
