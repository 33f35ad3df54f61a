/**
 * The drain worker's loop in this thread (lib/record/drain_worker/drain_loop.ts),
 * driven by its messages through a stand-in port: records published to the
 * ring are drained and encoded in order, for a trace and a flight window.
 */
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DrainLoop } from "../lib/record/drain_worker/drain_loop.ts";
import type { FromWorker, ToWorker, WorkerPort } from "../lib/record/drain_worker/messages.ts";
import { Ctrl, Rec } from "../lib/record/ring_layout.ts";
import {
  internCategory,
  internType,
  record,
  recordEnd,
  recordLog,
} from "../lib/record/ring_writer.ts";
import { parseTrace } from "../read.ts";
import { concat } from "./helpers.ts";
import { attachTestRing, detachRing, publish, testHeader } from "./recorder_parts.ts";

/** The worker's end of the channel: what it posted, in order. */
class TestPort implements WorkerPort {
  sent: FromWorker[] = [];
  postMessage(m: FromWorker): void {
    this.sent.push(m);
  }
  on(): void {}
  /** The trace bytes posted so far. */
  bytes(): Uint8Array {
    return concat(this.sent.flatMap((m) => m.type === "data" ? [m.bytes] : []));
  }
  types(): string[] {
    return this.sent.filter((m) => m.type !== "data").map((m) => m.type);
  }
}

const sizes = { capacity: 1024, textCapacity: 4096 };

function newLoop() {
  const { ring } = attachTestRing(sizes);
  const port = new TestPort();
  const loop = new DrainLoop(
    { ring, ...sizes, thread: 1, threadName: "main", flushInterval: 50 },
    port,
  );
  const ctrl = new Int32Array(ring, 0, 32);
  // As session.ts's request(): the caller's records are published before each message.
  const send = (m: ToWorker) => {
    publish();
    loop.handle(m);
  };
  return { ring, ctrl, port, loop, send };
}

afterEach(() => detachRing());

describe("the drain loop", () => {
  test("hands over records in order: published, drained, encoded, and the slots freed", () => {
    const { ctrl, port, loop, send } = newLoop();
    send({ type: "startTrace", target: { kind: "port" }, header: testHeader() });
    assert.deepEqual(port.types(), ["traceReady"]);
    const order = internType("order");
    record(Rec.TASK_BEGIN, 1, 0, order, 0, 0);
    record(Rec.REGION_BEGIN, 1, internType("grind"), 1, 0, 0);
    for (let k = 0; k < 5; k++) recordLog(1, internCategory("step"), `step ${k}`);
    publish();
    const published = Atomics.load(ctrl, Ctrl.HEAD);
    assert.equal(Atomics.load(ctrl, Ctrl.TAIL), 0, "nothing is taken before a drain");
    assert.equal(loop.drainAll(), published);
    assert.equal(Atomics.load(ctrl, Ctrl.TAIL), published, "the drained slots are free");
    recordEnd(Rec.REGION_END, 1);
    recordEnd(Rec.TASK_END, 1);
    send({ type: "stopTrace", endMs: performance.now() });
    assert.deepEqual(port.types(), ["traceReady", "traceStopped"]);
    const stopped = port.sent.at(-1)!;
    assert.deepEqual(stopped, { type: "traceStopped", events: 9, lost: 0, error: undefined });
    const t = parseTrace(port.bytes());
    assert.equal(t.truncated, false);
    assert.deepEqual(t.tasks.map((x) => [x.id, x.type, x.regions.map((r) => r.type)]), [
      [1, "order", ["grind"]],
    ]);
    assert.deepEqual(t.logs.map((l) => l.message), [0, 1, 2, 3, 4].map((k) => `step ${k}`));
    assert.deepEqual(t.problems, []);
  });

  test("a trace started after strings were interned still names what they name", () => {
    const { port, send } = newLoop();
    const type = internType("early");
    // No consumer yet: the records wait in the ring (their events predate the trace).
    record(Rec.TASK_BEGIN, 1, 0, type, 0, 0);
    send({ type: "startTrace", target: { kind: "port" }, header: testHeader() });
    record(Rec.TASK_BEGIN, 2, 0, type, 0, 0);
    send({ type: "stopTrace", endMs: performance.now() });
    const t = parseTrace(port.bytes());
    assert.deepEqual(t.tasks.map((x) => [x.id, x.type]), [[2, "early"]]);
  });

  test("a flight window beside a trace: the snapshot restates what is open when older chunks are gone", () => {
    const { port, loop, send } = newLoop();
    send({ type: "startFlight", header: testHeader(), minAge: 10_000, maxBytes: 64 << 10 });
    record(Rec.TASK_BEGIN, 1, 0, internType("long"), 0, 0);
    record(Rec.REGION_BEGIN, 1, internType("step"), 1, 0, 0);
    send({ type: "startTrace", target: { kind: "port" }, header: testHeader() });
    const category = internCategory("c");
    let n = 0;
    for (let round = 0; round < 40; round++) {
      // 3 KB a round against a 64 KiB window: old chunks, the task's begin among them, go.
      for (let k = 0; k < 30; k++) recordLog(1, category, `${n++} `.padEnd(100, "x"));
      publish();
      loop.drainAll();
    }
    send({ type: "snapshot" });
    const snap = port.sent.find((m) => m.type === "snapshot");
    assert.ok(snap?.type === "snapshot");
    const window = parseTrace(snap.bytes);
    assert.equal(window.header.snapshot, true);
    const first = parseInt(window.logs[0].message);
    assert.ok(first > 0, "the window dropped its oldest chunks");
    assert.equal(parseInt(window.logs.at(-1)!.message), n - 1);
    assert.deepEqual(window.tasks.map((x) => [x.id, x.type, x.regions.map((r) => r.type)]), [
      [1, "long", ["step"]],
    ]);
    assert.deepEqual(window.problems, []);
    send({ type: "stopTrace", endMs: performance.now() });
    send({ type: "stopFlight" });
    assert.deepEqual(port.types(), [
      "flightReady",
      "traceReady",
      "snapshot",
      "traceStopped",
      "flightStopped",
    ]);
    // The trace has every log, from its own start; the task began before it.
    const t = parseTrace(port.bytes());
    assert.equal(t.logs.length, n);
  });
});
