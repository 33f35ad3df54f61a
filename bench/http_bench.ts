/**
 * The added latency of the HTTP wrappers (issue 6): a real server on
 * 127.0.0.1 and a real `fetch` client with keep-alive, in one process, with
 * the handler plain, wrapped by `traceRequests` with tracing off, and wrapped
 * with tracing on (to a file), then with `tracedFetch` on the client too.
 * Cases are interleaved run by run so that machine noise hits them alike; the
 * figures are medians over runs. Client and server share the thread, so a
 * request's latency includes both sides' work: the difference between cases
 * is what the wrappers add to one request. Output is Markdown.
 *
 * ```
 * deno run -A bench/http_bench.ts [flags]      bun bench/http_bench.ts [flags]
 *   --quick            3 runs of 500 requests
 *   --runs=N           runs per case, the median is reported (default 7)
 *   --requests=N       requests per run (default 2 000, at most 50 000)
 *   --concurrency=N    requests in flight (default 8, at most 64)
 * ```
 *
 * @module
 */

import * as trace from "../mod.ts";
import { tracedFetch, traceRequests } from "../http.ts";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

interface Flags {
  runs: number;
  requests: number;
  concurrency: number;
}

function parseFlags(argv: string[]): Flags {
  const quick = argv.includes("--quick");
  const f: Flags = { runs: quick ? 3 : 7, requests: quick ? 500 : 2000, concurrency: 8 };
  for (const a of argv) {
    const m = /^--(runs|requests|concurrency)=(\d+)$/.exec(a);
    if (m) f[m[1] as keyof Flags] = Number(m[2]);
    else if (a !== "--quick") throw new Error(`http_bench: unknown flag ${a}`);
  }
  if (f.runs < 1 || f.runs > 51) throw new RangeError("http_bench: --runs must be 1..51");
  if (f.requests < 10 || f.requests > 50_000) {
    throw new RangeError("http_bench: --requests must be 10..50000");
  }
  if (f.concurrency < 1 || f.concurrency > 64) {
    throw new RangeError("http_bench: --concurrency must be 1..64");
  }
  return f;
}

/** A fetch-style handler. */
export type Handler = (req: Request) => Response | Promise<Response>;

/** A loopback server: the URL of its `/users/42` and how to close it. */
export interface Server {
  /** `http://127.0.0.1:PORT/users/42`. */
  url: string;
  /** Shuts the server down. */
  close(): Promise<void>;
}

/**
 * A server on 127.0.0.1 (`Deno.serve` or `Bun.serve`) whose handler can be
 * swapped between runs: each request calls `handler()` for the current one.
 */
export async function serve(handler: () => Handler): Promise<Server> {
  const fetchHandler: Handler = (req) => handler()(req);
  const g = globalThis as {
    Deno?: {
      serve(
        o: { hostname: string; port: number; onListen(a: { port: number }): void },
        h: Handler,
      ): { shutdown(): Promise<void> };
    };
    Bun?: {
      serve(o: { hostname: string; port: number; fetch: Handler }): {
        port: number;
        stop(force?: boolean): unknown;
      };
    };
  };
  if (g.Deno) {
    return await new Promise((resolve) => {
      const s = g.Deno!.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen: ({ port }) =>
          resolve({ url: `http://127.0.0.1:${port}/users/42`, close: () => s.shutdown() }),
      }, fetchHandler);
    });
  }
  if (g.Bun) {
    const s = g.Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: fetchHandler });
    return {
      url: `http://127.0.0.1:${s.port}/users/42`,
      close: async () => {
        await s.stop(true);
      },
    };
  }
  throw new Error("http_bench needs Deno.serve or Bun.serve");
}

const payload = JSON.stringify({
  id: 42,
  name: "Ada",
  roles: ["admin", "dev"],
  bio: "x".repeat(200),
});

/** The application handler: a little work, a region, a JSON answer. */
const app: Handler = async (req) => {
  const id = new URL(req.url).pathname.split("/").pop();
  const user = await trace.withRegion("loadUser", () => Promise.resolve(JSON.parse(payload)));
  user.id = Number(id);
  return new Response(JSON.stringify(user), {
    headers: { "content-type": "application/json" },
  });
};
const route = () => "/users/:id";

interface Case {
  name: string;
  handler: Handler;
  fetch: typeof fetch;
  traced: boolean;
}

