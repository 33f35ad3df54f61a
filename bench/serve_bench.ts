/**
 * Benchmark of `runtrace view --serve` (issue 14): for generated traces of
 * 1 M and 10 M events (and 100 M with `--huge`), the time to build the
 * index, the time to open (start the command on the existing index until
 * the page's first answers, meta and the whole-trace tile, are in), the
 * latency of zoom and pan steps (tile requests over HTTP as the page makes
 * them, median and p95), and of the other answers a click waits for: the
 * slowest task's focus data, a p99 link's instance, a step of the Logs
 * page's scan (the first 200 logs, and a text that no log holds), the
 * search box's whole-trace scan for a text no log holds (total, and its
 * longest step), and a histogram bucket's first 100 instances with what
 * delayed each. The
 * command runs as a child process of the same runtime as this script.
 * Output is Markdown for bench/README.md.
 *
 * ```
 * deno run -A bench/serve_bench.ts [--events=1000000,10000000] [--huge] [--steps=40]
 * bun bench/serve_bench.ts [--events=...] [--huge] [--steps=40]
 *   --events=A,B  trace sizes (default 1 000 000 and 10 000 000)
 *   --huge        also 100 000 000 events (about 1 GB of trace and 2 GB
 *                 of index in bench/out/; checks the free space first)
 *   --steps=N     zoom and pan steps per trace (default 40)
 *   --keep        keep the generated traces and indexes in bench/out/
 *   --traces=DIR  use DIR/gen-N.trace when it exists (cli_bench.ts's traces)
 *                 instead of generating bench/out/serve-N.trace; never removed
 *   --build-only  only build each index (into --index-dir, then removed unless
 *                 --keep) and print its time, CPU, peak RSS and size: run it
 *                 under `/usr/bin/time -f '%e s %M KB'` for the build's peak
 *                 RSS alone (nothing else runs in the process)
 *   --index-dir=DIR  where the indexes go (default beside the trace): the
 *                 trace is linked into DIR and indexed there, so a shared
 *                 traces directory is only read
 * ```
 *
 * @module
 */

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statfsSync, statSync, symlinkSync } from "node:fs";
import { loadavg } from "node:os";
import { basename, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { generateTrace } from "./gen_trace.ts";
import { buildIndex } from "../lib/viewer/serve/index_builder.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const sizes = (flag("events") ?? "1000000,10000000").split(",").map(Number);
if (args.includes("--huge")) sizes.push(100_000_000);
const steps = Number(flag("steps") ?? 40);
const keep = args.includes("--keep");
const tracesDir = flag("traces");
const buildOnly = args.includes("--build-only");
const indexDir = flag("index-dir");
if (indexDir) mkdirSync(indexDir, { recursive: true });
const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = join(root, "bench", "out");
mkdirSync(outDir, { recursive: true });
const runtime = "Deno" in globalThis ? "deno" : "bun";
const version = runtime === "deno"
  ? (globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno
  : (globalThis as unknown as { Bun: { version: string } }).Bun.version;

/** Bytes free where the traces go. */
function freeBytes(): number {
  const s = statfsSync(outDir);
  return Number(s.bavail) * Number(s.bsize);
}

/** Starts `view --serve` on `file`; resolves with its URL and the ms until it printed it. */
function startServer(file: string) {
  const cmd = join(root, "lib/viewer/command.ts");
  const argv = runtime === "deno" ? ["run", "-A", cmd] : [cmd];
  const t0 = performance.now();
  const child = spawn(process.execPath, [...argv, file, "--serve", "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stderr!.on("data", (d) => out += String(d));
  return new Promise<{ url: string; ms: number; stop: () => void }>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += String(d);
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) resolve({ url: m[0], ms: performance.now() - t0, stop: () => child.kill("SIGINT") });
    });
    child.on("close", () => reject(new Error(`view --serve exited: ${out}`)));
  });
}

async function tile(url: string, t0: number, t1: number, px: number): Promise<number> {
  const a = performance.now();
  const res = await fetch(`${url}api/tile?t0=${t0}&t1=${t1}&px=${px}`);
  await res.arrayBuffer();
  return performance.now() - a;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];

