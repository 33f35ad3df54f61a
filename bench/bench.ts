/**
 * The core benchmarks of runtrace (issue 2): the cost of each recording call
 * beside its baselines, a caller recording flat out, and the overhead on a
 * realistic async workload. Everything runs in one process per runtime, and
 * the cases are interleaved run by run so that machine noise hits them alike.
 * Output is Markdown, ready to paste into bench/README.md.
 *
 * ```
 * deno run -A bench/bench.ts [flags]      bun bench/bench.ts [flags]
 *   --quick            5 short runs, 3 s flat out, 5 000 requests x 6 pairs in blocks of 3
 *   --only=LIST        sections to run: micro,flat,workload (default all)
 *   --runs=N           runs per micro case, the median is reported (default 11)
 *   --run-ms=MS        target length of one micro run (default 40)
 *   --flat-seconds=S   length of the flat-out run (default 10)
 *   --requests=N       requests per workload run (default 20 000)
 *   --pairs=N          on/off pairs of workload runs (default 10)
 *   --block=N          workload runs per tracing session / per off block (default 5)
 *   --keep             keep the trace files (their directory is printed)
 * ```
 *
 * @module
 */

import * as trace from "../mod.ts";
import { TraceDecoder } from "../lib/format/decoder.ts";
import { makeDocument, runWorkload } from "./workload.ts";
import { closeStandIns, standInPerBlock, standInPerRecord } from "./handover_standin.ts";
import { storage } from "../lib/record/context.ts";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

// ---------------------------------------------------------------------------
// Flags

interface Flags {
  sections: Set<string>;
  runs: number;
  runMs: number;
  flatSeconds: number;
  requests: number;
  pairs: number;
  block: number;
  keep: boolean;
  quick: boolean;
}

function parseFlags(argv: string[]): Flags {
  const quick = argv.includes("--quick");
  const f: Flags = {
    sections: new Set(["micro", "flat", "workload"]),
    runs: quick ? 5 : 11,
    runMs: quick ? 15 : 40,
    flatSeconds: quick ? 3 : 10,
    requests: quick ? 5000 : 20_000,
    pairs: quick ? 6 : 10,
    block: quick ? 3 : 5,
    keep: false,
    quick,
  };
  for (const arg of argv) {
    const [name, value] = arg.split("=", 2);
    const num = () => {
      const v = Number(value);
      if (value === undefined || !(v > 0)) {
        throw new RangeError(`bench: ${name} needs a positive number, got "${value}"`);
      }
      return v;
    };
    switch (name) {
      case "--quick":
        break;
      case "--keep":
        f.keep = true;
        break;
      case "--only": {
        const list = (value ?? "").split(",").filter(Boolean);
        for (const s of list) {
          if (!["micro", "flat", "workload"].includes(s)) {
            throw new RangeError(`bench: unknown section "${s}" (micro, flat, workload)`);
          }
        }
        f.sections = new Set(list);
        break;
      }
      case "--runs":
        f.runs = Math.max(5, Math.round(num()));
        break;
      case "--run-ms":
        f.runMs = num();
        break;
      case "--flat-seconds":
        f.flatSeconds = num();
        break;
      case "--requests":
        f.requests = Math.round(num());
        break;
      case "--pairs":
        f.pairs = Math.round(num());
        break;
      case "--block":
        f.block = Math.round(num());
        break;
      default:
        throw new RangeError(`bench: unknown flag "${arg}" (see the top of bench/bench.ts)`);
    }
  }
  return f;
}

// ---------------------------------------------------------------------------
// Micro benchmarks. Each case is its own function with its own loop, so that
// the JIT compiles every call site on its own (a shared runner calling a
// closure would add a call and blur the differences measured here). Each
// returns the total ms of `n` iterations.

/** Results go here so that no JIT can drop the work. */
let sink = 0;
const ctx = trace.newTask("bench")[0];
const noop = () => 0;

function caseEmpty(n: number): number {
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) acc += i;
  const t1 = performance.now();
  sink += acc;
  return t1 - t0;
}

function caseClock(n: number): number {
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) acc += performance.now();
  const t1 = performance.now();
  sink += acc;
  return t1 - t0;
}

/**
 * `performance.mark` then `performance.measure` from it: the web platform's
 * region pair. Entries are cleared every 100 pairs, outside the timing, so
 * the buffer stays small (a growing one makes each lookup slower).
 */
