import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { parseTrace } from "../read.ts";
import { mergeTraces } from "../lib/read/merge.ts";
import { TraceWriter } from "../lib/format/encoder.ts";
import { main } from "../cli.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import { sleep, tempDir } from "./helpers.ts";

const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

/** Records a small trace: a task with a log, nested regions and a subtask. */
async function record(path: string, label: string, stacks = false): Promise<Uint8Array> {
  await trace.start(path, { stacks, runtime: false });
  const [ctx, task] = trace.newTask(`job ${label}`);
  trace.log(ctx, "label", `${label} é🍵`);
  await trace.withRegion(ctx, "outer", async () => {
    trace.startRegion("inner").end();
    await sleep(2);
  });
  const [, sub] = trace.newTask(ctx, "sub");
  sub.end();
  task.end();
  await trace.stop();
  return new Uint8Array(readFileSync(path));
}

/** A one-region trace whose clock starts `startTime` ms after the epoch. */
function oneRegionTrace(startTime: number, beginNs: number, endNs: number): Uint8Array {
  const w = new TraceWriter();
  w.header({
    timeOrigin: 0,
    startTime,
    resolutionNs: 1,
    runtime: "crafted",
    runtimeVersion: "0",
    pid: 1,
  });
  w.defineString(1, "r");
  w.openBatch(1, 0, 0);
  w.regionBegin(beginNs / 1e6, 0, 1, 1, 0, 0);
  w.regionEnd(endNs / 1e6, 1);
  w.closeBatch();
  w.end();
  return w.out.buf.slice(0, w.out.pos);
}

describe("mergeTraces' clock shift", () => {
  test("moves a region's begin and end alike: durations exact when the shift falls between two ns", () => {
    for (let i = 1; i <= 200; i++) {
      const shift = 1000 + (i * 997 + 0.5) / 1e6; // ms: half a ns over a whole number of ns
      const begin = 1_000_000 + i * 7_919, end = begin + 2_129_836 + i;
      const bytes = mergeTraces([
        { name: "a", bytes: oneRegionTrace(1000, 0, 1) },
        { name: "b", bytes: oneRegionTrace(shift, begin, end) },
      ]).bytes;
      // a's region lasts 1 ns, b's about 2 ms.
      const r = parseTrace(bytes).regions.find((x) => x.end! - x.start! > 1)!;
      assert.equal(r.end! - r.start!, end - begin, `shift ${shift} ms`);
    }
  });
});

describe("runtrace merge", { skip }, () => {
  test("two traces become one: threads apart, task ids unique, one clock, nothing lost", async () => {
    const dir = tempDir();
    const a = await record(join(dir, "a.trace"), "a", true);
    await sleep(20);
    const b = await record(join(dir, "b.trace"), "b");
    const { bytes, truncated } = mergeTraces([{ name: "a", bytes: a }, { name: "b", bytes: b }]);
    assert.deepEqual(truncated, []);
    const t = parseTrace(bytes);
    const ta = parseTrace(a), tb = parseTrace(b);
    assert.equal(t.truncated, false);
    assert.deepEqual(t.threads.map((x) => x.name), ["a", "b"]);
    assert.equal(t.tasks.length, ta.tasks.length + tb.tasks.length);
    assert.equal(new Set(t.tasks.map((x) => x.id)).size, t.tasks.length);
    assert.deepEqual(t.problems, []);
    const jobA = t.tasks.find((x) => x.type === "job a")!;
    const jobB = t.tasks.find((x) => x.type === "job b")!;
    // Each keeps its subtask, regions and logs, and b comes after a on the one clock.
    assert.equal(t.task(jobA.children[0])!.type, "sub");
    assert.equal(t.task(jobB.children[0])!.type, "sub");
    assert.deepEqual(jobB.regions.map((r) => r.type), ["outer", "inner"]);
    assert.equal(jobB.logs[0].message, "b é🍵");
    assert.ok(jobB.start! > jobA.end!);
    // Durations survive to the nanosecond.
    const d = (x: { start?: number; end?: number }) => x.end! - x.start!;
    assert.equal(d(jobA), d(ta.tasks.find((x) => x.type === "job a")!));
    assert.equal(d(jobB.regions[0]), d(tb.regions[0]));
    // Stacks come through.
    assert.match(jobA.stack?.[0] ?? "", /merge_test\.ts:\d+:\d+/);
  });

  test("the CLI: --parts-of gathers trace.<module>.out; errors name the file", async () => {
    const dir = tempDir();
    await record(join(dir, "run.one_test.out"), "one");
    await record(join(dir, "run.two_test.out"), "two");
    const quiet = { write: () => Promise.resolve() };
    const io = { stdout: quiet, stderr: quiet, stdin: async function* () {}, stderrIsTTY: false };
    assert.equal(await main(["merge", "--parts-of", join(dir, "run.out")], io), 0);
    const t = parseTrace(new Uint8Array(readFileSync(join(dir, "run.out"))));
    assert.deepEqual(t.threads.map((x) => x.name), ["one_test", "two_test"]);

    let err = "";
    const errIO = {
      ...io,
      stderr: {
        write: (c: string | Uint8Array) => {
          err += typeof c === "string" ? c : new TextDecoder().decode(c);
          return Promise.resolve();
        },
      },
    };
    writeFileSync(join(dir, "bad.trace"), "{}");
    assert.equal(await main(["merge", "-o", join(dir, "x.out"), join(dir, "bad.trace")], errIO), 1);
    assert.match(err, /bad: .*not a runtrace trace/);
    assert.equal(await main(["merge", "--parts-of", join(dir, "none.out")], errIO), 1);
    assert.match(err, /no parts of .*none\.out/);
    assert.equal(await main(["merge", join(dir, "bad.trace")], errIO), 2);
  });
});
