/**
 * The drain worker as shipped: the committed bundle
 * (lib/record/drain_worker_bundle.ts) is current, refers to nothing but
 * `node:` modules, and runs from a `data:` URL, draining a ring it is handed
 * into a trace.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { DRAIN_WORKER_BUNDLE } from "../lib/build/bundle.ts";
import { changedSources } from "../lib/build/sources.ts";
import {
  DRAIN_WORKER_SCRIPT,
  DRAIN_WORKER_SOURCE_FILES,
  DRAIN_WORKER_SOURCE_HASH,
} from "../lib/record/drain_worker_bundle.ts";
import type { FromWorker, ToWorker } from "../lib/record/drain_worker/messages.ts";
import { Ctrl, Rec, ringBytes } from "../lib/record/ring_layout.ts";
import {
  attachRing,
  detachRing,
  internCategory,
  internType,
  record,
  recordEnd,
  recordLog,
} from "../lib/record/ring_writer.ts";
import { parseTrace } from "../read.ts";
import { concat } from "./helpers.ts";
import { testHeader } from "./recorder_parts.ts";

/** A worker started from the bundle's text alone, and its replies in order. */
function startBundle(data: object) {
  const url = new URL("data:text/javascript," + encodeURIComponent(DRAIN_WORKER_SCRIPT));
  const worker = new Worker(url, { workerData: data } as never);
  const replies: FromWorker[] = [];
  const waiters: (() => void)[] = [];
  worker.on("message", (m: FromWorker) => {
    replies.push(m);
    for (const w of waiters.splice(0)) w();
  });
  const failed = new Promise<never>((_, reject) => {
    worker.on("error", reject);
    worker.on("exit", (code) => reject(new Error(`the drain worker exited (code ${code})`)));
  });
  failed.catch(() => {}); // terminate() at the end of a test is no failure
  /** Resolves with the first reply of `type` not taken yet. */
  const next = async (type: FromWorker["type"]): Promise<FromWorker> => {
    for (;;) {
      const at = replies.findIndex((r) => r.type === type);
      if (at >= 0) return replies.splice(at, 1)[0];
      await Promise.race([new Promise<void>((r) => waiters.push(r)), failed]);
    }
  };
  const send = (m: ToWorker) => worker.postMessage(m);
  return { worker, replies, next, send };
}

describe("the drain worker bundle", () => {
  test("was built from the current sources", async () => {
    const changed = await changedSources(
      DRAIN_WORKER_BUNDLE.entry,
      DRAIN_WORKER_SOURCE_HASH,
      DRAIN_WORKER_SOURCE_FILES,
    );
    if (changed.length === 0) return;
    assert.fail(
      `${DRAIN_WORKER_BUNDLE.out} is stale (changed since it was built: ${changed.join(", ")}): ` +
        "run `deno run -A lib/build/bundle.ts drain-worker` and commit it",
    );
  });

  test("a stale bundle is told apart and the changed sources are named", async () => {
    const files = { ...DRAIN_WORKER_SOURCE_FILES };
    files["lib/record/ring_layout.ts"] = "0000000000000000"; // as if built before a change
    delete files["lib/record/drain_worker/open_set.ts"]; // as if the file were new
    files["lib/record/gone.ts"] = "0000000000000000"; // as if a source had been removed
    assert.deepEqual(await changedSources(DRAIN_WORKER_BUNDLE.entry, "stale", files), [
      "lib/record/drain_worker/open_set.ts",
      "lib/record/gone.ts",
      "lib/record/ring_layout.ts",
    ]);
  });

  test("imports only node: built-ins, so it runs from a data: URL", () => {
    const specifiers = [...DRAIN_WORKER_SCRIPT.matchAll(/\bfrom\s*["']([^"']+)["']/g)]
      .map((m) => m[1]);
    assert.ok(specifiers.length > 0, "the worker imports node:worker_threads");
    for (const s of specifiers) assert.match(s, /^node:/, `the bundle imports ${s}`);
    assert.doesNotMatch(DRAIN_WORKER_SCRIPT, /\bimport\s*\(/, "a dynamic import");
  });

  test("started from its text alone, drains records published to a ring into a trace, in order", async () => {
    const sizes = { capacity: 1024, textCapacity: 4096 };
    const ring = new SharedArrayBuffer(ringBytes(sizes));
    const w = startBundle({ ring, ...sizes, thread: 1, threadName: "main", flushInterval: 5 });
    try {
      await w.next("ready");
      w.send({ type: "startTrace", target: { kind: "port" }, header: testHeader() });
      await w.next("traceReady");
      attachRing(ring, { ...sizes, maxWait: 1000, maxMessage: 512 });
      try {
        record(Rec.TASK_BEGIN, 7, 0, internType("order"), 0, 0);
        record(Rec.REGION_BEGIN, 7, internType("brew"), 1, 0, 0);
        for (let k = 0; k < 3000; k++) recordLog(7, internCategory("step"), `message ${k}`);
        recordEnd(Rec.REGION_END, 1);
        recordEnd(Rec.TASK_END, 7);
      } finally {
        detachRing();
      }
      w.send({ type: "stopTrace", endMs: performance.now() });
      Atomics.add(new Int32Array(ring), Ctrl.WAKE, 1);
      Atomics.notify(new Int32Array(ring), Ctrl.WAKE);
      const stopped = await w.next("traceStopped");
      const bytes = concat(
        w.replies.flatMap((r) => r.type === "data" ? [r.bytes] : []),
      );
      const t = parseTrace(bytes);
      assert.equal(t.truncated, false);
      assert.deepEqual(stopped, { type: "traceStopped", events: 3004, lost: 0, error: undefined });
      assert.equal(t.tasks.length, 1);
      assert.equal(t.tasks[0].type, "order");
      assert.deepEqual(t.tasks[0].regions.map((r) => r.type), ["brew"]);
      assert.deepEqual(
        t.logs.map((l) => l.message),
        Array.from({ length: 3000 }, (_, k) => `message ${k}`),
      );
      assert.ok(t.logs.every((l) => l.category === "step" && l.task === 7));
      assert.deepEqual(t.problems, []);
    } finally {
      await w.worker.terminate();
    }
  });
});
