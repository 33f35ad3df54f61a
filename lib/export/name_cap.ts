/**
 * The longest name an export writes per event. Names (region and task
 * types, log categories, counter and thread names) are strings of the trace,
 * stored once in it however many events use them; a format that repeats the
 * name on every event (Trace Event JSON, OTLP spans, Perfetto's per-task
 * track names) would turn one long name into output that grows with the
 * events, not with the trace. So each exported name is cut to this many
 * UTF-16 units, with a marker saying how much was left out.
 *
 * @module
 */

/** Longest exported name, in UTF-16 units, before the marker. */
export const MAX_NAME = 1024;

/**
 * `name` as exported: itself when at most {@linkcode MAX_NAME} units long,
 * else its first `MAX_NAME` units (not splitting a surrogate pair) and
 * `…[+N chars]`, N the units left out.
 *
 * @example
 * ```ts
 * import { capName } from "./name_cap.ts";
 * capName("db.query"); // "db.query"
 * capName("x".repeat(2000)).length; // 1024 + "…[+976 chars]".length
 * ```
 */
export function capName(name: string, max: number = MAX_NAME): string {
  if (name.length <= max) return name;
  let cut = max;
  const c = name.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return `${name.slice(0, cut)}…[+${name.length - cut} chars]`;
}
