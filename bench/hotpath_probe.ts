/**
 * The hot path on a busy machine (issue 11): `log` and region pairs over the
 * clock read, in short runs (2 048 calls) taken 400 times, alternated, with
 * the ring drained every 20 rounds; the fastest run and the 10th percentile of
 * each case over the clock's. A run that short is rarely preempted, so the
 * fastest runs estimate the unloaded cost where bench.ts's medians of longer
 * runs cannot. Pass the root of a runtrace checkout to compare two trees in
 * alternated processes.
 *
 * ```
 * deno run -A bench/hotpath_probe.ts [ROOT]      bun bench/hotpath_probe.ts [ROOT]
 * ```
 *
 * @module
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { clockRun } from "./clock_run.ts";

const root = resolve(process.argv[2] ?? join(import.meta.dirname ?? ".", ".."));
const trace: typeof import("../mod.ts") = await import(pathToFileURL(join(root, "mod.ts")).href);
const dir = mkdtempSync(join(tmpdir(), "runtrace-probe-"));
await trace.start(join(dir, "probe.trace"));
const ctx = trace.newTask("probe")[0];
const MESSAGES = Array.from({ length: 1024 }, (_, k) => `GET /users/${1000 + k}`);

function pair(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) trace.startRegion(ctx, "pair").end();
  return performance.now() - t0;
}
function log(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) trace.log(ctx, "http", MESSAGES[i & 1023]);
  return performance.now() - t0;
}
function pairNoContext(n: number): number {
  return ctx.run(() => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) trace.startRegion("pair").end();
    return performance.now() - t0;
  });
}

const CASES: [string, (n: number) => number][] = [
  ["clock", clockRun],
  ["log(ctx, cat, msg)", log],
  ["region pair", pair],
  ["region pair, no ctx", pairNoContext],
];
const CALLS = 2048, RUNS = 400;
const ns = new Map<string, number[]>(CASES.map(([k]) => [k, []]));
for (const [, f] of CASES) for (let k = 0; k < 3; k++) f(CALLS);
for (let r = 0; r < RUNS; r++) {
  for (const [k, f] of CASES) ns.get(k)!.push(f(CALLS) * 1e6 / CALLS);
  if (r % 20 === 19) await new Promise((done) => setTimeout(done, 5));
}
const stats = await trace.stop();
rmSync(dir, { recursive: true, force: true });
const at = (k: string, q: number) => {
  const xs = [...ns.get(k)!].sort((a, b) => a - b);
  return xs[Math.floor(q * (xs.length - 1))];
};
const runtime = (globalThis as { Bun?: { version: string } }).Bun
  ? `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`;
console.log(
  `${runtime} · ${root} · clock ${at("clock", 0).toFixed(1)} ns (p10 ${
    at("clock", 0.1).toFixed(1)
  }) · events lost ${stats.lost}${
    stats.lost > 0 ? " (a dropped event is cheaper: figures low)" : ""
  }`,
);
for (const [k] of CASES.slice(1)) {
  const fastest = at(k, 0) / at("clock", 0), p10 = at(k, 0.1) / at("clock", 0.1);
  console.log(`  ${k}: fastest ${fastest.toFixed(2)}× clock, p10 ${p10.toFixed(2)}×`);
}
