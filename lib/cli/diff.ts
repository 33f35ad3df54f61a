/**
 * `runtrace diff BEFORE AFTER [--fail-above P%] [--alpha A] [--json]`: per
 * task type and region type, the count and p50 / p90 / p99 before and
 * after, their change, and a Mann-Whitney U test of the shift (see
 * lib/read/compare.ts for the method and its error). With `--fail-above`,
 * the exit status is 4 when a type got significantly slower and one of its
 * percentiles rose by more than the threshold: a regression gate for CI.
 * Each trace is streamed once.
 *
 * @module
 */

import {
  compareDurations,
  type SideSummary,
  type TypeDiff,
  TypeDurations,
} from "../read/compare.ts";
import { parseArgs } from "./flags.ts";
import { CliError, type CliIO } from "./io.ts";
import { finishCommand, streamTrace } from "./read.ts";
import { dur, table } from "./table.ts";
import { oneLine } from "./tasks.ts";
import { terminalSafe } from "./terminal_text.ts";

/** Usage line of the command. */
export const DIFF_USAGE =
  "runtrace diff BEFORE AFTER [--fail-above P%] [--alpha A] [--json]   exit 4: a regression";

/** Exit status of `runtrace diff --fail-above` when it finds a regression. */
export const REGRESSION_STATUS = 4;

/** Runs `runtrace diff`; returns the exit status. */
export async function diffCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("diff", args, {
    "fail-above": { kind: "string" },
    alpha: { kind: "string" },
    json: { kind: "boolean" },
  });
  if (positional.length !== 2) {
    throw new CliError(`"runtrace diff" takes two trace files, before and after`, 2);
  }
  const threshold = flags["fail-above"] === undefined
    ? undefined
    : parsePercent(flags["fail-above"] as string);
  const alpha = flags.alpha === undefined ? 0.01 : Number(flags.alpha);
  if (!(alpha > 0 && alpha < 1)) {
    throw new CliError(`flag --alpha needs a probability between 0 and 1, not "${flags.alpha}"`, 2);
  }
  const [beforePath, afterPath] = positional;
  if (beforePath === "-" && afterPath === "-") {
    throw new CliError(`"runtrace diff" can read one trace from standard input, not both`, 2);
  }
  const before = new TypeDurations();
  const beforeEnd = await streamTrace(beforePath, io, before.add, { visitor: before.visitor });
  const after = new TypeDurations();
  const afterEnd = await streamTrace(afterPath, io, after.add, { visitor: after.visitor });
  const rows = compareDurations(before, after);
  const regressions = threshold === undefined
    ? []
    : rows.filter((r) => regressed(r, threshold, alpha));
  await io.stdout.write(
    (flags.json
      ? JSON.stringify(
        {
          before: beforePath,
          after: afterPath,
          alpha,
          threshold,
          rows,
          regressions: regressions.map((r) => ({ kind: r.kind, type: r.type })),
        },
        null,
        2,
      )
      : terminalSafe(formatDiff(beforePath, afterPath, rows, alpha))) + "\n",
  );
  for (const r of regressions) {
    await io.stderr.write(
      `runtrace: regression: ${r.kind} ${oneLine(r.type)} is slower (p ${pValue(r.test!.p)}): ${
        worstChange(r)
      }, above --fail-above ${Math.round(threshold! * 1000) / 10}%\n`,
    );
  }
  const a = await finishCommand(io, beforePath, beforeEnd);
  const b = await finishCommand(io, afterPath, afterEnd);
  if (regressions.length > 0) return REGRESSION_STATUS;
  return Math.max(a, b);
}

/** `10%`, `10` or `0.5%` as a fraction. */
function parsePercent(text: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text);
  if (!m) throw new CliError(`flag --fail-above needs a percentage such as 10%, not "${text}"`, 2);
  return Number(m[1]) / 100;
}

/** Significantly slower, and a percentile rose by more than `threshold`. */
function regressed(r: TypeDiff, threshold: number, alpha: number): boolean {
  if (!r.test || r.test.p >= alpha || r.test.superiority <= 0.5) return false;
  return Math.max(r.change.p50, r.change.p90, r.change.p99) > threshold;
}

function worstChange(r: TypeDiff): string {
  const k = (["p50", "p90", "p99"] as const).reduce((a, b) => r.change[b] > r.change[a] ? b : a);
  return `${k} ${dur(r.before![k])} → ${dur(r.after![k])} (${signed(r.change[k])})`;
}

function signed(x: number): string {
  if (Number.isNaN(x)) return "";
  const v = Math.round(x * 1000) / 10;
  return `${v > 0 ? "+" : ""}${v.toFixed(1)}%`;
}

function pValue(p: number): string {
  return p < 0.001 ? "< 0.001" : `= ${p.toFixed(3)}`;
}

/** The shift column: direction and p-value, or why there is none. */
function shift(r: TypeDiff, alpha: number): string {
  if (!r.before) return "new";
  if (!r.after) return "gone";
  const t = r.test!;
  if (r.before.count < 10 || r.after.count < 10) return `too few to test (p ${pValue(t.p)})`;
  if (t.p >= alpha) return `no significant shift (p ${pValue(t.p)})`;
  return `${t.superiority > 0.5 ? "slower" : "faster"} (p ${pValue(t.p)})`;
}

function cell(a: SideSummary | undefined, b: SideSummary | undefined, k: "p50" | "p90" | "p99") {
  const change = a && b ? "  " + signed((b[k] - a[k]) / a[k]) : "";
  return `${dur(a?.[k])} → ${dur(b?.[k])}${change}`;
}

/** The text of `runtrace diff`. */
function formatDiff(
  beforePath: string,
  afterPath: string,
  rows: readonly TypeDiff[],
  alpha: number,
): string {
  const parts = [
    `runtrace diff: ${beforePath} → ${afterPath}`,
    `Complete tasks and regions. Percentiles from log histograms: within ±1.2%.`,
    `Shift: two-sided Mann-Whitney U test of the durations, significant below p = ${alpha}.`,
  ];
  for (const kind of ["task", "region"] as const) {
    const list = rows.filter((r) => r.kind === kind);
    if (list.length === 0) continue;
    parts.push(
      "",
      table(
        [kind === "task" ? "Task type" : "Region type", "Count", "p50", "p90", "p99", "Shift"],
        list.map((r) => [
          oneLine(r.type),
          `${r.before?.count ?? 0} → ${r.after?.count ?? 0}`,
          cell(r.before, r.after, "p50"),
          cell(r.before, r.after, "p90"),
          cell(r.before, r.after, "p99"),
          shift(r, alpha),
        ]),
        ["l", "r", "r", "r", "r", "l"],
      ),
    );
  }
  return parts.join("\n");
}
