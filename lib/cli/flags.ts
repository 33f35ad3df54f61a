/**
 * Command-line flags for the CLI: `--name value`, `--name=value`, boolean
 * `--json`, short aliases (`-o`), and `-` as a positional argument (standard
 * input). Unknown flags and missing values are usage errors.
 *
 * @module
 */

import { parseDuration } from "../read/duration.ts";
import { CliError, PART_LIST_SEPARATOR } from "./io.ts";

/** What a flag takes. */
export type FlagKind = "boolean" | "string" | "duration" | "integer";

/** One flag a command accepts. */
export interface FlagSpec {
  kind: FlagKind;
  /** One-letter alias, without the dash. */
  short?: string;
  /** Allowed values of a string flag. */
  choices?: readonly string[];
  /** The flag may be given again and again: its value is the list of them. */
  repeat?: boolean;
}

/** Parsed flags and positional arguments. */
export interface ParsedArgs {
  flags: Record<string, string | number | boolean | (string | number)[] | undefined>;
  positional: string[];
}

/**
 * Parses `args` for `command` against `spec`. Throws a {@linkcode CliError}
 * with status 2 naming the offending flag.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./flags.ts";
 * parseArgs("tasks", ["t.out", "--min=1ms"], { min: { kind: "duration" } });
 * // { flags: { min: 1000000 }, positional: ["t.out"] }
 * ```
 */
export function parseArgs(
  command: string,
  args: readonly string[],
  spec: Record<string, FlagSpec>,
): ParsedArgs {
  const flags: ParsedArgs["flags"] = {};
  const positional: string[] = [];
  const shorts = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) if (s.short) shorts.set(s.short, name);
  let onlyPositional = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (onlyPositional || arg === "-" || !arg.startsWith("-")) {
      positional.push(arg);
      continue;
    }
    if (arg === "--") {
      onlyPositional = true;
      continue;
    }
    let name: string;
    let value: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      value = eq === -1 ? undefined : arg.slice(eq + 1);
    } else {
      const long = shorts.get(arg.slice(1, 2));
      if (!long) throw unknown(command, arg, spec);
      name = long;
      value = arg.length > 2 ? arg.slice(2).replace(/^=/, "") : undefined;
    }
    const s = spec[name];
    if (!s) throw unknown(command, arg, spec);
    if (s.kind === "boolean") {
      if (value !== undefined) {
        throw new CliError(`flag --${name} of "runtrace ${command}" takes no value`, 2);
      }
      flags[name] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= args.length) {
        throw new CliError(`flag --${name} of "runtrace ${command}" needs a value`, 2);
      }
      value = args[++i];
    }
    const v = convert(command, name, s, value);
    if (s.repeat) ((flags[name] ??= []) as (string | number)[]).push(v);
    else flags[name] = v;
  }
  return { flags, positional };
}

function convert(command: string, name: string, s: FlagSpec, value: string): string | number {
  switch (s.kind) {
    case "duration":
      try {
        return parseDuration(value);
      } catch (e) {
        throw new CliError(`flag --${name}: ${(e as Error).message}`, 2);
      }
    case "integer": {
      if (!/^\d+$/.test(value)) {
        throw new CliError(
          `flag --${name} of "runtrace ${command}" needs a whole number, not "${value}"`,
          2,
        );
      }
      return Number(value);
    }
    default:
      if (s.choices && !s.choices.includes(value)) {
        throw new CliError(
          `flag --${name} must be one of ${s.choices.join(", ")}, not "${value}"`,
          2,
        );
      }
      return value;
  }
}

function unknown(command: string, arg: string, spec: Record<string, FlagSpec>): CliError {
  const known = Object.keys(spec).map((k) => `--${k}`).join(", ");
  return new CliError(
    `unknown flag ${arg} for "runtrace ${command}" (it takes ${known})`,
    2,
  );
}

/**
 * The trace argument of a command: one file, or the parts of one split trace
 * (a shell glob such as `trace.out.*`), joined by `PART_LIST_SEPARATOR` for
 * `openTrace` to read as one. Throws a usage error if it is missing.
 */
export function traceArg(command: string, positional: readonly string[]): string {
  if (positional.length === 0) {
    throw new CliError(`"runtrace ${command}" needs a trace file (or - for standard input)`, 2);
  }
  if (positional.length > 1 && positional.includes("-")) {
    throw new CliError(
      `"runtrace ${command}" takes one trace file, got ${positional.length}: ${
        positional.join(" ")
      }`,
      2,
    );
  }
  return positional.join(PART_LIST_SEPARATOR);
}
