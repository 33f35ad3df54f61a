/**
 * Flight recorder soak: steady load for 60 s (or `--seconds N`) with a
 * recorder of minAge 5 s, sampling resident memory all along; then a snapshot
 * that must hold at least the last 5 s and stay within maxBytes plus one
 * chunk, and that `runtrace tasks` must analyse.
 *
 * Run: `deno run -A bench/flight_soak.ts` or `bun bench/flight_soak.ts`.
 *
 * @module
 */

import process from "node:process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { parseTrace } from "../read.ts";
import { main as cli } from "../cli.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const seconds = arg("--seconds", 60);
const minAge = 5_000;
const maxBytes = 10 << 20;
const runtime = "Deno" in globalThis
  ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const doc = JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ i, name: `n${i}` })) });

/** One simulated request: a task, three regions, a log. */
async function request(i: number): Promise<void> {
  const [ctx, task] = trace.newTask(i % 10 === 0 ? "checkout" : "browse");
  trace.log(ctx, "id", String(i));
  const parsed = trace.withRegion(ctx, "parse", () => JSON.parse(doc));
  await trace.withRegion(ctx, "query", () => sleep(i % 7));
  trace.withRegion(ctx, "render", () => JSON.stringify(parsed));
  task.end();
}

// `--off`: the same load without a recorder, the baseline for memory.
const off = process.argv.includes("--off");
const fr = new trace.FlightRecorder({ minAge, maxBytes });
if (!off) fr.start();
const began = performance.now();
const rss: number[] = [];
const heap: number[] = [];
let requests = 0;
while (performance.now() - began < seconds * 1000) {
  const batch: Promise<void>[] = [];
  for (let k = 0; k < 20; k++) batch.push(request(requests++));
  await Promise.all(batch);
  if (rss.length < (performance.now() - began) / 1000) {
    const m = process.memoryUsage();
    rss.push(m.rss);
    heap.push(m.heapUsed);
  }
}
const timeline = (xs: number[]) =>
  xs.filter((_, i) => (i + 1) % Math.max(1, Math.round(seconds / 6)) === 0)
    .map((b) => (b / (1 << 20)).toFixed(0)).join(" ");
if (off) {
  const mib = (b: number) => (b / (1 << 20)).toFixed(1);
  console.log(
    `rss timeline (MiB, every ${Math.max(1, Math.round(seconds / 6))} s): ${timeline(rss)}`,
  );
  console.log(`# baseline without a recorder, ${runtime}, ${seconds} s: ${requests} requests`);
  console.log(
    `rss  at 5 s ${mib(rss[4])}, at the end ${mib(rss[rss.length - 1])}, peak ${
      mib(Math.max(...rss))
    } MiB`,
  );
  console.log(
    `heap at 5 s ${mib(heap[4])}, at the end ${mib(heap[heap.length - 1])}, peak ${
      mib(Math.max(...heap))
    } MiB`,
  );
  process.exit(0);
}
const snapAt = performance.now();
const dir = mkdtempSync(join(tmpdir(), "runtrace-soak-"));
const path = join(dir, "snapshot.trace");
const size = await fr.writeTo(path);
await fr.stop();

const { readFileSync } = await import("node:fs");
const t = parseTrace(new Uint8Array(readFileSync(path)));
const times = t.tasks.filter((x) => x.start !== undefined).map((x) => x.start!);
const spanMs = (Math.max(...times) - Math.min(...times)) / 1e6;
const lastRss = rss[rss.length - 1];
// Deno's RSS grows for its first half minute with or without a recorder
// (compare --off): flatness is judged on the second half.
const half = rss[Math.floor(rss.length / 2)];
const mib = (b: number) => (b / (1 << 20)).toFixed(1);

console.log(
  `# flight recorder soak, ${runtime}, ${seconds} s, minAge ${minAge} ms, maxBytes ${
    mib(maxBytes)
  } MiB`,
);
console.log(`requests          ${requests} (${Math.round(requests / seconds)}/s, 5 events each)`);
console.log(
  `snapshot          ${mib(size)} MiB (limit ${mib(maxBytes * 1.125)} MiB incl. one chunk) ${
    size <= maxBytes * 1.125 ? "PASS" : "MISS"
  }`,
);
console.log(
  `window            ${(spanMs / 1000).toFixed(2)} s of tasks (need ≥ ${minAge / 1000} s) ${
    spanMs >= minAge ? "PASS" : "MISS"
  }`,
);
console.log(
  `snapshot taken    ${
    ((snapAt - began) / 1000).toFixed(1)
  } s into the run; truncated=${t.truncated} lost=${t.lost}`,
);
console.log(
  `rss               ${mib(Math.min(...rss))}..${mib(Math.max(...rss))} MiB; at ${
    Math.floor(rss.length / 2)
  } s ${mib(half)}, at the end ${mib(lastRss)} MiB (second half ${
    lastRss <= half * 1.1 ? "flat: PASS" : "grew: MISS"
  }; compare --off, the same load without a recorder)`,
);
console.log(
  `rss timeline      ${timeline(rss)} MiB (every ${Math.max(1, Math.round(seconds / 6))} s)`,
);
console.log(
  `heap              at 5 s ${mib(heap[Math.min(4, heap.length - 1)])}, at the end ${
    mib(heap[heap.length - 1])
  }, peak ${mib(Math.max(...heap))} MiB`,
);
console.log(`runtrace tasks on the snapshot:`);
const code = await cli(["tasks", path]);
console.log(`(exit ${code})`);
