/**
 * The CLI's input and output: trace bytes in chunks from a file or standard
 * input, text and bytes out through outputs that tests can replace, and the
 * one-line errors the commands report.
 *
 * @module
 */

import { mkdtemp, open, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { TraceDecoder } from "../format/decoder.ts";
import { PartJoiner, PartsError } from "../read/part_joiner.ts";

/** Where the CLI writes: standard output, standard error or a file, with backpressure. */
export interface CliOutput {
  /** Writes `chunk`; the promise resolves when the output can take more. */
  write(chunk: Uint8Array | string): Promise<void>;
  /**
   * How many writes may be in flight at once: started before the earlier
   * ones end, still landing in the order they were started. 1 if absent.
   */
  readonly maxInFlight?: number;
}

/** The CLI's surroundings; tests pass their own to capture output. */
export interface CliIO {
  /** Where results go. */
  stdout: CliOutput;
  /** Where errors, warnings and progress go. */
  stderr: CliOutput;
  /** Standard input as chunks, for the `-` file name. */
  stdin: () => AsyncIterable<Uint8Array>;
  /** Standard error is a terminal (progress is shown only then). */
  stderrIsTTY: boolean;
  /** Standard output is a terminal (binary output is refused then). */
  stdoutIsTTY?: boolean;
}

/** A failure the user must see as one line, with the exit status to use. */
export class CliError extends Error {
  /** Exit status: 1 for bad input, 2 for bad usage. */
  readonly status: number;

  /** Makes an error; `message` is printed after `runtrace: `. */
  constructor(message: string, status = 1) {
    super(message);
    this.name = "CliError";
    this.status = status;
  }
}

const utf8 = new TextEncoder();

/** Whether an error means the reader went away (`runtrace … | head`). */
export function isBrokenPipe(e: unknown): boolean {
  const err = e as { code?: string; name?: string };
  return err?.code === "EPIPE" || err?.name === "BrokenPipe";
}

/** A file opened with Deno's own API: the parts the CLI uses. */
interface DenoFile {
  read(b: Uint8Array): Promise<number | null>;
  write(b: Uint8Array): Promise<number>;
  stat(): Promise<{ isDirectory: boolean; size: number }>;
  close(): void;
}

/** The parts of the `Deno` namespace the CLI uses, where Deno is the runtime. */
interface DenoApi {
  stdout: { write(b: Uint8Array): Promise<number> };
  stderr: { write(b: Uint8Array): Promise<number> };
  stdin: { readable: ReadableStream<Uint8Array> };
  open(
    path: string,
    options: { read?: boolean; write?: boolean; create?: boolean; truncate?: boolean },
  ): Promise<DenoFile>;
}

/** The `Deno` namespace, or undefined in another runtime. */
function denoApi(): Partial<DenoApi> | undefined {
  return (globalThis as { Deno?: Partial<DenoApi> }).Deno;
}

function denoStd(fd: 1 | 2): CliOutput | undefined {
  const D = denoApi();
  if (!D?.stdout?.write || !D.stderr) return undefined;
  const f = fd === 1 ? D.stdout : D.stderr;
  return {
    async write(chunk) {
      let b = typeof chunk === "string" ? utf8.encode(chunk) : chunk;
      while (b.length > 0) b = b.subarray(await f.write(b));
    },
  };
}

function nodeStd(fd: 1 | 2): CliOutput {
  const s = fd === 1 ? process.stdout : process.stderr;
  // A permanent listener: a reader that goes away (EPIPE) must not become an
  // uncaught error event; the next write reports it instead.
  let failed: unknown;
  let fail: ((e: unknown) => void) | undefined;
  s.on("error", (e: unknown) => {
    failed = e;
    fail?.(e);
  });
  return {
    write(chunk) {
      return new Promise((resolve, reject) => {
        if (failed !== undefined) return reject(failed);
        fail = reject;
        // Resolve once written and, if the buffer filled, drained; the
        // callback may run before write() returns (Bun), hence the flags.
        let written = false;
        let drained = true;
        const ok = s.write(chunk, (e?: Error | null) => {
          if (e) return reject(e);
          written = true;
          if (drained) resolve();
        });
        if (!ok) {
          drained = false;
          s.once("drain", () => {
            drained = true;
            if (written) resolve();
          });
        }
      });
    },
  };
}

async function* stdinChunks(): AsyncGenerator<Uint8Array> {
  const g = globalThis as {
    Deno?: Partial<DenoApi>;
    Bun?: { stdin?: { stream?(): ReadableStream<Uint8Array> } };
  };
  if (g.Deno?.stdin?.readable) {
    for await (const c of g.Deno.stdin.readable) yield c;
    return;
  }
  if (g.Bun?.stdin?.stream) {
    for await (const c of g.Bun.stdin.stream()) yield c;
    return;
  }
  for await (const c of process.stdin) yield c as Uint8Array;
}

/** The process's real standard streams. */
export function processIO(): CliIO {
  return {
    stdout: denoStd(1) ?? nodeStd(1),
    stderr: denoStd(2) ?? nodeStd(2),
    stdin: stdinChunks,
    stderrIsTTY: Boolean(process.stderr.isTTY),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
  };
}

/** An open trace input: its chunks, its name for messages and its size if known. */
export interface TraceInput {
  /** `-` for standard input, else the path. */
  name: string;
  /** File size in bytes, undefined for standard input. */
  size: number | undefined;
  /** The bytes, in chunks of at most 1 MiB; read once. */
  chunks: AsyncIterable<Uint8Array>;
}

/** Chunk size for reading traces: large enough to amortise calls. */
export const CHUNK_BYTES = 1 << 18;

/**
 * Opens a trace for reading: a file, standard input for `-`, or a split
 * recording's parts read as one trace (see {@linkcode resolveParts}). A file
 * that cannot be opened becomes a {@linkcode CliError} naming the path and
 * the reason.
 */
export async function openTrace(path: string, io: CliIO): Promise<TraceInput> {
  if (path === "-") {
    // Parts may come concatenated: `cat trace.out.* | runtrace stats -`.
    return { name: "standard input", size: undefined, chunks: joined([io.stdin()]) };
  }
  const parts = await resolveParts(path);
  if (parts === undefined) return await openFile(path);
  let size = 0;
  for (const p of parts) {
    try {
      size += (await stat(p)).size;
    } catch (e) {
      throw new CliError(`cannot open ${p}: ${reason(e)}`);
    }
  }
  // Each part is opened when the read reaches it: a recording may have many.
  const sources = parts.map((p) =>
    (async function* () {
      yield* (await openFile(p)).chunks;
    })()
  );
  return { name: traceName(path), size, chunks: joined(sources, parts) };
}

/**
 * The whole of a split trace named by `path` (see {@linkcode resolveParts})
 * as the bytes of one trace, for a reader that needs them all (the viewer's
 * page); undefined when `path` names no parts.
 */
export async function readParts(path: string, io: CliIO): Promise<Uint8Array | undefined> {
  if (path === "-" || await resolveParts(path) === undefined) return undefined;
  return await readWhole(path, io);
}

/**
 * The whole trace named by `path` as one buffer, read through
 * {@linkcode openTrace}: a file, a split trace's parts joined, or standard
 * input for `-` (parts concatenated there are joined too).
 */
export async function readWhole(path: string, io: CliIO): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of (await openTrace(path, io)).chunks) chunks.push(c.slice());
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * `path` as it appears in messages: `-` is standard input, several parts
 * (joined by {@linkcode traceArg}) show as the first and the last.
 */
