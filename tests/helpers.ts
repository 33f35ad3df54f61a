/**
 * Shared test helpers: temp files, reading traces back, running a script in a
 * child process of the same runtime.
 *
 * @module
 */

import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  type EventVisitor,
  parseTrace,
  type Trace,
  TraceDecoder,
  type TraceEvent,
} from "../read.ts";
import * as trace from "../mod.ts";

/** `deno` or `bun`: the runtime running the tests. */
export const runtime: "deno" | "bun" = "Deno" in globalThis ? "deno" : "bun";

const madeDirs: string[] = [];

// A full run makes a few thousand of these, some holding generated traces of
// hundreds of MB: left behind, a few suites fill a disk. Deno's test runner
// sends no "exit" to node:process but does dispatch "unload"; Bun the reverse.
function removeMadeDirs(): void {
  for (const dir of madeDirs.splice(0)) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A dir still held open elsewhere is not worth failing the run over.
    }
  }
}
process.on("exit", removeMadeDirs);
globalThis.addEventListener?.("unload", removeMadeDirs);

/** A fresh temporary directory, removed when the test process ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "runtrace-test-"));
  madeDirs.push(dir);
  return dir;
}

/** Reads and parses a trace file. */
export function readTrace(path: string): Trace {
  return parseTrace(new Uint8Array(readFileSync(path)));
}

/** The repository root as a file path. */
export const repoRoot: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Result of {@linkcode runScript}. */
export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Writes `source` to a temp file and runs it with this test's runtime (or
 * the one named), with a time limit so a hang fails the test instead.
 */
export function runScript(
  source: string,
  options: { runtime?: "deno" | "bun"; cwd?: string; timeoutMs?: number; args?: string[] } = {},
): RunResult {
  const dir = options.cwd ?? tempDir();
  const file = join(dir, "script.ts");
  writeFileSync(file, source);
  return runFile(file, options);
}

/** Runs an existing script file; see {@linkcode runScript}. */
export function runFile(
  file: string,
  options: { runtime?: "deno" | "bun"; cwd?: string; timeoutMs?: number; args?: string[] } = {},
): RunResult {
  const rt = options.runtime ?? runtime;
  const exe = rt === runtime ? process.execPath : findExecutable(rt);
  if (!exe) throw new Error(`no ${rt} executable found`);
  const args = rt === "deno" ? ["run", "-A", file, ...(options.args ?? [])] : [
    file,
    ...(options.args ?? []),
  ];
  const r = spawnSync(exe, args, {
    cwd: options.cwd,
    encoding: "utf8",
    timeout: options.timeoutMs ?? 30_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/**
 * Runs a command without blocking this process's event loop (so a test's
 * timeout still fires), with a time limit: a hang fails instead of waiting.
 */
export function runCommand(
  exe: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      exe,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 << 20,
        env: options.env ?? { ...process.env, NO_COLOR: "1" },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** The path of an executable on PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  if (name === runtime) return process.execPath;
  const r = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const path = (r.stdout ?? "").trim();
  return r.status === 0 && path ? path : undefined;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Spins the CPU for `ms` milliseconds. */
export function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

/** The module URL of the repository's mod.ts, for scripts in temp dirs. */
export const modUrl: string = new URL("../mod.ts", import.meta.url).href;
/** The module URL of read.ts. */
export const readUrl: string = new URL("../read.ts", import.meta.url).href;

/** The chunks joined into one array. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** What {@linkcode exportTrace} drives: an exporter of lib/export. */
export interface ExporterLike {
  add(e: TraceEvent): void;
  visitor?: EventVisitor;
  take(): Uint8Array;
}

/**
 * Runs a whole trace through an exporter, fed in `chunk`-byte pieces (default
 * all at once) with the decoder's fast path unless `visitor` is false, and
 * returns the output joined.
 */
export function exportTrace(
  x: ExporterLike,
  bytes: Uint8Array,
  options: { visitor?: boolean; chunk?: number } = {},
): Uint8Array {
  const d = new TraceDecoder(x.add, options.visitor === false ? undefined : x.visitor);
  const step = options.chunk ?? Math.max(1, bytes.length);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += step) {
    d.push(bytes.subarray(i, i + step));
    parts.push(x.take());
  }
  d.finish();
  parts.push(x.take());
  return concat(parts);
}

/** Records a trace in memory (a writer object) around `body` and parses it. */
export async function tracedInMemory(
  body: () => unknown,
  options?: trace.StartOptions,
): Promise<Trace> {
  const chunks: Uint8Array[] = [];
  await trace.start({
    write(p: Uint8Array) {
      chunks.push(p.slice());
      return p.length;
    },
  }, options);
  try {
    await body();
  } finally {
    await trace.stop();
  }
  return parseTrace(concat(chunks));
}

/** A `runtrace view --serve` child process and the URL it printed. */
export interface ServeChild {
  child: ChildProcess;
  url: string;
  /** What it wrote so far, on standard output and standard error. */
  out: () => string;
  err: () => string;
  /** Resolves when it has exited. */
  exited: Promise<number | null>;
}

/**
 * Starts `lib/viewer/command.ts` with `args` (e.g. `[file, "--serve", "--port", "0"]`)
 * in this test's runtime and waits for the URL it prints.
 */
export async function spawnServe(
  args: string[],
  env: Record<string, string> = {},
): Promise<ServeChild> {
  const cmd = join(repoRoot, "lib/viewer/command.ts");
  const child = spawn(process.execPath, [
    ...(runtime === "deno" ? ["run", "-A"] : []),
    cmd,
    ...args,
  ], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => err += String(d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no URL printed: ${out} ${err}`));
    }, 30_000);
    child.stdout!.on("data", (d) => {
      out += String(d);
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
  });
  return { child, url, out: () => out, err: () => err, exited };
}

/** A small pseudo-random generator in [0, 1) from `seed`, so that a randomized test's failures repeat. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
