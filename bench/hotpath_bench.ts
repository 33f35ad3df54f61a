/**
 * The caller's hot path (issue 11): what `log`, a region pair and
 * `withRegion` cost beside a clock read, and how the ring's hand-over to the
 * drain worker weighs in it. One process; the cases take turns run by run,
 * so that the machine's load (other processes) hits them alike; the figure is
 * each case's median over the clock's median. Beside it, the fastest run's
 * over the clock's fastest: on a busy machine the run least preempted is the
 * better estimate (a thread's CPU time cannot stand in for wall time here:
 * Linux accounts it per scheduler tick, 4 ms, longer than a run).
 *
 * Two stand-ins of the ring writer's record path, each on a ring of its own
 * that a consumer thread drains as the drain worker does (every 50 ms, or
 * when woken at half full), compare the two hand-overs in the same process:
 * "per record" publishes the head with an `Atomics.store` after every record
 * (runtrace before issue 11), "per block" publishes it once per 256 records
 * (ring_writer.ts now). The API cases run whatever lib/record holds.
 *
 * ```
 * deno run -A bench/hotpath_bench.ts [--runs=N]     bun bench/hotpath_bench.ts [--runs=N]
 * ```
 *
 * @module
 */

import * as trace from "../mod.ts";
import { storage } from "../lib/record/context.ts";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const runsFlag = process.argv.find((a) => a.startsWith("--runs="));
const RUNS = runsFlag ? Math.max(5, Number(runsFlag.slice(7)) | 0) : 21;
/** Calls per run: 65 536 records at most, a quarter of the default ring. */
const CALLS = 1 << 15;
/** Spin before each run (the drain worker's flush interval is 50 ms). */
const SETTLE_MS = 60;

let sink = 0;

const settle = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

// ---------------------------------------------------------------------------
// Stand-ins of the record path on private rings, drained by a consumer thread.

const CAPACITY = 1 << 18;
const CTRL_WORDS = 32;
const HEAD = 0, TAIL = 16, WAKE = 3;
const BLOCK = 256;

/** The consumer: drains like the drain worker, reading every record's words. */
const CONSUMER = `
onmessage = (e) => {
  const { sab, capacity } = e.data;
  const ctrl = new Int32Array(sab, 0, ${CTRL_WORDS});
  const u32 = new Uint32Array(sab, ${CTRL_WORDS * 4}, capacity * 8);
  const mask = capacity - 1;
  let acc = 0;
  for (;;) {
    const seen = Atomics.load(ctrl, ${WAKE});
    const head = Atomics.load(ctrl, ${HEAD});
    let tail = Atomics.load(ctrl, ${TAIL});
    while (tail !== head) {
      const i = (tail & mask) << 3;
      acc += u32[i] + u32[i + 2] + u32[i + 3] + u32[i + 4] + u32[i + 5] + u32[i + 6] + u32[i + 7];
      tail = (tail + 1) | 0;
    }
    Atomics.store(ctrl, ${TAIL}, tail);
    if (acc === -1) postMessage(acc);
    Atomics.wait(ctrl, ${WAKE}, seen, 50);
  }
};`;

/** One stand-in ring: the producer's state, as ring_writer.ts keeps it. */
class StandIn {
  ctrl: Int32Array;
  f64: Float64Array;
  u32: Uint32Array;
  mask = CAPACITY - 1;
  head = 0;
  limit = 0;
  published = 0;
  queued = false;
  worker: Worker;
  constructor() {
    const sab = new SharedArrayBuffer(CTRL_WORDS * 4 + CAPACITY * 32);
    this.ctrl = new Int32Array(sab, 0, CTRL_WORDS);
    this.f64 = new Float64Array(sab, CTRL_WORDS * 4, CAPACITY * 4);
    this.u32 = new Uint32Array(sab, CTRL_WORDS * 4, CAPACITY * 8);
    const url = URL.createObjectURL(new Blob([CONSUMER], { type: "text/javascript" }));
    this.worker = new Worker(url, { type: "module" });
    this.worker.postMessage({ sab, capacity: CAPACITY });
  }
  /** The slow path: room, a wake at half full, and (per block) the publication. */
  reserve(block: number): boolean {
    this.publish();
    const used = (this.head - Atomics.load(this.ctrl, TAIL)) | 0;
    if (used >= CAPACITY >> 1) {
      Atomics.add(this.ctrl, WAKE, 1);
      Atomics.notify(this.ctrl, WAKE);
    }
    if (used >= CAPACITY) return false;
    this.limit = (this.head + Math.min(CAPACITY - used, CAPACITY >> 2, block)) | 0;
    if (block < CAPACITY && !this.queued) {
      this.queued = true;
      queueMicrotask(() => {
        this.queued = false;
        this.publish();
        this.limit = this.head;
      });
    }
    return true;
  }
  publish(): void {
    if (this.head === this.published) return;
    this.published = this.head;
    Atomics.store(this.ctrl, HEAD, this.head);
  }
}

