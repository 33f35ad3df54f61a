/**
 * `runtrace logs FILE [--category C] [--task ID] [--grep S]`: the log
 * messages, streamed in file order (time order within each thread).
 *
 * @module
 */

import { type LogFilter, logMatches } from "../read/analysis.ts";
import type { TraceEvent } from "../format/decoder.ts";
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
  let out = json ? "[" : "";
  let shown = 0;
  const onEvent = (e: TraceEvent) => {
    if (e.kind === "thread") threads.set(e.thread, e.name);
    if (e.kind !== "log" || !logMatches(e, filter)) return;
    if (json) {
      out += (shown === 0 ? "\n" : ",\n") + JSON.stringify({
        time: e.time,
        task: e.task,
        thread: e.thread,
        category: e.category,
        message: e.message,
        truncated: e.truncated,
      });
    } else {
      if (shown === 0) out += "        Time   Task  Thread  Category      Message\n";
      const thread = escapeControls(threads.get(e.thread) || String(e.thread));
      out += `${formatTimestamp(e.time).padStart(12)}  ${String(e.task).padStart(5)}  ${
        thread.padEnd(6)
      }  ${escapeControls(e.category).padEnd(12)}  ${escapeControls(e.message)}${
        e.truncated ? " …" : ""
      }\n`;
    }
    shown++;
  };
  const flush = async () => {
    if (out.length === 0) return;
    const s = out;
    out = "";
    await io.stdout.write(s);
  };
  const end = await streamTrace(path, io, onEvent, { afterChunk: flush });
  if (json) out += shown === 0 ? "]\n" : "\n]\n";
  else if (shown === 0) out += "No logs match.\n";
  await flush();
  return await finishCommand(io, path, end);
}
