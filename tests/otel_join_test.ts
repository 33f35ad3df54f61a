/**
 * Joining an active OpenTelemetry context: a root task records the
 * `traceparent` of the span active when it begins, found through
 * OpenTelemetry's global registration (no OpenTelemetry import), and the
 * OTLP export hangs the task's span under that span. Checked with a
 * registration made by hand (what `@opentelemetry/api` registers) in both
 * runtimes, and, in Deno, with its built-in OpenTelemetry (`OTEL_DENO=true`)
 * under `Deno.serve` and `traceRequests`.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import process from "node:process";
import * as trace from "../mod.ts";
import { parseTrace, TraceDecoder } from "../read.ts";
import { OtlpExporter } from "../lib/export/otlp.ts";
import { type OtlpSpan, SpanMapper } from "../lib/export/otlp_spans.ts";
import { activeTraceparent } from "../lib/record/otel_join.ts";
import { concat, modUrl, runtime, tempDir } from "./helpers.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";

const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;
const API = Symbol.for("opentelemetry.js.api.1");
const SPAN = Symbol.for("OpenTelemetry Context Key SPAN");
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";

/** Registers a minimal OpenTelemetry API whose active span is `active()`. */
function register(active: () => { traceId: string; spanId: string; traceFlags: number } | null) {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const had = g[API];
  g[API] = {
    version: "1.9.0",
    context: {
      active: () => ({
        getValue: (k: symbol) => {
          const sc = active();
          return k === SPAN && sc ? { spanContext: () => sc } : undefined;
        },
      }),
    },
  };
  return () => {
    if (had === undefined) delete g[API];
    else g[API] = had;
  };
}

async function record(body: () => unknown): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await trace.start({ write: (p: Uint8Array) => (chunks.push(p.slice()), p.length) }, {
    runtime: false,
  });
  try {
    await body();
  } finally {
    await trace.stop();
  }
  return concat(chunks);
}

function spans(bytes: Uint8Array): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  const m = new SpanMapper((s) => out.push(s));
  const d = new TraceDecoder(m.add);
  d.push(bytes);
  d.finish();
  return out;
}

const hex = (b: Uint8Array | undefined) =>
  b ? [...b].map((x) => x.toString(16).padStart(2, "0")).join("") : undefined;

describe("a root task joins the active OpenTelemetry span", { skip }, () => {
  test("found through the global registration; subtasks follow their parent", async () => {
    let active: { traceId: string; spanId: string; traceFlags: number } | null = {
      traceId: TRACE,
      spanId: SPAN_ID,
      traceFlags: 1,
    };
    const unregister = register(() => active);
    let bytes;
    try {
      assert.equal(activeTraceparent(), `00-${TRACE}-${SPAN_ID}-01`);
      bytes = await record(() => {
        const [ctx, root] = trace.newTask("request");
        const [, sub] = trace.newTask(ctx, "render");
        sub.end();
        root.end();
        active = null;
        trace.newTask("no span active")[1].end();
      });
    } finally {
      unregister();
    }
    const t = parseTrace(bytes);
    const logs = t.logs.filter((l) => l.category === "traceparent");
    assert.equal(logs.length, 1, "one root task with a span active");
    assert.equal(logs[0].message, `00-${TRACE}-${SPAN_ID}-01`);
    const s = new Map(spans(bytes).map((x) => [x.name, x]));
    assert.equal(hex(s.get("request")!.traceId), TRACE);
    assert.equal(hex(s.get("request")!.parentSpanId), SPAN_ID);
    assert.equal(hex(s.get("render")!.traceId), TRACE);
    assert.equal(s.get("render")!.parent, s.get("request"));
    assert.notEqual(hex(s.get("no span active")!.traceId), TRACE);
  });

  test("a broken or foreign registration is ignored, never thrown into the app", async () => {
    const bad = [
      () => {
        throw new Error("boom");
      },
      () => ({ traceId: "0".repeat(32), spanId: SPAN_ID, traceFlags: 1 }),
      () => ({ traceId: "not hex", spanId: SPAN_ID, traceFlags: 1 }),
    ];
    for (const active of bad) {
      const unregister = register(active as unknown as () => null);
      try {
        assert.equal(activeTraceparent(), undefined);
        const bytes = await record(() => trace.newTask("request")[1].end());
        assert.equal(parseTrace(bytes).logs.length, 0);
      } finally {
        unregister();
      }
    }
  });

  test(
    "Deno's built-in OpenTelemetry: a traceRequests task hangs under Deno.serve's span",
    { skip: runtime === "deno" ? false : "Deno's built-in OpenTelemetry is Deno's" },
    () => {
      const dir = tempDir();
      const out = join(dir, "t.trace");
      const script = join(dir, "serve.ts");
      writeFileSync(
        script,
        `import * as trace from ${JSON.stringify(modUrl)};
import { traceRequests } from ${JSON.stringify(new URL("../http.ts", import.meta.url).href)};
await trace.start(${JSON.stringify(out)}, { runtime: false });
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} },
  traceRequests(() => new Response("ok")));
const r = await fetch("http://127.0.0.1:" + server.addr.port + "/x",
  { headers: { traceparent: "00-${TRACE}-${SPAN_ID}-01" } });
await r.text();
await server.shutdown();
await trace.stop();
`,
      );
      const r = spawnSync(process.execPath, ["run", "-A", script], {
        encoding: "utf8",
        timeout: 30_000,
        env: {
          ...process.env,
          OTEL_DENO: "true",
          // Deno's own exporter has nowhere to send to: a closed port.
          OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
          NO_COLOR: "1",
        },
      });
      assert.equal(r.status, 0, r.stderr);
      const bytes = new Uint8Array(readFileSync(out));
      const task = spans(bytes).find((s) => s.name === "GET")!;
      assert.ok(task, "the request's task");
      assert.equal(hex(task.traceId), TRACE, "the upstream trace");
      const parent = hex(task.parentSpanId);
      assert.match(parent!, /^[0-9a-f]{16}$/);
      assert.notEqual(parent, SPAN_ID, "under Deno's server span, not the caller's");
      // The OTLP export says the same.
      const x = new OtlpExporter({ encoding: "json" });
      const d = new TraceDecoder(x.add);
      d.push(bytes);
      d.finish();
      const json = JSON.parse(new TextDecoder().decode(x.take()));
      const s = json.resourceSpans[0].scopeSpans[0].spans.find((s: { name: string }) =>
        s.name === "GET"
      );
      assert.equal(s.traceId, TRACE);
      assert.equal(s.parentSpanId, parent);
    },
  );
});