export function traceName(path: string): string {
  if (path === "-") return "standard input";
  const list = path.split(PART_LIST_SEPARATOR);
  return list.length === 1 ? path : `${list[0]} … ${list[list.length - 1]}`;
}

/**
 * Joins the paths of several parts into the one trace argument the commands
 * pass around: no path can hold a NUL character.
 */
export const PART_LIST_SEPARATOR = "\0";

/**
 * The parts a trace argument names, in order, or undefined for a plain file
 * (or a path that does not exist, which opening then reports):
 * - several paths (a shell glob such as `trace.out.*`, joined by
 *   {@linkcode PART_LIST_SEPARATOR}): those parts, in the order of their
 *   part numbers;
 * - a part (its header has a part number): it and the parts after it;
 * - a path that does not exist but has parts `path.000`, …: all of them;
 * - a directory holding the parts of one trace: all of them.
 */
export async function resolveParts(path: string): Promise<string[] | undefined> {
  if (path.includes(PART_LIST_SEPARATOR)) {
    const list = path.split(PART_LIST_SEPARATOR);
    const numbered = await Promise.all(list.map(async (p) => ({ p, n: await partHeader(p) })));
    for (const { p, n } of numbered) {
      if (n === undefined) {
        throw new CliError(
          `a command takes one trace file, or the parts of one split trace: ${p} is not a part`,
          2,
        );
      }
    }
    return numbered.sort((a, b) => a.n! - b.n!).map((x) => x.p);
  }
  let st;
  try {
    st = await stat(path);
  } catch {
    const all = await siblingParts(path);
    return all.length > 0 ? all.map((x) => x.path) : undefined;
  }
  if (st.isDirectory()) return await partsInDirectory(path);
  // A pipe (`<(…)`) is read once, by the command: its header is not peeked at.
  if (!st.isFile() || await partHeader(path) === undefined) return undefined;
  const m = /^(.*)\.(\d{3,})$/.exec(path);
  if (!m) return [path];
  const from = Number(m[2]);
  return (await siblingParts(m[1])).filter((x) => x.n >= from).map((x) => x.path);
}

