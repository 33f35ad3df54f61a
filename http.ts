/**
 * HTTP for runtrace: debug endpoints that record a live trace or return a
 * flight-recorder snapshot (Go's `/debug/pprof/trace`), and opt-in wrappers
 * that make incoming requests tasks and outgoing `fetch` calls regions.
 * Nothing here mounts itself: the endpoints expose what the program does, so
 * route to them only behind authentication or on a private listener.
 *
 * @example Requests as tasks, and a protected live-trace endpoint, in Deno.serve
 * ```ts
 * import { traceHandler, traceRequests } from "./http.ts";
 *
 * const debugTrace = traceHandler();
 * const app = (req: Request) => new Response(`hello ${new URL(req.url).pathname}`);
 * Deno.serve({ hostname: "127.0.0.1", port: 8000 }, traceRequests(app));
 * // A separate listener that only the host can reach:
 * Deno.serve({ hostname: "127.0.0.1", port: 6060 }, debugTrace);
 * ```
 *
 * @module
 */

export { flightRecorderHandler, traceHandler } from "./lib/http/debug_handlers.ts";
export type {
  FetchHandler,
  FlightRecorderLike,
  TraceHandlerOptions,
} from "./lib/http/debug_handlers.ts";
export type { StartOptions } from "./mod.ts";
export { parseTraceparent, tracedFetch, traceRequests } from "./lib/http/request_tasks.ts";
export { nodeListener } from "./lib/http/node_listener.ts";
export type { NodeRequestLike, NodeResponseLike } from "./lib/http/node_listener.ts";
export type {
  FetchLike,
  TracedFetchOptions,
  Traceparent,
  TraceRequestsOptions,
} from "./lib/http/request_tasks.ts";
