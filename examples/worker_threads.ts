/**
 * Worker threads in one trace: the main thread starts a task per image and
 * hands each to a worker; the workers join the trace, and their regions land
 * on their own threads but in the main thread's tasks.
 *
 * Run: `deno run -A examples/worker_threads.ts` or `bun examples/worker_threads.ts`,
 * then `deno run -A cli.ts tasks --type upload workers.trace`.
 *
 * @module
 */

import { isMainThread, parentPort, Worker } from "node:worker_threads";
import * as trace from "../mod.ts";

interface Job {
  trace: trace.ThreadHandle | null;
  ctx: { taskId: number };
  size: number;
}

/** CPU work standing in for image resizing. */
function resize(size: number): number {
  let acc = 0;
  for (let i = 0; i < size * 1000; i++) acc = (acc + Math.sqrt(i)) % 1e9;
  return acc;
}

if (isMainThread) {
  await trace.start("workers.trace");
  const jobs = [200, 400, 800, 1600];
  await Promise.all(jobs.map(async (size, i) => {
    const [ctx, task] = trace.newTask("upload");
    trace.logf(ctx, "size", "%d kpx", size);
    const worker = new Worker(new URL(import.meta.url));
    const done = new Promise((r) => worker.once("message", r));
    const job: Job = { trace: trace.threadHandle(`resizer ${i + 1}`, worker), ctx, size };
    worker.postMessage(job);
    await trace.withRegion(ctx, "waitForResize", () => done);
    await worker.terminate();
    task.end();
  }));
  await trace.stop();
  console.log("wrote workers.trace");
} else {
  parentPort!.once("message", (job: Job) => {
    trace.joinTrace(job.trace);
    const ctx = trace.contextFrom(job.ctx);
    const out = trace.withRegion(ctx, "resize", () => resize(job.size));
    trace.leaveTrace();
    parentPort!.postMessage(out);
  });
}
