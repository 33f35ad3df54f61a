/**
 * `runtrace stalls FILE [--victims N] [--json]`: every event-loop stall with
 * its culprit (the region running at its midpoint, and that region's task)
 * and the tasks it delayed: how many, and their total delay. One streamed
 * pass; memory holds the stalls and their victims, not the trace.
 *
 * @module
 */

import { DelayAnalyzer, type StallCause } from "../read/delay.ts";
import { formatDuration, formatTimestamp } from "../read/duration.ts";
import { culprit, threadName } from "./delay_text.ts";
import { parseArgs, traceArg } from "./flags.ts";
import type { CliIO } from "./io.ts";
import { finishCommand, streamTrace } from "./read.ts";
import { dur, table } from "./table.ts";
import { oneLine } from "./tasks.ts";
import { terminalSafe } from "./terminal_text.ts";

/** Usage line of the command. */
export const STALLS_USAGE = "runtrace stalls FILE [--victims N] [--json]";

/** Runs `runtrace stalls`; returns the exit status. */
export async function stallsCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("stalls", args, {
    victims: { kind: "integer" },
    json: { kind: "boolean" },
  });
  const path = traceArg("stalls", positional);
  // Only the stalls stay: tasks are dropped as they settle, unattributed if no stall delayed them.
  const analyzer = new DelayAnalyzer({ onTask: () => {}, want: "stalls" });
  const threads = new Map<number, string>();
  const end = await streamTrace(path, io, (e) => {
    if (e.kind === "thread") threads.set(e.thread, e.name);
    analyzer.add(e);
  }, { visitor: analyzer.visitor });
  const stalls = analyzer.result().stalls;
  for (const s of stalls) s.victims.sort((a, b) => b.delay - a.delay || a.task - b.task);
  const out = flags.json
    ? JSON.stringify({ stalls, threads: Object.fromEntries(threads) }, null, 2)
    : terminalSafe(formatStalls(stalls, threads, (flags.victims as number | undefined) ?? 20));
  await io.stdout.write(out + "\n");
  return await finishCommand(io, path, end);
}

/** The text of `runtrace stalls`: a table, then each stall's victims (at most `limit`). */
function formatStalls(
  stalls: readonly StallCause[],
  threads: ReadonlyMap<number, string>,
  limit: number,
): string {
  if (stalls.length === 0) {
    return "No stalls: no event loop was blocked past the recorder's threshold (50ms by default).";
  }
  const total = stalls.reduce((n, s) => n + s.duration, 0);
  const parts = [
    `${stalls.length} stall${stalls.length === 1 ? "" : "s"}, ${
      formatDuration(total)
    } in all. Each is charged to the region running at its midpoint; its victims are\nthe other tasks of its thread alive during it.`,
    "",
    table(
      ["When", "Thread", "Duration", "Cause", "Delayed", "Total delay"],
      stalls.map((s) => [
        formatTimestamp(s.start),
        threadName(threads, s.thread),
        dur(s.duration),
        culprit(s),
        String(s.victims.length),
        dur(s.totalDelay),
      ]),
      ["r", "l", "r", "l", "r", "r"],
    ),
  ];
  for (const s of stalls) {
    if (s.victims.length === 0) continue;
    parts.push(
      "",
      `Stall at ${formatTimestamp(s.start)} on ${threadName(threads, s.thread)}, ${
        dur(s.duration)
      } in ${culprit(s)}: delayed ${s.victims.length} task${s.victims.length === 1 ? "" : "s"}`,
    );
    const shown = s.victims.slice(0, limit);
    parts.push(
      table(
        ["Task", "Type", "Delay"],
        shown.map((v) => [String(v.task), oneLine(v.type) || "(unknown)", dur(v.delay)]),
        ["r", "l", "r"],
        "  ",
      ),
    );
    if (s.victims.length > shown.length) {
      parts.push(`  (${s.victims.length - shown.length} more: --victims N shows more)`);
    }
  }
  return parts.join("\n");
}
