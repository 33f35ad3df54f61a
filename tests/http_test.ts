import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import * as trace from "../mod.ts";
import { parseTrace, type Trace } from "../read.ts";
import {
  flightRecorderHandler,
  type FlightRecorderLike,
  parseTraceparent,
  tracedFetch,
  traceHandler,
  traceRequests,
} from "../http.ts";
import { sleep, tracedInMemory } from "./helpers.ts";

// These tests start traces of their own, which a traced test run (RUNTRACE)
// already holds: one trace at a time, as in Go.
const skip = process.env.RUNTRACE ? "RUNTRACE holds the trace" : false;

interface TestServer {
  url: string;
  close(): Promise<void>;
}

type Handler = (req: Request) => Response | Promise<Response>;

/** A real HTTP server on 127.0.0.1, on a free port, in Deno or Bun. */
function serve(handler: Handler): Promise<TestServer> {
  const g = globalThis as {
    Deno?: {
      serve(
        o: {
          hostname: string;
          port: number;
          onListen(a: { port: number }): void;
          onError(e: unknown): Response;
        },
        h: Handler,
      ): { shutdown(): Promise<void> };
    };
    Bun?: {
      serve(
        o: { hostname: string; port: number; fetch: Handler; error(e: unknown): Response },
      ): {
        port: number;
        stop(force?: boolean): Promise<void> | void;
      };
    };
  };
  if (g.Deno) {
    return new Promise((resolve) => {
      const server = g.Deno!.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen: ({ port }) =>
          resolve({ url: `http://127.0.0.1:${port}`, close: () => server.shutdown() }),
        onError: internalError,
      }, handler);
    });
  }
  if (g.Bun) {
    const server = g.Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: handler,
      error: internalError,
    });
    return Promise.resolve({
      url: `http://127.0.0.1:${server.port}`,
      close: async () => {
        await server.stop(true);
      },
    });
  }
  throw new Error("these tests need Deno.serve or Bun.serve");
}

/** A handler that throws answers 500, quietly: some tests throw on purpose. */
function internalError(): Response {
  return new Response("internal error", { status: 500 });
}

/** Runs `body` against a server, closing it afterwards. */
async function withServer<T>(handler: Handler, body: (url: string) => Promise<T>): Promise<T> {
  const server = await serve(handler);
  try {
    return await body(server.url);
  } finally {
    await server.close();
  }
}

