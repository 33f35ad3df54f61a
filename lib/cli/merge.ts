/**
 * `runtrace merge`: several traces into one, on one clock (see lib/read/merge.ts).
 * Its first use is `deno test`, which traces each test module in an isolate
 * of its own: `--parts-of trace.out` gathers `trace.<module>.out` into
 * `trace.out`.
 *
 * @module
 */

import { readdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { mergeTraces } from "../read/merge.ts";
import { parseArgs } from "./flags.ts";
import { CliError, type CliIO, reason } from "./io.ts";

/** Usage line of the command. */
export const MERGE_USAGE = "runtrace merge -o OUT FILE...  or  runtrace merge --parts-of FILE";

/** Runs `runtrace merge`; returns the exit status. */
export async function mergeCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("merge", args, {
    out: { kind: "string", short: "o" },
    "parts-of": { kind: "string" },
  });
  const partsOf = flags["parts-of"] as string | undefined;
  let out = flags.out as string | undefined;
  let inputs: { name: string; path: string }[];
  if (partsOf !== undefined) {
    if (positional.length > 0) {
      throw new CliError(`runtrace merge: give --parts-of or files, not both`, 2);
    }
    inputs = await partsOfTrace(partsOf);
    out ??= partsOf;
  } else {
    if (positional.length === 0) throw new CliError(`usage: ${MERGE_USAGE}`, 2);
    if (out === undefined) throw new CliError("runtrace merge: -o OUT names the merged trace", 2);
    inputs = positional.map((path) => ({ name: basename(path).replace(/\.[^.]*$/, ""), path }));
  }
  const loaded = await Promise.all(inputs.map(async (i) => {
    try {
      return { name: i.name, bytes: new Uint8Array(await readFile(i.path)) };
    } catch (e) {
      throw new CliError(`${i.path}: ${reason(e)}`);
    }
  }));
  let merged;
  try {
    merged = mergeTraces(loaded);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  try {
    await writeFile(out, merged.bytes);
  } catch (e) {
    throw new CliError(`${out}: ${reason(e)}`);
  }
  for (const name of merged.truncated) {
    await io.stderr.write(
      `runtrace: warning: ${name} was truncated; merged up to its last complete batch\n`,
    );
  }
  await io.stderr.write(`runtrace merge: wrote ${out} from ${inputs.length} traces\n`);
  return merged.truncated.length > 0 ? 3 : 0;
}

/** The per-module parts of `path` (`trace.out` → `trace.<module>.out`), named by module. */
async function partsOfTrace(path: string): Promise<{ name: string; path: string }[]> {
  const dir = dirname(path);
  const file = basename(path);
  const dot = file.lastIndexOf(".");
  const stem = dot > 0 ? file.slice(0, dot) : file;
  const ext = dot > 0 ? file.slice(dot) : "";
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new CliError(`${dir}: ${reason(e)}`);
  }
  const parts = names
    .filter((n) => n.startsWith(stem + ".") && n.endsWith(ext) && n !== file)
    .map((n) => ({
      name: n.slice(stem.length + 1, ext ? n.length - ext.length : undefined),
      path: join(dir, n),
    }))
    .filter((p) => p.name.length > 0)
    .sort((a, b) => a.name.localeCompare(b.name));
  if (parts.length === 0) {
    throw new CliError(`runtrace merge: no parts of ${path} (files named ${stem}.<module>${ext})`);
  }
  return parts;
}