function caseMarkMeasure(n: number): number {
  let ms = 0;
  for (let i = 0; i < n; i += 100) {
    const t0 = performance.now();
    for (let k = 0; k < 100; k++) {
      performance.mark("bench-start");
      performance.measure("bench-region", "bench-start");
    }
    ms += performance.now() - t0;
    performance.clearMarks();
    performance.clearMeasures();
  }
  return ms;
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

/**
 * Log messages, 15 characters, 1 024 distinct ones used in turn: a message
 * repeated from the previous call takes a cheaper path (sent as a string id),
 * which the `logSame` case measures.
 */
const MESSAGES = Array.from({ length: 1024 }, (_, k) => `GET /users/${1000 + k}`);

function caseLog(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) trace.log(ctx, "http", MESSAGES[i & 1023]);
  return performance.now() - t0;
}

function caseLogSame(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) trace.log(ctx, "http", "GET /users/1000");
  return performance.now() - t0;
}

/**
 * A message made per call, as an app makes it (`GET /users/${id}`): a new
 * string each time, which the runtime builds lazily (a rope or cons string)
 * and `log` then reads in full. The template literal's own cost is included.
 */
function caseLogBuilt(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) trace.log(ctx, "http", `GET /users/${i}`);
  return performance.now() - t0;
}

function caseLogImplicit(n: number): number {
  return ctx.run(() => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) trace.log("http", MESSAGES[i & 1023]);
    return performance.now() - t0;
  });
}

function caseLogf(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) trace.logf(ctx, "http", "%s took %dms", "GET", i);
  return performance.now() - t0;
}

let lastRegion: trace.Region | undefined;

function caseStartRegion(n: number): number {
  let r: trace.Region | undefined;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) r = trace.startRegion(ctx, "start");
  const t1 = performance.now();
  lastRegion = r;
  return t1 - t0;
}

/**
 * `Region.end` alone: regions are started in batches outside the timing,
 * then ended inside it (one array load per call is the only extra).
 */
const batch: trace.Region[] = [];
function caseRegionEnd(n: number): number {
  let ms = 0;
  const size = 4096;
  for (let done = 0; done < n; done += size) {
    for (let k = 0; k < size; k++) batch[k] = trace.startRegion(ctx, "end");
    const t0 = performance.now();
    for (let k = 0; k < size; k++) batch[k].end();
    ms += performance.now() - t0;
  }
  return ms;
}

function caseTask(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) trace.newTask(ctx, "task")[1].end();
  return performance.now() - t0;
}

function caseWithRegion(n: number): number {
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) acc += trace.withRegion(ctx, "with", noop);
  const t1 = performance.now();
  sink += acc;
  return t1 - t0;
}

/** `AsyncLocalStorage.run` alone: what `withRegion`'s async lane costs beside its records. */
function caseStorageRun(n: number): number {
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) acc += storage.run(ctx, noop);
  const t1 = performance.now();
  sink += acc;
  return t1 - t0;
}

interface MicroCase {
  key: string;
  label: string;
  fn: (n: number) => number;
  /** Whether it runs with tracing started. */
  traced: boolean;
}

const MICRO: MicroCase[] = [
  { key: "empty", label: "empty loop iteration", fn: caseEmpty, traced: false },
  { key: "clock", label: "`performance.now()`", fn: caseClock, traced: false },
  {
    key: "markMeasure",
    label: "`performance.mark` + `measure`",
    fn: caseMarkMeasure,
    traced: false,
  },
  { key: "offPair", label: "off: region pair", fn: casePair, traced: false },
  {
    key: "offPairImplicit",
    label: "off: region pair, no ctx",
    fn: casePairImplicit,
    traced: false,
  },
  { key: "offLog", label: "off: `log`", fn: caseLog, traced: false },
  { key: "offLogf", label: "off: `logf`", fn: caseLogf, traced: false },
  { key: "offTask", label: "off: `newTask` + `end`", fn: caseTask, traced: false },
  { key: "log", label: "`log(ctx, cat, msg)`", fn: caseLog, traced: true },
  {
    key: "logSame",
    label: "`log(ctx, cat, msg)`, the same message each call",
    fn: caseLogSame,
    traced: true,
  },
  {
    key: "logBuilt",
    label: "`log(ctx, cat, msg)`, a message built per call",
    fn: caseLogBuilt,
    traced: true,
  },
  { key: "startRegion", label: "`startRegion(ctx, type)`", fn: caseStartRegion, traced: true },
  { key: "regionEnd", label: "`Region.end()`", fn: caseRegionEnd, traced: true },
  { key: "pair", label: "region pair (start + end)", fn: casePair, traced: true },
  { key: "task", label: "`newTask` + `Task.end`", fn: caseTask, traced: true },
  { key: "logImplicit", label: "`log(cat, msg)` (no ctx)", fn: caseLogImplicit, traced: true },
  {
    key: "pairImplicit",
    label: "region pair, `startRegion(type)` (no ctx)",
    fn: casePairImplicit,
    traced: true,
  },
  {
    key: "withRegion",
    label: "`withRegion(ctx, type, fn)` sync",
    fn: caseWithRegion,
    traced: true,
  },
  { key: "logf", label: "`logf(ctx, cat, fmt, s, d)`", fn: caseLogf, traced: true },
  {
    key: "storageRun",
    label: "`AsyncLocalStorage.run(ctx, fn)` alone (`withRegion`'s lane)",
    fn: caseStorageRun,
    traced: true,
  },
  {
    key: "standInPerRecord",
    label: "stand-in: 2 records, head published per record (old hand-over)",
    fn: standInPerRecord,
    traced: true,
  },
  {
    key: "standInPerBlock",
    label: "stand-in: 2 records, head published per 256 (new hand-over)",
    fn: standInPerBlock,
    traced: true,
  },
];

