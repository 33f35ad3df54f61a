/**
 * Issue 11's loopback HTTP rows: a service's throughput traced against
 * untraced, with tracing left on (steady) and with a session started and
 * stopped every 0.8 s (cycling: `start` → 0.8 s → `stop` → `start` …, the
 * harshest reading of "every 0.8 s", each session writing a file).
 *
 * The server is this process: `Deno.serve` / `Bun.serve` on 127.0.0.1, each
 * request a task (`traceRequests`, or `newTask` with `--task=plain`) with 3
 * `withRegion` (one of them async) and a `log` around about 100 µs of work,
 * calibrated at startup (JSON parsing and serialising). The load comes from a child process of the same
 * runtime (so it does not share the server's event loop): raw HTTP/1.1 over
 * `node:net`, keep-alive, `--connections` connections each with one request
 * in flight, which costs far less per request than `fetch` and keeps the
 * server's main thread saturated (its busy share is printed: a figure under
 * 90 % means the generator or the machine, not the server, set the pace).
 *
 * Blocks of `--block` seconds of the three modes alternate A B C C B A per
 * round (so drift and load hit them alike), with a settling pause between
 * blocks; throughput is counted by the server. Ratios are taken within each
 * round (the mode's two blocks against untraced's two), median over rounds.
 * Also: the server process's CPU per request (all threads, and its main
 * thread alone, from /proc/self/task), the other processes' CPU on the
 * machine during the blocks (/proc/stat), and the wall time of `await
 * start()` and `await stop()` in the cycling blocks.
 *
 * Run: `deno run -A bench/http_cycle_bench.ts` or `bun bench/http_cycle_bench.ts`
 * (`--rounds N` default 5, `--block S` default 4, `--connections N` default
 * 32, `--work-us U` default 100, `--cycle-ms M` default 800, `--task=plain`
 * for `newTask` in place of `traceRequests`, `--no-runtime` for `start()`
 * with `runtime: false`, `--only=MODE` to run one mode alone, for profiling).
 * The defaults take about 2.5 minutes per runtime.
 *
 * @module
 */

import process from "node:process";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { traceRequests } from "../http.ts";
import { serve } from "./http_bench.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The median of `xs`. */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const isDeno = "Deno" in globalThis;

// ---------------------------------------------------------------------------
// The load generator (child process): `--role load --port P --connections N`.

