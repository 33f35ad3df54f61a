/**
 * HTTP as tasks and regions, the JavaScript counterpart of Go's network view:
 * a wrapper for fetch-style handlers that makes each incoming request a task,
 * and a wrapper for `fetch` that makes each outgoing call a region. Both are
 * opt-in and cost one `isEnabled()` check per request while tracing is off.
 *
 * W3C Trace Context: a valid incoming `traceparent` header is logged on the
 * request's task, and outgoing calls can carry one that continues it, so a
 * runtrace task can be found from a span in a distributed trace.
 *
 * @module
 */

import { type Context, currentContext } from "../record/context.ts";
import { log, newTask, startRegion } from "../record/annotations.ts";
import { isEnabled } from "../record/tracing.ts";
import { activeTraceparent } from "../record/otel_join.ts";

/** Options of {@linkcode traceRequests}. */
export interface TraceRequestsOptions {
  /**
   * The route pattern of a request, used as its task type together with the
   * method, e.g. `(req) => router.match(req)?.pattern` giving `/users/:id`
   * for a task type `GET /users/:id`. Return a pattern, never the raw path:
   * tools group tasks by type, so types must stay few. When it is omitted or
   * returns nothing, the task type is the method alone (`GET`).
   */
  route?: (req: Request) => string | undefined;
  /**
   * Count the bytes of response bodies that declare no `content-length` and
   * end the task when the body has been sent (default false). The body then
   * passes through a counting stream, which costs about 100 µs of CPU per
   * response in Deno and 20 µs in Bun (bench/http_bench.ts) and sends string
   * bodies in chunks. By default the task ends when the handler returns and
   * `http.size` is logged only when the response declares its length.
   */
  measureBody?: boolean;
}

/** Options of {@linkcode tracedFetch}. */
export interface TracedFetchOptions {
  /**
   * Add a W3C `traceparent` header to outgoing requests that have none
   * (default false). It continues the trace id of the current request's
   * incoming `traceparent` when there is one, else that of the OpenTelemetry
   * span active now (if an OpenTelemetry API is registered), else one drawn
   * for the current task at its first call: every call of a task carries the
   * same trace id, the one the task's span gets in the OTLP export. (A
   * subtask draws its own at its first call: when the parent task called
   * out first, the subtask's calls land in another trace.)
   */
  propagate?: boolean;
  /**
   * Region type of a call, from the URL's host (with port; empty for a URL
   * that is not absolute) and the upper-case method. Default `fetch <host>`.
   * Keep the types few: a region type per URL would drown the summaries.
   */
  regionType?: (host: string, method: string) => string;
}

/** A fetch-compatible function. */
export type FetchLike = (
  input: string | URL | Request,
  init?: RequestInit,
) => Promise<Response>;

/** The methods that become task types; others are grouped as `OTHER`. */
const METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "PATCH",
  "DELETE",
  "OPTIONS",
  "CONNECT",
  "TRACE",
]);

/** Trace id and flags of the incoming `traceparent` of a running task. */
const incoming = new Map<number, { traceId: string; flags: string }>();
/**
 * Trace id and flags drawn for the outgoing calls of a task that has no
 * incoming `traceparent`, kept for its later calls. Tasks outside
 * `traceRequests` end unseen here: the oldest entries go past the cap.
 */
const outgoing = new Map<number, { traceId: string; flags: string }>();
/** Most entries of {@linkcode outgoing}. */
const MAX_OUTGOING = 4096;

/**
 * Wraps a fetch-style handler so that, while tracing is enabled, each request
 * is a task typed by method and route (`GET /users/:id`), with logs
 * `http.method`, `http.path` (no query string), `traceparent` (when the
 * request carries a valid one), `http.status`, `http.size` (response body
 * bytes, when declared or with `measureBody`) and `http.error` when the
 * handler throws. The handler runs with the
 * task's context as the current one, so `log` and `withRegion` calls inside
 * it attach to the request without passing a context. Extra handler
 * arguments (`info` in Deno, `server` in Bun) pass through.
 *
 * @example Deno.serve (for Bun: `Bun.serve({ fetch: traceRequests(handler) })`)
 * ```ts
 * import { traceRequests } from "./request_tasks.ts";
 * const route = (req: Request) =>
 *   new URL(req.url).pathname.startsWith("/users/") ? "/users/:id" : undefined;
 * Deno.serve(
 *   { hostname: "127.0.0.1", port: 8000 },
 *   traceRequests(() => new Response("hello"), { route }),
 * );
 * ```
 */