/** Records a trace in memory around `body`. */
const traced = (body: () => unknown): Promise<Trace> => tracedInMemory(body);

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("traceHandler: live trace over HTTP", { skip }, () => {
  test("streams a trace of the window that holds the events recorded during it", async () => {
    await withServer(traceHandler(), async (url) => {
      const res = await fetch(`${url}/debug/trace?seconds=0.5`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/octet-stream");
      // The response headers arrive once tracing is on.
      assert.equal(trace.isEnabled(), true);
      const [ctx, task] = trace.newTask("duringWindow");
      trace.log(ctx, "step", "inside the window");
      await trace.withRegion(ctx, "work", () => sleep(5));
      task.end();

      const t = parseTrace(new Uint8Array(await res.arrayBuffer()));
      assert.equal(t.truncated, false);
      assert.equal(t.lost, 0);
      const got = t.tasks.find((x) => x.type === "duringWindow");
      assert.ok(got, `task missing; tasks: ${t.tasks.map((x) => x.type)}`);
      assert.deepEqual(got.logs.map((l) => l.message), ["inside the window"]);
      assert.deepEqual(got.regions.map((r) => r.type), ["work"]);
      assert.ok(got.end !== undefined);
      await waitFor("tracing to stop", () => !trace.isEnabled());
    });
  });

  test("default is one second; the query may ask for fractions", async () => {
    await withServer(traceHandler(), async (url) => {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-runtrace-seconds"), "1");
      const t = parseTrace(new Uint8Array(await res.arrayBuffer()));
      assert.equal(t.truncated, false);
    });
  });

  test("a second concurrent trace gets 409 with a clear body; the first completes", async () => {
    await withServer(traceHandler(), async (url) => {
      const first = await fetch(`${url}?seconds=0.3`);
      assert.equal(first.status, 200);
      const second = await fetch(`${url}?seconds=0.3`);
      assert.equal(second.status, 409);
      assert.match(await second.text(), /already enabled/);
      const t = parseTrace(new Uint8Array(await first.arrayBuffer()));
      assert.equal(t.truncated, false);
      await waitFor("tracing to stop", () => !trace.isEnabled());
      // Free again once the first has finished.
      const third = await fetch(`${url}?seconds=0.1`);
      assert.equal(third.status, 200);
      await third.arrayBuffer();
    });
  });

  test("409 while the program itself is tracing", async () => {
    await withServer(traceHandler(), async (url) => {
      await trace.start({ write: (p: Uint8Array) => p.length });
      try {
        const res = await fetch(`${url}?seconds=0.1`);
        assert.equal(res.status, 409);
        assert.match(await res.text(), /already enabled/);
      } finally {
        await trace.stop();
      }
    });
  });

  test("bad parameters get 400 naming the problem; other methods 405", async () => {
    await withServer(traceHandler({ maxSeconds: 10 }), async (url) => {
      for (const q of ["abc", "0", "-1", "11", "1e3", "Infinity", "NaN", "", "0x10"]) {
        const res = await fetch(`${url}?seconds=${encodeURIComponent(q)}`);
        assert.equal(res.status, 400, `seconds=${q}`);
        assert.match(await res.text(), /seconds must be a number above 0 and at most 10/);
      }
      const twice = await fetch(`${url}?seconds=1&seconds=2`);
      assert.equal(twice.status, 400);
      assert.match(await twice.text(), /once/);
      const post = await fetch(url, { method: "POST" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET");
      await post.text();
      assert.equal(trace.isEnabled(), false);
    });
  });

  test("bad options throw at construction", () => {
    assert.throws(() => traceHandler({ maxSeconds: 0 }), /maxSeconds/);
    assert.throws(() => traceHandler({ maxSeconds: 5, defaultSeconds: 6 }), /defaultSeconds/);
  });

  test("a client that goes away stops the recording early", async () => {
    await withServer(traceHandler(), async (url) => {
      const abort = new AbortController();
      const res = await fetch(`${url}?seconds=30`, { signal: abort.signal });
      assert.equal(res.status, 200);
      assert.equal(trace.isEnabled(), true);
      abort.abort();
      await res.body?.cancel().catch(() => {});
      await waitFor("tracing to stop after the client left", () => !trace.isEnabled());
    });
  });
});

/** A stand-in for FlightRecorder with the same surface. */
class FakeRecorder implements FlightRecorderLike {
  on = true;
  busy = false;
  gate?: Promise<void>;
  snapshot = new TextEncoder().encode("runtrace-snapshot-bytes");
  enabled(): boolean {
    return this.on;
  }
  async writeTo(
    w: { write(p: Uint8Array): number | Promise<number> } | WritableStream<Uint8Array>,
  ): Promise<number> {
    if (!this.on) throw new Error("flight recorder is not enabled");
    if (this.busy) throw new Error("another writeTo is in progress");
    this.busy = true;
    try {
      if (w instanceof WritableStream) throw new Error("test expects a writer");
      await w.write(this.snapshot.subarray(0, 8));
      await this.gate;
      await w.write(this.snapshot.subarray(8));
      return this.snapshot.length;
    } finally {
      this.busy = false;
    }
  }
}

describe("flightRecorderHandler", () => {
  test("returns the recorder's snapshot", async () => {
    const rec = new FakeRecorder();
    await withServer(flightRecorderHandler(rec), async (url) => {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(new TextDecoder().decode(await res.arrayBuffer()), "runtrace-snapshot-bytes");
    });
  });

  test("503 when the recorder is not running", async () => {
    const rec = new FakeRecorder();
    rec.on = false;
    await withServer(flightRecorderHandler(rec), async (url) => {
      const res = await fetch(url);
      assert.equal(res.status, 503);
      assert.match(await res.text(), /not running/);
    });
  });

  test("409 while a snapshot is being written, by this handler or another caller", async () => {
    const rec = new FakeRecorder();
    let open!: () => void;
    rec.gate = new Promise((r) => open = r);
    await withServer(flightRecorderHandler(rec), async (url) => {
      const first = await fetch(url);
      assert.equal(first.status, 200);
      const second = await fetch(url);
      assert.equal(second.status, 409);
      assert.match(await second.text(), /another flight-recorder snapshot/);
      open();
      assert.equal(new TextDecoder().decode(await first.arrayBuffer()), "runtrace-snapshot-bytes");
    });
    // A writeTo started elsewhere in the program.
    const other = new FakeRecorder();
    other.busy = true;
    await withServer(flightRecorderHandler(other), async (url) => {
      const res = await fetch(url);
      assert.equal(res.status, 409);
      await res.text();
    });
  });

  test("with runtrace's FlightRecorder: a snapshot holding recent events, beside a live trace", {
    skip,
  }, async () => {
    const fr = new trace.FlightRecorder({ minAge: 5000, maxBytes: 1 << 20 });
    fr.start();
    try {
      const [ctx, task] = trace.newTask("beforeSnapshot");
      trace.log(ctx, "k", "v");
      task.end();
      await withServer(flightRecorderHandler(fr), async (url) => {
        const res = await fetch(url);
        assert.equal(res.status, 200);
        const t = parseTrace(new Uint8Array(await res.arrayBuffer()));
        assert.equal(t.truncated, false);
        assert.ok(t.tasks.some((x) => x.type === "beforeSnapshot"));
      });
      // A live trace may run while the recorder does, as in Go.
      await withServer(traceHandler(), async (url) => {
        const res = await fetch(`${url}?seconds=0.1`);
        assert.equal(res.status, 200);
        assert.equal(parseTrace(new Uint8Array(await res.arrayBuffer())).truncated, false);
      });
    } finally {
      await fr.stop();
    }
    await withServer(flightRecorderHandler(fr), async (url) => {
      const res = await fetch(url);
      assert.equal(res.status, 503);
      await res.text();
    });
  });

  test("rejects an object that is not a recorder", () => {
    assert.throws(
      () => flightRecorderHandler({} as FlightRecorderLike),
      /enabled\(\) and writeTo\(w\)/,
    );
  });
});

describe("traceRequests: requests as tasks", { skip }, () => {
  const route = (req: Request) => {
    const p = new URL(req.url).pathname;
    return p.startsWith("/users/") ? "/users/:id" : undefined;
  };
  const app = traceRequests(async (req: Request) => {
    const path = new URL(req.url).pathname;
    trace.log("app", `handling ${path}`);
    if (path === "/boom") throw new Error("kaboom");
    if (path === "/stream") {
      const parts = ["ab", "cde", "f"];
      return new Response(
        new ReadableStream({
          pull(c) {
            const p = parts.shift();
            if (p === undefined) c.close();
            else c.enqueue(new TextEncoder().encode(p));
          },
        }),
      );
    }
    await trace.withRegion("db", () => sleep(2));
    return new Response(`user ${path}`, { status: 201, headers: { "x-a": "1" } });
  }, { route, measureBody: true });

  test("each request is a task typed by route, with method, path, status and size logs", async () => {
    const t = await traced(() =>
      withServer(app, async (url) => {
        const res = await fetch(`${url}/users/42?token=secret`, {
          headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
        });
        assert.equal(res.status, 201);
        assert.equal(res.headers.get("x-a"), "1");
        assert.equal(await res.text(), "user /users/42");
        const other = await fetch(`${url}/stream`);
        assert.equal(await other.text(), "abcdef");
        await fetch(`${url}/users/7`).then((r) => r.text());
      })
    );
    const types = t.tasks.map((x) => x.type);
    assert.deepEqual(types, ["GET /users/:id", "GET", "GET /users/:id"]);
    const [user, stream] = t.tasks;
    const logs = (task: typeof user) =>
      Object.fromEntries(task.logs.map((l) => [l.category, l.message]));
    assert.deepEqual(logs(user), {
      "http.method": "GET",
      "http.path": "/users/42",
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      app: "handling /users/42",
      "http.status": "201",
      "http.size": "14",
    });
    assert.deepEqual(user.regions.map((r) => r.type), ["db"]);
    assert.ok(user.end !== undefined && user.start !== undefined);
    assert.equal(logs(stream)["http.size"], "6");
    assert.ok(stream.end !== undefined);
    assert.equal(t.problems.length, 0);
  });

  test("a throwing handler logs http.error and still ends the task", async () => {
    const t = await traced(() =>
      withServer(app, async (url) => {
        const res = await fetch(`${url}/boom`);
        assert.equal(res.status, 500);
        await res.arrayBuffer();
      })
    );
    const task = t.tasks.find((x) => x.type === "GET")!;
    assert.ok(task.end !== undefined);
    assert.equal(task.logs.find((l) => l.category === "http.error")?.message, "Error: kaboom");
  });

  test("unusual methods are grouped and a failing route function is ignored", async () => {
    const h = traceRequests(() => new Response(null, { status: 204 }), {
      route: () => {
        throw new Error("router bug");
      },
    });
    const t = await traced(() =>
      withServer(h, async (url) => {
        const res = await fetch(url, { method: "PROPFIND" });
        assert.equal(res.status, 204);
      })
    );
    assert.deepEqual(t.tasks.map((x) => x.type), ["OTHER"]);
    assert.equal(t.tasks[0].logs.find((l) => l.category === "http.method")?.message, "PROPFIND");
    assert.equal(t.tasks[0].logs.find((l) => l.category === "http.size")?.message, "0");
  });

  test("a client that stops reading a streamed body ends the task with http.aborted", async () => {
    let cancelled = false;
    const h = traceRequests(() =>
      new Response(
        new ReadableStream({
          pull: async (c) => {
            await sleep(5);
            c.enqueue(new Uint8Array(100));
          },
          cancel: () => {
            cancelled = true;
          },
        }),
      ), { measureBody: true });
    const t = await traced(() =>
      withServer(h, async (url) => {
        const abort = new AbortController();
        const res = await fetch(url, { signal: abort.signal });
        const reader = res.body!.getReader();
        await reader.read();
        abort.abort();
        await reader.cancel().catch(() => {});
        await waitFor("the server to see the client leave", () => cancelled);
      })
    );
    const task = t.tasks[0];
    assert.ok(task.end !== undefined);
    assert.ok(task.logs.some((l) => l.category === "http.aborted"));
    assert.ok(Number(task.logs.find((l) => l.category === "http.size")?.message) >= 100);
  });

  test("by default the body is left alone: size only when declared", async () => {
    const h = traceRequests((req) =>
      new URL(req.url).pathname === "/declared"
        ? new Response("12345", { headers: { "content-length": "5" } })
        : new Response("undeclared")
    );
    const t = await traced(() =>
      withServer(h, async (url) => {
        assert.equal(await (await fetch(`${url}/declared`)).text(), "12345");
        assert.equal(await (await fetch(`${url}/other`)).text(), "undeclared");
      })
    );
    const [declared, other] = t.tasks;
    assert.equal(declared.logs.find((l) => l.category === "http.size")?.message, "5");
    assert.equal(other.logs.find((l) => l.category === "http.size"), undefined);
    assert.equal(other.logs.find((l) => l.category === "http.status")?.message, "200");
    assert.ok(other.end !== undefined);
  });

  test("with tracing off the handler runs unchanged", async () => {
    assert.equal(trace.isEnabled(), false);
    await withServer(app, async (url) => {
      const res = await fetch(`${url}/users/1`);
      assert.equal(res.status, 201);
      assert.equal(await res.text(), "user /users/1");
    });
  });
});

describe("tracedFetch: outgoing calls as regions", { skip }, () => {
  test("a region per call with method, host, status and time to first byte", async () => {
    const f = tracedFetch();
    let host = "";
    const t = await traced(() =>
      withServer(() => new Response("pong", { status: 202 }), async (url) => {
        host = new URL(url).host;
        const [ctx, task] = trace.newTask("client");
        await ctx.run(async () => {
          const res = await f(`${url}/ping`, { method: "post", body: "x" });
          assert.equal(res.status, 202);
          assert.equal(await res.text(), "pong");
        });
        task.end();
      })
    );
    const task = t.tasks.find((x) => x.type === "client")!;
    assert.deepEqual(task.regions.map((r) => r.type), [`fetch ${host}`]);
    assert.ok(task.regions[0].end !== undefined);
    const logs = Object.fromEntries(task.logs.map((l) => [l.category, l.message]));
    assert.equal(logs["fetch.method"], "POST");
    assert.equal(logs["fetch.host"], host);
    assert.equal(logs["fetch.status"], "202");
    assert.match(logs["fetch.ttfb"], /^\d+\.\d{3}ms$/);
    assert.equal(logs.traceparent, undefined);
  });

  test("a failed call logs fetch.error and ends its region", async () => {
    const f = tracedFetch(() => Promise.reject(new TypeError("connection refused")));
    const t = await traced(async () => {
      const [ctx, task] = trace.newTask("client");
      await assert.rejects(ctx.run(() => f("http://127.0.0.1:9/")), /connection refused/);
      task.end();
    });
    const task = t.tasks[0];
    assert.equal(task.regions[0].type, "fetch 127.0.0.1:9");
    assert.ok(task.regions[0].end !== undefined);
    assert.equal(
      task.logs.find((l) => l.category === "fetch.error")?.message,
      "TypeError: connection refused",
    );
  });

  test("regionType gets the host and method; user info is dropped", async () => {
    const seen: string[] = [];
    const f = tracedFetch(() => Promise.resolve(new Response("x")), {
      regionType: (host, method) => {
        seen.push(`${method} ${host}`);
        return `call ${host}`;
      },
    });
    const t = await traced(async () => {
      const [ctx, task] = trace.newTask("client");
      await ctx.run(async () => {
        await f("http://user:pw@Example.COM:8080/a?b#c", { method: "put" });
        await f(new Request("https://api.example.org/x"));
        await f("/relative");
      });
      task.end();
    });
    assert.deepEqual(seen, ["PUT example.com:8080", "GET api.example.org", "GET "]);
    assert.deepEqual(t.tasks[0].regions.map((r) => r.type), [
      "call example.com:8080",
      "call api.example.org",
      "call ",
    ]);
  });

  test("propagate continues the incoming traceparent's trace id downstream", async () => {
    const f = tracedFetch(fetch, { propagate: true });
    const seen: (string | null)[] = [];
    const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const t = await traced(() =>
      withServer((req) => {
        seen.push(req.headers.get("traceparent"));
        return new Response("ok");
      }, async (downstream) => {
        const front = traceRequests(async () => {
          const r = await f(`${downstream}/inner`);
          return new Response(await r.text());
        });
        await withServer(front, async (url) => {
          const res = await fetch(url, { headers: { traceparent: incoming } });
          assert.equal(await res.text(), "ok");
          // Outside any request: a new trace id.
          const res2 = await f(`${downstream}/alone`);
          await res2.text();
        });
      })
    );
    assert.equal(seen.length, 2);
    const first = parseTraceparent(seen[0]);
    assert.ok(first);
    assert.equal(first.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.notEqual(first.parentId, "00f067aa0ba902b7");
    assert.equal(first.flags, "01");
    const second = parseTraceparent(seen[1]);
    assert.ok(second);
    assert.notEqual(second.traceId, first.traceId);
    const task = t.tasks.find((x) => x.type === "GET")!;
    assert.equal(task.logs.find((l) => l.category === "traceparent")?.message, incoming);
    assert.equal(task.logs.find((l) => l.category === "traceparent.out")?.message, seen[0]);
  });

  test("a traceparent the caller set is kept", async () => {
    const f = tracedFetch(fetch, { propagate: true });
    let seen: string | null = null;
    const mine = "00-11111111111111111111111111111111-2222222222222222-00";
    await traced(() =>
      withServer((req) => {
        seen = req.headers.get("traceparent");
        return new Response("ok");
      }, async (url) => {
        await (await f(url, { headers: { traceparent: mine } })).text();
      })
    );
    assert.equal(seen, mine);
  });
});

describe("parseTraceparent", () => {
  test("accepts valid headers and rejects invalid ones", () => {
    const ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert.deepEqual(parseTraceparent(ok), {
      header: ok,
      version: "00",
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      parentId: "00f067aa0ba902b7",
      flags: "01",
    });
    assert.equal(parseTraceparent(ok.toUpperCase())?.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.equal(parseTraceparent(`01-${ok.slice(3)}-future`)?.version, "01");
    for (
      const bad of [
        null,
        "",
        "garbage",
        `${ok}-extra`,
        `ff-${ok.slice(3)}`,
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
      ]
    ) {
      assert.equal(parseTraceparent(bad), undefined, String(bad));
    }
  });
});
