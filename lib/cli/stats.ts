/**
 * `runtrace stats FILE`: the overview of a trace, read as a stream.
 *
 * @module
 */

import { type NameCount, StatsCollector, type TraceStats } from "../read/analysis.ts";
import { formatDuration } from "../read/duration.ts";
import { parseArgs, traceArg } from "./flags.ts";
import { type CliIO, traceName } from "./io.ts";
import { finishCommand, streamTrace } from "./read.ts";
import { maxOf, table, width } from "./table.ts";
import { escapeControls, terminalSafe } from "./terminal_text.ts";
import { ResponsivenessCollector, type ThreadResponsiveness } from "../read/responsiveness.ts";
import { responsivenessRows } from "./responsiveness_text.ts";

/** Usage line of the command. */
export const STATS_USAGE = "runtrace stats FILE [--json]";

/** Runs `runtrace stats`; returns the exit status. */
export async function statsCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("stats", args, { json: { kind: "boolean" } });
  const path = traceArg("stats", positional);
  const collector = new StatsCollector();
  const loops = new ResponsivenessCollector();
  const a = collector.visitor, b = loops.visitor;
  const end = await streamTrace(path, io, (e) => {
    collector.add(e);
    loops.add(e);
  }, {
    // Both collectors' fast paths in one: no event object for the frequent kinds.
    visitor: {
      taskBegin(time, thread, task, parent, type, stack) {
        a.taskBegin(time, thread, task, parent, type, stack);
      },
      taskEnd(time, thread, task) {
        a.taskEnd(time, thread, task);
      },
      regionBegin(time, thread, region, task, type, parent, lane, stack) {
        a.regionBegin(time, thread, region, task, type, parent, lane, stack);
        b.regionBegin(time, thread, region, task, type, parent, lane, stack);
      },
      regionEnd(time, thread, region) {
        a.regionEnd(time, thread, region);
        b.regionEnd(time, thread, region);
      },
      log(time, thread, task, category, bytes, start, end, truncated, stack) {
        a.log(time, thread, task, category, bytes, start, end, truncated, stack);
        b.log(time, thread, task, category, bytes, start, end, truncated, stack);
      },
    },
  });
  const stats = collector.result();
  const responsiveness = loops.result();
  await io.stdout.write(
    flags.json
      ? JSON.stringify({ ...stats, responsiveness }, null, 2) + "\n"
      : terminalSafe(formatStats(traceName(path), stats, responsiveness)) + "\n",
  );
  return await finishCommand(io, path, end);
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

/** Rows of names and counts under a heading row, the counts aligned. */
function names(list: NameCount[], limit = 20): [string, string][] {
  const shown = list.slice(0, limit).map((n) => [
    n.name === "" ? '""' : escapeControls(n.name),
    String(n.count),
  ]);
  if (list.length > limit) {
    const rest = list.slice(limit).reduce((s, n) => s + n.count, 0);
    shown.push([`(${list.length - limit} more)`, String(rest)]);
  }
  const wName = maxOf(shown.map(([n]) => width(n)));
  const wCount = maxOf(shown.map(([, c]) => c.length));
  return shown.map((
    [n, c],
  ) => ["", `  ${n}${" ".repeat(wName - width(n))}  ${c.padStart(wCount)}`]);
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * The text of `runtrace stats`.
 *
 * @example
 * ```ts
 * import { formatStats } from "./stats.ts";
 * import type { TraceStats } from "../read/analysis.ts";
 * declare const stats: TraceStats;
 * console.log(formatStats("trace.out", stats));
 * ```
 */
export function formatStats(
  name: string,
  s: TraceStats,
  responsiveness: readonly ThreadResponsiveness[] = [],
): string {
  const h = s.header;
  const started = Number.isFinite(h.timeOrigin + h.startTime)
    ? new Date(h.timeOrigin + h.startTime).toISOString()
    : "unknown time";
  const k = s.kinds;
  const kinds = [
    `${k.taskBegin} task begin`,
    `${k.taskEnd} task end`,
    `${k.regionBegin} region begin`,
    `${k.regionEnd} region end`,
    `${k.log} log`,
  ];
  if (k.counter + k.stall + k.gc > 0) {
    kinds.push(`${k.counter} counter`, `${k.stall} stall`, `${k.gc} gc`);
  }
  if (k.lost > 0) kinds.push(`${k.lost} lost`);
  const rows: [string, string][] = [
    ["recorded", `${h.runtime} ${h.runtimeVersion}, pid ${h.pid}, at ${started}`],
    ["format", `version ${h.version}, clock resolution ${formatDuration(h.resolutionNs)}`],
    ["duration", formatDuration(s.duration)],
    ["size", bytes(s.bytes)],
    ["events", `${s.events}: ${kinds.join(", ")}`],
    [
      "threads",
      s.threads.map((t) => `${t.id} ${t.name || "(unnamed)"} (${t.events} events)`).join(", ") ||
      "none",
    ],
    ["tasks", `${k.taskBegin} begun, ${k.taskEnd} ended, ${s.openTasks} still open at the end`],
    ...names(s.taskTypes),
    ["regions", `${k.regionBegin} begun, ${s.openRegions} still open at the end`],
    ...names(s.regionTypes),
    ["logs", `${k.log} in ${plural(s.logCategories.length, "category", "categories")}`],
    ...names(s.logCategories),
  ];
  if (k.counter + k.stall + k.gc > 0) {
    const st = s.stalls;
    const gc = s.gcs;
    rows.push(
      [
        "stalls",
        st.count === 0
          ? "0"
          : `${st.count}, ${formatDuration(st.total)} in all, longest ${
            formatDuration(st.longest)
          }`,
      ],
      [
        "GC",
        gc.count === 0
          ? "0"
          : `${gc.count} (${gc.inferred} inferred), ${formatDuration(gc.total)}, ${
            bytes(gc.freed)
          } freed`,
      ],
      ...responsivenessRows(responsiveness),
      ["counters", plural(k.counter, "sample", "samples")],
      ...names(s.counters),
    );
  }
  rows.push(
    [
      "lost events",
      s.lost > 0
        ? `${s.lost} EVENTS LOST: the recorder's buffer overflowed, figures are incomplete`
        : "0",
    ],
    [
      "truncated",
      s.truncated ? "YES: the trace was cut short, read up to its last complete batch" : "no",
    ],
  );
  return `${name}\n` + table(["", ""], rows, ["l", "l"]).split("\n").slice(1).join("\n");
}
