/**
 * Writes a large synthetic trace for the CLI benchmarks, fast: it drives the
 * trace encoder (`TraceWriter`) directly, without the recording machinery.
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
import { FORMAT_NUMBERS as FORMAT, TraceWriter } from "../lib/format/encoder.ts";
import { Ev } from "../lib/format/constants.ts";

const args = process.argv.slice(2);
const out = args.find((a) => !a.startsWith("-")) ?? "bench/out/big.trace";
const events = Number(args.find((a) => a.startsWith("--events="))?.slice(9) ?? 10_000_000);

// The encoder takes the format's numbers as data (it also runs from source in
// the drain worker); extra fields a newer encoder wants are not used here.

const STR = { handleRequest: 1, auth: 2, dbQuery: 3, path: 4, status: 5 };
const BATCH_EVENTS = 8192;
const IN_FLIGHT = 64;
const THREAD = 1;

/**
 * Writes the trace and returns the number of events written.
 *
 * @example
 * ```ts
 * import { generateTrace } from "./gen_trace.ts";
 * generateTrace("/tmp/big.trace", 1_000_000);
 * ```
 */
export function generateTrace(path: string, total: number): number {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, "w");
  const w = new TraceWriter(FORMAT);
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
  const ev = w.ev;
  w.openBatch(THREAD, time, 0);
  while (written < total) {
    for (let s = 0; s < IN_FLIGHT && written < total; s++) {
      time += 50 + ((written * 7919) % 400);
      switch (step[s]) {
        case 0:
          task[s] = nextTask++;
          w.event(Ev.TASK_BEGIN, time);
          ev.uvarint(task[s]);
          ev.uvarint(0);
          ev.uvarint(STR.handleRequest);
          break;
        case 1:
          w.event(Ev.LOG, time);
          ev.uvarint(task[s]);
          ev.uvarint(STR.path);
          ev.uvarint(0);
          w.message(`/orders/${task[s]}`);
          break;
        case 2:
          r1[s] = regionBegin(w, task[s], STR.auth, nextRegion++, 0, nextLane++);
          break;
        case 3:
          regionEnd(w, r1[s]);
          break;
        case 4:
          r2[s] = regionBegin(w, task[s], STR.dbQuery, nextRegion++, 0, nextLane++);
          break;
        case 5:
          r3[s] = regionBegin(w, task[s], STR.dbQuery, nextRegion++, 0, nextLane++);
          break;
        case 6:
          regionEnd(w, r2[s]);
          break;
        case 7:
          regionEnd(w, r3[s]);
          break;
        case 8:
          w.event(Ev.LOG, time);
          ev.uvarint(task[s]);
          ev.uvarint(STR.status);
          ev.uvarint(0);
          w.message("200");
          break;
        case 9:
          w.event(Ev.TASK_END, time);
          ev.uvarint(task[s]);
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

function regionBegin(
  w: TraceWriter,
  task: number,
  type: number,
  id: number,
  parent: number,
  lane: number,
): number {
  const ev = w.ev;
  w.event(Ev.REGION_BEGIN, w.lastTime + 1);
  ev.uvarint(task);
  ev.uvarint(type);
  ev.svarint(id - w.lastRegion);
  ev.uvarint(parent === 0 ? 0 : id - parent);
  ev.uvarint(lane);
  w.lastRegion = id;
  return id;
}

function regionEnd(w: TraceWriter, id: number): void {
  w.event(Ev.REGION_END, w.lastTime + 1);
  w.ev.svarint(w.lastRegion - id);
}

if (import.meta.main) {
  const t0 = performance.now();
  const n = generateTrace(out, events);
  const s = (performance.now() - t0) / 1000;
  console.log(`${out}: ${n} events in ${s.toFixed(1)}s`);
}
