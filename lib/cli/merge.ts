/**
 * `runtrace merge`: several traces into one, on one clock (see lib/read/merge.ts),
 * read and written as streams. Its first use is `deno test`, which traces each
 * test module in an isolate of its own: `--parts-of trace.out` gathers
 * `trace.<module>.out` into `trace.out`. Given the parts of one split trace
 * (`start`'s `split`), it joins them into one file.
 *
 * @module
 */

import { readdir, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { TraceDecoder } from "../format/decoder.ts";
import { mergeTraceStreams } from "../read/merge.ts";
import { parseArgs } from "./flags.ts";
import {
  CliError,
  type CliIO,
  type CliOutput,
  fileOutput,
  openTrace,
  PART_LIST_SEPARATOR as SEP,
  reason,
  resolveParts,
} from "./io.ts";

/** Usage line of the command. */
export const MERGE_USAGE =
  "runtrace merge -o OUT FILE...  or  runtrace merge --parts-of FILE  (a split trace's parts: joined)";

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
  // Resolved before the output is made: it may take the name of the parts' recording.
  // Files named like parts that are not (traces of their own) are merged as traces.
  const parts = partsOfOne(positional, partsOf)
    ? await resolveParts(positional.join(SEP)).catch(() => undefined)
    : undefined;
  const sources = parts ? [] : await Promise.all(inputs.map(async (i) => {
    const listed = await resolveParts(i.path);
    return { name: i.name, path: listed ? listed.join(SEP) : i.path, parts: listed };
  }));
  for (const path of parts ?? sources.flatMap((x) => x.parts ?? [x.path])) {
    if (path === out) {
      throw new CliError(`runtrace merge: ${out} is an input: name another output`, 2);
    }
  }
  const file = await fileOutput(out);
  let truncated: string[];
  try {
    truncated = parts
      ? await writeJoinedParts(parts.join(SEP), file, io)
      : (await mergeTraceStreams(
        sources.map((x) => ({ name: x.name, open: () => chunksOf(x.path, io) })),
        (b) => file.write(b),
      )).truncated;
  } catch (e) {
    // No half-written output is left to be taken for a trace.
    await file.close();
    await rm(out, { force: true });
    if (e instanceof CliError) throw e;
    throw new CliError((e as Error).message);
  }
  await file.close();
  for (const name of truncated) {
    await io.stderr.write(
      `runtrace: warning: ${name} was truncated; merged up to its last complete batch\n`,
    );
  }
  const what = parts ? `the ${parts.length} parts of one trace` : `${inputs.length} traces`;
  await io.stderr.write(`runtrace merge: wrote ${out} from ${what}\n`);
  return truncated.length > 0 ? 3 : 0;
}

/**
 * Whether the inputs are one split trace (its path, a directory, or its
 * parts): then merging is joining its parts, on the recording's own clock.
 */
function partsOfOne(positional: readonly string[], partsOf: string | undefined): boolean {
  if (partsOf !== undefined || positional.length === 0) return false;
  if (positional.length === 1) return true;
  return positional.every((p) => /\.\d{3,}$/.test(p));
}

/**
 * Copies the parts of one split trace named by `path` (see `resolveParts`),
 * joined into one trace, to `file`, checking them as it goes; returns the
 * name of the input if it was truncated (the copy then ends at its last
 * complete batch), else nothing. Throws a {@linkcode CliError} for a part
 * that is not a trace.
 *
 * @example
 * ```ts
 * import { writeJoinedParts } from "./merge.ts";
 * import { fileOutput, processIO } from "./io.ts";
 * const out = await fileOutput("whole.trace");
 * await writeJoinedParts("service.trace", out, processIO());
 * await out.close();
 * ```
 */
export async function writeJoinedParts(
  path: string,
  file: CliOutput,
  io: CliIO,
): Promise<string[]> {
  let end;
  const d = new TraceDecoder(() => {});
  const input = await openTrace(path, io);
  for await (const chunk of input.chunks) {
    d.push(chunk);
    await file.write(chunk);
  }
  try {
    end = d.finish();
  } catch (e) {
    throw new CliError(`${input.name}: ${(e as Error).message.replace(/^runtrace: /, "")}`);
  }
  return end.truncated ? [input.name] : [];
}

/** The chunks of the trace at `path` (a file or a split trace's parts), for one pass. */
async function* chunksOf(path: string, io: CliIO): AsyncGenerator<Uint8Array> {
  yield* (await openTrace(path, io)).chunks;
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
