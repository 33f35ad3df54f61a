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
import { DrainLoop } from "./drain_loop.ts";
import type { DrainWorkerData, WorkerPort } from "./messages.ts";

if (parentPort) new DrainLoop(workerData as DrainWorkerData, parentPort as WorkerPort).start();
