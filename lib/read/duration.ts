/**
 * Durations for people: `1.25ms` out, `1.5ms` / `200us` / `1m30s` in. Times
 * in traces are nanoseconds, so both directions work in nanoseconds.
 *
 * @module
 */

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3,
  "μs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Formats nanoseconds with three significant digits and the largest unit
 * that keeps the number at 1 or more: `850ns`, `12.3µs`, `1.25ms`, `2.50s`.
 * Durations of a minute or more print as `2m03s`; negative ones get a `-`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./duration.ts";
 * formatDuration(1_250_000); // "1.25ms"
 * formatDuration(999); // "999ns"
 * ```
 */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns < 0) return "-" + formatDuration(-ns);
  if (ns < 1e3) return `${Math.round(ns)}ns`;
  if (ns >= 60e9) {
    const totalS = Math.round(ns / 1e9);
    const h = Math.floor(totalS / 3600);
    const m = Math.floor((totalS % 3600) / 60);
    const s = totalS % 60;
    const ss = String(s).padStart(2, "0");
    return h > 0 ? `${h}h${String(m).padStart(2, "0")}m${ss}s` : `${m}m${ss}s`;
  }
  const [div, unit] = ns < 1e6 ? [1e3, "µs"] : ns < 1e9 ? [1e6, "ms"] : [1e9, "s"];
  const v = ns / div;
  // Three significant digits; rounding can carry into the next unit (999.96µs).
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  const text = v.toFixed(digits);
  if (Number(text) >= 1000 && unit !== "s") return formatDuration(Number(text) * div);
  return text + unit;
}

/**
 * Parses a duration written as Go's `time.ParseDuration` accepts it: one or
 * more decimal numbers with units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`,
 * such as `1.5ms` or `1m30s`. A bare `0` is allowed. Returns nanoseconds;
 * throws a `RangeError` naming the input if it is not a duration.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * parseDuration("1.5ms"); // 1500000
 * parseDuration("1m30s"); // 90000000000
 * ```
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === "0") return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    part.lastIndex = at;
    const m = part.exec(s);
    if (!m) break;
    total += Number(m[1]) * UNITS[m[2]];
    at = part.lastIndex;
  }
  if (at !== s.length || s.length === 0) {
    throw new RangeError(
      `invalid duration "${text}": use a number with a unit, such as 500us, 1.5ms, 2s or 1m30s`,
    );
  }
  return Math.round(total);
}

/**
 * Formats a time since the trace start, ns, as milliseconds with microsecond
 * precision (`56.436ms`), so that times in a column compare at a glance and
 * keep their order, unlike {@linkcode formatDuration}'s three digits.
 *
 * @example
 * ```ts
 * import { formatTimestamp } from "./duration.ts";
 * formatTimestamp(56_436_123); // "56.436ms"
 * ```
 */
export function formatTimestamp(ns: number): string {
  // Whole microseconds by integer arithmetic (toFixed is slow, and a log
  // listing calls this per line); a tie at half a microsecond, or a time
  // beyond exact integers, goes to toFixed, whose rounding this must equal.
  if (ns >= 0 && ns < 9e15 && ns % 1000 !== 500 && Math.floor(ns) === ns) {
    const us = Math.round(ns / 1000);
    const frac = us % 1000;
    return `${(us - frac) / 1000}.${frac < 10 ? "00" : frac < 100 ? "0" : ""}${frac}ms`;
  }
  return `${(ns / 1e6).toFixed(3)}ms`;
}
