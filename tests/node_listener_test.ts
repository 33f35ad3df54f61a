/**
 * nodeListener: fetch-style handlers served by node:http (Node's server, and
 * Deno's and Bun's node:http): requests and bodies in, statuses, headers and
 * streamed bodies out, a throwing handler as a 500, and the live-trace handler.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { nodeListener, traceHandler, traceRequests } from "../http.ts";
import { parseTrace } from "../read.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import { tracedInMemory } from "./helpers.ts";

const skip = isTracedTestRun() && "RUNTRACE holds the trace";

/** Serves `handler` on a free loopback port for the duration of `body`. */
async function serving(
  handler: (req: Request) => Response | Promise<Response>,
  body: (base: string) => Promise<void>,
): Promise<void> {
  const server: Server = createServer(nodeListener(handler));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    // Keep-alive connections would hold close() open.
    const closed = new Promise((r) => server.close(r));
    server.closeAllConnections();
    await closed;
  }
}

describe("nodeListener", () => {
  test("passes method, URL, headers and body in; status, headers, cookies and body out", async () => {
    await serving(async (req) => {
      const headers = new Headers({ "x-method": req.method, "x-path": new URL(req.url).pathname });
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      const got = `${req.headers.get("x-in")}:${await req.text()}`;
      return new Response(got, { status: 201, headers });
    }, async (base) => {
      const res = await fetch(`${base}/echo?q=1`, {
        method: "POST",
        headers: { "x-in": "hello" },
        body: "body",
      });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get("x-method"), "POST");
      assert.equal(res.headers.get("x-path"), "/echo");
      assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
      assert.equal(await res.text(), "hello:body");
    });
  });

  test("a handler that throws is a 500; the server keeps serving", async () => {
    let calls = 0;
    await serving(() => {
      if (calls++ === 0) throw new Error("boom");
      return new Response("ok");
    }, async (base) => {
      const first = await fetch(base);
      assert.equal(first.status, 500);
      assert.match(await first.text(), /internal server error/);
      assert.equal(await (await fetch(base)).text(), "ok");
    });
  });

  test("traceRequests through node:http makes each request a task", { skip }, async () => {
    let status = 0;
    const t = await tracedInMemory(async () => {
      await serving(traceRequests(() => new Response("hi")), async (base) => {
        const res = await fetch(`${base}/x`);
        status = res.status;
        await res.text();
      });
    }, { runtime: false });
    assert.equal(status, 200);
    assert.deepEqual(t.tasks.map((x) => x.type), ["GET"]);
  });

  test("traceHandler streams a live trace through node:http", { skip }, async () => {
    await serving(traceHandler(), async (base) => {
      const res = await fetch(`${base}/?seconds=0.1`);
      assert.equal(res.status, 200);
      const trace = parseTrace(new Uint8Array(await res.arrayBuffer()));
      assert.equal(trace.truncated, false);
    });
  });
});