/** The part number in the header of the trace at `path`, undefined if it has none. */
async function partHeader(path: string): Promise<number | undefined> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (e) {
    throw new CliError(`cannot open ${path}: ${reason(e)}`);
  }
  try {
    const buf = new Uint8Array(4096);
    const n = (await handle.read(buf, 0, buf.length, 0)).bytesRead;
    const d = new TraceDecoder(() => {});
    try {
      d.push(buf.subarray(0, n));
    } catch {
      // Not a trace, or damaged after its header: the header is what counts.
    }
    return d.header?.part;
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${reason(e)}`);
  } finally {
    await handle.close();
  }
}

/** The files `base.NNN` beside `base`, by number. */
async function siblingParts(base: string): Promise<{ path: string; n: number }[]> {
  const dir = dirname(base), name = basename(base);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: { path: string; n: number }[] = [];
  for (const f of names) {
    const rest = f.startsWith(name + ".") ? f.slice(name.length + 1) : "";
    if (/^\d{3,}$/.test(rest)) out.push({ path: join(dir, f), n: Number(rest) });
  }
  return out.sort((a, b) => a.n - b.n);
}

/** The parts of the one split trace in directory `dir`. */
async function partsInDirectory(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new CliError(`cannot read ${dir}: ${reason(e)}`);
  }
  const bases = new Set<string>();
  for (const f of names) {
    const m = /^(.+)\.\d{3,}$/.exec(f);
    if (m) bases.add(m[1]);
  }
  if (bases.size === 0) {
    throw new CliError(`${dir} is a directory with no trace parts (NAME.000, …) in it`);
  }
  if (bases.size > 1) {
    throw new CliError(
      `${dir} holds the parts of ${bases.size} traces (${[...bases].sort().join(", ")}): name one`,
    );
  }
  const [base] = bases;
  return (await siblingParts(join(dir, base))).map((x) => x.path);
}

/**
 * The bytes of one trace from the parts' chunks, read one after another
 * through a {@linkcode PartJoiner}. `names` are the parts' paths, for
 * messages; without them a stream may hold parts one after another.
 */
async function* joined(
  sources: AsyncIterable<Uint8Array>[],
  names?: string[],
): AsyncGenerator<Uint8Array> {
  let ready: Uint8Array[] = [];
  const joiner = new PartJoiner((b) => ready.push(b));
  try {
    for (let k = 0; k < sources.length; k++) {
      if (names) joiner.beginPart(names[k]);
      for await (const chunk of sources[k]) {
        joiner.push(chunk);
        // Views of `chunk`: used before the next read reuses its buffer.
        if (ready.length > 0) {
          const out = ready;
          ready = [];
          yield* out;
        }
      }
      joiner.endPart();
    }
    joiner.finish();
  } catch (e) {
    if (e instanceof PartsError) throw new CliError(e.message);
    throw e;
  }
  yield* ready;
}

/** The outputs of {@linkcode withRereadableStdin}: their standard input reads again. */
const rereadable = new WeakSet<CliIO>();

/** Whether `io`'s standard input can be read more than once ({@linkcode withRereadableStdin}). */
export function stdinRereadable(io: CliIO): boolean {
  return rereadable.has(io);
}

/**
 * Runs `run` with surroundings whose standard input can be read more than
 * once, for a command that reads a trace twice: the first read copies the
 * input to a temporary file as it streams it, later reads come from that
 * file, deleted when `run` is done. Memory stays that of a streamed read;
 * the disk holds the trace once, as a file argument would.
 */
export async function withRereadableStdin<T>(
  io: CliIO,
  run: (io: CliIO) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "runtrace-stdin-"));
  const copy = join(dir, "stdin.trace");
  let state: "unread" | "reading" | "copied" = "unread";
  async function* firstRead(): AsyncGenerator<Uint8Array> {
    state = "reading";
    const out = await fileOutput(copy);
    try {
      for await (const chunk of io.stdin()) {
        await out.write(chunk);
        yield chunk;
      }
    } finally {
      await out.close();
    }
    state = "copied";
  }
  async function* later(): AsyncGenerator<Uint8Array> {
    if (state !== "copied") throw new Error("runtrace: standard input read again before its end");
    yield* (await openFile(copy)).chunks;
  }
  const again: CliIO = { ...io, stdin: () => state === "unread" ? firstRead() : later() };
  rereadable.add(again);
  try {
    return await run(again);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Opens one trace file, read in chunks of {@linkcode CHUNK_BYTES}. */
async function openFile(path: string): Promise<TraceInput> {
  const D = denoApi();
  if (D?.open) return await openDeno(D.open, path);
  let handle;
  try {
    handle = await open(path, "r");
  } catch (e) {
    throw new CliError(`cannot open ${path}: ${reason(e)}`);
  }
  let size: number;
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new CliError(`${path} is a directory, not a trace file`);
    size = st.size;
  } catch (e) {
    await handle.close();
    throw e instanceof CliError ? e : new CliError(`cannot read ${path}: ${reason(e)}`);
  }
  async function* read(): AsyncGenerator<Uint8Array> {
    // One buffer for the whole read: the decoder copies what it keeps.
    const buf = new Uint8Array(CHUNK_BYTES);
    try {
      for (;;) {
        let n: number;
        try {
          n = (await handle!.read(buf, 0, buf.length, null)).bytesRead;
        } catch (e) {
          throw new CliError(`cannot read ${path}: ${reason(e)}`);
        }
        if (n === 0) return;
        yield buf.subarray(0, n);
      }
    } finally {
      await handle!.close();
    }
  }
  return { name: path, size, chunks: read() };
}

/** Deno's own file API: its node:fs/promises reads allocate per call. */
async function openDeno(open: DenoApi["open"], path: string): Promise<TraceInput> {
  let file: DenoFile;
  try {
    file = await open(path, { read: true });
  } catch (e) {
    throw new CliError(`cannot open ${path}: ${reason(denoCode(e))}`);
  }
  let size: number;
  try {
    const st = await file.stat();
    if (st.isDirectory) throw new CliError(`${path} is a directory, not a trace file`);
    size = st.size;
  } catch (e) {
    file.close();
    throw e instanceof CliError ? e : new CliError(`cannot read ${path}: ${reason(denoCode(e))}`);
  }
  async function* read(): AsyncGenerator<Uint8Array> {
    const buf = new Uint8Array(CHUNK_BYTES);
    try {
      for (;;) {
        let n: number | null;
        try {
          n = await file.read(buf);
        } catch (e) {
          throw new CliError(`cannot read ${path}: ${reason(denoCode(e))}`);
        }
        if (n === null) return;
        if (n > 0) yield buf.subarray(0, n);
      }
    } finally {
      file.close();
    }
  }
  return { name: path, size, chunks: read() };
}

/** A short reason for a file-system error: `no such file or directory`. */
export function reason(e: unknown): string {
  const err = e as { code?: string; message?: string };
  switch (err?.code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    case "ENOSPC":
      return "no space left on device";
    default:
      return String(err?.message ?? e).split("\n")[0];
  }
}

/**
 * Progress on standard error for long work: silent for the first second and
 * when standard error is not a terminal, then a line rewritten in place at
 * most four times a second.
 */
export class Progress {
  private started = Date.now();
  private shown = false;
  private lastDraw = 0;

  constructor(private io: CliIO, private label: string, private total: number | undefined) {}

  /** Reports that `done` bytes have been processed. */
  async update(done: number): Promise<void> {
    if (!this.io.stderrIsTTY) return;
    const now = Date.now();
    if (now - this.started < 1000 || now - this.lastDraw < 250) return;
    this.lastDraw = now;
    this.shown = true;
    const mb = (done / 1048576).toFixed(0);
    const pct = this.total ? ` (${Math.floor((100 * done) / this.total)}%)` : "";
    await this.io.stderr.write(`\r\x1b[Kruntrace: ${this.label} ${mb} MiB${pct}`);
  }

  /** Clears the progress line, if one was drawn. */
  async done(): Promise<void> {
    if (this.shown) await this.io.stderr.write("\r\x1b[K");
  }
}

/**
 * An output writing a new file at `path`, and its `close`. Any number of
 * writes may be in flight (`maxInFlight`): they land in the order they were
 * started, on the runtime's I/O threads.
 */
export async function fileOutput(path: string): Promise<CliOutput & { close(): Promise<void> }> {
  const D = denoApi();
  if (D?.open) {
    // Deno's own file API: node:fs/promises costs a copy per write there.
    let file: DenoFile;
    try {
      file = await D.open(path, { write: true, create: true, truncate: true });
    } catch (e) {
      throw new CliError(`cannot write ${path}: ${reason(denoCode(e))}`);
    }
    // Deno runs a file's operations one after another, in the order they
    // were started: a write started while others are in flight lands after
    // them. Only a short write (a full disk) could let a later write in
    // before its rest: that is reported, never written out of order.
    let started = 0;
    return {
      maxInFlight: Infinity,
      async write(chunk) {
        let b = typeof chunk === "string" ? utf8.encode(chunk) : chunk;
        started++;
        try {
          b = b.subarray(await file.write(b));
          if (b.length > 0 && started > 1) {
            throw new CliError(
              `cannot write ${path}: a short write (${b.length} bytes left) with more queued behind it; is the disk full?`,
            );
          }
          while (b.length > 0) b = b.subarray(await file.write(b));
        } catch (e) {
          if (e instanceof CliError) throw e;
          throw new CliError(`cannot write ${path}: ${reason(denoCode(e))}`);
        } finally {
          started--;
        }
      },
      close() {
        file.close();
        return Promise.resolve();
      },
    };
  }
  let handle;
  try {
    handle = await open(path, "w");
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${reason(e)}`);
  }
  // Each write says where it goes in the file: writes in flight at once
  // may run on different I/O threads, in any order.
  let end = 0;
  return {
    maxInFlight: Infinity,
    async write(chunk) {
      const b = typeof chunk === "string" ? utf8.encode(chunk) : chunk;
      const at = end;
      end += b.length;
      try {
        let off = 0;
        while (off < b.length) {
          off += (await handle.write(b, off, b.length - off, at + off)).bytesWritten;
        }
      } catch (e) {
        throw new CliError(`cannot write ${path}: ${reason(e)}`);
      }
    },
    async close() {
      await handle.close();
    },
  };
}

/** Deno's errors carry their kind as the class name; map the usual ones to codes. */
function denoCode(e: unknown): unknown {
  const name = (e as { name?: string })?.name;
  const code = name === "NotFound"
    ? "ENOENT"
    : name === "PermissionDenied"
    ? "EACCES"
    : name === "IsADirectory"
    ? "EISDIR"
    : undefined;
  return code ? { code } : e;
}
