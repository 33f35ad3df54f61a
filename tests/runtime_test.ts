import { describe, test } from "node:test";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import * as trace from "../mod.ts";
import { busy, readTrace, sleep, tempDir } from "./helpers.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

describe("runtime events", { skip }, () => {
  test("a 200 ms busy loop inside a region is one stall of 200 ± 20 ms attributed to it", async () => {
    const path = join(tempDir(), "t.trace");
    await trace.start(path);
    await sleep(30); // let the heartbeat settle
    const [ctx, task] = trace.newTask("request");
    trace.withRegion(ctx, "blockingWork", () => busy(200));
    await sleep(30);
    task.end();
    await trace.stop();
    const t = readTrace(path);
    const stalls = t.stalls.filter((s) => s.end - s.start > 50e6);
    assert.equal(stalls.length, 1, JSON.stringify(t.stalls));
    const [s] = stalls;
    const ms = (s.end - s.start) / 1e6;
    assert.ok(Math.abs(ms - 200) <= 20, `stall of ${ms}ms`);
    assert.equal(s.regionType, "blockingWork");
    assert.equal(s.task, t.tasks[0].id);
    const r = t.regions.find((r) => r.type === "blockingWork")!;
    assert.ok(s.start >= r.start - 10e6 && s.end <= r.end! + 20e6);
    // The utilisation counter saw the loop blocked.
    const elu = t.counters.filter((c) => c.name === "eventloop.utilization");
    assert.ok(elu.length > 0 && elu.every((c) => c.value >= 0 && c.value <= 1));
    assert.ok(Math.max(...elu.map((c) => c.value)) > 0.5);
  });

  test("an allocation burst shows in the heap counters; GC is inferred and labelled so", async () => {
    const path = join(tempDir(), "t.trace");
    await trace.start(path);
    await sleep(40);
    let keep: unknown[] = [];
    for (let i = 0; i < 400_000; i++) keep.push({ i, s: "x" + i });
    await sleep(40);
    const kept = keep.length;
    keep = [];
    for (let round = 0; round < 20; round++) {
      let junk: unknown[] = [];
      for (let i = 0; i < 100_000; i++) junk.push({ i });
      junk = [];
      await sleep(5);
      void junk;
    }
    (globalThis as { Bun?: { gc(force: boolean): void } }).Bun?.gc(true);
    await sleep(40);
    await trace.stop();
    const t = readTrace(path);
    const used = t.counters.filter((c) => c.name === "heap.used").map((c) => c.value);
    assert.ok(used.length >= 5, `${used.length} heap samples`);
    assert.ok(
      Math.max(...used) - Math.min(...used) > 10e6,
      `heap range ${Math.min(...used)}..${Math.max(...used)}`,
    );
    for (const name of ["heap.total", "memory.rss", "memory.external"]) {
      assert.ok(t.counters.some((c) => c.name === name), name);
    }
    assert.ok(t.gcs.length >= 1, "no collection inferred");
    assert.ok(t.gcs.every((g) => g.inferred && g.freed >= 64 << 10 && g.end >= g.start));
    assert.ok(kept > 0);
  });

  test("runtime: false records no runtime events", async () => {
    const path = join(tempDir(), "t.trace");
    await trace.start(path, { runtime: false });
    busy(80);
    await sleep(30);
    await trace.stop();
    const t = readTrace(path);
    assert.equal(t.counters.length + t.stalls.length + t.gcs.length, 0);
  });
});

describe("worker threads", { skip }, () => {
  test("two workers join: three threads, regions on their own thread, a main task's region in a worker, nothing lost flat out", async () => {
    const path = join(tempDir(), "t.trace");
    await trace.start(path);
    const [ctx, task] = trace.newTask("fanout");
    const n = 100_000;
    const workers = [1, 2].map((k) => {
      const w = new Worker(new URL("./workers/emitter.ts", import.meta.url));
      const done = new Promise((r) => w.once("message", r));
      w.postMessage({
        handle: trace.threadHandle(`worker ${k}`, w),
        ctx: { taskId: ctx.taskId },
        n,
      });
      return { w, done };
    });
    for (let i = 0; i < n; i++) trace.startRegion("flat").end();
    await Promise.all(workers.map((x) => x.done));
    await Promise.all(workers.map((x) => x.w.terminate()));
    task.end();
    await trace.stop();

    const t = readTrace(path);
    assert.equal(t.lost, 0);
    assert.deepEqual(t.threads.map((th) => th.name).sort(), ["main", "worker 1", "worker 2"]);
    for (const th of t.threads) {
      const flat = t.regions.filter((r) => r.thread === th.id && r.type === "flat");
      assert.equal(flat.length, n, `${th.name}: ${flat.length} regions`);
      assert.ok(flat.every((r) => r.end !== undefined));
      if (th.name !== "main") assert.ok(th.end !== undefined, `${th.name} has no end`);
    }
    const fanout = t.tasks.find((x) => x.type === "fanout")!;
    const decodes = fanout.regions.filter((r) => r.type === "decode");
    assert.equal(decodes.length, 2);
    assert.ok(decodes.every((r) => r.thread !== 1));
    assert.equal(fanout.logs.filter((l) => l.category === "worker").length, 2);
    assert.deepEqual(t.problems, []);
  });

  test("threadHandle is null when nothing records; joinTrace(null) is a no-op; bad handles are named", () => {
    assert.equal(trace.threadHandle("w"), null);
    trace.joinTrace(null);
    // @ts-expect-error: deliberately wrong
    assert.throws(() => trace.joinTrace({ ring: 1 }), /needs the handle returned by threadHandle/);
    assert.throws(() => trace.contextFrom({ taskId: -1 }), /contextFrom/);
  });
});

describe("stacks", { skip }, () => {
  test("stacks: true records where tasks, regions and logs came from", async () => {
    const path = join(tempDir(), "t.trace");
    await trace.start(path, { stacks: true, runtime: false });
    const line = () => new Error().stack!;
    // Each call and the reference stack are taken on the same line.
    const [[ctx, task], taskLine] = [trace.newTask("withStack"), line()];
    const [, regionLine] = [trace.startRegion(ctx, "r").end(), line()];
    const [, logLine] = [trace.log(ctx, "c", "m"), line()];
    task.end();
    await trace.stop();
    const t = readTrace(path);
    // The reference stack's second frame in this file is the calling line.
    const here = (s: string) =>
      s.split("\n").filter((l) => l.includes("runtime_test.ts"))[1].match(
        /runtime_test\.ts:(\d+)/,
      )![1];
    const top = (frames?: string[]) => frames?.[0] ?? "";
    assert.match(top(t.tasks[0].stack), new RegExp(`runtime_test\\.ts:${here(taskLine)}:`));
    assert.match(top(t.regions[0].stack), new RegExp(`runtime_test\\.ts:${here(regionLine)}:`));
    assert.match(top(t.logs[0].stack), new RegExp(`runtime_test\\.ts:${here(logLine)}:`));
  });
});
