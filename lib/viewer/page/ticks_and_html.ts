/**
 * Small formatting helpers of the viewer page: time-axis ticks and HTML
 * escaping. Durations use lib/read/duration.ts, like the CLI.
 *
 * @module
 */

/**
 * The tick step, in ns, for a time axis that shows `span` ns over `px`
 * pixels with ticks at least `minPx` apart: 1, 2 or 5 times a power of ten.
 *
 * @example
 * ```ts
 * import { tickStep } from "./ticks_and_html.ts";
 * tickStep(1e6, 1000, 80); // 100000 (a tick every 100µs)
 * ```
 */
export function tickStep(span: number, px: number, minPx: number): number {
  const raw = span * minPx / Math.max(1, px);
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  for (const m of [1, 2, 5, 10]) if (p * m >= raw) return Math.max(1, p * m);
  return Math.max(1, p * 10);
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for use inside HTML.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./ticks_and_html.ts";
 * escapeHtml("<b>"); // "&lt;b&gt;"
 * ```
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}
