/**
 * What a tracing session costs besides its events (issue 11, "always on"):
 * - `await start()` wall time: the process's first session, and repeated
 *   sessions (median; each 100 ms after the previous session's end);
 * - a session's process CPU: start → 0.2 s with 20 000 tasks → stop, and its
 *   fixed part: the CPU traced minus untraced is `fixed + n × per event`, so
 *   the runs with 20 000 and 40 000 tasks give `fixed = 2·D(20k) − D(40k)`;
 * - idle CPU share of one core (process CPU time over wall time) with tracing
 *   on (default options, and `runtime: false`) and off.
 *
 * Every case alternates with the others run by run; medians. Process CPU time
 * (`process.cpuUsage()`, all threads) is usable on a loaded machine, where
 * wall time is not; the load is printed beside the figures.
 *
 * Run: `deno run -A bench/start_bench.ts` or `bun bench/start_bench.ts`
 * (`--runs N`, default 15; `--idle-seconds S` per idle run, default 2).
 *
 * @module
 */

import process from "node:process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as trace from "../mod.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const runs = arg("--runs", 15);
const idleSeconds = arg("--idle-seconds", 2);
const dir = mkdtempSync(join(tmpdir(), "runtrace-startbench-"));
const runtime = "Deno" in globalThis
  ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};
const load = () => {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
};

/** `n` tasks (newTask + end) spread over 10 slices of 20 ms. */
async function workload(n: number): Promise<void> {
  const t0 = performance.now();
  for (let slice = 0; slice < 10; slice++) {
    for (let i = 0; i < n / 10; i++) trace.newTask("job")[1].end();
    const due = t0 + (slice + 1) * 20;
    await sleep(Math.max(0, due - performance.now()));
  }
}

/** Process CPU, ms, of one session start → workload(n) → stop, or of the workload alone. */
async function sessionCpu(n: number, traced: boolean, file: string): Promise<number> {
  const c0 = cpuMs();
  if (traced) await trace.start(file);
  await workload(n);
  if (traced) await trace.stop();
  return cpuMs() - c0;
}

/** Process CPU share of one core while idle for `ms`, tracing on with `options`, or off. */
async function idleShare(ms: number, options: trace.StartOptions | null, file: string) {
  if (options) await trace.start(file, options);
  await sleep(300); // past the quiet spell after which samplers stop
  const c0 = cpuMs(), t0 = performance.now();
  await sleep(ms);
  const share = (cpuMs() - c0) / (performance.now() - t0);
  if (options) await trace.stop();
  return share;
}

console.log(`# session costs, ${runtime}, ${new Date().toISOString()}, load ${load()}`);

let t0 = performance.now();
await trace.start(join(dir, "first.trace"));
const first = performance.now() - t0;
await trace.stop();

const starts: number[] = [];
const d20: number[] = [], d40: number[] = [], t20: number[] = [], fixed: number[] = [];
const idleOn: number[] = [], idleOff: number[] = [], idleNone: number[] = [];
for (let r = 0; r < runs; r++) {
  const file = join(dir, `r${r % 2}.trace`);
  await sleep(100); // a later session, not one right behind the last stop's file writes
  t0 = performance.now();
  await trace.start(file);
  starts.push(performance.now() - t0);
  await trace.stop();
  const u20 = await sessionCpu(20_000, false, file);
  const c20 = await sessionCpu(20_000, true, file);
  const u40 = await sessionCpu(40_000, false, file);
  const c40 = await sessionCpu(40_000, true, file);
  t20.push(c20);
  d20.push(c20 - u20);
  d40.push(c40 - u40);
  fixed.push(2 * (c20 - u20) - (c40 - u40));
}
const idleRuns = Math.max(3, Math.min(runs, 5));
for (let r = 0; r < idleRuns; r++) {
  const file = join(dir, `idle${r % 2}.trace`);
  idleNone.push(await idleShare(idleSeconds * 1000, null, file));
  idleOn.push(await idleShare(idleSeconds * 1000, {}, file));
  idleOff.push(await idleShare(idleSeconds * 1000, { runtime: false }, file));
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
console.log(`| what | ${runtime} |`);
console.log(`|---|---|`);
console.log(`| \`await start()\`, the process's first session | ${ms(first)} |`);
console.log(
  `| \`await start()\`, repeated sessions (median of ${runs}; min–max) | ${ms(median(starts))} (${
    ms(Math.min(...starts))
  }–${ms(Math.max(...starts))}) |`,
);
console.log(`| process CPU, 0.2 s session with 20 000 tasks, start → stop | ${ms(median(t20))} |`);
console.log(
  `| same minus the untraced workload | ${ms(median(d20))} (40 000 tasks: ${ms(median(d40))}) |`,
);
console.log(`| session fixed CPU (2·D(20k) − D(40k), median) | ${ms(median(fixed))} |`);
console.log(
  `| idle process, not tracing (median of ${idleRuns} × ${idleSeconds} s) | ${
    pct(median(idleNone))
  } |`,
);
console.log(`| idle process, tracing, default options | ${pct(median(idleOn))} |`);
console.log(`| idle process, tracing, \`runtime: false\` | ${pct(median(idleOff))} |`);
console.log(`load after: ${load()}`);
