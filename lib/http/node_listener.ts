/**
 * Fetch-style handlers on `node:http`: Node's server calls its listener with
 * an `IncomingMessage` and a `ServerResponse`, not a `Request`; this turns one
 * into the other and streams the `Response` back. It works in Deno and Bun
 * too, whose `node:http` is Node's.
 *
 * @module
 */

/** What the adapter reads of `node:http`'s `IncomingMessage`. */
export interface NodeRequestLike extends AsyncIterable<Uint8Array> {
  /** The request method; GET when missing. */
  method?: string | undefined;
  /** The path and query string. */
  url?: string | undefined;
  /** The headers, lower-cased, as `node:http` gives them. */
  headers: Record<string, string | string[] | undefined>;
}

/** What the adapter calls on `node:http`'s `ServerResponse`. */
export interface NodeResponseLike {
  /** Sends the status line and the headers. */
  writeHead(status: number, headers: Record<string, string | string[]>): unknown;
  /** Sends a chunk of the body; false asks the writer to wait for `drain`. */
  write(chunk: Uint8Array): boolean;
  /** Ends the response. */
  end(): unknown;
  /** `drain` (room to write again) and `close` (the response is over, or the client left). */
  once(event: "drain" | "close", listener: () => void): unknown;
}

/**
 * NodeListener adapts a fetch-style handler, such as `traceHandler()` or
 * `traceRequests(app)`, to a `node:http` request listener. The request's
 * `signal` aborts and the response body is cancelled when the client goes
 * away, so a live trace stops early as it does under `Deno.serve`. A handler
 * that throws gets a 500 response; nothing is thrown into the server.
 *
 * @example Requests as tasks and a live-trace endpoint on Node.js
 * ```ts
 * import { createServer } from "node:http";
 * import { nodeListener, traceHandler, traceRequests } from "./http.ts";
 *
 * const app = (req: Request) => new Response(new URL(req.url).pathname);
 * createServer(nodeListener(traceRequests(app))).listen(8000, "127.0.0.1");
 * createServer(nodeListener(traceHandler())).listen(6060, "127.0.0.1");
 * ```
 */
export function nodeListener(
  handler: (req: Request) => Response | Promise<Response>,
): (req: NodeRequestLike, res: NodeResponseLike) => Promise<void> {
  return async (req, res) => {
    const left = new AbortController();
    let done = false;
    res.once("close", () => {
      if (!done) left.abort();
    });
    let response: Response;
    try {
      response = await handler(toRequest(req, left.signal));
    } catch {
      response = new Response("internal server error\n", { status: 500 });
    }
    res.writeHead(response.status, nodeHeaders(response.headers));
    if (response.body) await pipeBody(response.body, res, left.signal);
    done = true;
    res.end();
  };
}

function toRequest(req: NodeRequestLike, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const method = req.method ?? "GET";
  const url = new URL(req.url ?? "/", `http://${headers.get("host") ?? "localhost"}`);
  const init: RequestInit & { duplex?: "half" } = { method, headers, signal };
  if (method !== "GET" && method !== "HEAD") {
    const chunks = req[Symbol.asyncIterator]();
    init.body = new ReadableStream<Uint8Array>({
      async pull(c) {
        const r = await chunks.next();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
      async cancel() {
        await chunks.return?.();
      },
    });
    init.duplex = "half";
  }
  return new Request(url, init);
}

/** The response's headers for `writeHead`, each Set-Cookie kept apart. */
function nodeHeaders(headers: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  headers.forEach((value, name) => {
    if (name !== "set-cookie") out[name] = value;
  });
  const cookies = headers.getSetCookie?.() ?? [];
  if (cookies.length > 0) out["set-cookie"] = cookies;
  return out;
}

/** Writes `body` to `res`, waiting for `drain` when asked, until it ends or the client leaves. */
async function pipeBody(
  body: ReadableStream<Uint8Array>,
  res: NodeResponseLike,
  left: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  const gone = new Promise<void>((resolve) => {
    if (left.aborted) resolve();
    left.addEventListener("abort", () => resolve(), { once: true });
  });
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), gone.then(() => undefined)]);
      if (r === undefined || r.done) break;
      if (!res.write(r.value)) {
        await Promise.race([new Promise<void>((ok) => res.once("drain", ok)), gone]);
      }
    }
  } catch {
    // The body failed: end the response with what was sent.
  } finally {
    if (left.aborted) reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
}
