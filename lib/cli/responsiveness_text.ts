/**
 * The event-loop responsiveness curves (Go's MMU) as lines of `runtrace
 * stats`: one row per thread, one column per window size.
 *
 * @module
 */

import type { ThreadResponsiveness } from "../read/responsiveness.ts";
import { formatDuration } from "../read/duration.ts";
import { table } from "./table.ts";

/** The windows shown in text, ns; `--json` has the whole curve. */
const SHOWN = [1e6, 10e6, 100e6, 1e9, 10e9];

/**
 * Rows for the two-column layout of `runtrace stats`: a heading, then a
 * small table of the minimum share of each window size in which each
 * thread's loop was free ("-": the thread was observed for less than that).
 *
 * @example
 * ```ts
 * import { responsivenessRows } from "./responsiveness_text.ts";
 * import type { ThreadResponsiveness } from "../read/responsiveness.ts";
 * declare const curves: ThreadResponsiveness[];
 * for (const [label, text] of responsivenessRows(curves)) console.log(label, text);
 * ```
 */
export function responsivenessRows(curves: readonly ThreadResponsiveness[]): [string, string][] {
  if (curves.length === 0) return [];
  const lines = table(
    ["window", ...SHOWN.map(formatDuration)],
    curves.map((c) => [
      c.name || `thread ${c.thread}`,
      ...SHOWN.map((w) => {
        const p = c.curve.find((x) => x.window === w);
        return p ? `${Math.floor(p.utilization * 100)}%` : "-";
      }),
    ]),
    ["l", ...SHOWN.map(() => "r" as const)],
  ).split("\n");
  return [
    ["responsiveness", "least share of any window with the event loop free (Go's MMU)"],
    ...lines.map((l): [string, string] => ["", "  " + l]),
  ];
}
