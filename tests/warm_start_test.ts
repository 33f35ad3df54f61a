/**
 * Warm start and idle cost (issue 11): the drain worker and the ring outlive a
 * session, so that starting again is cheap, and an idle traced process is not
 * woken. Timings are benchmarks (bench/start_bench.ts); these tests check the
 * behaviour that makes them possible.
 */
import { describe, test } from "node:test";
import process from "node:process";
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { drainWorker } from "../lib/record/session.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import { modUrl, readTrace, runScript, sleep, tempDir } from "./helpers.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

/** Threads of this process (Linux), or -1 where /proc is missing. */
function threads(): number {
  return existsSync("/proc/self/task") ? readdirSync("/proc/self/task").length : -1;
}

/** Heap in use after a collection, where the runtime lets a test ask for one. */
function heapAfterGc(): number {
  const g = globalThis as { gc?: () => void; Bun?: { gc(sync: boolean): void } };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
  return process.memoryUsage().heapUsed;
}

describe("warm start", { skip }, () => {
  test("100 start/stop cycles reuse one worker and leave no growing threads or heap", async () => {
    const dir = tempDir();
    const cycle = async (i: number) => {
      await trace.start(join(dir, `t${i % 4}.trace`), { runtime: false });
      const [ctx, task] = trace.newTask("cycle");
      trace.log(ctx, "n", "message " + i);
      task.end();
      const stats = await trace.stop();
      assert.equal(stats.lost, 0);
    };
    for (let i = 0; i < 10; i++) await cycle(i);
    const worker = await (async () => {
      await trace.start(join(dir, "probe.trace"), { runtime: false });
      const w = drainWorker();
      await trace.stop();
      return w;
    })();
    const threadsBefore = threads();
    const heapBefore = heapAfterGc();
    for (let i = 10; i < 110; i++) await cycle(i);
    await trace.start(join(dir, "probe.trace"), { runtime: false });
    assert.equal(drainWorker(), worker, "the same drain worker serves every session");
    await trace.stop();
    // A thread per session would be 100 more; the runtime's own pools (GC and
    // JIT helpers, started lazily by earlier tests in the process) may add one.
    assert.ok(threads() <= threadsBefore + 1, `threads ${threadsBefore} -> ${threads()}`);
    const grown = heapAfterGc() - heapBefore;
    assert.ok(grown < 8 << 20, `the heap grew by ${grown} bytes over 100 cycles`);
    const t = readTrace(join(dir, "t1.trace"));
    assert.equal(t.logs.length, 1);
    assert.equal(t.logs[0].message, "message 109");
  });

  test("a session after a bigger one to the same file writes only its own events", async () => {
    // The worker reuses the last trace's buffers, and rewrites the file in place.
    const dir = tempDir();
    const path = join(dir, "same.trace");
    await trace.start(path, { runtime: false });
    const long = "x".repeat(50_000);
    for (let i = 0; i < 2000; i++) {
      const [ctx, task] = trace.newTask("big");
      trace.log(ctx, "m", i % 100 === 0 ? long : `message ${i}`);
      task.end();
    }
    const big = await trace.stop();
    assert.equal(big.lost, 0);
    assert.equal(readTrace(path).logs.length, 2000);
    const bigSize = statSync(path).size;
    await trace.start(path, { runtime: false });
    const [ctx, task] = trace.newTask("small");
    trace.log(ctx, "m", "only this");
    task.end();
    const small = await trace.stop();
    assert.equal(small.lost, 0);
    const t = readTrace(path);
    assert.deepEqual(t.logs.map((l) => l.message), ["only this"]);
    assert.equal(t.tasks.length, 1);
    assert.ok(statSync(path).size < bigSize / 100, `${statSync(path).size} of ${bigSize} bytes`);
  });

  test("start() after the worker was retired (keepWarm elapsed) starts a new one", async () => {
    const dir = tempDir();
    await trace.start(join(dir, "a.trace"), { keepWarm: 50 });
    const first = drainWorker();
    await trace.stop();
    await sleep(300); // idle for longer than keepWarm: the worker ends
    await trace.start(join(dir, "b.trace"), { keepWarm: 50 });
    assert.notEqual(drainWorker(), first);
    trace.log(trace.background, "c", "after idle");
    await trace.stop();
    assert.equal(readTrace(join(dir, "b.trace")).logs[0].message, "after idle");
  });

  // In a process of its own: the heartbeat stops only while the process is
  // quiet, and Bun runs every test file in one process whose other work (a
  // retiring worker, a browser test's socket) is not quiet.
  test("an idle session stops its heartbeat, and the next event restarts it with stalls timed", () => {
    const path = join(tempDir(), "t.trace");
    const r = runScript(
      `import * as trace from ${JSON.stringify(modUrl)};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
await trace.start(${JSON.stringify(path)});
await sleep(1000); // idle: after 100 ms the heartbeat stops sampling
const [ctx, task] = trace.newTask("request");
trace.withRegion(ctx, "blockingWork", () => {
  const end = performance.now() + 200;
  while (performance.now() < end);
});
await sleep(30);
task.end();
await trace.stop();
`,
      { timeoutMs: 20_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const t = readTrace(path);
    const heap = t.counters.filter((c) => c.name === "heap.used");
    // Sampling every 10 ms for the whole second would give about 100.
    assert.ok(heap.length < 40, `${heap.length} heap samples`);
    // Stalls before the task are the loaded machine's, not this loop's.
    const begun = t.tasks[0].start ?? 0;
    const stalls = t.stalls.filter((s) => s.end - s.start > 50e6 && s.end > begun);
    assert.equal(stalls.length, 1, JSON.stringify(t.stalls));
    const ms = (stalls[0].end - stalls[0].start) / 1e6;
    assert.ok(Math.abs(ms - 200) <= 20, `stall of ${ms}ms`);
    assert.equal(stalls[0].regionType, "blockingWork");
  });

  test("a process that traced once and has nothing else to do exits by itself", () => {
    const dir = tempDir();
    const started = performance.now();
    const r = runScript(
      `import * as trace from ${JSON.stringify(modUrl)};
await trace.start(${JSON.stringify(join(dir, "a.trace"))});
trace.log(trace.background, "c", "one");
await trace.stop();
await trace.start(${JSON.stringify(join(dir, "b.trace"))});
trace.log(trace.background, "c", "two");
console.log("main done");
`,
      { timeoutMs: 20_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /main done/);
    assert.ok(performance.now() - started < 15_000);
    assert.equal(readTrace(join(dir, "a.trace")).logs[0].message, "one");
    assert.equal(readTrace(join(dir, "b.trace")).logs[0].message, "two");
  });
});
