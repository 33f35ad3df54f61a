/**
 * The drain worker's entry module. It is bundled into
 * lib/record/drain_worker_bundle.ts (see docs/bundles.md), and session.ts
 * starts that bundle as a `data:` URL worker: a worker file beside the
 * library would not load when runtrace is imported over `http(s):` (Deno's
 * `node:worker_threads` accepts only `file:` and `data:` URLs), and a Web
 * Worker cannot be unref'd.
 *
 * @module
 */

import { parentPort, workerData } from "node:worker_threads";
import { DrainLoop, type DrainLoopDeps } from "./drain_loop.ts";
import type { DrainWorkerData, WorkerPort } from "./messages.ts";
// The one import of lib/record from an upper layer: this module is the
// worker bundle's composition root (docs/architecture.md).
import { OtlpLiveTap } from "../../export/otlp_live.ts";

/** The consumers from the layers above that the loop may use. */
const deps: DrainLoopDeps = { otlpTap: (config) => new OtlpLiveTap(config) };

/**
 * The worker outlives its sessions: the main thread keeps it warm (its code
 * compiled, its thread started) between them, and each session gets a loop
 * of its own, opened by an `open` message and ended by `close`. A worker
 * started with a ring in its `workerData` opens its first loop at once.
 */
function serve(port: WorkerPort, first: DrainWorkerData | undefined): void {
  let loop: DrainLoop | undefined;
  const open = (data: DrainWorkerData) => {
    loop?.close();
    loop = new DrainLoop(data, port, deps);
    loop.start();
  };
  port.on("message", (m) => {
    if (m.type === "open") open(m.data);
    else if (m.type === "close") {
      loop?.close();
      loop = undefined;
    } else loop?.handle(m);
  });
  if (first?.ring) open(first);
}

if (parentPort) serve(parentPort as WorkerPort, workerData as DrainWorkerData | undefined);
