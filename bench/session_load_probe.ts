/**
 * What a tracing session's start and stop cost a busy process, apart from
 * the events (issue 11's cycling row): the loopback service's handler
 * (`traceRequests`, 3 `withRegion`, a `log`, about 100 µs of JSON work, as
 * in http_cycle_bench.ts) called in-process by `--chains` concurrent loops
 * that yield to the event loop after every request (as a server's I/O turns
 * do), so the main thread is saturated without an HTTP client's noise.
 *
 * Windows of `--window-ms` alternate U S C C S U per round: untraced,
 * steady (one session for the window), cycling (a session started and
 * stopped every `--cycle-ms`, each writing a file). Per window: requests,
 * the main thread's CPU (`/proc/self/task/PID/schedstat`, ns) and the other
 * threads' (process CPU minus the main thread's). The figure this probe is
 * for: **what one session costs beyond steady tracing**, = (cycling − steady
 * CPU per request) × cycling's requests ÷ its sessions, per round, median;
 * a short `--cycle-ms` amplifies it above the noise of a loaded machine.
 *
 * Run: `deno run -A bench/session_load_probe.ts` or `bun
 * bench/session_load_probe.ts` (`--rounds N` default 8, `--window-ms W`
 * default 1500, `--cycle-ms C` default 100, `--chains K` default 8,
 * `--no-runtime` for `runtime: false`). Linux only (/proc).
 *
 * @module
 */

