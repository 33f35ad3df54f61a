/**
 * `runtrace tasks FILE [--type T] [--min D] [--max D] [--log-text S]`: Go's
 * "User-defined tasks" page in a terminal.
 *
 * @module
 */

import {
  type TaskFilter,
  type TaskInstance,
  taskTimeline,
  taskTypeOf,
  type TaskTypeSummary,
  type TimelineEntry,
} from "../read/analysis.ts";
import { DelayAnalyzer, type TaskDelay } from "../read/delay.ts";
import { bucketDelayTable, delayByBucket, delayLine } from "./delay_text.ts";
import { taskDelaysCsv, taskTypesCsv } from "./csv.ts";
import type { Trace } from "../read/trace_model.ts";
import { parseArgs, traceArg } from "./flags.ts";
import { type CliIO, stdinRereadable, withRereadableStdin } from "./io.ts";
import { finishCommand, problemNotes, streamTrace } from "./read.ts";
import {
  SummaryCollector,
  type TaskSpanRecord,
  TasksWithLogText,
} from "../read/streaming_summary.ts";
import { SelectedTasks } from "../read/task_instances.ts";
import { dur, latencyCells, latencySections, table } from "./table.ts";
import { formatTimestamp } from "../read/duration.ts";
import { escapeControls, terminalSafe } from "./terminal_text.ts";

/** Usage line of the command. */
export const TASKS_USAGE =
  "runtrace tasks FILE [--type T] [--min D] [--max D] [--log-text S] [--json | --csv]";

/** Runs `runtrace tasks`; returns the exit status. */
export async function tasksCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("tasks", args, {
    type: { kind: "string" },
    min: { kind: "duration" },
    max: { kind: "duration" },
    "log-text": { kind: "string" },
    json: { kind: "boolean" },
    csv: { kind: "boolean" },
  });
  const path = traceArg("tasks", positional);
  const filter: TaskFilter = {
    type: flags.type as string | undefined,
    min: flags.min as number | undefined,
    max: flags.max as number | undefined,
    logText: flags["log-text"] as string | undefined,
  };
  const format: OutputFormat = flags.csv ? "csv" : flags.json ? "json" : "text";
  // Standard input cannot be read twice; a copy of it in a temporary file can.
  const twice = filter.type !== undefined || filter.logText !== undefined;
  if (twice && path === "-" && !stdinRereadable(io)) {
    return await withRereadableStdin(io, (again) => tasksCommand(args, again));
  }
  // With --log-text, a first pass finds the tasks with a matching log (a log
  // may come after its task ended, too late for the summary pass).
  let logMatches: Set<number> | undefined;
  if (filter.logText !== undefined) {
    const m = new TasksWithLogText(filter.logText);
    await streamTrace(path, io, m.add, { visitor: m });
    logMatches = m.ids;
  }
  // The rows, and which tasks to list (streamed, bounded memory).
  const c = new SummaryCollector({
    tasks: filter,
    instances: filter.type !== undefined,
    logMatches,
    rows: "tasks",
  });
  const end = await streamTrace(path, io, c.add, { visitor: c });
  const summary = c.result();
  let trace: TraceFacts = { truncated: end.truncated, lost: end.lost };
  let instances: TaskInstance[] | undefined;
  const delays = new Map<number, TaskDelay>();
  if (filter.type !== undefined) {
    // Second pass: the listed tasks whole, and where their time went.
    const spans = summary.instances;
    const ids = new Set(spans.map((s) => s.id));
    const pick = new SelectedTasks(ids);
    // Only the listed tasks' delays are kept: memory follows the output.
    const analyzer = new DelayAnalyzer({ onTask: (d) => ids.has(d.id) && delays.set(d.id, d) });
    await streamTrace(path, io, (e) => (pick.add(e), analyzer.add(e)));
    const sub = pick.result();
    trace = sub;
    // Slowest first; Array.prototype.sort is stable, so ties keep trace order.
    instances = spans.map((s) => ({ task: sub.task(s.id)!, ...spanOf(s) }))
      .sort((a, b) => b.duration - a.duration);
  }
  await io.stdout.write(
    tasksOutput(format, trace, filter, summary.taskTypes, instances, delays),
  );
  return await finishCommand(io, path, end, problemNotes(summary));
}

