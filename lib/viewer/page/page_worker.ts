/// <reference lib="dom" />
/**
 * The page's Web Worker, which reads the trace (trace_reader.ts) so the
 * page's main thread only paints. The page is one self-contained file with
 * one script, so the worker runs that same script, from a Blob URL of its
 * text (the page's policy allows `worker-src blob:`); the script sees it is
 * in a worker ({@linkcode inPageWorker}) and serves the reading there
 * ({@linkcode servePageWorker}) instead of building the page.
 *
 * @module
 */

import { type ReaderMessage, readTraceForPage, type TraceInput } from "./trace_reader.ts";

/**
 * Whether this script runs in a worker rather than in the page.
 *
 * @example
 * ```ts
 * import { inPageWorker } from "./page_worker.ts";
 * console.log(inPageWorker() ? "worker" : "page");
 * ```
 */
export function inPageWorker(): boolean {
  return typeof (globalThis as { document?: unknown }).document === "undefined" &&
    typeof (globalThis as { importScripts?: unknown }).importScripts === "function";
}

/**
 * In the worker: reads the trace the page posts, posting back what
 * {@linkcode readTraceForPage} posts.
 *
 * @example
 * ```ts
 * import { inPageWorker, servePageWorker } from "./page_worker.ts";
 * if (inPageWorker()) servePageWorker();
 * ```
 */
export function servePageWorker(): void {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<TraceInput>) => void) | null;
    postMessage(m: ReaderMessage, transfer: ArrayBuffer[]): void;
  };
  scope.onmessage = (e) => {
    scope.onmessage = null;
    readTraceForPage(e.data, (m, transfer) => scope.postMessage(m, transfer));
  };
}

/**
 * In the page: starts the worker from the page script's own text and gives
 * it `input`. Returns undefined if no worker can start here (the caller then
 * reads the trace in the page); `onFail` is called if the worker stops with
 * an error, saying whether that was after its first message.
 *
 * @example
 * ```ts
 * import { startPageWorker } from "./page_worker.ts";
 * const w = startPageWorker("/* the page script *\/", { base64: "" }, (m) => console.log(m.kind), () => {});
 * ```
 */
export function startPageWorker(
  scriptText: string,
  input: TraceInput,
  onMessage: (m: ReaderMessage) => void,
  onFail: (why: string, afterFirst: boolean) => void,
): Worker | undefined {
  let url: string | undefined;
  let worker: Worker;
  try {
    url = URL.createObjectURL(new Blob([scriptText], { type: "text/javascript" }));
    worker = new Worker(url);
  } catch {
    if (url) URL.revokeObjectURL(url);
    return undefined;
  }
  let heard = false;
  worker.onmessage = (e: MessageEvent<ReaderMessage>) => {
    if (!heard) URL.revokeObjectURL(url!);
    heard = true;
    onMessage(e.data);
    if (e.data.kind === "model" || e.data.kind === "error") worker.terminate();
  };
  worker.onerror = (e) => {
    e.preventDefault();
    onFail(e.message || "the worker stopped", heard);
  };
  worker.postMessage(input);
  return worker;
}