/** ms from request to the last byte of `path`. */
async function timed(url: string, path: string): Promise<number> {
  const a = performance.now();
  const res = await fetch(url + path);
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return performance.now() - a;
}

/**
 * The search box's scan of every log for a text no log holds, step after
 * step as the page makes it: total ms, steps and the longest step.
 */
async function wholeSearch(url: string): Promise<string> {
  let from = "", longest = 0, steps = 0;
  const a = performance.now();
  for (;;) {
    const s = performance.now();
    const res = await fetch(`${url}api/logs?limit=20&text=no%20log%20holds%20this&from=${from}`);
    const page = await res.json();
    longest = Math.max(longest, performance.now() - s);
    steps++;
    if (page.done) break;
    from = encodeURIComponent(page.next);
  }
  return `${(performance.now() - a).toFixed(0)} ms in ${steps} steps (longest ${
    longest.toFixed(0)
  } ms)`;
}

/**
 * The answers a click waits for, median of 3 each: the slowest task's focus
 * data, the p99 link of the first task type, the Logs page's first step
 * (200 logs), a step of a text no log holds (the most a step reads), then
 * the whole search for that text and the largest histogram bucket's first
 * 100 instances of the first task type (with their stall and GC overlap).
 */
async function clickTimes(url: string, meta: ReturnType<typeof buildIndex>): Promise<string> {
  const median = async (path: string) => {
    const t = [await timed(url, path), await timed(url, path), await timed(url, path)];
    return t.sort((a, b) => a - b)[1];
  };
  const slow = meta.summary.slowest[0];
  const type = meta.summary.taskTypes[0];
  const ms = [
    slow ? await median(`api/task?id=${slow.id}`) : NaN,
    type?.latency
      ? await median(
        `api/instance?kind=task&type=${encodeURIComponent(type.type)}&ns=${type.latency.p99}`,
      )
      : NaN,
    await median("api/logs?from=0&limit=200"),
    await median("api/logs?from=0&limit=200&text=no%20log%20holds%20this"),
  ];
  const big = type?.latency?.histogram.toSorted((a, b) => b.count - a.count)[0];
  const bucket = big
    ? await median(
      `api/bucket?kind=task&type=${
        encodeURIComponent(type!.type)
      }&lo=${big.start}&hi=${big.end}&from=0&limit=100`,
    )
    : NaN;
  return ms.map((m) => Number.isNaN(m) ? "-" : `${m.toFixed(0)}`).join(" / ") + " ms | " +
    `${await wholeSearch(url)} | ${Number.isNaN(bucket) ? "-" : `${bucket.toFixed(0)} ms`}`;
}

/**
 * The trace of `events` events (generated if missing) as `file`, where it
 * really is and whether this run made it, or a skip line.
 */
function traceOf(events: number): { file: string; real: string; mine: boolean } | string {
  const given = tracesDir ? join(tracesDir, `gen-${events}.trace`) : undefined;
  const mine = !(given && existsSync(given));
  const file = mine ? join(outDir, `serve-${events}.trace`) : given!;
  if (!existsSync(file)) {
    const need = events * 25; // trace plus index plus scratch, generously
    if (freeBytes() < need) {
      return `| ${events.toLocaleString("en")} | skipped: less than ${need / 1e9} GB free |`;
    }
    generateTrace(file, events);
  }
  if (!indexDir) return { file, real: file, mine };
  // `view --serve` keeps the index beside the trace: beside a link to it in DIR, here.
  const link = join(indexDir, basename(file));
  rmSync(link, { force: true });
  symlinkSync(file, link);
  return { file: link, real: file, mine };
}

/**
 * One trace size, the index build alone: its wall time, CPU, the process's
 * peak RSS so far (the build is all this process did besides generating a
 * missing trace) and the index's size.
 */
