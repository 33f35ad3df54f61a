/**
 * A small HTTP server on 127.0.0.1 for `runtrace view --serve`, on
 * `node:http` (which Deno and Bun both provide), stopped by an abort signal.
 *
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** Answers one GET or HEAD request; `path` is the URL path, `query` its parameters. */
export type RouteHandler = (
  path: string,
  query: URLSearchParams,
  res: ServerResponse,
  req: IncomingMessage,
) => void;

/** A running server. */
export interface Served {
  /** `http://127.0.0.1:PORT/`. */
  url: string;
  /** Settles when the server has stopped. */
  closed: Promise<void>;
}

/**
 * Listens on 127.0.0.1:`port` (0 picks a free port) until `signal` aborts;
 * other methods than GET and HEAD get 405, and a handler that throws, 500.
 *
 * @example
 * ```ts
 * import { listenLocal } from "./local_server.ts";
 * const stop = new AbortController();
 * const { url } = await listenLocal((_path, _q, res) => res.end("hi"), 0, stop.signal);
 * stop.abort();
 * ```
 */
export function listenLocal(
  handler: RouteHandler,
  port: number,
  signal: AbortSignal,
): Promise<Served> {
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    try {
      handler(url.pathname, url.searchParams, res, req);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(`runtrace view: ${(e as Error).message}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const addr = server.address();
      const actual = typeof addr === "object" && addr ? addr.port : port;
      const closed = new Promise<void>((done) => {
        const stop = () => {
          server.close(() => done());
          // Keep-alive connections would hold close() open.
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        };
        if (signal.aborted) stop();
        else signal.addEventListener("abort", stop, { once: true });
      });
      resolve({ url: `http://127.0.0.1:${actual}/`, closed });
    });
  });
}

/**
 * Sends `body` with status 200, `type` and no caching.
 *
 * @example
 * ```ts
 * import { send } from "./local_server.ts";
 * // in a RouteHandler: send(res, "application/json", JSON.stringify({ ok: true }));
 * ```
 */
export function send(
  res: ServerResponse,
  type: string,
  body: string | Uint8Array,
  head = false,
): void {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  res.writeHead(200, {
    "content-type": type,
    "content-length": String(bytes.length),
    "cache-control": "no-store",
  });
  res.end(head ? undefined : bytes);
}