const perRecord = new StandIn();
const perBlock = new StandIn();

/** The record path before issue 11: an `Atomics.store` of the head per record. */
function recordPerRecord(kind: number, a: number, b: number, c: number, d: number, e: number) {
  const r = perRecord;
  if (r.head === r.limit && !r.reserve(CAPACITY)) return false;
  const i = (r.head & r.mask) << 3;
  r.f64[i >> 1] = performance.now();
  r.u32[i + 2] = kind;
  r.u32[i + 3] = a;
  r.u32[i + 4] = b;
  r.u32[i + 5] = c;
  r.u32[i + 6] = d;
  r.u32[i + 7] = e;
  r.head = (r.head + 1) | 0;
  r.published = r.head;
  Atomics.store(r.ctrl, HEAD, r.head);
  return true;
}

/** The record path now: plain stores; the slow path publishes once per block. */
function recordPerBlock(kind: number, a: number, b: number, c: number, d: number, e: number) {
  const r = perBlock;
  if (r.head === r.limit && !r.reserve(BLOCK)) return false;
  const i = (r.head & r.mask) << 3;
  r.f64[i >> 1] = performance.now();
  r.u32[i + 2] = kind;
  r.u32[i + 3] = a;
  r.u32[i + 4] = b;
  r.u32[i + 5] = c;
  r.u32[i + 6] = d;
  r.u32[i + 7] = e;
  r.head = (r.head + 1) | 0;
  return true;
}

// ---------------------------------------------------------------------------
// Cases: each its own function and loop, returning ms for n iterations.

const ctx = trace.newTask("bench")[0];
const MESSAGES = Array.from({ length: 1024 }, (_, k) => `GET /users/${1000 + k}`);
const noop = () => 0;

function caseClock(n: number): number {
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) acc += performance.now();
  const t1 = performance.now();
  sink += acc;
  return t1 - t0;
}

function caseLog(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) trace.log(ctx, "http", MESSAGES[i & 1023]);
  return performance.now() - t0;
}

function casePair(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) trace.startRegion(ctx, "pair").end();
  return performance.now() - t0;
}

function casePairImplicit(n: number): number {
  return ctx.run(() => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) trace.startRegion("pair").end();
    return performance.now() - t0;
  });
}

function caseWithRegion(n: number): number {
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) acc += trace.withRegion(ctx, "with", noop);
  const t1 = performance.now();
  sink += acc;
  return t1 - t0;
}

/** `AsyncLocalStorage.run` alone: what a `withRegion` lane costs beside its records. */
function caseStorageRun(n: number): number {
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) acc += storage.run(ctx, noop);
  const t1 = performance.now();
  sink += acc;
  return t1 - t0;
}

/** Two records per iteration, as a region pair writes. */
function caseStandInPerRecord(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    recordPerRecord(5, 1, 2, i, 0, 1);
    recordPerRecord(6, i, 0, 0, 0, 0);
  }
  return performance.now() - t0;
}

function caseStandInPerBlock(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    recordPerBlock(5, 1, 2, i, 0, 1);
    recordPerBlock(6, i, 0, 0, 0, 0);
  }
  return performance.now() - t0;
}

interface Case {
  key: string;
  label: string;
  fn: (n: number) => number;
  /** The number that defines the target, if any. */
  target?: number;
}

