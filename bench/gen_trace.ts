/**
 * Writes a large synthetic trace for the CLI benchmarks, fast: it drives the
 * trace encoder (`TraceWriter`'s typed methods, as the drain worker does) directly,
 * without the ring or the worker.
 * The workload is many concurrent requests, each a task with a log, an auth
 * region, two overlapping query regions on their own lanes, a status log and
 * its end: ten events per task, 64 tasks in flight, round-robin.
 *
 * ```
 * deno run -A bench/gen_trace.ts [OUT] [--events=N]   (default bench/out/big.trace, 10 000 000)
 * bun bench/gen_trace.ts [OUT] [--events=N]
 * ```
 *
 * @module
 */

import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import process from "node:process";
import { TraceWriter } from "../lib/format/encoder.ts";

const args = process.argv.slice(2);
const out = args.find((a) => !a.startsWith("-")) ?? "bench/out/big.trace";
const events = Number(args.find((a) => a.startsWith("--events="))?.slice(9) ?? 10_000_000);

const STR = { handleRequest: 1, auth: 2, dbQuery: 3, path: 4, status: 5 };
const BATCH_EVENTS = 8192;
const IN_FLIGHT = 64;
const THREAD = 1;

/** Options of {@linkcode generateTrace}. */
export interface GenerateTraceOptions {
  /** One status log near the end (in the last 0.5 % of events) says this instead of "200". */
  rare?: string;
}

/**
 * Writes the trace and returns the number of events written.
 *
 * @example
 * ```ts
 * import { generateTrace } from "./gen_trace.ts";
 * generateTrace("/tmp/big.trace", 1_000_000);
 * ```
 */
export function generateTrace(
  path: string,
  total: number,
  options: GenerateTraceOptions = {},
): number {
  let rareAt = options.rare === undefined ? Infinity : Math.floor(total * 0.995);
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, "w");
  const w = new TraceWriter();
  w.header({
    timeOrigin: 1_764_000_000_000,
    startTime: 0,
    resolutionNs: 100,
    runtime: "bench",
    runtimeVersion: "1",
    pid: 4242,
  });
  w.threadName(THREAD, "main");
  for (const [s, id] of Object.entries(STR)) w.defineString(id, s);
  const flush = () => {
    writeSync(fd, w.out.buf, 0, w.out.pos);
    w.out.reset();
  };
  // Each slot runs one task at a time through its ten steps.
  const step = new Int32Array(IN_FLIGHT);
  const task = new Float64Array(IN_FLIGHT);
  const r1 = new Float64Array(IN_FLIGHT);
  const r2 = new Float64Array(IN_FLIGHT);
  const r3 = new Float64Array(IN_FLIGHT);
  let nextTask = 1;
  let nextRegion = 1;
  let nextLane = 1;
  let time = 1000;
  let written = 0;
  // The encoder takes times in ms since its `startMs` (0).
  const ms = () => time / 1e6;
  w.openBatch(THREAD, time, 0);
  while (written < total) {
    for (let s = 0; s < IN_FLIGHT && written < total; s++) {
      time += 50 + ((written * 7919) % 400);
      switch (step[s]) {
        case 0:
          task[s] = nextTask++;
          w.taskBegin(ms(), task[s], 0, STR.handleRequest);
          break;
        case 1:
          w.log(ms(), task[s], STR.path, 0, `/orders/${task[s]}`);
          break;
        case 2:
          r1[s] = nextRegion++;
          w.regionBegin(ms(), task[s], STR.auth, r1[s], 0, nextLane++);
          break;
        case 3:
          w.regionEnd(ms(), r1[s]);
          break;
        case 4:
          r2[s] = nextRegion++;
          w.regionBegin(ms(), task[s], STR.dbQuery, r2[s], 0, nextLane++);
          break;
        case 5:
          r3[s] = nextRegion++;
          w.regionBegin(ms(), task[s], STR.dbQuery, r3[s], 0, nextLane++);
          break;
        case 6:
          w.regionEnd(ms(), r2[s]);
          break;
        case 7:
          w.regionEnd(ms(), r3[s]);
          break;
        case 8:
          if (written >= rareAt) {
            w.log(ms(), task[s], STR.status, 0, options.rare!);
            rareAt = Infinity;
          } else w.log(ms(), task[s], STR.status, 0, "200");
          break;
        case 9:
          w.taskEnd(ms(), task[s]);
          break;
      }
      step[s] = (step[s] + 1) % 10;
      written++;
      if (w.count >= BATCH_EVENTS) {
        const last = w.lastRegion;
        w.closeBatch();
        if (w.out.pos > 1 << 20) flush();
        w.openBatch(THREAD, time, last);
      }
    }
  }
  w.end(0);
  flush();
  closeSync(fd);
  return written;
}

if (import.meta.main) {
  const t0 = performance.now();
  const n = generateTrace(out, events);
  const s = (performance.now() - t0) / 1000;
  console.log(`${out}: ${n} events in ${s.toFixed(1)}s`);
}