export function traceRequests<A extends unknown[], R extends Response | undefined>(
  handler: (req: Request, ...rest: A) => R | Promise<R>,
  options: TraceRequestsOptions = {},
): (req: Request, ...rest: A) => Promise<R> {
  if (typeof handler !== "function") {
    throw new TypeError("runtrace: traceRequests() needs a handler function");
  }
  const route = options.route;
  const measureBody = options.measureBody ?? false;

  return async (req: Request, ...rest: A): Promise<R> => {
    if (!isEnabled()) return await handler(req, ...rest);

    const method = METHODS.has(req.method) ? req.method : "OTHER";
    let pattern: string | undefined;
    try {
      pattern = route?.(req);
    } catch {
      // A failing route function must not fail the request.
    }
    const [ctx, task] = newTask(pattern ? taskType(method, pattern) : method);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      incoming.delete(ctx.taskId);
      outgoing.delete(ctx.taskId);
      task.end();
    };
    log(ctx, "http.method", req.method);
    log(ctx, "http.path", pathOf(req.url));
    const parent = parseTraceparent(req.headers.get("traceparent"));
    if (parent) {
      log(ctx, "traceparent", parent.header);
      incoming.set(ctx.taskId, { traceId: parent.traceId, flags: parent.flags });
    }

    let res: R;
    try {
      res = await ctx.run(() => handler(req, ...rest));
    } catch (e) {
      log(ctx, "http.error", e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      end();
      throw e;
    }
    // Bun answers a WebSocket upgrade with no response at all.
    if (!(res instanceof Response)) {
      end();
      return res;
    }
    log(ctx, "http.status", statusText(res.status));
    const declared = res.headers.get("content-length");
    if (declared !== null) log(ctx, "http.size", declared);
    else if (res.status === 204 || res.status === 304 || req.method === "HEAD") {
      log(ctx, "http.size", "0"); // no body by definition
    }
    // Reading res.body turns a string or buffer body into a stream, which
    // costs Deno.serve tens of µs per response: only when asked.
    if (
      !measureBody || declared !== null || res.status === 101 || res.status === 204 ||
      res.status === 304 || req.method === "HEAD"
    ) {
      end();
      return res;
    }
    if (res.body === null) {
      log(ctx, "http.size", "0");
      end();
      return res;
    }
    return new Response(countBytes(res.body, ctx, end), res) as R;
  };
}

/**
 * `${method} ${pattern}`, the same string object each time for a pair seen
 * before: a string built per request is hashed again where the recorder
 * looks the name up (about 400 ns a request in Deno on a loaded 2-core VM,
 * nothing measurable in Bun; bench/request_parts_bench.ts). The last pair
 * is checked first; the cache keeps the first {@linkcode MAX_TYPES} pairs
 * (patterns are few by contract).
 */
function taskType(method: string, pattern: string): string {
  if (method === lastMethod && pattern === lastPattern) return lastType;
  let byPattern = taskTypes.get(method);
  if (byPattern === undefined) taskTypes.set(method, byPattern = new Map());
  let type = byPattern.get(pattern);
  if (type === undefined) {
    type = `${method} ${pattern}`;
    if (typeCount < MAX_TYPES) {
      typeCount++;
      byPattern.set(pattern, type);
    }
  }
  lastMethod = method;
  lastPattern = pattern;
  return lastType = type;
}
const taskTypes = new Map<string, Map<string, string>>();
let typeCount = 0;
let lastMethod = "", lastPattern = "", lastType = "";
/** Most task types kept by {@linkcode taskType}. */
const MAX_TYPES = 4096;

/** `String(status)`, without a new string per response for the usual codes. */
function statusText(status: number): string {
  return status >= 100 && status < 600
    ? statusTexts[status - 100] ??= String(status)
    : String(status);
}
const statusTexts: string[] = [];

/**
 * Passes `body` through, logging its size when it ends and ending the task
 * then; a client that goes away is logged as `http.aborted`.
 */
