#!/usr/bin/env bun
/**
 * `runtrace`: the analysis tool for runtrace traces, Go's `go tool trace` for
 * the terminal. Run it with `deno run -A cli.ts …`, `bun cli.ts …` or, once
 * installed, `bunx runtrace …`; or call {@linkcode main} from code.
 *
 * ```
 * runtrace stats FILE                  overview: duration, events, threads, types, lost events
 * runtrace tasks FILE [--type T] ...   latency per task type; with --type, each task's timeline
 * runtrace regions FILE [--type T]     latency per region type, split by task type
 * runtrace logs FILE [--category C] [--task ID] [--grep S]
 * runtrace export FILE [-o OUT] [--format chrome|perfetto|otlp|otlp-json|otlp-metrics]
 * runtrace push FILE [--endpoint URL] [--header K=V]...   spans to an OTLP/HTTP receiver
 * runtrace merge -o OUT FILE...        several traces (e.g. per test module) into one
 * runtrace why FILE TASK_ID           one task's story: where its time went, and why (--slowest, --p99)
 * runtrace stalls FILE                 every event-loop stall, its culprit and the tasks it delayed
 * runtrace diff BEFORE AFTER           count and p50/p90/p99 per type, with a significance test
 * runtrace view FILE                   the HTML viewer
 * runtrace --version
 * ```
 *
 * Every command takes `--json`, and `-` for standard input (except `diff`, and `why --slowest/--p99`).
 *
 * @example Run a command from code
 * ```ts
 * import { main } from "./cli.ts";
 * const status = await main(["stats", "trace.out", "--json"]);
 * ```
 *
 * @module
 */

import process from "node:process";
import { isEntryPoint } from "./lib/cli/entry_point.ts";
import { VERSION } from "./lib/cli/version.ts";
import { CliError, type CliIO, type CliOutput, isBrokenPipe, processIO } from "./lib/cli/io.ts";
import { STATS_USAGE, statsCommand } from "./lib/cli/stats.ts";
import { TASKS_USAGE, tasksCommand } from "./lib/cli/tasks.ts";
import { REGIONS_USAGE, regionsCommand } from "./lib/cli/regions.ts";
import { LOGS_USAGE, logsCommand } from "./lib/cli/logs.ts";
import { EXPORT_USAGE, exportCommand } from "./lib/cli/export.ts";
import { MERGE_USAGE, mergeCommand } from "./lib/cli/merge.ts";
import { WHY_USAGE, whyCommand } from "./lib/cli/why.ts";
import { STALLS_USAGE, stallsCommand } from "./lib/cli/stalls.ts";
import { DIFF_USAGE, diffCommand } from "./lib/cli/diff.ts";
import { PUSH_USAGE, pushCommand } from "./lib/cli/push.ts";
import { viewCommand } from "./lib/viewer/command.ts";

export type { CliIO, CliOutput } from "./lib/cli/io.ts";

/**
 * The former name of {@linkcode CliOutput}.
 *
 * @deprecated Use {@linkcode CliOutput}, the same type.
 */
export type Sink = CliOutput;

const USAGE = `runtrace: analyse traces recorded with runtrace (Go's runtime/trace for Deno and Bun)

Usage:
  ${STATS_USAGE}
  ${TASKS_USAGE}
  ${REGIONS_USAGE}
  ${LOGS_USAGE}
  ${EXPORT_USAGE}
  ${PUSH_USAGE}
  ${MERGE_USAGE}
  ${WHY_USAGE}
  ${STALLS_USAGE}
  ${DIFF_USAGE}
  runtrace view FILE [flags]
  runtrace --version

FILE may be - to read standard input. A trace split into parts (start's split) reads as one
trace: give its path, its directory, a part (it and those after it) or the parts.
Durations are written like 500us, 1.5ms, 2s.
Exit status: 0 ok, 1 bad input, 2 bad usage, 3 truncated trace (analysed up to its last batch),
4 a regression (diff --fail-above).
`;

type Command = (args: string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  stats: statsCommand,
  tasks: tasksCommand,
  regions: regionsCommand,
  logs: logsCommand,
  export: exportCommand,
  push: pushCommand,
  merge: mergeCommand,
  why: whyCommand,
  stalls: stallsCommand,
  diff: diffCommand,
  view: (args) => viewCommand(args),
};

/**
 * Runs the CLI with `args` (without the program name) and returns the exit
 * status: 0 ok, 1 bad input, 2 bad usage, 3 a truncated trace (analysed up
 * to its last complete batch), 4 a regression found by `diff --fail-above`.
 * Errors are printed as one line on standard
 * error, never thrown. `io` replaces the standard streams (for tests).
 *
 * @example
 * ```ts
 * import { main } from "./cli.ts";
 * const status = await main(["tasks", "trace.out", "--type", "makeCappuccino"]);
 * ```
 */
export async function main(args: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = args;
  try {
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
      await (name === undefined ? io.stderr : io.stdout).write(USAGE);
      return name === undefined ? 2 : 0;
    }
    if (name === "--version" || name === "version" || name === "-v") {
      await io.stdout.write(`runtrace ${VERSION}\n`);
      return 0;
    }
    const command = COMMANDS[name];
    if (!command) {
      throw new CliError(
        `unknown command "${name}": use one of ${Object.keys(COMMANDS).join(", ")} (runtrace help)`,
        2,
      );
    }
    // The viewer documents its own flags.
    if (name !== "view" && (rest.includes("--help") || rest.includes("-h"))) {
      await io.stdout.write(USAGE);
      return 0;
    }
    return await command(rest, io);
  } catch (e) {
    if (isBrokenPipe(e)) return 0;
    const message = e instanceof CliError
      ? e.message
      : `internal error: ${String((e as Error)?.message ?? e).split("\n")[0]}`;
    try {
      await io.stderr.write(`runtrace: ${message}\n`);
    } catch {
      // Nowhere left to report to.
    }
    return e instanceof CliError ? e.status : 1;
  }
}

if (isEntryPoint(import.meta)) {
  const status = await main(process.argv.slice(2));
  process.exitCode = status;
}
