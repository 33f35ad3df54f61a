/**
 * `runtrace view FILE [-o trace.html] [--serve] [--port N]`: writes the
 * trace viewer for FILE as one self-contained HTML page, or serves it on
 * 127.0.0.1 like `go tool trace`.
 *
 * @module
 */

import { statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import process from "node:process";
import { isEntryPoint } from "../cli/entry_point.ts";
import { processIO, readParts, readWhole, resolveParts } from "../cli/io.ts";
import { TraceDecoder, TraceFormatError } from "../format/decoder.ts";
import { renderViewerHtml } from "./html.ts";
import { listenLocal, send, type Served } from "./serve/local_server.ts";
import { openIndex } from "./serve/index_path.ts";
import { joinedTrace } from "./serve/joined_trace.ts";
import { serveTrace } from "./serve/trace_server.ts";

const USAGE = "usage: runtrace view FILE [-o OUT.html] [--serve] [--port N]";

const HELP = `${USAGE}

Writes a self-contained HTML page (timeline, Tasks, Regions and Logs views)
for the trace FILE ("-" reads standard input). Open it in a browser; it makes
no network requests and can be mailed as it is. Past 2 M events such a page
is slow to open: use --serve.

  -o, --output OUT  where to write the page (default: FILE with .html)
  --serve           index FILE once (FILE.idx, or ~/.cache/runtrace/index/ if
                    its directory is not writable) and serve the viewer on
                    127.0.0.1, answering its queries from the index: opens
                    traces of any size
  --port N          port for --serve (default: any free port)
  -h, --help        this help
`;

/** Parsed arguments of `runtrace view`. */
export interface ViewArgs {
  file: string;
  output?: string;
  serve: boolean;
  port: number;
}

/** The part of the Deno namespace used here, behind a feature check. */
interface DenoSignals {
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  removeSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
}

/** A usage error: one line for standard error, exit status 2. */
class UsageError extends Error {}

/**
 * Parses the arguments of `runtrace view`.
 *
 * @example
 * ```ts
 * import { parseViewArgs } from "./command.ts";
 * parseViewArgs(["trace.out", "-o", "t.html"]); // { file: "trace.out", output: "t.html", ... }
 * ```
 */
export function parseViewArgs(args: string[]): ViewArgs | "help" {
  let file: string | undefined;
  let output: string | undefined;
  let serve = false;
  let port = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "-h":
      case "--help":
        return "help";
      case "-o":
      case "--output":
        output = value();
        break;
      case "--serve":
        serve = true;
        break;
      case "--port": {
        const v = value();
        port = Number(v);
        if (!/^\d+$/.test(v) || port > 65535) {
          throw new UsageError(`--port needs a port number from 0 to 65535, not "${v}"`);
        }
        break;
      }
      default:
        if (a.startsWith("-") && a !== "-") throw new UsageError(`unknown flag ${a}`);
        if (file !== undefined) {
          const split = /^(.*)\.\d{3,}$/.exec(file);
          throw new UsageError(
            split
              ? `one name for a trace in parts: its path (${
                split[1]
              }), its directory or its first part`
              : `one trace file only (got "${file}" and "${a}")`,
          );
        }
        file = a;
    }
  }
  if (file === undefined) throw new UsageError("missing the trace FILE");
  if (serve && output !== undefined) throw new UsageError("use either -o or --serve, not both");
  return { file, output, serve, port };
}

async function readInput(file: string): Promise<Uint8Array> {
  // A split trace (its directory, its path, a part, or parts on stdin) is read as one trace.
  if (file !== "-") {
    return await readParts(file, processIO()) ?? new Uint8Array(await readFile(file));
  }
  return await readWhole("-", processIO());
}

/** Why a file could not be read, in a few words. */
function readError(e: unknown): string {
  const code = (e as { code?: string }).code;
  return code === "ENOENT"
    ? "no such file"
    : code === "EISDIR"
    ? "it is a directory"
    : code === "EACCES"
    ? "permission denied"
    : (e as Error).message;
}

/** What a quick decode of the file found, for the messages on standard error. */
interface Check {
  events: number;
  truncated: boolean;
  lost: number;
  error?: string;
}

function check(bytes: Uint8Array): Check {
  let events = 0;
  try {
    const d = new TraceDecoder(() => {});
    d.push(bytes);
    const end = d.finish();
    events = end.events;
    return { events, truncated: end.truncated, lost: end.lost };
  } catch (e) {
    if (e instanceof TraceFormatError) {
      return { events, truncated: false, lost: 0, error: e.message.replace(/^runtrace: /, "") };
    }
    throw e;
  }
}

