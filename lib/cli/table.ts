/**
 * Text layout for the CLI: aligned columns and histogram bars that fit in
 * 80 columns.
 *
 * @module
 */

import type { HistogramBucket, LatencySummary } from "../read/analysis.ts";
import { formatDuration } from "../read/duration.ts";

/** Column alignment: `l`eft or `r`ight. */
export type Align = "l" | "r";

/** Display width of a string: code points, which is right for our output. */
export function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, w: number, align: Align): string {
  const fill = " ".repeat(Math.max(0, w - width(s)));
  return align === "r" ? fill + s : s + fill;
}

/**
 * Lays out rows under a header with aligned columns, two spaces apart, and
 * no trailing spaces.
 *
 * @example
 * ```ts
 * import { table } from "./table.ts";
 * table(["Type", "Count"], [["a", "1"], ["bb", "22"]], ["l", "r"]);
 * // "Type  Count\na         1\nbb       22"
 * ```
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[],
  indent = "",
): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => width(r[c] ?? ""))));
  return all
    .map((r) => indent + r.map((cell, c) => pad(cell ?? "", widths[c], align[c] ?? "l")).join("  "))
    .map((line) => line.trimEnd())
    .join("\n");
}

/** `formatDuration`, or `-` when there is no value. */
export function dur(ns: number | undefined): string {
  return ns === undefined || Number.isNaN(ns) ? "-" : formatDuration(ns);
}

/** The p50 / p90 / p99 / max cells of a latency summary. */
export function latencyCells(l: LatencySummary | undefined): string[] {
  return [dur(l?.p50), dur(l?.p90), dur(l?.p99), dur(l?.max)];
}

/**
 * Draws a latency histogram: one line per bucket, `[start, end)` then a bar
 * scaled to the fullest bucket and the count, within `columns` columns.
 *
 * @example
 * ```ts
 * import { histogramLines } from "./table.ts";
 * histogramLines([{ bucket: 30, start: 1e6, end: 1584894, count: 3 }]);
 * // ["  1.00ms ≤ d < 1.58ms  ████████████████████████████████████████ 3"]
 * ```
 */
export function histogramLines(
  buckets: readonly HistogramBucket[],
  indent = "  ",
  columns = 80,
): string[] {
  if (buckets.length === 0) return [];
  const lo = buckets.map((b) => formatDuration(b.start));
  const hi = buckets.map((b) => formatDuration(b.end));
  const wl = Math.max(...lo.map(width));
  const wh = Math.max(...hi.map(width));
  const counts = buckets.map((b) => String(b.count));
  const wc = Math.max(...counts.map(width));
  const most = Math.max(...buckets.map((b) => b.count));
  const label = (i: number) => `${pad(lo[i], wl, "r")} ≤ d < ${pad(hi[i], wh, "l")}`;
  const room = columns - width(indent) - width(label(0)) - 2 - 1 - wc;
  const barMax = Math.max(10, Math.min(40, room));
  return buckets.map((b, i) => {
    // Eighth blocks give the bars sub-character resolution.
    const eighths = most === 0 ? 0 : Math.round((b.count / most) * barMax * 8);
    const full = Math.floor(eighths / 8);
    const part = eighths % 8;
    let bar = "█".repeat(full) + (part > 0 ? "▏▎▍▌▋▊▉"[part - 1] : "");
    if (b.count > 0 && bar === "") bar = "▏";
    return `${indent}${label(i)}  ${pad(bar, barMax, "l")} ${pad(counts[i], wc, "r")}`;
  });
}

/**
 * One section per type that has complete instances: a title line
 * (`\nT: latency of N complete tasks`) and its histogram, as `runtrace tasks`
 * and `runtrace regions` print them under their tables.
 *
 * @example
 * ```ts
 * import { latencySections } from "./table.ts";
 * latencySections([{ type: "render", complete: 0 }], "task"); // []: nothing complete
 * ```
 */
export function latencySections(
  types: readonly { type: string; complete: number; latency?: LatencySummary }[],
  noun: "task" | "region",
): string[] {
  const out: string[] = [];
  for (const t of types) {
    if (!t.latency) continue;
    out.push(
      `\n${t.type}: latency of ${t.complete} complete ${noun}${t.complete === 1 ? "" : "s"}\n` +
        histogramLines(t.latency.histogram).join("\n"),
    );
  }
  return out;
}