/** Iterations that take about `ms` ms, found by doubling, at most `cap`. */
function calibrate(fn: (n: number) => number, ms: number, cap: number): number {
  let n = 1024;
  for (;;) {
    const took = fn(n);
    if (took >= ms / 4 || n >= cap) return Math.min(cap, Math.max(1024, Math.round(n * ms / took)));
    n *= 2;
  }
}

/**
 * Calls per traced run: 32 768 calls make at most 65 536 records, a quarter
 * of the default ring, so that a run measures the caller's cost rather than
 * how fast the worker drains (the flat-out section measures that).
 */
const TRACED_CALLS = 1 << 15;
/** Pause before each run, ms: longer than the worker's flush interval (50 ms). */
const SETTLE_MS = 60;

/**
 * Waits by spinning rather than sleeping: an idle core (a virtual CPU, most
 * of all) wakes up slowly and cold, which would be charged to the next run.
 */
const settle = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

/** Medians of ns per iteration, by case key. */
type MicroResult = Map<string, { ns: number; min: number; max: number; runs: number }>;

/** What the micro section's tracing session recorded, read back. */
let microLost = { lost: 0, events: 0, truncated: false };

/**
 * Two phases: the baselines and tracing-off cases, then one tracing session
 * for the traced cases (one session, as in production: each session starts a
 * fresh worker whose JIT starts cold). Within a phase the cases take turns,
 * run by run, and every run starts after a pause that lets the worker empty
 * the ring. The empty loop and the clock are measured in both phases.
 */
async function runMicro(flags: Flags, dir: string): Promise<MicroResult> {
  const samples = new Map<string, number[]>();
  const phase = (cases: [string, MicroCase][], cap: number) => {
    const iterations = new Map<string, number>();
    for (const [key, c] of cases) {
      // Warm-up: lets every tier of the JIT see the case, then sizes its runs.
      c.fn(1 << 12);
      // Traced runs are a fixed TRACED_CALLS: a slow calibration step (a GC
      // pause) must not shrink them.
      const n = cap === TRACED_CALLS ? cap : calibrate(c.fn, flags.runMs, cap);
      c.fn(n);
      iterations.set(key, n);
      samples.set(key, []);
    }
    for (let round = 0; round < flags.runs; round++) {
      for (const [key, c] of cases) {
        settle(SETTLE_MS);
        const n = iterations.get(key)!;
        samples.get(key)!.push(c.fn(n) * 1e6 / n);
      }
    }
  };
  const byKey = (c: MicroCase): [string, MicroCase] => [c.key, c];
  const empty = MICRO.find((c) => c.key === "empty")!;
  const clock = MICRO.find((c) => c.key === "clock")!;
  phase(MICRO.filter((c) => !c.traced).map(byKey), 1 << 28);
  const file = join(dir, "micro.trace");
  await trace.start(file);
  try {
    phase(
      [["emptyOn", empty], ["clockOn", clock], ...MICRO.filter((c) => c.traced).map(byKey)],
      TRACED_CALLS,
    );
  } finally {
    await trace.stop();
    closeStandIns();
  }
  // A dropped event costs less than a recorded one: the figures hold only if none was lost.
  const read = readTraceFile(file);
  if (!flags.keep) rmSync(file, { force: true });
  microLost = { lost: read.lost, events: read.events, truncated: read.truncated };
  const out: MicroResult = new Map();
  for (const [key, xs] of samples) {
    xs.sort((a, b) => a - b);
    out.set(key, { ns: median(xs), min: xs[0], max: xs[xs.length - 1], runs: xs.length });
  }
  sink += lastRegion ? 1 : 0;
  return out;
}

// ---------------------------------------------------------------------------
// Flat out: region pairs as fast as the caller can, for a fixed time.