type OutputFormat = "text" | "json" | "csv";

/** The command's output in `format`. */
function tasksOutput(
  format: OutputFormat,
  trace: TraceFacts,
  filter: TaskFilter,
  types: readonly TaskTypeSummary[],
  instances: readonly TaskInstance[] | undefined,
  delays: ReadonlyMap<number, TaskDelay>,
): string {
  switch (format) {
    case "csv":
      // The instances with --type (where their time went), else the type table.
      return instances
        ? taskDelaysCsv(instances.flatMap((i) => delays.get(i.task.id) ?? []))
        : taskTypesCsv(types);
    case "json":
      return JSON.stringify(tasksJson(trace, filter, types, instances, delays), null, 2) + "\n";
    case "text":
      return terminalSafe(formatTasks(trace, filter, types, instances, delays)) + "\n";
  }
}

/** A task instance's span fields, in the order the model's instances have them. */
function spanOf(s: TaskSpanRecord) {
  return { start: s.start, end: s.end, duration: s.duration, complete: s.complete };
}

/**
 * What the output needs of the trace: the model of the listed tasks when
 * there are instances, else only whether it was complete.
 */
export type TraceFacts = Trace | Pick<Trace, "truncated" | "lost">;

/** The table of task types, with Go's columns. */
export function taskTypeTable(types: readonly TaskTypeSummary[]): string {
  return table(
    ["Task type", "Count", "Complete", "Incomplete", "p50", "p90", "p99", "max"],
    types.map((t) => [
      t.type,
      String(t.count),
      String(t.complete),
      String(t.incomplete),
      ...latencyCells(t.latency),
    ]),
    ["l", "r", "r", "r", "r", "r", "r", "r"],
  );
}

function describeFilter(f: TaskFilter): string {
  const parts: string[] = [];
  if (f.type !== undefined) parts.push(`of type ${escapeControls(f.type)}`);
  if (f.min !== undefined) parts.push(`taking at least ${dur(f.min)}`);
  if (f.max !== undefined) parts.push(`taking at most ${dur(f.max)}`);
  if (f.logText !== undefined) parts.push(`with a log containing ${JSON.stringify(f.logText)}`);
  return parts.join(", ");
}

/** The text of `runtrace tasks`. */
export function formatTasks(
  trace: TraceFacts,
  filter: TaskFilter,
  types: readonly TaskTypeSummary[],
  instances: readonly TaskInstance[] | undefined,
  delays: ReadonlyMap<number, TaskDelay> = new Map(),
): string {
  const desc = describeFilter(filter);
  if (types.length === 0) {
    return desc ? `No tasks match (${desc}).` : "The trace has no tasks.";
  }
  const parts: string[] = [];
  if (desc) parts.push(`Tasks ${desc}:`);
  parts.push(taskTypeTable(types));
  for (const s of latencySections(types, "task")) parts.push(s);
  const mine = (instances ?? []).flatMap((i) => delays.get(i.task.id) ?? []);
  if (mine.some((d) => d.complete)) {
    parts.push(
      `\n${
        escapeControls(filter.type ?? "")
      }: where the time went, by latency bucket (shares of each bucket's time)`,
      bucketDelayTable(delayByBucket(mine)),
    );
  }
  if (instances) {
    parts.push(`\n${instances.length} task${instances.length === 1 ? "" : "s"}, slowest first:`);
    for (const inst of instances) {
      parts.push("\n" + formatInstance(trace as Trace, inst, delays.get(inst.task.id)));
    }
  }
  return parts.join("\n");
}

function threadNames(trace: Trace): Map<number, string> {
  return new Map(trace.threads.map((t) => [t.id, t.name]));
}

