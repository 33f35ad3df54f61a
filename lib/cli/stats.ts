/**
 * `runtrace stats FILE`: the overview of a trace, read as a stream.
 *
 * @module
 */

import { type NameCount, StatsCollector, type TraceStats } from "../analysis.ts";
import { formatDuration } from "../duration.ts";
import { parseArgs, traceArg } from "./flags.ts";
import type { CliIO } from "./io.ts";
import { streamTrace, traceWarnings } from "./read.ts";
import { table } from "./table.ts";

/** Usage line of the command. */
export const STATS_USAGE = "runtrace stats FILE [--json]";

/** Runs `runtrace stats`; returns the exit status. */
export async function statsCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("stats", args, { json: { kind: "boolean" } });
  const path = traceArg("stats", positional);
  const collector = new StatsCollector();
  const end = await streamTrace(path, io, collector.add);
  const stats = collector.result();
  await io.stdout.write(
    flags.json ? JSON.stringify(stats, null, 2) + "\n" : formatStats(path, stats) + "\n",
  );
  const warnings = traceWarnings(path === "-" ? "standard input" : path, {
    truncated: end.truncated,
    lost: end.lost,
    bytes: end.bytes,
  });
  for (const w of warnings) await io.stderr.write(w + "\n");
  return end.truncated ? 3 : 0;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

function names(list: NameCount[], limit = 20): string[][] {
  const rows = list.slice(0, limit).map((n) => ["", "  " + (n.name || '""'), String(n.count)]);
  if (list.length > limit) {
    const rest = list.slice(limit).reduce((s, n) => s + n.count, 0);
    rows.push(["", `  (${list.length - limit} more types)`, String(rest)]);
  }
  return rows;
}

/**
 * The text of `runtrace stats`.
 *
 * @example
 * ```ts
 * import { formatStats } from "./stats.ts";
 * import type { TraceStats } from "../analysis.ts";
 * declare const stats: TraceStats;
 * console.log(formatStats("trace.out", stats));
 * ```
 */
export function formatStats(name: string, s: TraceStats): string {
  const h = s.header;
  const started = Number.isFinite(h.timeOrigin + h.startTime)
    ? new Date(h.timeOrigin + h.startTime).toISOString()
    : "unknown time";
  const k = s.kinds;
  const rows: string[][] = [
    ["recorded", `${h.runtime} ${h.runtimeVersion}, pid ${h.pid}, at ${started}`],
    ["format", `version ${h.version}, clock resolution ${formatDuration(h.resolutionNs)}`],
    ["duration", formatDuration(s.duration)],
    ["size", `${bytes(s.bytes)}`],
    [
      "events",
      `${s.events}: ${k.taskBegin} task begin, ${k.taskEnd} task end, ${k.regionBegin} region begin, ${k.regionEnd} region end, ${k.log} log`,
    ],
    [
      "threads",
      s.threads.map((t) => `${t.id} ${t.name || "(unnamed)"} (${t.events} events)`).join(", ") ||
      "none",
    ],
    ["tasks", `${k.taskBegin} begun, ${k.taskEnd} ended, ${s.openTasks} still open at the end`],
    ...names(s.taskTypes),
    ["regions", `${k.regionBegin} begun, ${s.openRegions} still open at the end`],
    ...names(s.regionTypes),
    [
      "logs",
      `${k.log} in ${s.logCategories.length} ${
        s.logCategories.length === 1 ? "category" : "categories"
      }`,
    ],
    ...names(s.logCategories),
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
  ];
  // Rows of names have three cells; fold them into two for the table.
  const two = rows.map((r) => r.length === 3 ? [r[0], `${r[1]}  ${r[2]}`] : r);
  const nameRows = rows.filter((r) => r.length === 3);
  const wName = Math.max(0, ...nameRows.map((r) => r[1].length));
  const aligned = rows.map((r, i) =>
    r.length === 3 ? [r[0], `${r[1].padEnd(wName)}  ${r[2].padStart(8)}`] : two[i]
  );
  return `${name}\n` + table(["", ""], aligned, ["l", "l"]).split("\n").slice(1).join("\n");
}
