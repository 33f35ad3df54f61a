/**
 * No false alarms: regions of concurrent async code nest per async chain,
 * misuse is only a double end or an out-of-order end within one chain, and
 * what the edges of the recorded window cut is not misuse.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import * as trace from "../mod.ts";
import { traceHandler } from "../http.ts";
import { parseTrace } from "../read.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import { RegionNesting } from "../lib/read/region_nesting.ts";
import { runCli } from "./cli_run.ts";
import { readTrace, sleep, tempDir } from "./helpers.ts";
import { craftTrace } from "./craft_trace.ts";

const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

async function traced(body: () => Promise<unknown>) {
  const path = join(tempDir(), "t.trace");
  await trace.start(path, { runtime: false });
  try {
    await body();
  } finally {
    await trace.stop();
  }
  return { path, t: readTrace(path) };
}

describe("concurrent startRegion code is not misuse", { skip }, () => {
  test("eight concurrent tasks using `using startRegion` across awaits: zero problems, right spans", async () => {
    const { path, t } = await traced(async () => {
      await Promise.all(Array.from({ length: 8 }, async (_, i) => {
        const [ctx, task] = trace.newTask("request");
        {
          using _r = trace.startRegion(ctx, "step");
          await sleep(1 + (i % 3));
          trace.log(ctx, "in", "step");
          {
            using _s = trace.startRegion(ctx, "inner");
            await sleep(1 + ((i + 1) % 3));
          }
          await sleep(1);
        }
        trace.log(ctx, "after", "step");
        task.end();
      }));
    });
    assert.deepEqual(t.problems, []);
    assert.deepEqual(t.window, {
      tasksBeganBefore: 0,
      tasksRunningAtEnd: 0,
      regionsBeganBefore: 0,
      regionsRunningAtEnd: 0,
    });
    assert.equal(t.tasks.length, 8);
    for (const task of t.tasks) {
      const [step, inner] = task.regions;
      assert.equal(step.type, "step");
      assert.equal(inner.type, "inner");
      assert.ok(step.end !== undefined && inner.end !== undefined);
      // The inner region lies inside the step, and the step spans the log made in it.
      assert.ok(inner.start >= step.start && inner.end! <= step.end!);
      const [inLog, afterLog] = task.logs;
      assert.ok(inLog.time >= step.start && inLog.time <= inner.start);
      assert.ok(afterLog.time >= step.end!);
      assert.ok(task.end! >= step.end!);
    }
    const r = await runCli(["tasks", path]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
  });

  test("a live trace started mid-request reports no misuse", async () => {
    // The request began while tracing was off; tracing starts while it runs,
    // and stops while another request is still inside a region.
    const [ctx, task] = trace.newTask("request");
    let release!: () => void;
    const { path, t } = await traced(async () => {
      trace.log(ctx, "phase", "after the trace started");
      {
        using _r = trace.startRegion(ctx, "step");
        await sleep(1);
      }
      const [ctx2] = trace.newTask("slow");
      trace.startRegion(ctx2, "waiting");
      void new Promise<void>((r) => release = r);
    });
    task.end();
    release();
    assert.deepEqual(t.problems, []);
    assert.equal(t.window.tasksBeganBefore, 1);
    assert.equal(t.window.tasksRunningAtEnd, 1);
    assert.equal(t.window.regionsRunningAtEnd, 1);
    const r = await runCli(["tasks", path]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /misuse/);
    assert.match(r.stderr, /1 task began before the trace/);
    assert.match(r.stderr, /1 task and 1 region were still running at the end/);
  });
});

describe("a live trace over HTTP (traceHandler) started mid-request", { skip }, () => {
  test("requests in flight when it starts and when it ends: no misuse, the edges noted", async () => {
    const handler = traceHandler({ startOptions: { runtime: false } });
    let stop = false;
    // Requests that run across the whole recording, each awaiting inside its region.
    const requests = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const [ctx, task] = trace.newTask("request");
        {
          using _r = trace.startRegion(ctx, "step");
          await sleep(3);
          trace.log(ctx, "phase", "in step");
          await sleep(3);
        }
        task.end();
      }
    });
    await sleep(10);
    const res = await handler(new Request("http://localhost/debug/trace?seconds=0.2"));
    const bytes = new Uint8Array(await res.arrayBuffer());
    stop = true;
    await Promise.all(requests);
    const t = parseTrace(bytes);
    assert.ok(t.tasks.length > 0);
    assert.deepEqual(t.problems, []);
    const path = join(tempDir(), "live.trace");
    writeFileSync(path, bytes);
    const r = await runCli(["tasks", path]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /misuse|never began/);
    // Each request loop always has a task open: some were running when it stopped.
    assert.ok(t.window.tasksRunningAtEnd >= 1);
    assert.match(r.stderr, /still running at the end \(cut by the edges of the recorded window\)/);
  });
});

describe("the nesting rules on crafted traces", () => {
  test("regions of different tasks on one lane interleave without a problem (traces before tasks had lanes)", () => {
    const t = parseTrace(craftTrace((w) => {
      w.taskBegin(1, 1, 0, "a").taskBegin(2, 2, 0, "b");
      w.regionBegin(3, 1, 1, "step").regionBegin(4, 2, 2, "step");
      w.regionEnd(5, 1).regionEnd(6, 2);
      w.taskEnd(7, 1).taskEnd(8, 2);
    }));
    assert.deepEqual(t.problems, []);
    assert.equal(t.regions.filter((r) => r.end !== undefined).length, 2);
  });

  test("a region ended out of order within one chain, and one ended twice, are problems", () => {
    const t = parseTrace(craftTrace((w) => {
      w.taskBegin(1, 1, 0, "a");
      w.regionBegin(2, 1, 1, "outer").regionBegin(3, 2, 1, "inner");
      w.regionEnd(4, 1).regionEnd(5, 2).regionEnd(6, 2);
      w.taskEnd(7, 1);
    }));
    assert.equal(t.problems.length, 2);
    assert.match(t.problems[0], /region 1 "outer" \(task 1\) ended at 4ns before region 2 "inner"/);
    assert.match(t.problems[1], /region 2 "inner" \(task 1\) ended twice, again at 6ns/);
  });

  test("an end of a region that began before the window is an edge, not misuse", async () => {
    const bytes = craftTrace((w) => {
      w.regionEnd(1, 5); // began before the trace
      w.taskEnd(2, 3); // began before the trace
      w.regionBegin(3, 6, 0, "later");
      w.regionEnd(4, 4); // id below the first begun here: also before the trace
    });
    const t = parseTrace(bytes);
    assert.deepEqual(t.problems, []);
    assert.equal(t.window.regionsBeganBefore, 2);
    assert.equal(t.window.tasksBeganBefore, 1);
    assert.equal(t.window.regionsRunningAtEnd, 1);
    const path = join(tempDir(), "edge.trace");
    writeFileSync(path, bytes);
    for (const command of ["tasks", "regions"]) {
      const r = await runCli([command, path]);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /misuse|never began/);
      assert.match(r.stderr, /1 task and 2 regions began before the trace/);
    }
  });

  test("RegionNesting is linear: 1e5 nested regions ended outermost first", () => {
    let problems = 0;
    const n = new RegionNesting({ problem: () => problems++ });
    const N = 100_000;
    const t0 = performance.now();
    for (let i = 1; i <= N; i++) n.begin(1, i, { id: i, type: "r", task: 0 }, 0);
    for (let i = 1; i <= N; i++) n.end(1, i, i);
    assert.equal(problems, N - 1);
    assert.equal(n.openCount, 0);
    // Quadratic work would take minutes; linear takes milliseconds.
    assert.ok(performance.now() - t0 < 5000);
  });
});

test("RegionNesting keeps tasks sharing a lane apart, whatever the lane's size", () => {
  // A reference: one stack per (thread, task, lane), by string key.
  let seed = 7;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const n = new RegionNesting();
  const stacks = new Map<string, number[]>();
  const open: { thread: number; id: number; key: string }[] = [];
  let next = 1;
  for (let step = 0; step < 20_000; step++) {
    if (open.length === 0 || rand(3) > 0) {
      const thread = 1 + rand(2), task = rand(4);
      // Lanes shared by tasks (0 and 1, as before lanes) and beyond 2^21.
      const lane = [0, 1, 2 ** 21 + 5, 2 ** 40][rand(4)];
      const key = `${thread}:${task}:${lane}`;
      const stack = stacks.get(key) ?? [];
      const id = next++;
      const place = n.begin(thread, id, { id, type: "r", task }, lane);
      assert.equal(place.depth, stack.length);
      assert.equal(place.enclosing?.id, stack[stack.length - 1]);
      stack.push(id);
      stacks.set(key, stack);
      open.push({ thread, id, key });
    } else {
      // Innermost first: no misuse, so the chains stay exact stacks.
      const key = open[rand(open.length)].key;
      const k = open.findLastIndex((o) => o.key === key);
      const [o] = open.splice(k, 1);
      const stack = stacks.get(o.key)!;
      assert.equal(stack.pop(), o.id);
      assert.equal(n.end(o.thread, o.id, step)?.id, o.id);
    }
  }
  assert.equal(n.openCount, open.length);
});
