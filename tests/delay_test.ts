/**
 * Delay attribution (lib/read/delay.ts) on the slow-requests fixture: each
 * cause of slowness lands in its state, every task's states sum to its
 * duration, and the streamed result equals the in-memory one.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { analyzeDelays, DelayAnalyzer, parseTrace, type TaskDelay, TraceDecoder } from "../read.ts";
import { taskSpan } from "../lib/read/analysis.ts";
import { buildSlowRequests } from "./fixtures/slow_requests.ts";
import { craftTrace } from "./craft_trace.ts";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const SLOW = new Uint8Array(readFileSync(here("./fixtures/slow_requests.trace")));
const MS = 1e6;

describe("delay attribution", () => {
  test("the fixture's generator writes the committed bytes (both variants)", () => {
    assert.deepEqual(buildSlowRequests("before"), SLOW);
    assert.deepEqual(
      buildSlowRequests("after"),
      new Uint8Array(readFileSync(here("./fixtures/slow_requests_after.trace"))),
    );
  });

  for (const name of ["slow_requests", "slow_requests_after", "workload", "cappuccino"]) {
    test(`every task of ${name}.trace: the four states sum to its duration, as the model measures it`, () => {
      const bytes = new Uint8Array(readFileSync(here(`./fixtures/${name}.trace`)));
      const { tasks } = analyzeDelays(bytes);
      const model = parseTrace(bytes);
      assert.equal(tasks.length, model.tasks.length);
      for (const t of tasks) {
        for (const v of [t.inRegions, t.blocked, t.gc, t.waiting]) {
          assert.ok(v >= 0, `task ${t.id}`);
        }
        assert.equal(t.inRegions + t.blocked + t.gc + t.waiting, t.duration, `task ${t.id}`);
        const span = taskSpan(model, model.task(t.id)!);
        assert.equal(t.duration, span.duration, `task ${t.id}`);
        assert.equal(t.complete, span.complete, `task ${t.id}`);
        assert.equal(t.blocked, t.blockedBy.reduce((s, b) => s + b.delay, 0), `task ${t.id}`);
      }
    });
  }

  test("the stall's ten victims are blocked 156 ms by report.build of report.daily #701", () => {
    const { tasks, stalls } = analyzeDelays(SLOW);
    const main = stalls.find((s) => s.thread === 1)!;
    assert.equal(main.regionType, "report.build");
    assert.equal(main.task, 701);
    assert.equal(main.taskType, "report.daily");
    assert.equal(main.duration, 156 * MS);
    assert.deepEqual(main.victims.map((v) => v.task).sort((a, b) => a - b), [
      689,
      690,
      691,
      692,
      693,
      694,
      695,
      696,
      697,
      698,
    ]);
    assert.equal(main.totalDelay, 10 * 156 * MS);
    const victim = tasks.find((t) => t.id === 689)!;
    assert.equal(victim.blocked, 156 * MS);
    assert.equal(victim.blockedBy[0].stall, main);
    // The culprit is not its own victim: its stall is time in its region.
    const culprit = tasks.find((t) => t.id === 701)!;
    assert.equal(culprit.blocked, 0);
    assert.ok(culprit.inRegions >= 151 * MS);
  });

  test("a stall on the worker delays no main-thread task", () => {
    const { stalls } = analyzeDelays(SLOW);
    const worker = stalls.find((s) => s.thread === 2)!;
    assert.equal(worker.regionType, "decode");
    assert.deepEqual(worker.victims, []);
  });

  test("slow queries are time in regions; the lock queue is waiting with the loop free", () => {
    const { tasks } = analyzeDelays(SLOW);
    const byId = new Map(tasks.map((t) => [t.id, t]));
    for (const id of [151, 421, 1102, 1352, 1702]) {
      const t = byId.get(id)!;
      assert.ok(t.inRegions > 0.95 * t.duration && t.blocked === 0, `task ${id}`);
    }
    const last = byId.get(1507)!;
    assert.ok(last.waiting > 110 * MS && last.blocked === 0, `waiting ${last.waiting}`);
  });

  test("streamed in small chunks with onTask, the result is the in-memory one", () => {
    const streamed: TaskDelay[] = [];
    const a = new DelayAnalyzer({ onTask: (t) => streamed.push(t) });
    const d = new TraceDecoder(a.add);
    for (let i = 0; i < SLOW.length; i += 333) d.push(SLOW.subarray(i, i + 333));
    d.finish();
    const r = a.result();
    assert.equal(r.tasks.length, 0);
    const whole = analyzeDelays(SLOW);
    const key = (t: TaskDelay) => ({ ...t, blockedBy: t.blockedBy.map((b) => b.delay) });
    assert.deepEqual(streamed.map(key), whole.tasks.map(key));
  });

  test("precedence: own stall, another's stall, GC, region, waiting; only the home thread's stalls", () => {
    const U = 1000; // times in µs
    const bytes = craftTrace((w) => {
      w.threadName(1, "main").threadName(2, "worker");
      w.on(1)
        .taskBegin(0, 1, 0, "request")
        .taskBegin(0, 4, 0, "remote")
        .taskBegin(50 * U, 2, 0, "report")
        .regionBegin(100 * U, 1, 1, "query")
        .regionEnd(300 * U, 1)
        .regionBegin(400 * U, 2, 2, "build")
        .gc(200 * U, 450 * U)
        .regionEnd(600 * U, 2)
        .stall(400 * U, 600 * U, 2, 2)
        .taskEnd(700 * U, 2)
        .stall(800 * U, 900 * U, 0, 0)
        .taskEnd(1000 * U, 1)
        .taskEnd(1000 * U, 4);
      w.on(2)
        .taskBegin(0, 3, 0, "worker")
        .regionBegin(100 * U, 1, 4, "remote.step")
        .regionEnd(500 * U, 1)
        .taskEnd(1000 * U, 3);
    });
    const { tasks, stalls } = analyzeDelays(bytes);
    const get = (id: number) => {
      const t = tasks.find((x) => x.id === id)!;
      return [t.inRegions / U, t.blocked / U, t.gc / U, t.waiting / U];
    };
    // [0,100) waiting, [100,200) region, [200,400) GC (over the region), [400,600) report's
    // stall, [600,800) waiting, [800,900) a stall outside any region, [900,1000) waiting.
    assert.deepEqual(get(1), [100, 300, 200, 400]);
    // Its own stall is its region's time, even under the GC window.
    assert.deepEqual(get(2), [200, 0, 200, 250]);
    // On the worker: the main thread's stalls and GC do not touch it.
    assert.deepEqual(get(3), [0, 0, 0, 1000]);
    // Begun on main, its region on the worker: main's stalls and GC still come first.
    assert.deepEqual(get(4), [100, 300, 200, 400]);
    const [build, loose] = stalls;
    assert.equal(build.regionType, "build");
    assert.equal(build.taskType, "report");
    assert.deepEqual(build.victims.map((v) => [v.task, v.delay / U]).sort(), [[1, 200], [4, 200]]);
    assert.equal(loose.region, 0);
    assert.deepEqual(loose.victims.map((v) => v.task).sort(), [1, 4]);
    const t1 = tasks.find((x) => x.id === 1)!;
    assert.deepEqual(t1.blockedBy.map((b) => [b.stall.index, b.delay / U]), [[0, 200], [1, 100]]);
  });

  test("result() before the end event throws", () => {
    assert.throws(() => new DelayAnalyzer().result(), /before the end event/);
  });
});

test('DelayAnalyzer want: "stalls" finds the same stalls and victims, and hands over fewer tasks', () => {
  const all = analyzeDelays(SLOW);
  const handed: TaskDelay[] = [];
  const a = new DelayAnalyzer({ want: "stalls", onTask: (t) => handed.push(t) });
  const d = new TraceDecoder(a.add, a.visitor);
  d.push(SLOW);
  d.finish();
  const { stalls } = a.result();
  assert.ok(stalls.some((s) => s.victims.length > 0));
  assert.deepEqual(stalls, all.stalls);
  // Every delayed task is handed over, as the full analysis attributes it.
  const ids = new Set(handed.map((t) => t.id));
  assert.ok(all.tasks.filter((t) => t.blockedBy.length > 0).every((t) => ids.has(t.id)));
  assert.deepEqual(handed, all.tasks.filter((t) => ids.has(t.id)));
  assert.ok(handed.length < all.tasks.length);
});
