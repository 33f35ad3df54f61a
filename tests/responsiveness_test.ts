/**
 * Event-loop responsiveness (lib/read/responsiveness.ts): Go's minimum
 * mutator utilisation over window sizes, from stalls, streamed and in memory.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  mmuCurve,
  parseTrace,
  ResponsivenessCollector,
  responsivenessOf,
  TraceDecoder,
} from "../read.ts";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const MS = 1e6;

describe("responsiveness (MMU)", () => {
  test("one 150 ms stall in a second: no 100 ms window free, 85 % of the second", () => {
    const c = mmuCurve([{ start: 400 * MS, end: 550 * MS }], 0, 1000 * MS, [
      100 * MS,
      200 * MS,
      1000 * MS,
      2000 * MS,
    ]);
    assert.deepEqual(c.map((p) => [p.window, Math.round(p.utilization * 1000) / 1000]), [
      [100 * MS, 0],
      [200 * MS, 0.25],
      [1000 * MS, 0.85],
    ]);
    assert.equal(c[1].maxBlocked, 150 * MS);
    assert.ok(c[1].worstAt >= 350 * MS && c[1].worstAt <= 400 * MS);
  });

  test("overlapping and unsorted intervals count once; a free thread is 100 %", () => {
    const c = mmuCurve(
      [
        { start: 50, end: 80 },
        { start: 10, end: 60 },
      ],
      0,
      1000,
      [100],
    );
    assert.equal(c[0].maxBlocked, 70);
    assert.equal(mmuCurve([], 0, 1000, [100])[0].utilization, 1);
  });

  for (const name of ["slow_requests", "workload", "cappuccino"]) {
    test(`${name}.trace: streamed curves equal the model's`, () => {
      const bytes = new Uint8Array(readFileSync(here(`./fixtures/${name}.trace`)));
      const c = new ResponsivenessCollector();
      const d = new TraceDecoder(c.add);
      d.push(bytes);
      d.finish();
      assert.deepEqual(c.result(), responsivenessOf(parseTrace(bytes)));
    });
  }

  test("the fixture: the main thread's 156 ms stall, the worker's 74 ms one", () => {
    const bytes = new Uint8Array(readFileSync(here("./fixtures/slow_requests.trace")));
    const [main, worker] = responsivenessOf(parseTrace(bytes));
    assert.equal(main.name, "main");
    assert.equal(main.blocked, 156 * MS);
    const at = (t: typeof main, w: number) => t.curve.find((p) => p.window === w)!.utilization;
    assert.equal(at(main, 100 * MS), 0);
    assert.equal(Math.round(at(main, 200 * MS) * 100), 22);
    assert.equal(worker.name, "worker 1");
    assert.equal(at(worker, 50 * MS), 0);
    assert.equal(Math.round(at(worker, 100 * MS) * 100), 26);
  });
});