interface FlatResult {
  /** ns per region pair in short runs of this session: the predicted cost. */
  pairNs: number;
  seconds: number;
  pairs: number;
  rate: number;
  events: number;
  lost: number;
  truncated: boolean;
  bytes: number;
  peakRss: number;
  baseRss: number;
  stopMs: number;
  decodeMs: number;
  /** CPU ms of the threads other than the main one (the drain worker). */
  otherCpuMs: number;
  /** CPU ms of the main thread during the flat-out loop. */
  mainCpuMs: number;
  /** The same for `log`, flat out for a shorter time, in its own session. */
  log: {
    burstNs: number;
    seconds: number;
    calls: number;
    lost: number;
    truncated: boolean;
    events: number;
    otherCpuMs: number;
  };
}

/** Median ns per call of `fn` in short runs after pauses, as in the micro section. */
function burstNs(fn: (n: number) => number, runs: number): number {
  const xs: number[] = [];
  fn(TRACED_CALLS);
  for (let k = 0; k < runs; k++) {
    settle(SETTLE_MS);
    xs.push(fn(TRACED_CALLS) * 1e6 / TRACED_CALLS);
  }
  return median(sorted(xs));
}

/**
 * Calls `step` (1024 calls each) until `seconds` have passed, sampling the
 * resident memory every 100 ms. Returns the calls made and the time taken.
 */
function flatOut(
  seconds: number,
  step: () => void,
  onRss: (rss: number) => void,
): { calls: number; seconds: number } {
  const limit = seconds * 1000;
  let calls = 0;
  const t0 = performance.now();
  let nextSample = t0 + 100;
  let t = t0;
  for (;;) {
    step();
    calls += 1024;
    t = performance.now();
    if (t >= nextSample) {
      onRss(process.memoryUsage().rss);
      if (t - t0 >= limit) break;
      nextSample = t + 100;
    }
  }
  return { calls, seconds: (t - t0) / 1000 };
}

async function runFlat(flags: Flags, dir: string): Promise<FlatResult> {
  const file = join(dir, "flat.trace");
  const baseRss = process.memoryUsage().rss;
  let peakRss = baseRss;
  const onRss = (rss: number) => {
    if (rss > peakRss) peakRss = rss;
  };
  await trace.start(file);
  const [fctx, task] = trace.newTask("flatOut");
  // The rate the per-call cost predicts, measured in this session.
  const pairNs = burstNs(casePair, flags.runs);
  settle(SETTLE_MS);
  const c0 = ownCpuMs() ?? NaN, m0 = mainThreadCpuMs() ?? NaN;
  const flat = flatOut(flags.flatSeconds, () => {
    for (let k = 0; k < 1024; k++) trace.startRegion(fctx, "flat").end();
  }, onRss);
  const mainCpuMs = (mainThreadCpuMs() ?? NaN) - m0;
  task.end();
  const s0 = performance.now();
  await trace.stop();
  const stopMs = performance.now() - s0;
  // CPU of the other threads (the drain worker, mostly) over the run and stop.
  const otherCpuMs = (ownCpuMs() ?? NaN) - c0 - ((mainThreadCpuMs() ?? NaN) - m0);
  onRss(process.memoryUsage().rss);
  const d0 = performance.now();
  const read = readTraceFile(file);
  const decodeMs = performance.now() - d0;
  rmSync(file, { force: true });

  // Logs flat out: the worker also has to move the message text.
  const logFile = join(dir, "flat-log.trace");
  await trace.start(logFile);
  const logNs = burstNs(caseLog, flags.runs);
  settle(SETTLE_MS);
  const lc0 = ownCpuMs() ?? NaN, lm0 = mainThreadCpuMs() ?? NaN;
  const logFlat = flatOut(Math.min(3, flags.flatSeconds), () => {
    for (let k = 0; k < 1024; k++) trace.log(fctx, "http", MESSAGES[k]);
  }, onRss);
  await trace.stop();
  const logOtherCpuMs = (ownCpuMs() ?? NaN) - lc0 - ((mainThreadCpuMs() ?? NaN) - lm0);
  const logRead = readTraceFile(logFile);
  if (!flags.keep) rmSync(logFile, { force: true });
  return {
    pairNs,
    seconds: flat.seconds,
    pairs: flat.calls,
    rate: flat.calls / flat.seconds,
    events: read.events,
    lost: read.lost,
    truncated: read.truncated,
    bytes: read.bytes,
    peakRss,
    baseRss,
    stopMs,
    decodeMs,
    otherCpuMs,
    mainCpuMs,
    log: {
      burstNs: logNs,
      seconds: logFlat.seconds,
      calls: logFlat.calls,
      lost: logRead.lost,
      truncated: logRead.truncated,
      events: logRead.events,
      otherCpuMs: logOtherCpuMs,
    },
  };
}