const CASES: Case[] = [
  { key: "clock", label: "`performance.now()`", fn: caseClock },
  { key: "log", label: "`log(ctx, cat, msg)`, 1 024 distinct messages", fn: caseLog, target: 1.3 },
  { key: "pair", label: "region pair `startRegion(ctx, type).end()`", fn: casePair, target: 2.6 },
  { key: "pairImplicit", label: "region pair `startRegion(type).end()`", fn: casePairImplicit },
  { key: "withRegion", label: "`withRegion(ctx, type, fn)`, sync fn", fn: caseWithRegion },
  { key: "storageRun", label: "`AsyncLocalStorage.run(ctx, fn)` alone", fn: caseStorageRun },
  {
    key: "perRecord",
    label: "stand-in: 2 records, head published per record",
    fn: caseStandInPerRecord,
  },
  {
    key: "perBlock",
    label: "stand-in: 2 records, head published per 256",
    fn: caseStandInPerBlock,
  },
];

/** Machine-wide busy CPU ms from /proc/stat (Linux), or undefined. */
function machineBusyMs(): number | undefined {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1)
      .map(Number);
    const idle = f[3] + (f[4] ?? 0);
    return (f.reduce((a, b) => a + b, 0) - idle) * 10;
  } catch {
    return undefined;
  }
}

const runtime = (() => {
  const g = globalThis as {
    Deno?: { version: { deno: string; v8: string } };
    Bun?: { version: string };
  };
  if (g.Bun) return `Bun ${g.Bun.version} (JavaScriptCore)`;
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  return `Node ${process.versions.node}`;
})();

const fmt = (x: number, d = 2) => x.toFixed(d);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "runtrace-hotpath-"));
  const load0 = loadavg();
  const busy0 = machineBusyMs(), wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  await trace.start(join(dir, "hotpath.trace"));
  const samples = new Map<string, number[]>();
  try {
    for (const c of CASES) {
      c.fn(1 << 12);
      c.fn(CALLS);
      samples.set(c.key, []);
    }
    for (let round = 0; round < RUNS; round++) {
      for (const c of CASES) {
        settle(SETTLE_MS);
        // Lets a queued publication run (between runs, as between a program's tasks).
        await Promise.resolve();
        samples.get(c.key)!.push(c.fn(CALLS) * 1e6 / CALLS);
      }
    }
  } finally {
    const stats = await trace.stop();
    rmSync(dir, { recursive: true, force: true });
    perRecord.worker.terminate();
    perBlock.worker.terminate();
    if (stats.lost > 0) console.error(`warning: ${stats.lost} events lost: figures too low`);
  }
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  const busy1 = machineBusyMs();
  const others = busy0 === undefined || busy1 === undefined
    ? "unknown"
    : fmt(Math.max(0, busy1 - busy0 - (cpu.user + cpu.system) / 1000) / wallMs);
  const med = (key: string) => {
    const xs = [...samples.get(key)!].sort((a, b) => a - b);
    return { m: xs[xs.length >> 1], lo: xs[0], hi: xs[xs.length - 1] };
  };
  const clock = med("clock").m;
  const clockBest = med("clock").lo;
  console.log(
    `${new Date().toISOString().slice(0, 16)} UTC · ${runtime} · ${cpus().length} × ${
      cpus()[0]?.model ?? "?"
    } · load average ${load0.map((x) => fmt(x)).join(" ")} → ${
      loadavg().map((x) => fmt(x)).join(" ")
    } · other processes used ${others} cores · ${RUNS} runs of ${CALLS} calls\n`,
  );
  console.log("| case | ns/call, median (min–max) | × clock | × clock, fastest runs | target |");
  console.log("| --- | ---: | ---: | ---: | --- |");
  for (const c of CASES) {
    const { m, lo, hi } = med(c.key);
    const ratio = m / clock;
    const verdict = c.target === undefined
      ? ""
      : `≤ ${c.target}× ${ratio <= c.target ? "PASS" : "**MISS**"}`;
    console.log(
      `| ${c.label} | ${fmt(m)} (${fmt(lo, 1)}–${fmt(hi, 1)}) | ${fmt(ratio)} | ${
        fmt(lo / clockBest)
      } | ${verdict} |`,
    );
  }
  if (sink === 0.5) console.log(sink);
}

await main();