/** The default output path: FILE with its extension replaced by `.html`. */
function defaultOutput(file: string): string {
  if (file === "-") return "trace.html";
  const ext = extname(file);
  const out = (ext ? file.slice(0, -ext.length) : file) + ".html";
  return out === file ? file + ".html" : out;
}

/**
 * Serves `html` on 127.0.0.1:`port` (0 picks a free port) until `signal`
 * aborts. Resolves with the URL once listening; `closed` settles when the
 * server has stopped.
 *
 * @example
 * ```ts
 * import { serveHtml } from "./command.ts";
 * const stop = new AbortController();
 * const { url } = await serveHtml("<p>hi</p>", 0, stop.signal);
 * console.log(url);
 * stop.abort();
 * ```
 */
export function serveHtml(
  html: string,
  port: number,
  signal: AbortSignal,
): Promise<{ url: string; closed: Promise<void> }> {
  return listenLocal(
    (path, _query, res, req) => {
      if (path !== "/" && path !== "/index.html") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found: the viewer is at /\n");
        return;
      }
      send(res, "text/html; charset=utf-8", html, req.method === "HEAD");
    },
    port,
    signal,
  );
}

/**
 * Says on standard error what the quick decode found; returns the exit
 * status: 1 for input that is not a trace or is corrupt, 3 for a truncated
 * trace, else 0.
 */
function reportCheck(found: Check, name: string): number {
  if (found.error) {
    // The same wording as the page: "not a trace" for foreign files, "corrupt" past a valid header.
    const foreign = /not a runtrace trace|unsupported trace format|empty input|trace header/
      .test(found.error);
    const what = found.error.startsWith("not a runtrace trace")
      ? `${name}: ${found.error}`
      : foreign
      ? `${name} is not a runtrace trace: ${found.error}`
      : `${name} is a corrupt trace: ${found.error}`;
    process.stderr.write(`runtrace view: ${what}\n`);
    return 1;
  }
  let status = 0;
  if (found.truncated) {
    process.stderr.write(
      `runtrace view: warning: ${name} is truncated; showing it up to its last complete batch\n`,
    );
    status = 3;
  }
  if (found.lost > 0) {
    process.stderr.write(`runtrace view: warning: the recorder lost ${found.lost} events\n`);
  }
  return status;
}

/** Serves until SIGINT or SIGTERM; returns `status`, or 1 if it cannot listen. */
async function serveUntilStopped(
  listen: (signal: AbortSignal) => Promise<Served>,
  port: number,
  name: string,
  status: number,
): Promise<number> {
  const stop = new AbortController();
  let served: Served;
  try {
    served = await listen(stop.signal);
  } catch (e) {
    process.stderr.write(
      `runtrace view: cannot serve on 127.0.0.1:${port}: ${(e as Error).message}\n`,
    );
    return 1;
  }
  process.stdout.write(`runtrace view: serving ${name} at ${served.url} (Ctrl-C to stop)\n`);
  const onSignal = () => stop.abort();
  const signals = ["SIGINT", "SIGTERM"] as const;
  // Deno's node:process does not keep a process alive through SIGINT; its own API does.
  const deno = (globalThis as unknown as { Deno?: DenoSignals }).Deno;
  for (const sig of signals) {
    if (deno) deno.addSignalListener(sig, onSignal);
    else process.on(sig, onSignal);
  }
  await served.closed;
  for (const sig of signals) {
    if (deno) deno.removeSignalListener(sig, onSignal);
    else process.off(sig, onSignal);
  }
  process.stdout.write("runtrace view: stopped\n");
  return status;
}

/**
 * Events above which the self-contained page is too slow to open (it decodes
 * the whole trace in the browser): `view -o` still writes it, and says to
 * use `--serve`.
 */
export const PAGE_EVENTS = 2_000_000;

const capitalised = (s: string) => s[0].toUpperCase() + s.slice(1);

function tooBigNote(events: number, file: string): string {
  const millions = (events / 1e6).toFixed(1);
  const arg = file === "-" ? "FILE" : file;
  return `this trace has ${millions} M events, too many for a self-contained page (it may take ` +
    `a minute to open, or not open at all): run \`runtrace view --serve ${arg}\`, which opens ` +
    `traces of any size from an index`;
}

/**
 * `view --serve`: indexes the trace (once; the index is kept beside it or
 * in the cache directory) and serves the page and its queries.
 */