function countBytes(
  body: ReadableStream<Uint8Array>,
  ctx: Context,
  end: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let bytes = 0;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        log(ctx, "http.size", String(bytes));
        log(ctx, "http.error", `response body: ${e instanceof Error ? e.message : String(e)}`);
        end();
        throw e;
      }
      if (r.done) {
        log(ctx, "http.size", String(bytes));
        end();
        c.close();
        return;
      }
      bytes += r.value.byteLength;
      c.enqueue(r.value);
    },
    cancel(reason) {
      log(ctx, "http.size", String(bytes));
      log(ctx, "http.aborted", "the client stopped reading the response");
      end();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Wraps `fetch` (or `fetchImpl`) so that each call made while tracing is
 * enabled is a region of the current task, typed `fetch <host>`, with logs
 * `fetch.method`, `fetch.host`, `fetch.status`, `fetch.ttfb` (milliseconds
 * until the response headers arrived) or `fetch.error`. The region ends when
 * the headers arrive (or the call fails); reading the body is the caller's
 * own step. With `propagate`, calls carry a W3C `traceparent` header, logged
 * as `traceparent.out`.
 *
 * @example
 * ```ts
 * import { tracedFetch } from "./request_tasks.ts";
 * const fetch = tracedFetch(globalThis.fetch, { propagate: true });
 * const res = await fetch("http://127.0.0.1:8000/users/42");
 * await res.body?.cancel();
 * ```
 */
export function tracedFetch(
  fetchImpl: FetchLike = globalThis.fetch,
  options: TracedFetchOptions = {},
): FetchLike {
  if (typeof fetchImpl !== "function") {
    throw new TypeError("runtrace: tracedFetch() needs a fetch function");
  }
  const propagate = options.propagate ?? false;
  const regionType = options.regionType ?? defaultRegionType;

  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    if (!isEnabled()) return fetchImpl(input, init);

    const ctx = currentContext();
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET"))
      .toUpperCase();
    const host = hostOf(input instanceof Request ? input.url : String(input));
    let type: string;
    try {
      type = regionType(host, method);
    } catch {
      type = defaultRegionType(host, method);
    }

    if (propagate) {
      const headers = new Headers(
        init?.headers ?? (input instanceof Request ? input.headers : undefined),
      );
      if (!headers.has("traceparent")) {
        const value = childTraceparent(traceOf(ctx.taskId));
        headers.set("traceparent", value);
        log(ctx, "traceparent.out", value);
        init = { ...init, headers };
      }
    }

    const region = startRegion(ctx, type);
    log(ctx, "fetch.method", method);
    log(ctx, "fetch.host", host);
    const t0 = performance.now();
    try {
      const res = await fetchImpl(input, init);
      log(ctx, "fetch.ttfb", `${(performance.now() - t0).toFixed(3)}ms`);
      log(ctx, "fetch.status", String(res.status));
      return res;
    } catch (e) {
      log(ctx, "fetch.error", e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      throw e;
    } finally {
      region.end();
    }
  };
}

/** A parsed W3C `traceparent` header. */
export interface Traceparent {
  /** The header as received, lower-cased. */
  header: string;
  /** The version field, 2 hex digits (`00` today). */
  version: string;
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits: the caller's span. */
  parentId: string;
  /** 2 hex digits; bit 0 is "sampled". */
  flags: string;
}

/**
 * Parses a W3C `traceparent` header (Trace Context level 1). Returns
 * undefined for a missing or invalid one: the all-zero ids, version `ff` and
 * malformed fields are invalid. Versions above 00 may append fields, which
 * are ignored as the specification asks.
 *
 * @example
 * ```ts
 * import { parseTraceparent } from "./request_tasks.ts";
 * parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?.traceId;
 * // "4bf92f3577b34da6a3ce929d0e0e4736"
 * ```
 */
export function parseTraceparent(value: string | null | undefined): Traceparent | undefined {
  if (!value) return undefined;
  const v = value.trim().toLowerCase();
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/.exec(v);
  if (!m) return undefined;
  const [, version, traceId, parentId, flags, extra] = m;
  if (version === "ff" || (version === "00" && extra !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { header: v.slice(0, 55), version, traceId, parentId, flags };
}

/**
 * The trace id and flags of `task`'s outgoing calls: its incoming
 * `traceparent`'s, else the active OpenTelemetry span's, else drawn at its
 * first call and kept. The background task (0) has no span: each of its
 * calls starts a trace.
 */
function traceOf(task: number): { traceId: string; flags: string } | undefined {
  const known = incoming.get(task) ?? outgoing.get(task);
  if (known) return known;
  const otel = parseTraceparent(activeTraceparent());
  const t = otel
    ? { traceId: otel.traceId, flags: otel.flags }
    : { traceId: randomHex(16), flags: "01" };
  if (task === 0) return t;
  if (outgoing.size >= MAX_OUTGOING) outgoing.delete(outgoing.keys().next().value!);
  outgoing.set(task, t);
  return t;
}

function childTraceparent(parent: { traceId: string; flags: string } | undefined): string {
  const traceId = parent?.traceId ?? randomHex(16);
  return `00-${traceId}-${randomHex(8)}-${parent?.flags ?? "01"}`;
}

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  // An all-zero id is invalid; 2^-64 odds, but cheap to rule out.
  return /^0+$/.test(s) ? randomHex(bytes) : s;
}

function defaultRegionType(host: string, _method: string): string {
  return host ? `fetch ${host}` : "fetch";
}

/**
 * The host (and port) of an absolute URL, lower-cased, without user info;
 * "" otherwise. A scan, not `new URL`: this runs on every call.
 */
function hostOf(url: string): string {
  const scheme = url.indexOf("://");
  if (scheme <= 0) return "";
  const from = scheme + 3;
  let end = url.length;
  for (let i = from; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 47 || c === 63 || c === 35) { // / ? #
      end = i;
      break;
    }
  }
  const authority = url.slice(from, end);
  return authority.slice(authority.lastIndexOf("@") + 1).toLowerCase();
}

function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  const q = url.indexOf("?", start);
  const h = url.indexOf("#", start);
  const end = q === -1 ? (h === -1 ? url.length : h) : q;
  return url.slice(start, end);
}
