/**
 * Reading a trace for a command: streams the input through the decoder,
 * turning format errors into one-line CLI errors and showing progress; and
 * the end every such command shares (warnings, exit status).
 *
 * @module
 */

import {
  type EndEvent,
  type EventVisitor,
  TraceDecoder,
  type TraceEvent,
  TraceFormatError,
} from "../format/decoder.ts";
import { type Trace, TraceBuilder } from "../read/trace_model.ts";
import { describeWindowEdges } from "../read/region_nesting.ts";
import { CliError, type CliIO, openTrace, Progress, traceName } from "./io.ts";

/** Options of {@linkcode streamTrace}. */
export interface StreamOptions {
  /** Word for the progress line: `reading`, `exporting`. */
  label?: string;
  /** Called after each chunk is decoded, to flush output with backpressure. */
  afterChunk?: () => Promise<void>;
  /** The decoder's fast path: the kinds it has a method for skip `onEvent`. */
  visitor?: EventVisitor;
}

/**
 * Decodes the trace at `path` (`-` for standard input), calling `onEvent`
 * for every event, in memory bounded by the largest batch. Returns the
 * `end` event, which says whether the trace was truncated.
 */
export async function streamTrace(
  path: string,
  io: CliIO,
  onEvent: (e: TraceEvent) => void,
  options: StreamOptions = {},
): Promise<EndEvent> {
  const input = await openTrace(path, io);
  const decoder = new TraceDecoder(onEvent, options.visitor);
  const progress = new Progress(io, options.label ?? "reading", input.size);
  let done = 0;
  try {
    for await (const chunk of input.chunks) {
      decoder.push(chunk);
      done += chunk.length;
      if (options.afterChunk) await options.afterChunk();
      await progress.update(done);
    }
    return decoder.finish();
  } catch (e) {
    if (e instanceof TraceFormatError) {
      throw new CliError(`${input.name}: ${e.message.replace(/^runtrace: /, "")}`);
    }
    throw e;
  } finally {
    await progress.done();
  }
}

/**
 * Reads the whole trace at `path` into the {@linkcode Trace} model; `also`
 * sees every event too (a streamed analysis made in the same pass).
 */
export async function loadTrace(
  path: string,
  io: CliIO,
  also?: (e: TraceEvent) => void,
): Promise<{ trace: Trace; end: EndEvent }> {
  const b = new TraceBuilder();
  const end = await streamTrace(path, io, also ? (e) => (b.add(e), also(e)) : b.add);
  return { trace: b.result(), end };
}

/** The warnings a command prints to standard error about an imperfect trace. */
export function traceWarnings(
  name: string,
  t: { truncated: boolean; lost: number; bytes?: number },
): string[] {
  const out: string[] = [];
  if (t.truncated) {
    out.push(
      `runtrace: warning: ${name} is truncated${
        t.bytes !== undefined ? ` after ${t.bytes} bytes` : ""
      }: analysed up to its last complete batch`,
    );
  }
  if (t.lost > 0) {
    out.push(
      `runtrace: warning: the recorder lost ${t.lost} events: figures from ${name} are incomplete`,
    );
  }
  return out;
}

/**
 * The end of every command that read a trace: writes `notes`, then the
 * warnings about an imperfect trace (truncated, events lost), to standard
 * error, and returns the exit status: 3 for a truncated trace, else 0.
 */
export async function finishCommand(
  io: CliIO,
  path: string,
  end: EndEvent,
  notes: readonly string[] = [],
): Promise<number> {
  const name = traceName(path);
  for (const line of [...notes, ...traceWarnings(name, end)]) await io.stderr.write(line + "\n");
  return end.truncated ? 3 : 0;
}

/**
 * Notes about a loaded trace: the misuse it shows (a region ended twice, or
 * out of order within its async chain), then what the edges of the recorded
 * window cut (not misuse: said so, so that nobody hunts a bug there).
 */
export function problemNotes(
  t: Pick<Trace, "problems" | "window"> & { problemCount?: number },
): string[] {
  const out: string[] = [];
  const count = t.problemCount ?? t.problems.length;
  if (count > 0) {
    const more = count > 1 ? ` (and ${count - 1} more)` : "";
    out.push(`runtrace: note: the trace shows misuse: ${t.problems[0]}${more}`);
  }
  const edges = describeWindowEdges(t.window);
  if (edges !== undefined) {
    out.push(`runtrace: note: ${edges} (cut by the edges of the recorded window)`);
  }
  return out;
}
