/**
 * A realistic async workload for the overhead benchmark: simulated requests,
 * each one task, three regions and one log around about 100 µs of real work
 * (parsing, changing and serialising JSON documents of about 10 kB: the
 * request, and the stored record it updates), with
 * awaits between the steps and several requests in flight at once, as in a
 * server. The same code runs whether tracing is on or off: the instrumented
 * program, not a stripped copy, is the baseline.
 *
 * Run alone: `deno run -A bench/workload.ts` or `bun bench/workload.ts`
 * prints the time per request with tracing off.
 *
 * @module
 */

import * as trace from "../mod.ts";
import { setImmediate } from "node:timers";

/** Options of {@linkcode runWorkload}. All are optional. */
export interface WorkloadOptions {
  /** Requests to serve (default 20 000). */
  requests?: number;
  /** Requests in flight at once (default 16). */
  concurrency?: number;
  /** The request body, from {@linkcode makeDocument} (default: a 10 kB one). */
  body?: string;
}

/** What one run of the workload did. */
export interface WorkloadResult {
  /** Requests served. */
  requests: number;
  /** Wall time of the run, ms. */
  ms: number;
  /** Requests per second. */
  rate: number;
  /** Bytes of response produced (a checksum that keeps the work alive). */
  responseBytes: number;
}

/**
 * Makes a JSON document of about `bytes` bytes shaped like an API payload: an
 * order with customer data and line items.
 *
 * @example
 * ```ts
 * import { makeDocument } from "./workload.ts";
 * const body = makeDocument(10_000);
 * JSON.parse(body).items.length > 0; // true
 * ```
 */
export function makeDocument(bytes = 10_000): string {
  const doc = {
    id: "ord_8f2c1a",
    createdAt: "2026-11-26T07:00:00.000Z",
    customer: {
      id: 48213,
      name: "Ada Lovelace",
      email: "ada@example.com",
      address: { street: "12 Analytical Row", city: "London", zip: "N1 9GU" },
      tags: ["vip", "beta", "newsletter"],
    },
    items: [] as Record<string, unknown>[],
  };
  for (let i = 0; JSON.stringify(doc).length < bytes; i++) {
    doc.items.push({
      sku: `SKU-${(100000 + i * 7919) % 999983}`,
      title: `Item number ${i} with a descriptive title`,
      qty: 1 + (i % 5),
      price: Math.round((3.5 + i * 1.25) * 100) / 100,
      discount: i % 3 === 0 ? 0.1 : 0,
      attributes: { color: ["red", "green", "blue"][i % 3], size: i % 4, fragile: i % 7 === 0 },
    });
  }
  return JSON.stringify(doc);
}

const hop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Serves one request: the work of a typical JSON API handler. `withRegion`
 * around the async middle step exercises the implicit (AsyncLocalStorage)
 * context, the other calls pass it explicitly.
 */
async function handle(n: number, body: string): Promise<number> {
  const [ctx, task] = trace.newTask("request");
  try {
    trace.log(ctx, "order", `POST /orders/${n}`);
    const parse = trace.startRegion(ctx, "parse");
    const doc = JSON.parse(body);
    parse.end();
    // The stored record arrives from a database as JSON text too.
    await null;
    const stored = JSON.parse(body);
    await trace.withRegion(ctx, "price", async () => {
      let total = 0;
      for (const item of doc.items) {
        item.total = item.qty * item.price * (1 - item.discount);
        total += item.total;
      }
      await hop();
      doc.total = total;
      doc.request = n;
      stored.items = doc.items;
      stored.version = n;
    });
    const render = trace.startRegion(ctx, "render");
    const out = JSON.stringify(doc);
    render.end();
    await null;
    const saved = JSON.stringify(stored);
    return out.length + saved.length;
  } finally {
    task.end();
  }
}

/**
 * Serves `requests` simulated requests, `concurrency` at a time, and reports
 * the wall time. Tracing is whatever the caller made it.
 *
 * @example
 * ```ts
 * import { runWorkload } from "./workload.ts";
 * const r = await runWorkload({ requests: 100 });
 * console.log(`${(r.ms * 1000 / r.requests).toFixed(1)} µs per request`);
 * ```
 */
export async function runWorkload(options: WorkloadOptions = {}): Promise<WorkloadResult> {
  const requests = options.requests ?? 20_000;
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 16, requests));
  const body = options.body ?? makeDocument();
  let next = 0;
  let responseBytes = 0;
  const server = async () => {
    while (next < requests) responseBytes += await handle(next++, body);
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, server));
  const ms = performance.now() - t0;
  return { requests, ms, rate: requests / (ms / 1000), responseBytes };
}

if (import.meta.main) {
  const body = makeDocument();
  await runWorkload({ requests: 2000, body });
  for (let k = 0; k < 3; k++) {
    const r = await runWorkload({ body });
    console.log(
      `${r.requests} requests, body ${body.length} B: ${
        (r.ms * 1000 / r.requests).toFixed(1)
      } µs each`,
    );
  }
}