import process from "node:process";
import { setImmediate } from "node:timers";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { traceRequests } from "../http.ts";
import { calibrate, loadavg, makeApp, median } from "./http_cycle_bench.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const rounds = arg("--rounds", 8);
const windowMs = arg("--window-ms", 1500);
const cycleMs = arg("--cycle-ms", 100);
const chains = arg("--chains", 8);
const options: trace.StartOptions = process.argv.includes("--no-runtime") ? { runtime: false } : {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const yieldTurn = () => new Promise<void>((r) => setImmediate(r));

/** CPU time, ns, of every thread of this process by `name:tid` (schedstat: precise, unlike stat's ticks). */
export function threadNs(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
      const s = readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8");
      out.set(
        `${tid === String(process.pid) ? "main" : name}:${tid}`,
        Number(s.slice(0, s.indexOf(" "))),
      );
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

type Mode = "untraced" | "steady" | "cycling";
interface Window {
  mode: Mode;
  requests: number;
  /** CPU, ns, of the main thread. */
  main: number;
  /** CPU, ns, of the other threads. */
  other: number;
  /** CPU, ns, by thread. */
  threads: Map<string, number>;
  sessions: number;
}

let served = 0;
let running = true;

async function chain(handler: (req: Request) => Promise<Response>): Promise<void> {
  const url = "http://127.0.0.1/users/42";
  while (running) {
    await handler(new Request(url));
    served++;
    await yieldTurn();
  }
}

async function runWindow(mode: Mode, dir: string): Promise<Window> {
  let sessions = 0;
  let cycling = mode === "cycling";
  let cycler: Promise<void> | undefined;
  if (mode === "steady") await trace.start(join(dir, "steady.trace"), options);
  const r0 = served, t0 = threadNs();
  if (cycling) {
    cycler = (async () => {
      while (cycling) {
        await trace.start(join(dir, "cycle.trace"), options);
        sessions++;
        await sleep(cycleMs);
        await trace.stop();
      }
    })();
  }
  await sleep(windowMs);
  cycling = false;
  await cycler;
  const r1 = served, t1 = threadNs();
  if (mode === "steady") await trace.stop();
  const threads = new Map<string, number>();
  let main = 0, other = 0;
  for (const [k, v] of t1) {
    const d = v - (t0.get(k) ?? 0);
    threads.set(k, d);
    if (k === `main:${process.pid}`) main += d;
    else other += d;
  }
  return { mode, requests: r1 - r0, main, other, threads, sessions };
}

async function main(): Promise<void> {
  const units = Math.max(1, Math.round(100 * calibrate()));
  const handler = traceRequests(makeApp(units), { route: () => "/users/:id" });
  const dir = mkdtempSync(join(tmpdir(), "runtrace-sessionprobe-"));
  const loops = Array.from({ length: chains }, () => chain(handler));
  const windows: Window[] = [];
  const before = loadavg();
  try {
    // Warm-up: the JIT, the drain worker's first start.
    await runWindow("cycling", dir);
    await runWindow("steady", dir);
    await runWindow("untraced", dir);
    const order: Mode[] = ["untraced", "steady", "cycling", "cycling", "steady", "untraced"];
    for (let r = 0; r < rounds; r++) {
      for (const mode of order) windows.push(await runWindow(mode, dir));
    }
  } finally {
    running = false;
    await Promise.all(loops);
    rmSync(dir, { recursive: true, force: true });
  }
  report(windows, before);
}

function report(windows: Window[], before: string): void {
  const runtime = "Deno" in globalThis
    ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
    : `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`;
  const sum = (ws: Window[], g: (w: Window) => number) => ws.reduce((s, w) => s + g(w), 0);
  const per = (ws: Window[], g: (w: Window) => number) => sum(ws, g) / sum(ws, (w) => w.requests);
  const f = (x: number, d = 1) => x.toFixed(d);
  const spread = (xs: number[], d: number) =>
    `${f(median(xs), d)} (${f(Math.min(...xs), d)}–${f(Math.max(...xs), d)})`;
  console.log(
    `### ${runtime}: session cost under load, ${rounds} rounds of U S C C S U, ${windowMs} ms ` +
      `windows, sessions of ${cycleMs} ms, ${chains} chains${
        options.runtime === false ? ", runtime: false" : ""
      }\n`,
  );
  console.log(`load average before ${before}, after ${loadavg()}\n`);
  console.log(
    "| mode | requests/s | main thread µs / request | ÷ untraced | other threads µs / request |",
  );
  console.log("|---|---:|---:|---:|---:|");
  const rowsOf = (r: number) => windows.slice(r * 6, r * 6 + 6);
  const of = (m: Mode, ws: Window[]) => ws.filter((w) => w.mode === m);
  for (const m of ["untraced", "steady", "cycling"] as Mode[]) {
    const ws = of(m, windows);
    const ratios = Array.from({ length: rounds }, (_, r) => {
      const ws2 = rowsOf(r);
      return per(of(m, ws2), (w) => w.main) / per(of("untraced", ws2), (w) => w.main);
    });
    console.log(
      `| ${m} | ${f(sum(ws, (w) => w.requests) / (ws.length * windowMs / 1000), 0)} | ` +
        `${f(per(ws, (w) => w.main) / 1000, 2)} | ${
          m === "untraced" ? "—" : spread(ratios, 3)
        } | ` +
        `${f(per(ws, (w) => w.other) / 1000, 2)} |`,
    );
  }
  // Per round: cycling's CPU beyond steady's per request, times its requests, per session.
  const extraMain: number[] = [], extraOther: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const ws = rowsOf(r), c = of("cycling", ws), s = of("steady", ws);
    const n = sum(c, (w) => w.sessions), reqs = sum(c, (w) => w.requests);
    extraMain.push((per(c, (w) => w.main) - per(s, (w) => w.main)) * reqs / n / 1e6);
    extraOther.push((per(c, (w) => w.other) - per(s, (w) => w.other)) * reqs / n / 1e6);
  }
  const sessions = sum(of("cycling", windows), (w) => w.sessions);
  // By thread, over the whole run: cycling's CPU beyond steady's, scaled to
  // cycling's requests, per session.
  const names = new Set(windows.flatMap((w) => [...w.threads.keys()]));
  const c = of("cycling", windows), s = of("steady", windows);
  const byThread = [...names].map((k) => {
    const g = (w: Window) => w.threads.get(k) ?? 0;
    return [k, (per(c, g) - per(s, g)) * sum(c, (w) => w.requests) / sessions / 1e6] as const;
  }).filter(([, v]) => Math.abs(v) >= 0.01).sort((a, b) => b[1] - a[1]);
  console.log(
    `\nOne session beyond steady tracing (${sessions} sessions), ms of CPU, median (min–max) over ` +
      `rounds: main thread ${spread(extraMain, 2)}, other threads ${spread(extraOther, 2)}. ` +
      `By thread (whole run): ${byThread.map(([k, v]) => `${k} ${f(v, 2)}`).join(", ")}.`,
  );
}

if (import.meta.main) await main();
