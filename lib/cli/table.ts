/**
 * Text layout for the CLI: aligned columns and histogram bars that fit in
 * 80 columns.
 *
 * @module
 */

import type { HistogramBucket, LatencySummary } from "../read/analysis.ts";
import { formatDuration } from "../read/duration.ts";
import { escapeControls } from "./terminal_text.ts";

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

/** The largest of `values`, 0 if none (a loop: no argument-count limit). */
export function maxOf(values: Iterable<number>): number {
  let m = 0;
  for (const v of values) if (v > m) m = v;
  return m;
}

/**
 * Lays out rows under a header with aligned columns, two spaces apart, and
 * no trailing spaces. Control characters in cells are escapes (cells hold
 * trace strings), and any number of rows fits.
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
  const all: string[][] = [header.map(escapeControls)];
  for (const r of rows) all.push(r.map((cell) => escapeControls(cell ?? "")));
  const widths = header.map(() => 0);
  for (const r of all) {
    for (let c = 0; c < widths.length; c++) {
      const w = width(r[c] ?? "");
      if (w > widths[c]) widths[c] = w;
    }
  }
  const lines: string[] = [];
  for (const r of all) {
    lines.push(
      (indent + r.map((cell, c) => pad(cell, widths[c] ?? 0, align[c] ?? "l")).join("  "))
        .trimEnd(),
    );
  }
  return lines.join("\n");
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
  const wl = maxOf(lo.map(width));
  const wh = maxOf(hi.map(width));
  const counts = buckets.map((b) => String(b.count));
  const wc = maxOf(counts.map(width));
  const most = maxOf(buckets.map((b) => b.count));
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
      `\n${escapeControls(t.type)}: latency of ${t.complete} complete ${noun}${
        t.complete === 1 ? "" : "s"
      }\n` +
        histogramLines(t.latency.histogram).join("\n"),
    );
  }
  return out;
}
