/**
 * The routes of `runtrace view --serve FILE`: the page, and the queries it
 * makes of the trace's index.
 *
 * - `GET /api/meta`: JSON, the index's meta block (rows, types, summaries).
 * - `GET /api/tile?t0=&t1=&px=`: binary, the slices of [t0, t1] ns at least a
 *   pixel wide at `px` pixels, and the density counts of every row: a
 *   16-byte header `u32 records, u32 density rows, u32 px, u32 minLevel`,
 *   the 32-byte records (lib/viewer/serve/index_layout.ts), then per density
 *   row `u32 row` and `px` f32 counts; little-endian.
 * - `GET /api/task?id=`: JSON, a task's focus data (its regions, logs,
 *   the stalls and GCs over it, where its time went), 404 if none.
 * - `GET /api/logs?from=&limit=&category=&task=&text=&step=`: JSON, one bounded
 *   step of a scan of the logs in time order (lib/viewer/serve/log_scan.ts);
 *   continue with `from` set to its `next` (a cursor) until `done`; `step`
 *   caps the bytes a step reads below its default.
 * - `GET /api/bucket?kind=task|region&type=&lo=&hi=&from=&limit=`: JSON,
 *   one bounded step of the instances of a histogram bucket [lo, hi) ns.
 * - `GET /api/instance?kind=task|region&type=&ns=`: JSON, a complete
 *   instance of that type whose duration is `ns` (or the nearest): the
 *   target of a percentile's link; 404 if none.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import { listenLocal, send, type Served } from "./local_server.ts";
import type { Tile, TraceIndex } from "./trace_index.ts";
import type { LogFilter } from "./index_layout.ts";

/**
 * Encodes a tile for the page (see the module doc for the layout).
 *
 * @example
 * ```ts
 * import { encodeTile } from "./trace_server.ts";
 * encodeTile({ records: new Uint8Array(0), count: 0, minLevel: 0, density: [] }, 100).length; // 16
 * ```
 */
export function encodeTile(tile: Tile, px: number): Uint8Array {
  const size = 16 + tile.records.length + tile.density.length * (4 + px * 4);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setUint32(0, tile.count, true);
  v.setUint32(4, tile.density.length, true);
  v.setUint32(8, px, true);
  v.setUint32(12, tile.minLevel, true);
  out.set(tile.records, 16);
  let at = 16 + tile.records.length;
  for (const d of tile.density) {
    v.setUint32(at, d.row, true);
    out.set(new Uint8Array(d.counts.buffer, d.counts.byteOffset, px * 4), at + 4);
    at += 4 + px * 4;
  }
  return out;
}

function badRequest(res: ServerResponse, why: string): void {
  res.writeHead(400, { "content-type": "text/plain" }).end(`${why}\n`);
}

/** Options of {@linkcode serveTrace}. */
export interface ServeTraceOptions {
  /** The page (html.ts with `serve: true`). */
  html: string;
  /** The open index of the trace. */
  index: TraceIndex;
  /** The trace's name, shown in the page. */
  name: string;
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** Stops the server. */
  signal: AbortSignal;
}

/**
 * Serves the page and the index's queries until `signal` aborts.
 *
 * @example
 * ```ts
 * import { serveTrace } from "./trace_server.ts";
 * import { openIndex } from "./index_path.ts";
 * import { renderViewerHtml } from "../html.ts";
 * const { index } = openIndex("trace.out");
 * const stop = new AbortController();
 * const { url } = await serveTrace({
 *   html: renderViewerHtml(new Uint8Array(0), { name: "trace.out", serve: true }),
 *   index, name: "trace.out", port: 0, signal: stop.signal,
 * });
 * console.log(url);
 * ```
 */
export function serveTrace(o: ServeTraceOptions): Promise<Served> {
  const meta = JSON.stringify({ ...o.index.meta, name: o.name });
  return listenLocal(
    (path, q, res, req) => {
      const head = req.method === "HEAD";
      switch (path) {
        case "/":
        case "/index.html":
          return send(res, "text/html; charset=utf-8", o.html, head);
        case "/api/meta":
          return send(res, "application/json", meta, head);
        case "/api/tile": {
          const t0 = Number(q.get("t0")), t1 = Number(q.get("t1")), px = Number(q.get("px"));
          if (![t0, t1, px].every(Number.isFinite) || t1 <= t0 || px < 1 || px > 8192) {
            return badRequest(res, "tile needs t0 < t1 (ns) and px from 1 to 8192");
          }
          const p = Math.floor(px);
          return send(
            res,
            "application/octet-stream",
            encodeTile(o.index.tile(t0, t1, p), p),
            head,
          );
        }
        case "/api/task": {
          const id = Number(q.get("id"));
          if (!Number.isFinite(id)) return badRequest(res, "task needs an id");
          const f = o.index.focus(id);
          if (!f) {
            res.writeHead(404, { "content-type": "text/plain" }).end(`no task ${id}\n`);
            return;
          }
          return send(res, "application/json", JSON.stringify(f), head);
        }
        case "/api/logs": {
          const task = q.get("task"), from = q.get("from") ?? "";
          const limit = Math.min(1000, Math.max(1, Number(q.get("limit") ?? 200) || 200));
          const filter: LogFilter = {};
          if (q.has("category")) filter.category = q.get("category")!;
          if (task) filter.task = Number(task);
          if (q.get("text")) filter.text = q.get("text")!;
          if (task && !Number.isFinite(filter.task)) {
            return badRequest(res, "logs takes from (a cursor), limit, category, task (id), text");
          }
          let page;
          try {
            const step = Number(q.get("step") ?? NaN);
            page = o.index.logs(filter, from, limit, step > 0 ? step : undefined);
          } catch (e) {
            return badRequest(res, e instanceof RangeError ? e.message : String(e));
          }
          return send(res, "application/json", JSON.stringify(page), head);
        }
        case "/api/bucket": {
          const kind = q.get("kind"), type = q.get("type") ?? "";
          const [lo, hi, from] = ["lo", "hi", "from"].map((k) => Number(q.get(k) ?? 0));
          const limit = Math.min(500, Math.max(1, Number(q.get("limit") ?? 100) || 100));
          if (
            (kind !== "task" && kind !== "region") || ![lo, hi, from].every(Number.isFinite) ||
            hi <= lo || from < 0
          ) {
            return badRequest(res, "bucket needs kind (task or region), type, lo < hi (ns), from");
          }
          const page = o.index.bucket(kind, type, lo, hi, from, limit);
          return send(res, "application/json", JSON.stringify(page), head);
        }
        case "/api/instance": {
          const kind = q.get("kind"), type = q.get("type") ?? "", ns = Number(q.get("ns"));
          if ((kind !== "task" && kind !== "region") || !Number.isFinite(ns)) {
            return badRequest(res, "instance needs kind (task or region), type and ns");
          }
          const found = o.index.instance(kind, type, ns);
          if (!found) {
            res.writeHead(404, { "content-type": "text/plain" }).end(
              `no ${kind} of type ${type}\n`,
            );
            return;
          }
          return send(res, "application/json", JSON.stringify(found), head);
        }
        default:
          res.writeHead(404, { "content-type": "text/plain" }).end(
            "not found: the viewer is at /\n",
          );
      }
    },
    o.port,
    o.signal,
  );
}
