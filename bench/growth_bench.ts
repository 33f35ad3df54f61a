/**
 * How fast a default trace grows: the realistic workload of bench/bench.ts
 * (bench/workload.ts: each request a task, three regions and a log, 16 in
 * flight) run flat out for a while under `start(file)` with default options,
 * then the file's bytes per request, per event and per minute; and the same
 * run split into parts (`split: { maxBytes }`), to show the parts' sizes.
 *
 *   deno run -A bench/growth_bench.ts [--seconds=60] [--part=16]
 *   bun bench/growth_bench.ts [--seconds=60] [--part=16]
 *
 * `--seconds` is the length of each run, `--part` the split run's maxBytes in
 * MiB. Prints a markdown table for bench/README.md.
 *
 * @module
 */

import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import * as trace from "../mod.ts";
import { makeDocument, runWorkload } from "./workload.ts";

/** One run's figures. */
interface Growth {
  label: string;
  seconds: number;
  requests: number;
  events: number;
  bytes: number;
  parts: number;
  largestPart: number;
}

function flag(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const v = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!(v > 0)) throw new RangeError(`growth_bench: --${name} must be a positive number`);
  return v;
}

/** Runs the workload for `seconds` into a trace at `dir/trace.out`. */
async function run(
  label: string,
  dir: string,
  seconds: number,
  split?: trace.SplitOptions,
): Promise<Growth> {
  const body = makeDocument();
  const path = join(dir, "trace.out");
  await trace.start(path, split ? { split } : {});
  const t0 = performance.now();
  let requests = 0;
  while (performance.now() - t0 < seconds * 1000) {
    requests += (await runWorkload({ requests: 2000, body })).requests;
  }
  const elapsed = (performance.now() - t0) / 1000;
  const stats = await trace.stop();
  const files = readdirSync(dir).map((f) => statSync(join(dir, f)).size);
  return {
    label,
    seconds: elapsed,
    requests,
    events: stats.events,
    bytes: files.reduce((a, b) => a + b, 0),
    parts: files.length,
    largestPart: Math.max(...files),
  };
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

function row(g: Growth): string {
  const perMin = (g.bytes / g.seconds) * 60;
  return `| ${g.label} | ${g.seconds.toFixed(0)} s | ${Math.round(g.requests / g.seconds)} | ${
    Math.round(g.events / g.seconds)
  } | ${(g.bytes / g.requests).toFixed(0)} B | ${(g.bytes / g.events).toFixed(2)} B | ${
    mib(perMin)
  } | ${mib((perMin * 60 * 24) / 1024).replace("MiB", "GiB")} | ${g.parts} (largest ${
    mib(g.largestPart)
  }) |`;
}

if (import.meta.main) {
  const seconds = flag("seconds", 60);
  const partMiB = flag("part", 16);
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : g.Bun ? `Bun ${g.Bun.version}` : "Node";
  const results: Growth[] = [];
  for (
    const [label, split] of [
      ["default", undefined],
      [`split ${partMiB} MiB`, { maxBytes: partMiB << 20 }],
    ] as const
  ) {
    const dir = mkdtempSync(join(tmpdir(), "runtrace-growth-"));
    try {
      results.push(await run(label, dir, seconds, split));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(
    `${runtime}, ${seconds} s per run, load average ${
      loadavg().map((l) => l.toFixed(2)).join(" ")
    }\n`,
  );
  console.log(
    "| trace | run | requests/s | events/s | bytes/request | bytes/event | growth per minute | per day | files |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const r of results) console.log(row(r));
}
