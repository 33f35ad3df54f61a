/**
 * Costs of the execution side of the trace (issue: runtime events):
 * - the samplers (heartbeat every 10 ms, heap every 10 ms): process CPU time
 *   over an idle stretch with tracing on, runtime sampling on vs off, as a
 *   fraction of one core (the drain worker's share included);
 * - the caller's cost per event without lanes (`startRegion`), with a lane
 *   (`withRegion`, which also makes the context current), and with stacks.
 *
 * Run: `deno run -A bench/runtime_bench.ts` or `bun bench/runtime_bench.ts`
 * (`--seconds N` for the idle stretch, default 5; 5 runs each, medians).
 *
 * @module
 */

import process from "node:process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as trace from "../mod.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const seconds = arg("--seconds", 5);
const runs = 5;
const dir = mkdtempSync(join(tmpdir(), "runtrace-rtbench-"));
const runtime = "Deno" in globalThis
  ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** CPU share of one core used by the whole process while idle for `ms`. */
async function idleCpu(ms: number): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(ms);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / (performance.now() - t0);
}

console.log(`# runtime events cost, ${runtime}, ${new Date().toISOString().slice(0, 10)}`);

const on: number[] = [], off: number[] = [], none: number[] = [];
for (let r = 0; r < runs; r++) {
  none.push(await idleCpu(seconds * 200));
  await trace.start(join(dir, `off${r}.trace`), { runtime: false });
  await sleep(100);
  off.push(await idleCpu(seconds * 200));
  await trace.stop();
  await trace.start(join(dir, `on${r}.trace`));
  await sleep(100);
  on.push(await idleCpu(seconds * 200));
  await trace.stop();
}
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
console.log(`idle process CPU, share of one core (median of ${runs} × ${seconds / 5}s):`);
console.log(`  not tracing                          ${pct(median(none))}`);
console.log(`  tracing, runtime: false              ${pct(median(off))}`);
console.log(`  tracing, runtime sampling on         ${pct(median(on))}`);
console.log(`  samplers (heartbeat + heap, 10 ms)   ${pct(Math.max(0, median(on) - median(off)))}`);

/** ns per call of `body`, median of runs of n calls. */
function perCall(n: number, body: (n: number) => void): number {
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    body(n);
    xs.push((performance.now() - t0) * 1e6 / n);
  }
  return median(xs);
}

const n = 200_000;
const clock = perCall(n, (n) => {
  let x = 0;
  for (let i = 0; i < n; i++) x += performance.now();
  if (x === 1) console.log(x);
});
await trace.start(join(dir, "plain.trace"), { runtime: false });
const [ctx] = trace.newTask("bench");
const plain = perCall(n, (n) => {
  for (let i = 0; i < n; i++) trace.startRegion(ctx, "r").end();
});
const lane = perCall(n, (n) => {
  for (let i = 0; i < n; i++) trace.withRegion(ctx, "r", noop);
});
await trace.stop();
await trace.start(join(dir, "stacks.trace"), { runtime: false, stacks: true });
const stacked = perCall(n / 20, (n) => {
  for (let i = 0; i < n; i++) trace.startRegion(ctx, "r").end();
});
await trace.stop();
function noop() {}

console.log(`caller cost per region (start + end = 2 events), ns (median of ${runs}):`);
console.log(`  performance.now() alone              ${clock.toFixed(1)}`);
console.log(
  `  startRegion + end, no lane           ${plain.toFixed(1)}  (${
    (plain / 2).toFixed(1)
  } per event)`,
);
console.log(
  `  withRegion, its own lane             ${lane.toFixed(1)}  (${(lane / 2).toFixed(1)} per event)`,
);
console.log(`  startRegion + end, stacks: true      ${stacked.toFixed(0)}  (one stack per region)`);
