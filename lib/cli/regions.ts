/**
 * `runtrace regions FILE [--type T]`: latency per region type, split by the
 * type of the task each region belongs to.
 *
 * @module
 */

import { BACKGROUND, type RegionTypeSummary } from "../read/analysis.ts";
import type { RegionRecord } from "../read/trace_model.ts";
import { parseArgs, traceArg } from "./flags.ts";
import { type CliIO, stdinRereadable, withRereadableStdin } from "./io.ts";
import { finishCommand, problemNotes, streamTrace } from "./read.ts";
import { SummaryCollector } from "../read/streaming_summary.ts";
import { RegionList } from "../read/region_instances.ts";
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
  const type = flags.type as string | undefined;
  const json = flags.json === true;
  // Standard input cannot be read twice; a copy of it in a temporary file can.
  if (type !== undefined && path === "-" && !flags.csv && !stdinRereadable(io)) {
    return await withRereadableStdin(io, (again) => regionsCommand(args, again));
  }
  // First pass: the rows (streamed, bounded memory).
  const c = new SummaryCollector({ regions: { type }, rows: "regions" });
  const end = await streamTrace(path, io, c.add, { visitor: c });
  const summary = c.result();
  if (flags.csv) {
    await io.stdout.write(regionTypesCsv(summary.regionTypes));
    return await finishCommand(io, path, end, problemNotes(summary));
  }
  let list: RegionList | undefined;
  if (type !== undefined) {
    // Second pass: the regions of the type, the slowest kept (all with --json).
    list = new RegionList(type, json ? Infinity : SHOWN_INSTANCES);
    await streamTrace(path, io, list.add, { visitor: list });
  }
  const view: RegionsView = {
    threads: list?.threads ?? new Map(),
    taskType: (r) => r.task === 0 ? BACKGROUND : summary.taskType(r.task),
  };
  const out = json
    ? JSON.stringify(regionsJson(view, summary.regionTypes, type, list?.slowest(), end), null, 2)
    : terminalSafe(formatRegions(view, summary.regionTypes, type, list?.slowest(), list?.count));
  await io.stdout.write(out + "\n");
  return await finishCommand(io, path, end, problemNotes(summary));
}

/** What the output needs to name a region's thread and task type. */
export interface RegionsView {
  threads: ReadonlyMap<number, string>;
  taskType: (r: RegionRecord) => string;
}

/** The `--json` document of `runtrace regions`. */
function regionsJson(
  view: RegionsView,
  types: readonly RegionTypeSummary[],
  type: string | undefined,
  instances: readonly RegionRecord[] | undefined,
  end: { truncated: boolean; lost: number },
): unknown {
  return {
    filter: { type },
    types,
    instances: instances?.map((r) => ({
      ...r,
      taskType: view.taskType(r),
      duration: r.end === undefined ? undefined : r.end - r.start,
    })),
    truncated: end.truncated,
    lost: end.lost,
  };
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
  view: RegionsView,
  types: readonly RegionTypeSummary[],
  type: string | undefined,
  shown: readonly RegionRecord[] | undefined,
  count = shown?.length ?? 0,
): string {
  if (types.length === 0) {
    return type === undefined
      ? "The trace has no regions."
      : `No regions of type ${escapeControls(type)}.`;
  }
  const parts = [regionTypeTable(types)];
  for (const s of latencySections(types, "region")) parts.push(s);
  if (shown) {
    const names = view.threads;
    parts.push(
      `\n${count} region${count === 1 ? "" : "s"} of type ${
        escapeControls(type ?? "")
      }, slowest first${
        count > shown.length ? ` (the first ${shown.length}; --json lists all)` : ""
      }:`,
    );
    parts.push(
      table(
        ["Start", "Duration", "Task", "Task type", "Thread", "Region"],
        shown.map((r) => [
          formatTimestamp(r.start),
          r.end === undefined ? "still running at the end" : dur(r.end - r.start),
          String(r.task),
          view.taskType(r),
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