function eventText(e: TimelineEntry): [string, string] {
  switch (e.kind) {
    case "region": {
      const r = e.region;
      const d = r.end === undefined ? "still running at the end" : dur(r.end - r.start);
      return [String(r.thread), `region ${r.type} (${d})`];
    }
    case "log": {
      const l = e.log;
      return [
        String(l.thread),
        `log ${l.category}: ${oneLine(l.message)}${l.truncated ? " …" : ""}`,
      ];
    }
    case "subtask": {
      const t = e.task;
      const d = t.end === undefined ? "still running at the end" : dur(t.end - (t.start ?? 0));
      return ["", `subtask ${t.id} ${taskTypeOf(t)} (${d})`];
    }
  }
}

/** Control characters shown escaped, so that one log stays one line. */
export function oneLine(s: string): string {
  return escapeControls(s);
}

/** One task instance: its header line and its timeline, like Go's task page. */
export function formatInstance(trace: Trace, inst: TaskInstance, delay?: TaskDelay): string {
  const t = inst.task;
  const names = threadNames(trace);
  const thread = (id: string) => id === "" ? "" : names.get(Number(id)) || id;
  const state = inst.complete
    ? dur(inst.duration)
    : `${dur(inst.duration)}+ (${
      t.start === undefined ? "began before the trace" : "still running at the end"
    })`;
  const head = `task ${t.id} ${escapeControls(taskTypeOf(t))}  ${state}  parent ${
    t.parent === 0 ? "none" : t.parent
  }${delay ? "\n  " + delayLine(delay) : ""}`;
  const rows: string[][] = [];
  // With `stacks: true` recorded, each event is followed by where it was called.
  const at = (stack?: string[]) => {
    if (stack?.length) rows.push(["", "", "", `  at ${stack[0].replace("file://", "")}`]);
  };
  if (t.start !== undefined) {
    rows.push([formatTimestamp(t.start), "0ns", "", "task begin"]);
    at(t.stack);
  }
  for (const e of taskTimeline(trace, t)) {
    const [th, text] = eventText(e);
    rows.push([formatTimestamp(e.time), dur(e.time - inst.start), thread(th), text]);
    at(e.kind === "region" ? e.region.stack : e.kind === "log" ? e.log.stack : undefined);
  }
  if (t.end !== undefined) {
    rows.push([formatTimestamp(t.end), dur(t.end - inst.start), "", "task end"]);
  }
  return head + "\n" +
    table(["When", "Elapsed", "Thread", "Event"], rows, ["r", "r", "l", "l"], "  ");
}

/** The `--json` document of `runtrace tasks`. */
export function tasksJson(
  trace: TraceFacts,
  filter: TaskFilter,
  types: readonly TaskTypeSummary[],
  instances: readonly TaskInstance[] | undefined,
  delays: ReadonlyMap<number, TaskDelay> = new Map(),
): unknown {
  const delayOf = (id: number) => {
    const d = delays.get(id);
    return d && {
      inRegions: d.inRegions,
      blocked: d.blocked,
      gc: d.gc,
      waiting: d.waiting,
      blockedBy: d.blockedBy.map((b) => ({
        delay: b.delay,
        stall: { ...b.stall, victims: b.stall.victims.length },
      })),
    };
  };
  const mine = (instances ?? []).flatMap((i) => delays.get(i.task.id) ?? []);
  return {
    filter,
    types,
    delayByBucket: instances ? delayByBucket(mine) : undefined,
    instances: instances?.map((i) => ({
      id: i.task.id,
      type: taskTypeOf(i.task),
      parent: i.task.parent,
      start: i.start,
      end: i.end,
      duration: i.duration,
      complete: i.complete,
      delay: delayOf(i.task.id),
      timeline: taskTimeline(trace as Trace, i.task).map((e) =>
        e.kind === "region"
          ? { kind: e.kind, time: e.time, ...e.region }
          : e.kind === "log"
          ? { kind: e.kind, ...e.log }
          : {
            kind: e.kind,
            time: e.time,
            id: e.task.id,
            type: taskTypeOf(e.task),
            end: e.task.end,
          }
      ),
    })),
    truncated: trace.truncated,
    lost: trace.lost,
  };
}
