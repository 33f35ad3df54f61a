/**
 * `runtrace regions FILE [--type T]`: latency per region type, split by the
 * type of the task each region belongs to.
 *
 * @module
 */

import {
  regionTaskType,
  type RegionTypeSummary,
  summarizeRegionTypes,
  taskTypeOf,
} from "../read/analysis.ts";
import type { RegionRecord, Trace } from "../read/trace_model.ts";
import { parseArgs, traceArg } from "./flags.ts";
import type { CliIO } from "./io.ts";
import { finishCommand, loadTrace, problemNotes } from "./read.ts";
import { dur, latencyCells, latencySections, table } from "./table.ts";
import { formatTimestamp } from "../read/duration.ts";
import { escapeControls, terminalSafe } from "./terminal_text.ts";
import { regionTypesCsv } from "./csv.ts";

/** Usage line of the command. */
export const REGIONS_USAGE = "runtrace regions FILE [--type T] [--json | --csv]";

/** Instances listed by `--type` in text output; `--json` lists all. */
const SHOWN_INSTANCES = 20;

/** Runs `runtrace regions`; returns the exit status. */
export async function regionsCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("regions", args, {
    type: { kind: "string" },
    json: { kind: "boolean" },
    csv: { kind: "boolean" },
  });
  const path = traceArg("regions", positional);
  const { trace, end } = await loadTrace(path, io);
  const type = flags.type as string | undefined;
  const types = summarizeRegionTypes(trace, { type });
  const instances = type === undefined ? undefined : regionsByDuration(trace, type);
  if (flags.csv) {
    await io.stdout.write(regionTypesCsv(types));
    return await finishCommand(io, path, end, problemNotes(trace));
  }
  const out = flags.json
    ? JSON.stringify(
      {
        filter: { type },
        types,
        instances: instances?.map((r) => ({
          ...r,
          taskType: regionTaskType(trace, r),
          duration: r.end === undefined ? undefined : r.end - r.start,
        })),
        truncated: trace.truncated,
        lost: trace.lost,
      },
      null,
      2,
    )
    : terminalSafe(formatRegions(trace, types, type, instances));
  await io.stdout.write(out + "\n");
  return await finishCommand(io, path, end, problemNotes(trace));
}

/** Regions of `type`, slowest first; regions not ended come last. */
function regionsByDuration(trace: Trace, type: string): RegionRecord[] {
  const d = (r: RegionRecord) => r.end === undefined ? -1 : r.end - r.start;
  return trace.regions.filter((r) => r.type === type).sort((a, b) => d(b) - d(a));
}

/** The table of region types, each followed by its split by task type. */
export function regionTypeTable(types: readonly RegionTypeSummary[]): string {
  const rows: string[][] = [];
  for (const r of types) {
    rows.push([
      r.type,
      String(r.count),
      String(r.complete),
      String(r.incomplete),
      ...latencyCells(r.latency),
    ]);
    for (const s of r.byTaskType) {
      rows.push([
        `  in ${s.taskType}`,
        String(s.count),
        String(s.complete),
        String(s.incomplete),
        ...latencyCells(s.latency),
      ]);
    }
  }
  return table(
    ["Region type / task type", "Count", "Complete", "Incomplete", "p50", "p90", "p99", "max"],
    rows,
    ["l", "r", "r", "r", "r", "r", "r", "r"],
  );
}

/** The text of `runtrace regions`. */
export function formatRegions(
  trace: Trace,
  types: readonly RegionTypeSummary[],
  type: string | undefined,
  instances: readonly RegionRecord[] | undefined,
): string {
  if (types.length === 0) {
    return type === undefined
      ? "The trace has no regions."
      : `No regions of type ${escapeControls(type)}.`;
  }
  const parts = [regionTypeTable(types)];
  for (const s of latencySections(types, "region")) parts.push(s);
  if (instances) {
    const names = new Map(trace.threads.map((t) => [t.id, t.name]));
    const shown = instances.slice(0, SHOWN_INSTANCES);
    parts.push(
      `\n${instances.length} region${instances.length === 1 ? "" : "s"} of type ${
        escapeControls(type ?? "")
      }, slowest first${
        instances.length > shown.length ? ` (the first ${shown.length}; --json lists all)` : ""
      }:`,
    );
    parts.push(
      table(
        ["Start", "Duration", "Task", "Task type", "Thread", "Region"],
        shown.map((r) => [
          formatTimestamp(r.start),
          r.end === undefined ? "still running at the end" : dur(r.end - r.start),
          String(r.task),
          r.task === 0 ? "(background)" : taskTypeOf(trace.task(r.task)),
          names.get(r.thread) || String(r.thread),
          String(r.id),
        ]),
        ["r", "r", "r", "l", "l", "r"],
        "  ",
      ),
    );
  }
  return parts.join("\n");
}
