/**
 * The drain worker's code as a `data:` URL: the committed bundle of
 * lib/record/drain_worker/main.ts (docs/bundles.md). A worker file beside
 * this module would not load when runtrace is imported over `http(s):`
 * (Deno's `node:worker_threads` accepts only `file:` and `data:` URLs), and a
 * Web Worker cannot be unref'd.
 *
 * @module
 */

import { DRAIN_WORKER_SCRIPT } from "./drain_worker_bundle.ts";

let cached: URL | undefined;

/**
 * A `data:` URL of the drain worker's module, built once.
 *
 * @example
 * ```ts
 * import { Worker } from "node:worker_threads";
 * import { drainWorkerUrl } from "./worker_source.ts";
 * const worker = new Worker(drainWorkerUrl(), { workerData: {} });
 * ```
 */
export function drainWorkerUrl(): URL {
  cached ??= new URL("data:text/javascript," + encodeURIComponent(DRAIN_WORKER_SCRIPT));
  return cached;
}