async function serveIndexed(opts: ViewArgs): Promise<number> {
  if (opts.file === "-") {
    process.stderr.write(
      "runtrace view: --serve reads the trace through an index, so it needs a trace file, " +
        "not standard input\n",
    );
    return 2;
  }
  let name = opts.file;
  const parts = await resolveParts(name).catch(() => undefined);
  if (parts !== undefined && (parts.length > 1 || parts[0] !== name)) {
    // The index addresses one file's bytes: a split trace is joined into one first.
    try {
      const joined = await joinedTrace(name, parts);
      process.stderr.write(
        `runtrace view: ${name} is a trace in ${parts.length} parts: ${
          joined.written ? "joined them into" : "using their joined copy"
        } ${joined.path}\n`,
      );
      name = joined.path;
    } catch (e) {
      process.stderr.write(
        `runtrace view: cannot join the ${parts.length} parts of ${name}: ${readError(e)}\n`,
      );
      return 1;
    }
  }
  let opened;
  try {
    const st = statSync(name);
    if (st.isDirectory()) throw Object.assign(new Error("it is a directory"), { code: "EISDIR" });
    let shown = -1;
    opened = openIndex(name, {
      progress: (read, total) => {
        const share = Math.floor(read / total * 10);
        if (total < 64 << 20 || share === shown) return;
        shown = share;
        process.stderr.write(`runtrace view: indexing ${name}: ${share * 10}%\n`);
      },
    });
  } catch (e) {
    if (e instanceof TraceFormatError) {
      return reportCheck({
        events: 0,
        truncated: false,
        lost: 0,
        error: e.message.replace(/^runtrace: /, ""),
      }, name);
    }
    process.stderr.write(`runtrace view: cannot read ${name}: ${readError(e)}\n`);
    return 1;
  }
  const { index, path, built, buildMs } = opened;
  const m = index.meta;
  const status = reportCheck({ events: m.events, truncated: m.truncated, lost: m.lost }, name);
  process.stderr.write(
    built
      ? `runtrace view: indexed ${m.events} events in ${
        (buildMs / 1000).toFixed(1)
      } s into ${path}\n`
      : `runtrace view: using the index ${path}\n`,
  );
  const html = renderViewerHtml(new Uint8Array(0), { name: basename(opts.file), serve: true });
  try {
    return await serveUntilStopped(
      (signal) => serveTrace({ html, index, name: basename(opts.file), port: opts.port, signal }),
      opts.port,
      name,
      status,
    );
  } finally {
    index.close();
  }
}

/**
 * Runs `runtrace view` with `args` (the words after `view`) and returns the
 * exit status, as the other `runtrace` commands do: 0 on success, 1 when the
 * input cannot be read or is not a trace (the page is still written, and
 * says so), 2 on a usage error, 3 for a truncated trace (the page shows it
 * up to its last complete batch, with a warning).
 *
 * @example
 * ```ts
 * import { viewCommand } from "./command.ts";
 * const status = await viewCommand(["trace.out", "-o", "trace.html"]);
 * ```
 */
export async function viewCommand(args: string[]): Promise<number> {
  let opts: ViewArgs;
  try {
    const parsed = parseViewArgs(args);
    if (parsed === "help") {
      process.stdout.write(HELP);
      return 0;
    }
    opts = parsed;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`runtrace view: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (opts.serve) return await serveIndexed(opts);
  const name = opts.file === "-" ? "standard input" : opts.file;
  let bytes: Uint8Array;
  try {
    bytes = await readInput(opts.file);
  } catch (e) {
    process.stderr.write(`runtrace view: cannot read ${name}: ${readError(e)}\n`);
    return 1;
  }
  const found = check(bytes);
  const status = reportCheck(found, name);
  const tooBig = found.events > PAGE_EVENTS;
  const html = renderViewerHtml(bytes, {
    name: opts.file === "-" ? "stdin" : basename(opts.file),
    note: tooBig ? capitalised(tooBigNote(found.events, opts.file)) : undefined,
  });
  if (tooBig) process.stderr.write(`runtrace view: ${tooBigNote(found.events, opts.file)}\n`);
  const out = opts.output ?? defaultOutput(opts.file);
  try {
    await writeFile(out, html);
  } catch (e) {
    process.stderr.write(`runtrace view: cannot write ${out}: ${(e as Error).message}\n`);
    return 1;
  }
  const kb = Math.ceil(html.length / 1024);
  process.stdout.write(
    found.error
      ? `runtrace view: wrote ${out} (${kb} KiB), a page that shows the error\n`
      : `runtrace view: wrote ${out} (${kb} KiB, ${found.events} events); open it in a browser\n`,
  );
  return status;
}

if (isEntryPoint(import.meta)) {
  process.exitCode = await viewCommand(process.argv.slice(2));
}