function buildRun(events: number): string {
  const t = traceOf(events);
  if (typeof t === "string") return t;
  const idx = `${t.file}.idx`;
  rmSync(idx, { force: true });
  const b0 = performance.now();
  const c0 = process.cpuUsage();
  buildIndex(t.file, idx);
  const ms = performance.now() - b0;
  const cpu = process.cpuUsage(c0);
  const peak = process.resourceUsage().maxRSS * 1024;
  const size = statSync(t.file).size, idxSize = statSync(idx).size;
  if (!keep) rmSync(idx, { force: true });
  if (!keep && t.mine && events >= 100_000_000) rmSync(t.real, { force: true });
  return `| ${events.toLocaleString("en")} | ${(size / 2 ** 20).toFixed(0)} MiB | ${
    (idxSize / 2 ** 20).toFixed(0)
  } MiB | ${(ms / 1000).toFixed(1)} s | ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s | ${
    (events / ms / 1000).toFixed(2)
  } M | ${(peak / 2 ** 20).toFixed(0)} MiB |`;
}

/** One trace size: build, open, zoom, the clicks' answers. */
async function run(events: number): Promise<string> {
  const t = traceOf(events);
  if (typeof t === "string") return t;
  const { file, real, mine } = t;
  rmSync(file + ".idx", { force: true });
  const b0 = performance.now();
  const c0 = process.cpuUsage();
  const meta = buildIndex(file, file + ".idx");
  const buildMs = performance.now() - b0;
  const cpu = process.cpuUsage(c0);
  const buildCpuMs = (cpu.user + cpu.system) / 1000;
  // The peak so far: the build is the largest thing this process does (the RSS after it keeps what it let go of).
  const rss = process.resourceUsage().maxRSS * 1024;
  const px = 1200;
  const o0 = performance.now();
  const server = await startServer(file);
  try {
    await (await fetch(server.url + "api/meta")).json();
    await tile(server.url, 0, meta.duration, px);
    const openMs = performance.now() - o0;
    // The page's steps: zoom in by halves towards a point, then pan by quarters, then zoom out.
    const times: number[] = [];
    let t0 = 0, t1 = meta.duration;
    const at = meta.duration * 0.37;
    for (let i = 0; i < steps; i++) {
      const phase = i % 20;
      const w = t1 - t0;
      if (phase < 10) [t0, t1] = [at - (at - t0) * 0.5, at + (t1 - at) * 0.5];
      else if (phase < 15) [t0, t1] = [t0 + w / 4, t1 + w / 4];
      else [t0, t1] = [Math.max(0, t0 - w / 2), Math.min(meta.duration, t1 + w / 2)];
      times.push(await tile(server.url, t0, t1, px));
    }
    times.sort((a, b) => a - b);
    const clicks = await clickTimes(server.url, meta);
    const size = statSync(file).size, idx = statSync(file + ".idx").size;
    return `| ${events.toLocaleString("en")} | ${(size / 2 ** 20).toFixed(0)} MiB | ${
      (idx / 2 ** 20).toFixed(0)
    } MiB | ${(buildMs / 1000).toFixed(1)} s, CPU ${(buildCpuMs / 1000).toFixed(1)} s (${
      (events / buildMs / 1000).toFixed(2)
    } M ev/s, ${(rss / 2 ** 20).toFixed(0)} MiB peak RSS) | ${(openMs / 1000).toFixed(2)} s | ${
      pct(times, 50).toFixed(1)
    } ms | ${pct(times, 95).toFixed(1)} ms | ${clicks} |`;
  } finally {
    server.stop();
    if (!keep) rmSync(file + ".idx", { force: true });
    if (!keep && mine && events >= 100_000_000) rmSync(real, { force: true });
  }
}

console.log(
  `view --serve, ${runtime} ${version}, load average ${loadavg()[0].toFixed(2)} at the start, ` +
    `${steps} zoom/pan steps at 1200 px\n`,
);
if (buildOnly) {
  console.log("| events | trace | index | build | CPU | events/s | peak RSS |");
  console.log("|---|---|---|---|---|---|---|");
  for (const n of sizes) console.log(buildRun(n));
  console.log(`\nload average ${loadavg()[0].toFixed(2)} at the end`);
  process.exit(0);
}
console.log(
  "| events | trace | index | index build | open | step p50 | step p95 | focus / p99 link / logs step / text scan step | search, every log | bucket list |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const n of sizes) console.log(await run(n));
console.log(`\nload average ${loadavg()[0].toFixed(2)} at the end`);
