/**
 * What one tracing session costs the process beyond its events, by thread,
 * back to back (issue 11's "a session's fixed CPU cost"): `--sessions N`
 * sessions, each recording `--events E` events (tasks with a log and a
 * `withRegion`, in 10 bursts between event-loop turns) to a file, against the
 * same events recorded in one session; the two alternate 4 times, and each
 * thread's CPU (`/proc/self/task/TID/schedstat`) is compared: the extra per
 * session is the session's own cost, on the main thread, the drain worker,
 * and the runtime's JIT and GC threads. Linux only.
 *
 * `--tree DIR` measures another checkout (an old tree, for before/after:
 * `git worktree add --detach /tmp/rt-old <commit>`).
 *
 * Run: `deno run -A bench/session_cost_probe.ts` or `bun
 * bench/session_cost_probe.ts` (`--sessions 30`, `--events 2000` by default;
 * about 20 s).
 *
 * @module
 */

import process from "node:process";
import { setImmediate } from "node:timers";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { threadNs } from "./session_load_probe.ts";
import { loadavg } from "./http_cycle_bench.ts";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const sessions = Number(arg("--sessions", "30"));
const events = Number(arg("--events", "2000"));
const tree = arg("--tree", "");
const trace: typeof import("../mod.ts") = await import(
  tree ? `file://${resolve(tree)}/mod.ts` : "../mod.ts"
);
const dir = mkdtempSync(join(tmpdir(), "runtrace-sessioncost-"));
const path = join(dir, "t.trace");
const turn = () => new Promise<void>((r) => setImmediate(r));

/** `events` events: tasks (begin, log, region begin and end, end: 5 each) in 10 bursts. */
async function record(): Promise<void> {
  for (let b = 0; b < 10; b++) {
    for (let i = 0; i < events / 50; i++) {
      const [ctx, task] = trace.newTask("GET /users/:id");
      trace.log(ctx, "http.path", `/users/${i}`);
      trace.withRegion(ctx, "auth", () => 0);
      task.end();
    }
    await turn();
  }
}

/** Wall times, ms, of `await start()` and `await stop()` in the measured cycling runs. */
const waits = { start: [] as number[], stop: [] as number[] };
let measuring = false;

async function cycling(): Promise<void> {
  for (let i = 0; i < sessions; i++) {
    let t = performance.now();
    await trace.start(path);
    if (measuring) waits.start.push(performance.now() - t);
    await record();
    t = performance.now();
    await trace.stop();
    if (measuring) waits.stop.push(performance.now() - t);
  }
}

async function steady(): Promise<void> {
  await trace.start(path);
  for (let i = 0; i < sessions; i++) await record();
  await trace.stop();
}

const runs = { cycling, steady };
const cpu = { cycling: new Map<string, number>(), steady: new Map<string, number>() };
const before = loadavg();
// Warm-up: the drain worker's start and the JIT, for both.
await cycling();
await steady();
measuring = true;
for (let r = 0; r < 4; r++) {
  const order: (keyof typeof runs)[] = r % 2 ? ["steady", "cycling"] : ["cycling", "steady"];
  for (const name of order) {
    const t0 = threadNs();
    await runs[name]();
    await new Promise((r) => setTimeout(r, 30)); // the worker's last writes
    for (const [k, v] of threadNs()) {
      cpu[name].set(k, (cpu[name].get(k) ?? 0) + v - (t0.get(k) ?? 0));
    }
  }
}
rmSync(dir, { recursive: true, force: true });

const runtime = "Deno" in globalThis
  ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`;
console.log(
  `### ${runtime}: one session's CPU beyond its events, ${sessions} sessions of ${events} ` +
    `events against one session, 4 alternations${tree ? `, tree ${tree}` : ""}\n`,
);
console.log(`load average before ${before}, after ${loadavg()}\n`);
console.log("| thread | per session, cycling ms | steady ms | extra ms |");
console.log("|---|---:|---:|---:|");
const per = (m: Map<string, number>, k: string) => (m.get(k) ?? 0) / 4 / sessions / 1e6;
let extra = 0;
for (const k of new Set([...cpu.cycling.keys(), ...cpu.steady.keys()])) {
  const c = per(cpu.cycling, k), s = per(cpu.steady, k);
  extra += c - s;
  if (c >= 0.01 || s >= 0.01) {
    console.log(`| ${k} | ${c.toFixed(3)} | ${s.toFixed(3)} | ${(c - s).toFixed(3)} |`);
  }
}
console.log(`| all threads | | | ${extra.toFixed(3)} |`);
const q = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return `${v[v.length >> 1].toFixed(2)} ms (90th percentile ${
    v[Math.floor(v.length * 0.9)].toFixed(2)
  })`;
};
console.log(
  `\n\`await start()\` ${q(waits.start)}, \`await stop()\` ${q(waits.stop)}: median wall time.`,
);