const plainFetch = globalThis.fetch.bind(globalThis);
const cases: Case[] = [
  { name: "plain handler, tracing off", handler: app, fetch: plainFetch, traced: false },
  {
    name: "traceRequests, tracing off",
    handler: traceRequests(app, { route }),
    fetch: plainFetch,
    traced: false,
  },
  {
    name: "plain handler, tracing on",
    handler: app,
    fetch: plainFetch,
    traced: true,
  },
  {
    name: "traceRequests, tracing on",
    handler: traceRequests(app, { route }),
    fetch: plainFetch,
    traced: true,
  },
  {
    name: "traceRequests measureBody:true, tracing on",
    handler: traceRequests(app, { route, measureBody: true }),
    fetch: plainFetch,
    traced: true,
  },
  {
    name: "traceRequests + tracedFetch, tracing on",
    handler: traceRequests(app, { route }),
    fetch: tracedFetch(plainFetch) as typeof fetch,
    traced: true,
  },
  {
    name: "traceRequests + tracedFetch propagate, tracing on",
    handler: traceRequests(app, { route }),
    fetch: tracedFetch(plainFetch, { propagate: true }) as typeof fetch,
    traced: true,
  },
];

interface RunResult {
  /** Wall time per request, µs (1 / throughput). */
  perRequestUs: number;
  /** CPU time of the process (all threads) per request, µs: steadier on a shared machine. */
  cpuUs: number;
  /** Median and 99th percentile of single-request latency, µs. */
  p50Us: number;
  p99Us: number;
}

async function runOnce(url: string, c: Case, requests: number, concurrency: number) {
  const lat = new Float64Array(requests);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= requests) return;
      const t0 = performance.now();
      const res = await c.fetch(url);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`http_bench: status ${res.status}`);
      lat[i] = performance.now() - t0;
    }
  };
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  lat.sort();
  return {
    perRequestUs: (wall * 1000) / requests,
    cpuUs: (cpu.user + cpu.system) / requests,
    p50Us: lat[Math.floor(requests * 0.5)] * 1000,
    p99Us: lat[Math.min(requests - 1, Math.floor(requests * 0.99))] * 1000,
  } satisfies RunResult;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), "runtrace-http-bench-"));
  let current: Handler = app;
  const server = await serve(() => current);
  const results = new Map<string, RunResult[]>(cases.map((c) => [c.name, []]));
  let traceBytes = 0;
  let traced = 0;
  try {
    // Warm up the JIT and the connection pool.
    for (const c of cases) {
      current = c.handler;
      await runOnce(server.url, c, Math.min(200, flags.requests), flags.concurrency);
    }
    for (let r = 0; r < flags.runs; r++) {
      for (const c of cases) {
        current = c.handler;
        const file = join(dir, `run.trace`);
        if (c.traced) await trace.start(file);
        try {
          results.get(c.name)!.push(
            await runOnce(server.url, c, flags.requests, flags.concurrency),
          );
        } finally {
          if (c.traced) {
            await trace.stop();
            traceBytes += statSync(file).size;
            traced += flags.requests;
          }
        }
      }
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const rt = "Deno" in globalThis
    ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
    : `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`;
  console.log(
    `### HTTP wrappers, ${rt}: ${flags.requests} requests x ${flags.runs} runs, ` +
      `${flags.concurrency} in flight, loopback, client and server in one process\n`,
  );
  console.log(
    `${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), load average ${
      loadavg().map((x) => x.toFixed(2)).join(" ")
    } at the end\n`,
  );
  console.log(
    "| case | CPU µs per request | added CPU | wall µs per request | added wall | p50 latency | p99 latency |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  const med = (c: Case, f: (r: RunResult) => number) => median(results.get(c.name)!.map(f));
  const cpu = (r: RunResult) => r.cpuUs;
  const wall = (r: RunResult) => r.perRequestUs;
  for (const c of cases) {
    // Wrapped cases with tracing on compare with the plain handler traced.
    const ref = c.traced && c !== cases[2] ? cases[2] : cases[0];
    const added = (f: (r: RunResult) => number) =>
      c === cases[0] ? "—" : `${(med(c, f) - med(ref, f)).toFixed(1)}`;
    console.log(
      `| ${c.name} | ${med(c, cpu).toFixed(1)} | ${added(cpu)} | ${med(c, wall).toFixed(1)} | ${
        added(wall)
      } | ${med(c, (r) => r.p50Us).toFixed(0)} µs | ${med(c, (r) => r.p99Us).toFixed(0)} µs |`,
    );
  }
  console.log(
    `\n"added" compares each case with tracing on to "plain handler, tracing on" (the cost of` +
      ` the wrapper's events), and the others to "plain handler, tracing off".` +
      ` Trace size: ${(traceBytes / traced).toFixed(0)} bytes per request on average.`,
  );
}

if (import.meta.main) await main();