/** Keeps `n` keep-alive connections each with one GET in flight, until stdin closes. */
function generateLoad(port: number, n: number): void {
  const request = new TextEncoder().encode(
    `GET /users/42 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
  );
  const open = () => {
    const sock = connect({ host: "127.0.0.1", port });
    sock.setNoDelay(true);
    let buf = "";
    sock.on("connect", () => sock.write(request));
    sock.on("data", (chunk: Uint8Array | string) => {
      buf += typeof chunk === "string" ? chunk : latin1.decode(chunk);
      // Responses come whole and one at a time: headers, then content-length bytes.
      for (;;) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const m = /content-length: *(\d+)/i.exec(buf.slice(0, end));
        const total = end + 4 + (m ? Number(m[1]) : 0);
        if (buf.length < total) return;
        buf = buf.slice(total);
        sock.write(request);
      }
    });
    sock.on("error", () => {});
    sock.on("close", () => setTimeout(open, 10));
  };
  for (let i = 0; i < n; i++) open();
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("close", () => process.exit(0));
  process.stdin.resume();
}
const latin1 = new TextDecoder("latin1");

// ---------------------------------------------------------------------------
// The service.

/**
 * Real work that the JIT cannot reshape: parsing and serialising JSON (the
 * runtime's native code), `units` times a 600-byte document. A loop of
 * arithmetic here was inlined into the region callbacks and ran in another
 * JIT tier with tracing on than off, which measured V8's mood, not the tracer.
 */
const doc = JSON.stringify({
  id: 42,
  name: "Ada Lovelace",
  email: "ada@example.com",
  roles: ["admin", "dev", "ops"],
  tags: Array.from({ length: 12 }, (_, i) => `tag-${i}`),
  address: { street: "12 St James's Square", city: "London", zip: "SW1Y 4JH" },
  history: Array.from({ length: 8 }, (_, i) => ({ at: 1_700_000_000 + i, what: "login" })),
});
let sink = 0;
export function work(units: number): void {
  for (let u = 0; u < units; u++) sink += JSON.stringify(JSON.parse(doc)).length;
}

/**
 * Units of {@linkcode work} per µs on this runtime: the median of 61 timed
 * runs of 10 units, after a warm-up (wall time of short runs: most are not
 * interrupted on a loaded machine; process CPU time would count the
 * collector's threads too).
 */
export function calibrate(): number {
  for (let k = 0; k < 200; k++) work(10);
  const rates: number[] = [];
  for (let k = 0; k < 61; k++) {
    const t0 = performance.now();
    work(10);
    rates.push(10 / ((performance.now() - t0) * 1000));
  }
  return median(rates);
}

/** The handler: 3 regions (the middle one async) and a log around `units` of work. */
export function makeApp(units: number): (req: Request) => Promise<Response> {
  const a = Math.round(units * 0.25), b = Math.round(units * 0.5), c = units - a - b;
  const user = { id: 0, name: "Ada", roles: ["admin", "dev"], bio: "x".repeat(200) };
  return async (req: Request): Promise<Response> => {
    const id = req.url.slice(req.url.lastIndexOf("/") + 1);
    trace.withRegion("auth", () => work(a));
    const u = await trace.withRegion("db", async () => {
      await null;
      work(b);
      return { ...user, id: Number(id) };
    });
    trace.log("user", id);
    const body = trace.withRegion("render", () => {
      work(c);
      return JSON.stringify(u);
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  };
}

type Handler = (req: Request) => Promise<Response>;

// ---------------------------------------------------------------------------
// CPU accounting from /proc.

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** utime + stime, ms, of a /proc stat line. */
function statMs(path: string): number {
  try {
    const s = readFileSync(path, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/** Busy CPU time, ms, of the whole machine (all cores) from /proc/stat. */
function machineBusyMs(): number {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * TICK_MS;
  } catch {
    return 0;
  }
}

interface CpuSample {
  /** Process CPU, ms, all threads. */
  process: number;
  /** The main thread's CPU, ms. */
  main: number;
  /** The load generator's CPU, ms. */
  load: number;
  /** The machine's busy CPU, ms. */
  machine: number;
}

function cpuSample(loadPid: number): CpuSample {
  const c = process.cpuUsage();
  return {
    process: (c.user + c.system) / 1000,
    main: statMs(`/proc/self/task/${process.pid}/stat`),
    load: statMs(`/proc/${loadPid}/stat`),
    machine: machineBusyMs(),
  };
}

/** Per-thread CPU, ms, by `name:tid`, for the threads' table at the end. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      let name = "?";
      try {
        name = readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
      } catch { /* gone */ }
      out.set(`${name}:${tid}`, statMs(`/proc/self/task/${tid}/stat`));
    }
  } catch { /* no /proc */ }
  return out;
}

// ---------------------------------------------------------------------------
// The blocks.

type Mode = "untraced" | "steady" | "cycling";

interface Block {
  mode: Mode;
  requests: number;
  seconds: number;
  cpu: CpuSample;
}

let served = 0;
/** `start()`'s options: `--no-runtime` turns the runtime sampler off. */
const startOptions: trace.StartOptions = process.argv.includes("--no-runtime")
  ? { runtime: false }
  : {};

async function runBlock(
  mode: Mode,
  seconds: number,
  cycleMs: number,
  dir: string,
  loadPid: number,
  startStop: { start: number[]; stop: number[] },
): Promise<Block> {
  let cycling = false;
  let cycler: Promise<void> | undefined;
  if (mode === "steady") await trace.start(join(dir, "steady.trace"), startOptions);
  if (mode === "cycling") {
    cycling = true;
    cycler = (async () => {
      while (cycling) {
        let t = performance.now();
        await trace.start(join(dir, "cycle.trace"), startOptions);
        startStop.start.push(performance.now() - t);
        const due = performance.now() + cycleMs;
        while (cycling && performance.now() < due) {
          await sleep(Math.min(50, due - performance.now()));
        }
        t = performance.now();
        await trace.stop();
        startStop.stop.push(performance.now() - t);
      }
    })();
  }
  const r0 = served, c0 = cpuSample(loadPid), t0 = performance.now();
  await sleep(seconds * 1000);
  const r1 = served, c1 = cpuSample(loadPid), t1 = performance.now();
  cycling = false;
  await cycler;
  if (mode === "steady") await trace.stop();
  return {
    mode,
    requests: r1 - r0,
    seconds: (t1 - t0) / 1000,
    cpu: {
      process: c1.process - c0.process,
      main: c1.main - c0.main,
      load: c1.load - c0.load,
      machine: c1.machine - c0.machine,
    },
  };
}

/** The load average over 1, 5 and 15 minutes, or "?". */
export function loadavg(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

async function main(): Promise<void> {
  if (process.argv.includes("--role")) {
    return generateLoad(arg("--port", 0), arg("--connections", 32));
  }
  const rounds = arg("--rounds", 5);
  const blockSeconds = arg("--block", 4);
  const connections = arg("--connections", 32);
  const workUs = arg("--work-us", 100);
  const cycleMs = arg("--cycle-ms", 800);
  const plainTask = process.argv.includes("--task=plain");
  const runtime = isDeno
    ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
    : `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`;

  const perUs = calibrate();
  const units = Math.max(1, Math.round(workUs * perUs));
  const app = makeApp(units);
  const handler: Handler = plainTask
    ? async (req) => {
      if (!trace.isEnabled()) return countServed(await app(req));
      const [ctx, task] = trace.newTask("GET /users/:id");
      try {
        return countServed(await ctx.run(() => app(req)));
      } finally {
        task.end();
      }
    }
    : (() => {
      const wrapped = traceRequests(app, { route: () => "/users/:id" });
      return async (req: Request) => countServed(await wrapped(req));
    })();
  const server = await serve(() => handler);
  const port = Number(new URL(server.url).port);
  const dir = mkdtempSync(join(tmpdir(), "runtrace-httpcycle-"));
  const script = new URL(import.meta.url).pathname;
  const args = isDeno ? ["run", "-A", script] : [script];
  const child = spawn(process.execPath, [
    ...args,
    "--role",
    "load",
    "--port",
    String(port),
    "--connections",
    String(connections),
  ], { stdio: ["pipe", "inherit", "inherit"] });
  const startStop = { start: [] as number[], stop: [] as number[] };
  const blocks: Block[] = [];
  const loadBefore = loadavg();
  const threads0 = threadCpu();
  try {
    // Warm-up: the JIT, the connections, and the drain worker's first start.
    await sleep(1500);
    await runBlock("cycling", 2, cycleMs, dir, child.pid!, { start: [], stop: [] });
    await runBlock("untraced", 1, cycleMs, dir, child.pid!, startStop);
    startStop.start.length = startStop.stop.length = 0;
    const only = ["untraced", "steady", "cycling"].find((m) =>
      process.argv.includes(`--only=${m}`)
    );
    const order: Mode[] = only
      ? Array(6).fill(only)
      : ["untraced", "steady", "cycling", "cycling", "steady", "untraced"];
    for (let r = 0; r < rounds; r++) {
      for (const mode of order) {
        await sleep(300);
        blocks.push(await runBlock(mode, blockSeconds, cycleMs, dir, child.pid!, startStop));
      }
    }
  } finally {
    child.stdin?.end();
    child.kill();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const threads1 = threadCpu();
  report({
    runtime,
    rounds,
    blockSeconds,
    connections,
    workUs,
    units,
    cycleMs,
    plainTask,
    blocks,
    startStop,
    loadBefore,
    threads: [...threads1].map(([k, v]) => [k, v - (threads0.get(k) ?? 0)] as [string, number]),
  });
}

function countServed(res: Response): Response {
  served++;
  return res;
}

interface ReportInput {
  runtime: string;
  rounds: number;
  blockSeconds: number;
  connections: number;
  workUs: number;
  units: number;
  cycleMs: number;
  plainTask: boolean;
  blocks: Block[];
  startStop: { start: number[]; stop: number[] };
  loadBefore: string;
  threads: [string, number][];
}

function report(o: ReportInput): void {
  const modes: Mode[] = ["untraced", "steady", "cycling"];
  const of = (m: Mode, bs = o.blocks) => bs.filter((b) => b.mode === m);
  const total = (bs: Block[], g: (b: Block) => number) => bs.reduce((s, b) => s + g(b), 0);
  const rate = (bs: Block[]) => total(bs, (b) => b.requests) / total(bs, (b) => b.seconds);
  const perRequest = (g: (b: Block) => number) => (bs: Block[]) =>
    total(bs, g) / total(bs, (b) => b.requests);
  /** `stat` of mode `m` over untraced's, within each round (its two blocks each). */
  const perRound = (m: Mode, stat: (bs: Block[]) => number) => {
    const out: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const bs = o.blocks.slice(r * 6, r * 6 + 6);
      out.push(stat(of(m, bs)) / stat(of("untraced", bs)));
    }
    return out;
  };
  const f = (x: number, d = 1) => x.toFixed(d);
  const spread = (xs: number[], d: number) =>
    `${f(median(xs), d)} (${f(Math.min(...xs), d)}–${f(Math.max(...xs), d)})`;
  console.log(
    `### ${o.runtime}: ${o.rounds} rounds of A B C C B A, ${o.blockSeconds} s blocks, ` +
      `${o.connections} connections, ${o.workUs} µs of work (${o.units} units), ` +
      `sessions of ${o.cycleMs} ms, task by ${o.plainTask ? "newTask" : "traceRequests"}` +
      `${startOptions.runtime === false ? ", runtime: false" : ""}\n`,
  );
  console.log(`load average before ${o.loadBefore}, after ${loadavg()}\n`);
  console.log(
    "| mode | requests/s, median block (min–max) | throughput traced / untraced | " +
      "server CPU µs / request | CPU / request, traced / untraced | main thread µs / request | " +
      "main thread's, traced / untraced | main thread busy | generator µs / request | " +
      "other processes, cores |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  const cpu = perRequest((b) => b.cpu.process), main = perRequest((b) => b.cpu.main);
  for (const m of modes) {
    const bs = of(m);
    if (bs.length === 0) continue; // --only ran another mode
    const secs = total(bs, (b) => b.seconds) * 1000;
    const other = (total(bs, (b) => b.cpu.machine - b.cpu.process - b.cpu.load)) / secs;
    const ratio = (stat: (bs: Block[]) => number) =>
      m === "untraced" || of("untraced").length === 0 ? "—" : spread(perRound(m, stat), 3);
    console.log(
      `| ${m} | ${spread(bs.map((b) => b.requests / b.seconds), 0)} | ${ratio(rate)} | ` +
        `${f(cpu(bs) * 1000)} | ${ratio(cpu)} | ${f(main(bs) * 1000)} | ${ratio(main)} | ` +
        `${f((total(bs, (b) => b.cpu.main) / secs) * 100, 0)}% | ` +
        `${f(perRequest((b) => b.cpu.load)(bs) * 1000)} | ${f(Math.max(0, other), 2)} |`,
    );
  }
  console.log(
    "\nRatios are per round (a mode's two blocks against untraced's two), median (min–max)" +
      " over rounds. With the main thread saturated (busy near 100 %), throughput follows" +
      " its CPU per request; on a loaded machine the CPU ratios are the steadier figure.",
  );
  const ss = o.startStop;
  const cyc = of("cycling"), std = of("steady");
  if (cyc.length > 0 && std.length > 0 && ss.start.length > 0) {
    // What a session costs beyond tracing left on: cycling's CPU per request
    // over steady's, times cycling's requests, per session started.
    const n = total(cyc, (b) => b.requests) / ss.start.length;
    console.log(
      `\nA session beyond steady tracing, CPU ms (cycling's per request minus steady's, × ` +
        `requests per session): process ${f((cpu(cyc) - cpu(std)) * n, 2)}, main thread ` +
        `${f((main(cyc) - main(std)) * n, 2)}; back to back it is 1.3–2.8 ` +
        `(bench/session_cost_probe.ts; bench/session_load_probe.ts measures it under load, amplified).`,
    );
  }
  if (ss.start.length > 0) {
    const q = (xs: number[]) =>
      `${f(median(xs), 2)} ms (${f(Math.min(...xs), 2)}–${f(Math.max(...xs), 2)})`;
    console.log(
      `\nCycling blocks: ${ss.start.length} sessions; \`await start()\` ${q(ss.start)}, ` +
        `\`await stop()\` ${q(ss.stop)} (median, min–max).`,
    );
  }
  const top = o.threads.filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, 8);
  console.log(
    `\nServer threads' CPU over the whole run (name:tid ms): ${
      top.map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
  );
}

if (import.meta.main || (globalThis as { HB_MAIN?: boolean }).HB_MAIN) await main();
