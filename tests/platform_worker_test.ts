/**
 * Worker threads join a trace whichever Worker made them: the platform's
 * `Worker` (Deno, Bun) and `node:worker_threads`, and the thread's end is in
 * the trace however the worker ended: terminated by its parent, closed by
 * itself, or exited.
 */
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Worker as NodeWorker } from "node:worker_threads";
import * as trace from "../mod.ts";
import type { ThreadRecord, Trace } from "../read.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import { readTrace, tempDir } from "./helpers.ts";

const skip = isTracedTestRun() && "RUNTRACE holds the trace";

/** The platform's Worker, typed for what these tests use. */
interface PlatformWorker {
  onmessage: ((e: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
  terminate(): void;
}
const PlatformWorker = (globalThis as unknown as {
  Worker: new (url: URL, options: { type: "module" }) => PlatformWorker;
}).Worker;

const workerUrl = new URL("./workers/platform_worker.ts", import.meta.url);

/** The "resize" regions of `task` and the thread they ran on. */
function resizeThread(t: Trace, taskType: string) {
  const task = t.tasks.find((x) => x.type === taskType);
  assert.ok(task, `no ${taskType} task`);
  const regions = task.regions.filter((r) => r.type === "resize");
  assert.equal(regions.length, 1, `${taskType}: ${regions.length} resize regions`);
  const region = regions[0]!;
  assert.notEqual(region.thread, 1, "the region ran on the main thread");
  assert.ok(region.end !== undefined, "the region did not end");
  const thread = t.threads.find((th) => th.id === region.thread);
  assert.ok(thread, `no thread ${region.thread}`);
  return thread;
}

async function waitFor(flag: Int32Array, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Atomics.load(flag, 0) === 0) {
    if (Date.now() > until) throw new Error("the worker did not close");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("platform Worker and node:worker_threads join a trace", { skip }, () => {
  // A failed test must not leave its trace running into the next one.
  afterEach(() => trace.stop());

  test("a platform Worker joins; terminate() records the thread's end", async () => {
    const thread = await uploadInWorker("resizer", async (ctx) => {
      const worker = new PlatformWorker(workerUrl, { type: "module" });
      const done = new Promise((r) => (worker.onmessage = r));
      const handle = trace.threadHandle("resizer", worker);
      worker.postMessage({ handle, ctx, close: false, closed: new SharedArrayBuffer(4) });
      await done;
      worker.terminate();
    });
    assert.ok(thread.end !== undefined, "the terminated worker's thread has no end");
  });

  test("a platform Worker that ends itself with close() records its end", async () => {
    let worker: PlatformWorker | undefined;
    const thread = await uploadInWorker("closer", async (ctx) => {
      worker = new PlatformWorker(workerUrl, { type: "module" });
      const closed = new SharedArrayBuffer(4);
      worker.postMessage({
        handle: trace.threadHandle("closer", worker),
        ctx,
        close: true,
        closed,
      });
      await waitFor(new Int32Array(closed), 20_000);
    });
    worker?.terminate();
    assert.ok(thread.end !== undefined, "the closed worker's thread has no end");
  });

  test("a node:worker_threads Worker that exits without leaveTrace() records its end", async () => {
    const thread = await uploadInWorker("exiter", async (ctx) => {
      const worker = new NodeWorker(new URL("./workers/exiting_worker.ts", import.meta.url));
      const exited = new Promise((r) => worker.once("exit", r));
      worker.postMessage({ handle: trace.threadHandle("exiter", worker), ctx });
      await exited;
    });
    assert.ok(thread.end !== undefined, "the exited worker's thread has no end");
  });
});

/**
 * Traces an "upload" task whose "resize" region `run` has a worker named
 * `name` record; returns that worker's thread, checked to be named `name`.
 */
async function uploadInWorker(
  name: string,
  run: (ctx: trace.Context) => Promise<void>,
): Promise<ThreadRecord> {
  const path = join(tempDir(), "t.trace");
  await trace.start(path, { runtime: false });
  const [ctx, task] = trace.newTask("upload");
  await run(ctx);
  task.end();
  await trace.stop();
  const t = readTrace(path);
  const thread = resizeThread(t, "upload");
  assert.equal(thread.name, name);
  assert.deepEqual(t.problems, []);
  return thread;
}
