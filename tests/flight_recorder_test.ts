import { describe, test } from "node:test";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { parseTrace } from "../read.ts";
import { concat, readTrace, sleep, tempDir } from "./helpers.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

/** Takes a snapshot into memory. */
async function snapshot(fr: trace.FlightRecorder): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const n = await fr.writeTo({ write: (p: Uint8Array) => void parts.push(p.slice()) });
  const out = concat(parts);
  assert.equal(n, out.length);
  return out;
}

describe("FlightRecorder", { skip }, () => {
  test("Go's errors: start twice, two recorders, writeTo when disabled or already writing", async () => {
    const fr = new trace.FlightRecorder();
    assert.equal(fr.enabled(), false);
    await assert.rejects(
      fr.writeTo({ write: () => {} }),
      /cannot snapshot a disabled flight recorder/,
    );
    fr.start();
    assert.equal(fr.enabled(), true);
    assert.equal(trace.isEnabled(), true);
    assert.throws(() => fr.start(), /cannot enable an enabled flight recorder/);
    const other = new trace.FlightRecorder();
    assert.throws(() => other.start(), /another flight recorder is already running/);
    const first = fr.writeTo({ write: () => {} });
    await assert.rejects(fr.writeTo({ write: () => {} }), /already in progress/);
    await first;
    await fr.stop();
    await fr.stop(); // a no-op
    assert.equal(fr.enabled(), false);
    assert.equal(trace.isEnabled(), false);
    other.start(); // the slot is free again
    await other.stop();
    assert.throws(() => new trace.FlightRecorder({ maxBytes: 10 }), /maxBytes/);
  });

  test("a snapshot is a complete trace of recent events", async () => {
    const fr = new trace.FlightRecorder();
    fr.start();
    const [ctx, task] = trace.newTask("order");
    trace.log(ctx, "orderID", "7");
    await trace.withRegion(ctx, "brew", () => sleep(5));
    task.end();
    const bytes = await snapshot(fr);
    await fr.stop();
    const t = parseTrace(bytes);
    assert.equal(t.truncated, false);
    assert.equal(t.lost, 0);
    assert.equal(t.tasks.length, 1);
    assert.equal(t.tasks[0].type, "order");
    assert.equal(t.tasks[0].logs[0].message, "7");
    assert.equal(t.tasks[0].regions[0].type, "brew");
    // Snapshots may be taken again; the window keeps going.
    trace.log("later", "x");
    assert.equal(trace.isEnabled(), false);
  });

  test("writeTo a file path", async () => {
    const fr = new trace.FlightRecorder();
    fr.start();
    trace.log("c", "to a file");
    const path = join(tempDir(), "snap.trace");
    const n = await fr.writeTo(path);
    await fr.stop();
    const t = readTrace(path);
    assert.ok(n > 0);
    assert.equal(t.logs[0].message, "to a file");
  });

  test("runs beside a trace started with start(), each with its own time 0", async () => {
    const fr = new trace.FlightRecorder();
    fr.start();
    trace.log("c", "before the trace");
    await sleep(20);
    const path = join(tempDir(), "t.trace");
    await trace.start(path);
    trace.log("c", "during the trace");
    await trace.stop();
    assert.equal(trace.isEnabled(), true, "the flight recorder still records");
    trace.log("c", "after the trace");
    const snap = parseTrace(await snapshot(fr));
    await fr.stop();

    const t = readTrace(path);
    assert.deepEqual(t.logs.map((l) => l.message), ["during the trace"]);
    assert.deepEqual(snap.logs.map((l) => l.message), [
      "before the trace",
      "during the trace",
      "after the trace",
    ]);
    // One event, two clocks: the trace's time 0 is its own start, at least the
    // 20 ms sleep after the recorder's (a bound that holds however loaded the machine).
    assert.ok(
      snap.logs[1].time - t.logs[0].time >= 20e6,
      "the trace's time 0 is its own start, not the recorder's",
    );
  });

  test("a task and region that began before the window are restated, not orphaned", async () => {
    const fr = new trace.FlightRecorder({ minAge: 100 });
    fr.start();
    const [ctx, task] = trace.newTask("longRunning");
    const region = trace.startRegion(ctx, "longStep");
    const began = performance.now();
    while (performance.now() - began < 600) {
      for (let k = 0; k < 20; k++) trace.newTask("short")[1].end();
      await sleep(5);
    }
    region.end();
    task.end();
    const t = parseTrace(await snapshot(fr));
    await fr.stop();
    assert.equal(t.header.snapshot, true);
    const long = t.tasks.find((x) => x.id === task.id)!;
    assert.equal(long.type, "longRunning");
    assert.ok(long.start !== undefined && long.end! - long.start >= 550e6);
    assert.equal(long.regions.length, 1);
    assert.equal(long.regions[0].type, "longStep");
    assert.ok(t.tasks.every((x) => x.type !== ""), "a task without its begin");
    assert.deepEqual(t.problems, []);
    assert.equal(t.tasks.filter((x) => x.type === "longRunning").length, 1, "restated twice");
    // The window really dropped old chunks.
    assert.ok(t.tasks.filter((x) => x.type === "short").length < 20 * 120);
  });

  test("the window drops what is older than minAge and stays within maxBytes", async () => {
    const fr = new trace.FlightRecorder({ minAge: 200, maxBytes: 1 << 20 });
    fr.start();
    const began = performance.now();
    let i = 0;
    while (performance.now() - began < 1200) {
      for (let k = 0; k < 50; k++) trace.log("tick", String(i++));
      await sleep(2);
    }
    const t = parseTrace(await snapshot(fr));
    await fr.stop();
    const first = Number(t.logs[0].message), last = Number(t.logs.at(-1)!.message);
    assert.equal(last, i - 1, "the snapshot is up to date");
    assert.ok(first > 0, "the oldest events were dropped");
    const spanMs = (t.logs.at(-1)!.time - t.logs[0].time) / 1e6;
    assert.ok(spanMs >= 200, `the window covers ${spanMs}ms, less than minAge`);
    assert.ok(spanMs < 1000, `the window covers ${spanMs}ms: nothing was dropped`);

    const small = new trace.FlightRecorder({ minAge: 60_000, maxBytes: 64 << 10 });
    small.start();
    for (let round = 0; round < 40; round++) {
      for (let k = 0; k < 200; k++) trace.log("fill", "x".repeat(100));
      await sleep(2);
    }
    const bytes = await snapshot(small);
    await small.stop();
    assert.ok(bytes.length <= (64 << 10) * 1.125 + 4096, `snapshot of ${bytes.length} bytes`);
    const s = parseTrace(bytes);
    assert.equal(s.truncated, false);
    assert.ok(s.logs.length > 0 && s.logs.length < 8000);
  });
});
