/**
 * Message formatting for `logf`: the verbs of Go's fmt that make sense for
 * JavaScript values, with console.log's habit of appending extra arguments.
 *
 * @module
 */

/**
 * `v` as a string for the trace: a string as it is, anything else through
 * `String(v)`; a value that cannot be converted (a null-prototype object, a
 * revoked proxy, a throwing `toString`) becomes `<runtrace: unprintable
 * object>`, with its `typeof`. Never throws.
 *
 * @example
 * ```ts
 * import { toText } from "./printf.ts";
 * toText(Symbol("s")); // "Symbol(s)"
 * toText(Object.create(null)); // "<runtrace: unprintable object>"
 * ```
 */
export function toText(v: unknown): string {
  if (typeof v === "string") return v;
  try {
    return String(v);
  } catch {
    return `<runtrace: unprintable ${typeof v}>`;
  }
}

/**
 * Formats `args.slice(from)` into `format`. Unknown verbs are kept as
 * written; a missing argument prints as `%!v(MISSING)`, as in Go. It never
 * throws: a value a verb cannot convert prints as `%!d(symbol)` (the verb,
 * then the value's `typeof`).
 *
 * @example
 * ```ts
 * import { formatLog } from "./printf.ts";
 * formatLog("%s took %dms", ["GET", 12.7], 0); // "GET took 12ms"
 * ```
 */
export function formatLog(
  format: string,
  args: readonly unknown[],
  from: number,
): string {
  let out = "";
  let next = from;
  let last = 0;
  for (let i = format.indexOf("%"); i !== -1; i = format.indexOf("%", i)) {
    out += format.slice(last, i);
    const verb = format[i + 1];
    last = i + 2;
    if (verb === "%") {
      out += "%";
    } else if (verb !== undefined && "sdifvjoqx".includes(verb)) {
      out += next < args.length ? safeValue(verb, args[next++]) : `%!${verb}(MISSING)`;
    } else {
      out += "%";
      last = i + 1;
    }
    i = last;
  }
  out += format.slice(last);
  for (; next < args.length; next++) out += " " + safeValue("v", args[next]);
  return out;
}

function safeValue(verb: string, v: unknown): string {
  try {
    return formatValue(verb, v);
  } catch {
    return `%!${verb}(${typeof v})`;
  }
}

function formatValue(verb: string, v: unknown): string {
  switch (verb) {
    case "d":
    case "i":
      return typeof v === "bigint" ? v.toString() : String(Math.trunc(Number(v)));
    case "f":
      return String(Number(v));
    case "x":
      return typeof v === "number" || typeof v === "bigint"
        ? v.toString(16)
        : [...new TextEncoder().encode(String(v))]
          .map((b) => b.toString(16).padStart(2, "0")).join("");
    case "q":
      return JSON.stringify(String(v));
    case "j":
    case "o":
      return safeJson(v);
    default:
      return typeof v === "object" && v !== null && !(v instanceof Error) ? safeJson(v) : String(v);
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => typeof x === "bigint" ? x.toString() : x) ??
      String(v);
  } catch {
    return String(v);
  }
}