/** Streams a trace file through the decoder, 4 MiB at a time. */
function readTraceFile(path: string): {
  events: number;
  lost: number;
  truncated: boolean;
  bytes: number;
} {
  let lost = 0;
  const decoder = new TraceDecoder((e) => {
    if (e.kind === "lost") lost += e.count;
  });
  const fd = openSync(path, "r");
  const buf = new Uint8Array(4 << 20);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      decoder.push(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  const end = decoder.finish();
  return {
    events: end.events,
    lost: Math.max(lost, end.lost),
    truncated: end.truncated,
    bytes: statSync(path).size,
  };
}

// ---------------------------------------------------------------------------
// The realistic workload, tracing on and off alternately.

/** Requests per warm-up step. */
const WARM_REQUESTS = 1000;
/** How long a new session serves requests untimed before its timed runs, ms. */
const SESSION_WARM_MS = 3000;

interface WorkloadRun {
  /** Wall time of the requests, ms. */
  ms: number;
  /** CPU time of the whole process (all threads) meanwhile, ms. */
  cpuMs: number;
  /** CPU time of the main thread meanwhile, ms (10 ms steps; NaN off Linux). */
  mainCpuMs: number;
}

interface WorkloadSummary {
  requests: number;
  pairs: number;
  block: number;
  on: WorkloadRun[];
  off: WorkloadRun[];
  /** Per pair: on throughput over off throughput (wall time). */
  ratios: number[];
  ratio: number;
  /** Per pair: off CPU time over on CPU time (counts the worker's CPU too). */
  cpuRatios: number[];
  cpuRatio: number;
  usPerRequestOff: number;
  /** Extra CPU ms of a session's warm-up over the same requests untraced. */
  sessionCpuMs: number;
  lost: number;
  events: number;
  truncated: boolean;
}

async function runWorkloads(flags: Flags, dir: string): Promise<WorkloadSummary> {
  const body = makeDocument(10_000);
  const file = join(dir, "workload.trace");
  const timed = async (): Promise<WorkloadRun> => {
    const c0 = ownCpuMs() ?? NaN, m0 = mainThreadCpuMs() ?? NaN;
    const r = await runWorkload({ requests: flags.requests, body });
    return {
      ms: r.ms,
      cpuMs: (ownCpuMs() ?? NaN) - c0,
      mainCpuMs: (mainThreadCpuMs() ?? NaN) - m0,
    };
  };
  let lost = 0;
  let events = 0;
  let truncated = false;
  /** Per session: CPU ms and requests of its warm-up. */
  const warmups: { cpuMs: number; requests: number }[] = [];
  const onBlock = async (runs: number): Promise<WorkloadRun[]> => {
    await trace.start(file);
    const out: WorkloadRun[] = [];
    try {
      // A new session's worker starts with cold code: its JIT threads bill the
      // process for seconds. Production keeps one session for hours, so the
      // timed runs start once the session is warm; the warm-up is reported.
      const t0 = performance.now(), c0 = ownCpuMs() ?? NaN;
      let requests = 0;
      while (performance.now() - t0 < SESSION_WARM_MS) {
        await runWorkload({ requests: WARM_REQUESTS, body });
        requests += WARM_REQUESTS;
      }
      warmups.push({ cpuMs: (ownCpuMs() ?? NaN) - c0, requests });
      for (let k = 0; k < runs; k++) out.push(await timed());
    } finally {
      await trace.stop();
    }
    const read = readTraceFile(file);
    lost += read.lost;
    events += read.events;
    truncated ||= read.truncated;
    return out;
  };
  const offBlock = async (runs: number): Promise<WorkloadRun[]> => {
    const out: WorkloadRun[] = [];
    for (let k = 0; k < runs; k++) out.push(await timed());
    return out;
  };
  // Warms up the main thread's code, not counted.
  await runWorkload({ requests: Math.min(flags.requests, 5000), body });
  const onRuns: WorkloadRun[] = [];
  const offRuns: WorkloadRun[] = [];
  for (let b = 0; onRuns.length < flags.pairs; b++) {
    const runs = Math.min(flags.block, flags.pairs - onRuns.length);
    // Blocks in ABBA order, so a drift in machine speed favours neither side.
    if (b % 2 === 0) {
      onRuns.push(...await onBlock(runs));
      offRuns.push(...await offBlock(runs));
    } else {
      offRuns.push(...await offBlock(runs));
      onRuns.push(...await onBlock(runs));
    }
  }
  if (!flags.keep) rmSync(file, { force: true });
  const ratios = onRuns.map((r, p) => offRuns[p].ms / r.ms);
  const cpuRatios = onRuns.map((r, p) => offRuns[p].cpuMs / r.cpuMs);
  const offCpuPerRequest = median(sorted(offRuns.map((r) => r.cpuMs))) / flags.requests;
  return {
    requests: flags.requests,
    pairs: flags.pairs,
    block: flags.block,
    on: onRuns,
    off: offRuns,
    ratios,
    ratio: median(sorted(ratios)),
    cpuRatios,
    cpuRatio: median(sorted(cpuRatios)),
    usPerRequestOff: median(sorted(offRuns.map((r) => r.ms))) * 1000 / flags.requests,
    sessionCpuMs: median(sorted(warmups.map((w) => w.cpuMs - w.requests * offCpuPerRequest))),
    lost,
    events,
    truncated,
  };
}

// ---------------------------------------------------------------------------
// Reporting

function sorted(xs: number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

function median(sorted: number[]): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

const runtime = (() => {
  const g = globalThis as {
    Deno?: { version: { deno: string; v8: string } };
    Bun?: { version: string; revision?: string };
  };
  if (g.Bun) return { name: "Bun", version: g.Bun.version, engine: "JavaScriptCore" };
  if (g.Deno) {
    return { name: "Deno", version: g.Deno.version.deno, engine: `V8 ${g.Deno.version.v8}` };
  }
  return { name: "Node", version: process.versions.node, engine: `V8 ${process.versions.v8}` };
})();

/** Machine-wide busy CPU time, ms, from /proc/stat (Linux), or undefined. */
function machineBusyMs(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy excludes idle and iowait.
    const busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return busy * 10; // USER_HZ is 100 on Linux.
  } catch {
    return undefined;
  }
}

/** CPU time of this process, ms (all its threads, the drain worker included). */
function ownCpuMs(): number | undefined {
  try {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  } catch {
    return undefined;
  }
}

/** CPU time of this process's main thread, ms (Linux), or undefined. */
function mainThreadCpuMs(): number | undefined {
  try {
    const st = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * Measures how busy the machine was with other processes during `fn`, in
 * cores: the tell-tale of noisy figures.
 */
async function watched<T>(fn: () => Promise<T>): Promise<{ value: T; others?: number }> {
  const b0 = machineBusyMs(), c0 = ownCpuMs(), t0 = performance.now();
  const value = await fn();
  const b1 = machineBusyMs(), c1 = ownCpuMs(), wall = performance.now() - t0;
  if (b0 === undefined || b1 === undefined || c0 === undefined || c1 === undefined) {
    return { value };
  }
  return { value, others: Math.max(0, (b1 - b0 - (c1 - c0)) / wall) };
}

const fmt = (x: number, digits = 1) => Number.isFinite(x) ? x.toFixed(digits) : "n/a";
const mib = (b: number) => `${(b / (1 << 20)).toFixed(1)} MiB`;
const verdict = (ok: boolean) => ok ? "PASS" : "**MISS**";
const othersNote = (others?: number) =>
  others === undefined ? "" : ` Other processes used ${fmt(others, 2)} cores meanwhile.`;

function printHeader(flags: Flags): void {
  const cpu = cpus();
  console.log(`## ${runtime.name} ${runtime.version}\n`);
  console.log(
    `${
      new Date().toISOString().slice(0, 16).replace("T", " ")
    } UTC · ${runtime.name} ${runtime.version} (${runtime.engine}) · ` +
      `${cpu.length} × ${cpu[0]?.model?.trim() || "unknown CPU"} · load average ${
        loadavg().map((x) => x.toFixed(2)).join(" ")
      }${flags.quick ? " · `--quick`" : ""}\n`,
  );
}

function printMicro(r: MicroResult, flags: Flags, others?: number): void {
  const get = (k: string) => r.get(k)!.ns;
  const traced = new Set(MICRO.filter((c) => c.traced).map((c) => c.key));
  traced.add("clockOn");
  // Each case's loop overhead is the empty loop of its own phase.
  const net = (k: string) => get(k) - (traced.has(k) ? get("emptyOn") : get("empty"));
  // The clock is measured in both phases; the lower median is the baseline, so
  // that a noisy clock run can only make the ratios worse, never better.
  const clock = Math.min(net("clock"), net("clockOn"));
  const targets: Record<string, [string, boolean]> = {
    log: ["≤ 1.3× clock", net("log") <= 1.3 * clock],
    logSame: ["≤ 1.3× clock", net("logSame") <= 1.3 * clock],
    startRegion: ["≤ 1.3× clock", net("startRegion") <= 1.3 * clock],
    regionEnd: ["≤ 1.3× clock", net("regionEnd") <= 1.3 * clock],
    pair: ["≤ 2.6× clock", net("pair") <= 2.6 * clock],
    task: ["≤ 3× clock", net("task") <= 3 * clock],
    offPair: ["≤ empty + 3 ns", net("offPair") <= 3],
  };
  const markFactor = runtime.name === "Bun" ? 3 : 6;
  const speedup = net("markMeasure") / net("pair");
  console.log(
    `### Cost per call\n\nns per loop iteration, median of ${flags.runs} runs (min–max in ` +
      `brackets). "net" subtracts the empty loop of the same phase; "× clock" is net over ` +
      `the clock's net cost (the lower of its two medians, with tracing off and on). Traced runs are ` +
      `${TRACED_CALLS.toLocaleString("en-US")} calls each, after a ${SETTLE_MS} ms pause, ` +
      `inside one tracing session: the caller's cost while the ring has room; the flat-out ` +
      `section below measures the sustained rate.${othersNote(others)}\n`,
  );
  console.log("| call | ns/iter | net ns | × clock | target | verdict |");
  console.log("|---|---:|---:|---:|---|---|");
  const rows: [string, string][] = [
    ...MICRO.filter((c) => !c.traced).map((c): [string, string] => [c.key, c.label]),
    ["emptyOn", "tracing on: empty loop iteration"],
    ["clockOn", "tracing on: `performance.now()`"],
    ...MICRO.filter((c) => c.traced).map((c): [string, string] => [c.key, c.label]),
  ];
  for (const [key, label] of rows) {
    const m = r.get(key)!;
    const t = targets[key];
    const isEmpty = key === "empty" || key === "emptyOn";
    console.log(
      `| ${label} | ${fmt(m.ns, 2)} (${fmt(m.min, 1)}–${fmt(m.max, 1)}) | ${
        isEmpty ? "" : fmt(net(key), 2)
      } | ${isEmpty ? "" : fmt(net(key) / clock, 2)} | ${t ? t[0] : ""} | ${
        t ? verdict(t[1]) : ""
      } |`,
    );
  }
  console.log(
    `| mark+measure ÷ region pair | | | ${fmt(speedup, 1)}× cheaper | ≥ ${markFactor}× | ${
      verdict(speedup >= markFactor)
    } |`,
  );
  console.log(
    `| events lost in the traced runs | ${microLost.lost} of ${
      microLost.events.toLocaleString("en-US")
    } | 0 | ${verdict(microLost.lost === 0 && !microLost.truncated)} |`,
  );
  const endByDiff = net("pair") - net("startRegion");
  console.log(
    `\n\`Region.end()\` cross-check: pair − startRegion = ${fmt(endByDiff, 2)} ns ` +
      `(${fmt(endByDiff / clock, 2)}× clock).\n`,
  );
}

function printFlat(f: FlatResult, others?: number): void {
  const predicted = 1e9 / f.pairNs;
  const share = predicted ? f.rate / predicted : undefined;
  const perEvent = f.bytes / Math.max(1, f.events);
  console.log(
    `### Flat out\n\nOne caller ending and starting regions as fast as it can for ` +
      `${fmt(f.seconds, 1)} s, then \`stop()\` (took ${fmt(f.stopMs, 0)} ms) and the ` +
      `trace read back with \`TraceDecoder\` (${fmt(f.decodeMs, 0)} ms).${othersNote(others)}\n`,
  );
  console.log("| figure | value | target | verdict |");
  console.log("|---|---:|---|---|");
  console.log(`| region pairs recorded | ${f.pairs.toLocaleString("en-US")} | | |`);
  console.log(`| events in the trace | ${f.events.toLocaleString("en-US")} | | |`);
  console.log(`| events lost | ${f.lost} | 0 | ${verdict(f.lost === 0 && !f.truncated)} |`);
  console.log(
    `| caller's rate | ${fmt(f.rate / 1e6, 2)} M pairs/s | | |`,
  );
  console.log(
    `| rate the pair cost predicts | ${fmt(predicted / 1e6, 2)} M pairs/s (${
      fmt(f.pairNs, 1)
    } ns per pair) | | |`,
  );
  console.log(
    `| achieved ÷ predicted | ${share ? fmt(share * 100, 0) + "%" : "n/a"} | ≥ 80% | ${
      share ? verdict(share >= 0.8) : ""
    } |`,
  );
  if (!Number.isNaN(f.mainCpuMs)) {
    const onCpu = f.mainCpuMs / 1000 / f.seconds;
    console.log(
      `| caller on a CPU (main thread CPU ÷ wall time) | ${fmt(onCpu * 100, 0)}%: ${
        fmt(f.rate / onCpu / 1e6, 2)
      } M pairs per CPU-second = ${fmt(f.rate / onCpu / predicted * 100, 0)}% of predicted | | |`,
    );
  }
  if (!Number.isNaN(f.otherCpuMs)) {
    console.log(
      `| CPU of the other threads (drain worker) | ${fmt(f.otherCpuMs, 0)} ms = ${
        fmt(f.otherCpuMs * 1e6 / Math.max(1, f.events), 1)
      } ns per event, ${fmt(f.otherCpuMs / 10 / f.seconds, 0)}% of a core | | |`,
    );
  }
  console.log(
    `| peak RSS | ${mib(f.peakRss)} (${mib(f.baseRss)} before start) | bounded | |`,
  );
  console.log(
    `| trace bytes per event | ${fmt(perEvent, 2)} (${mib(f.bytes)}) | ≤ 8 | ${
      verdict(perEvent <= 8)
    } |`,
  );
  const logRate = f.log.calls / f.log.seconds;
  const logShare = logRate / (1e9 / f.log.burstNs);
  console.log(
    `| \`log\` flat out (${fmt(f.log.seconds, 1)} s, 15-char messages) | ${
      fmt(logRate / 1e6, 2)
    } M/s = ${fmt(1e9 / logRate, 0)} ns per call, ${fmt(logShare * 100, 0)}% of the ${
      fmt(f.log.burstNs, 0)
    } ns burst cost; lost ${f.log.lost} | (≥ 80%) | ${
      verdict(logShare >= 0.8 && f.log.lost === 0 && !f.log.truncated)
    } |`,
  );
  if (!Number.isNaN(f.log.otherCpuMs)) {
    console.log(
      `| \`log\` flat out: CPU of the other threads | ${fmt(f.log.otherCpuMs, 0)} ms = ${
        fmt(f.log.otherCpuMs * 1e6 / Math.max(1, f.log.events), 1)
      } ns per event | | |`,
    );
  }
  if (f.truncated) console.log("\nThe trace read back as TRUNCATED.");
  console.log("");
}

function printWorkload(w: WorkloadSummary, others?: number): void {
  console.log(
    `### Realistic async workload\n\n${w.requests.toLocaleString("en-US")} requests per run ` +
      `(16 in flight; each 1 task + 3 regions + 1 log around ${
        fmt(w.usPerRequestOff, 0)
      } µs of JSON work, with awaits between steps), ${w.pairs} on/off pairs, in blocks ` +
      `alternated ABBA in one process. Throughput compares wall times; CPU compares the process's ` +
      `CPU time (all threads, so the drain worker's work counts against tracing), which ` +
      `other processes disturb less. On runs come in blocks of up to ${w.block}, in one ` +
      `session each, after ${SESSION_WARM_MS / 1000} s of untimed requests in that session ` +
      `(a new worker's JIT warm-up, paid once per session, cost ${
        fmt(w.sessionCpuMs, 0)
      } ms of CPU over the same requests untraced); off runs come in blocks alike.` +
      `${othersNote(others)}\n`,
  );
  console.log(
    "| pair | off ms | on ms | on ÷ off throughput | off CPU ms (main + other threads) | " +
      "on CPU ms (main + other threads) | off ÷ on CPU |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|");
  const split = (r: WorkloadRun) =>
    Number.isNaN(r.mainCpuMs)
      ? fmt(r.cpuMs, 0)
      : `${fmt(r.cpuMs, 0)} (${fmt(r.mainCpuMs, 0)} + ${fmt(r.cpuMs - r.mainCpuMs, 0)})`;
  for (let p = 0; p < w.pairs; p++) {
    const off = w.off[p], on = w.on[p];
    console.log(
      `| ${p + 1} | ${fmt(off.ms, 0)} | ${fmt(on.ms, 0)} | ${fmt(w.ratios[p] * 100, 1)}% | ${
        split(off)
      } | ${split(on)} | ${fmt(w.cpuRatios[p] * 100, 1)}% |`,
    );
  }
  console.log(
    `\n| figure | value | target | verdict |\n|---|---:|---|---|\n` +
      `| median on ÷ off throughput | ${fmt(w.ratio * 100, 1)}% | ≥ 98% | ${
        verdict(w.ratio >= 0.98)
      } |\n` +
      `| median off ÷ on CPU time | ${fmt(w.cpuRatio * 100, 1)}% | (≥ 98%) | ${
        verdict(w.cpuRatio >= 0.98)
      } |\n` +
      `| events lost (all on runs) | ${w.lost} of ${w.events.toLocaleString("en-US")} | 0 | ${
        verdict(w.lost === 0 && !w.truncated)
      } |\n`,
  );
}

// ---------------------------------------------------------------------------

if (import.meta.main) {
  const flags = parseFlags(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), "runtrace-bench-"));
  try {
    printHeader(flags);
    if (flags.sections.has("micro")) {
      const { value, others } = await watched(() => runMicro(flags, dir));
      printMicro(value, flags, others);
    }
    if (flags.sections.has("flat")) {
      const { value, others } = await watched(() => runFlat(flags, dir));
      printFlat(value, others);
    }
    if (flags.sections.has("workload")) {
      const { value, others } = await watched(() => runWorkloads(flags, dir));
      printWorkload(value, others);
    }
    if (flags.keep) console.log(`Trace files kept in ${dir}`);
    if (sink === 0.5) console.log(""); // keeps `sink` observable
  } finally {
    if (!flags.keep) rmSync(dir, { recursive: true, force: true });
  }
}
