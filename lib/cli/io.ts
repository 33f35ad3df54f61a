/**
 * The CLI's input and output: trace bytes in chunks from a file or standard
 * input, text and bytes out through outputs that tests can replace, and the
 * one-line errors the commands report.
 *
 * @module
 */

import { open } from "node:fs/promises";
import process from "node:process";

/** Where the CLI writes: standard output, standard error or a file, with backpressure. */
export interface CliOutput {
  /** Writes `chunk`; the promise resolves when the output can take more. */
  write(chunk: Uint8Array | string): Promise<void>;
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
 * Opens a trace file (or standard input for `-`). A file that cannot be
 * opened becomes a {@linkcode CliError} naming the path and the reason.
 */
export async function openTrace(path: string, io: CliIO): Promise<TraceInput> {
  if (path === "-") return { name: "standard input", size: undefined, chunks: io.stdin() };
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

/** An output writing a new file at `path`, and its `close`. */
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
    return {
      async write(chunk) {
        let b = typeof chunk === "string" ? utf8.encode(chunk) : chunk;
        try {
          while (b.length > 0) b = b.subarray(await file.write(b));
        } catch (e) {
          throw new CliError(`cannot write ${path}: ${reason(denoCode(e))}`);
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
  return {
    async write(chunk) {
      const b = typeof chunk === "string" ? utf8.encode(chunk) : chunk;
      try {
        let off = 0;
        while (off < b.length) {
          off += (await handle.write(b, off, b.length - off)).bytesWritten;
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
