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

  test("result() before the end event throws", () => {
    assert.throws(() => new DelayAnalyzer().result(), /before the end event/);
  });
});
