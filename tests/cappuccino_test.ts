import { test } from "node:test";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { makeCappuccino } from "../examples/cappuccino.ts";
import { readTrace, tempDir } from "./helpers.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

test(
  "the cappuccino example: the order's task, its log and its three regions",
  { skip },
  async () => {
    const path = join(tempDir(), "cappuccino.trace");
    await trace.start(path);
    await makeCappuccino("42");
    await trace.stop();
    const t = readTrace(path);

    assert.equal(t.lost, 0);
    assert.equal(t.tasks.length, 1);
    const task = t.tasks[0];
    assert.equal(task.type, "makeCappuccino");
    assert.deepEqual(task.logs.map((l) => [l.category, l.message]), [["orderID", "42"]]);

    const byType = Object.fromEntries(task.regions.map((r) => [r.type, r]));
    const milk = byType.steamMilk, coffee = byType.extractCoffee, mix = byType.mixMilkCoffee;
    assert.ok(milk && coffee && mix, `regions: ${task.regions.map((r) => r.type)}`);
    const ms = (r: { start: number; end?: number }) => (r.end! - r.start) / 1e6;
    // The machines take 30, 20 and 10 ms (timers may fire late, never early).
    assert.ok(ms(milk) >= 29 && ms(milk) < 500, `steamMilk ${ms(milk)}ms`);
    assert.ok(ms(coffee) >= 19 && ms(coffee) < 500, `extractCoffee ${ms(coffee)}ms`);
    assert.ok(ms(mix) >= 9 && ms(mix) < 500, `mixMilkCoffee ${ms(mix)}ms`);
    // Milk and coffee overlap; the mix starts after both ended.
    assert.ok(milk.start < coffee.end! && coffee.start < milk.end!);
    assert.notEqual(milk.lane, coffee.lane);
    assert.ok(mix.start >= milk.end! && mix.start >= coffee.end!);
    // The task's latency covers all of it.
    for (const r of task.regions) assert.ok(r.start >= task.start! && r.end! <= task.end!);
    assert.deepEqual(t.problems, []);
  },
);
