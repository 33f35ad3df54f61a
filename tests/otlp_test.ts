/**
 * OTLP: `runtrace export --format otlp|otlp-json` and `runtrace push`,
 * checked with OpenTelemetry's official protobuf schemas (vendored in
 * tests/schemas/otlp with their licence, loaded with protobufjs from the
 * tool cache): every export and every pushed request decodes with no field
 * the schema lacks, the OTLP/JSON follows its encoding rules, and the
 * mapping holds (parent/child links, trace ids from `traceparent`, events,
 * resource attributes). A loopback OTLP/HTTP receiver (127.0.0.1) checks
 * batching, gzip, retries, errors and a receiver that never answers.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseTrace, TraceDecoder } from "../read.ts";
import { main } from "../cli.ts";
import type { CliIO } from "../cli.ts";
import { OtlpExporter, type OtlpOptions } from "../lib/export/otlp.ts";
import { craftTrace } from "./craft_trace.ts";
import { concat, runFile, tempDir } from "./helpers.ts";
import { loadSchema, type PbType, protobufjs, strictFields } from "./proto_schema.ts";
import { runCli } from "./cli_run.ts";
import {
  closedPortUrl,
  decodeRequest,
  type Json,
  Receiver,
  spansOf,
  types,
} from "./otlp_receiver.ts";

const here = (p: string) => new URL(p, import.meta.url).pathname;
const skip = protobufjs.skip;

/** The OTLP export of a trace: protobuf through the decoder's fast path, JSON through `add`. */
function exportOtlp(bytes: Uint8Array, options: OtlpOptions = {}): Uint8Array {
  const x = new OtlpExporter(options);
  const d = new TraceDecoder(x.add, options.encoding === "json" ? undefined : x.visitor);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 4096) {
    d.push(bytes.subarray(i, i + 4096));
    out.push(x.take());
  }
  d.finish();
  out.push(x.take());
  return concat(out);
}

const attr = (kvs: Json[] | undefined, key: string) => {
  const v = kvs?.find((a: Json) => a.key === key)?.value;
  return v && (v.stringValue ?? v.intValue ?? v.boolValue);
};

/** Checks the mapping's invariants on the spans of one export. */
function checkSpans(
  spans: Json[],
  src: string,
  remoteParents = new Set<string>(),
  recorded = true,
) {
  const byId = new Map<string, Json>();
  for (const s of spans) {
    assert.match(s.traceId, /^[0-9a-f]{32}$/, `${src}: trace id`);
    assert.match(s.spanId, /^[0-9a-f]{16}$/, `${src}: span id`);
    assert.ok(!byId.has(s.spanId), `${src}: span id ${s.spanId} twice`);
    byId.set(s.spanId, s);
    assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano), `${src}: end < start`);
    // Recorded traces start at a real time (crafted ones at the epoch).
    if (recorded) assert.ok(BigInt(s.startTimeUnixNano) > 10n ** 18n, `${src}: epoch ns`);
  }
  for (const s of spans) {
    if (!s.parentSpanId) continue;
    const p = byId.get(s.parentSpanId);
    if (!p) {
      assert.ok(remoteParents.has(s.parentSpanId), `${src}: ${s.name}'s parent is missing`);
      continue;
    }
    assert.equal(p.traceId, s.traceId, `${src}: ${s.name} and its parent share the trace`);
    assert.ok(
      BigInt(p.startTimeUnixNano) <= BigInt(s.startTimeUnixNano),
      `${src}: ${s.name} starts before its parent ${p.name}`,
    );
  }
  return byId;
}

function fixtureSources(): string[] {
  return readdirSync(here("./fixtures"))
    .filter((f) => f.endsWith(".trace"))
    .map((f) => here(`./fixtures/${f}`));
}

/** Walks OTLP/JSON against the schema: known lowerCamelCase keys, encodings per type. */
function checkJson(type: PbType, v: Json, at: string): void {
  assert.equal(typeof v, "object", `${at}: an object`);
  for (const [key, value] of Object.entries(v)) {
    const f = type.fields[key];
    assert.ok(f, `${at}: "${key}" is not a field of ${type.fullName} (lowerCamelCase)`);
    const values = f.repeated ? value as Json[] : [value];
    assert.ok(!f.repeated || Array.isArray(value), `${at}.${key}: an array`);
    for (const x of values) {
      const where = `${at}.${key}`;
      if (f.resolvedType?.fields) checkJson(f.resolvedType, x, where);
      else if (f.resolvedType) assert.equal(typeof x, "number", `${where}: enums as integers`);
      else if (f.type === "bytes") assert.match(x, /^([0-9a-f]{2})*$/, `${where}: hex`);
      else if (/64$/.test(f.type)) assert.match(x, /^\d+$/, `${where}: a decimal string`);
      else if (f.type === "string") assert.equal(typeof x, "string", where);
      else if (f.type === "bool") assert.equal(typeof x, "boolean", where);
      else assert.equal(typeof x, "number", where);
    }
  }
}

describe("runtrace export --format otlp|otlp-json against the OTLP schemas", { skip }, () => {
  test("every fixture and a trace with workers, stalls and lost events", () => {
    const { Request } = types();
    const rich = join(tempDir(), "rich.trace");
    const rec = runFile(here("./fixtures/rich.ts"), { args: [rich], timeoutMs: 60_000 });
    assert.equal(rec.status, 0, rec.stderr);
    for (const src of [...fixtureSources(), rich]) {
      const bytes = new Uint8Array(readFileSync(src));
      const t = parseTrace(bytes);
      const spans = decodeRequest(exportOtlp(bytes, { serviceName: "svc" }), src);
      checkSpans(spans, src);
      // Every task and every region is a span.
      assert.equal(spans.length, t.tasks.length + t.regions.length, `${src}: spans`);
      assert.equal(attr(spans[0].resource.attributes, "service.name"), "svc");
      assert.equal(attr(spans[0].resource.attributes, "process.runtime.name"), t.header.runtime);
      assert.equal(spans[0].scope.name, "runtrace");
      // A region's span is a child of its task's span (or of an enclosing region).
      const byId = new Map(spans.map((s: Json) => [s.spanId, s]));
      for (const s of spans) {
        const regionId = attr(s.attributes, "runtrace.region.id");
        const task = attr(s.attributes, "runtrace.task.id");
        if (regionId === undefined || task === "0") continue;
        let p = byId.get(s.parentSpanId);
        while (p && attr(p.attributes, "runtrace.region.id") !== undefined) {
          p = byId.get(p.parentSpanId);
        }
        assert.ok(p, `${src}: region ${s.name} has no task span above it`);
        assert.equal(attr(p.attributes, "runtrace.task.id"), task, `${src}: ${s.name}'s task`);
      }
      if (src === rich) {
        const stalls = spans.flatMap((s: Json) =>
          (s.events ?? []).filter((e: Json) => e.name === "event-loop stall")
        );
        assert.ok(stalls.length > 0, `${src}: stalls are events on the spans they delayed`);
        assert.ok(
          stalls.every((e: Json) => Number(attr(e.attributes, "runtrace.stall.duration_ns")) > 0),
        );
      }
      const events = spans.reduce((n: number, s: Json) => n + (s.events?.length ?? 0), 0);
      assert.ok(events > 0 || t.logs.length === 0, `${src}: logs become span events`);
      // The JSON encoding says the same, by the encoding's rules.
      const json = JSON.parse(
        new TextDecoder().decode(exportOtlp(bytes, { encoding: "json", serviceName: "svc" })),
      );
      checkJson(Request, json, src);
      const jspans = spansOf(json);
      assert.equal(jspans.length, spans.length);
      checkSpans(jspans, `${src} (json)`);
      assert.deepEqual(
        jspans.map((s: Json) => `${s.name} ${s.startTimeUnixNano} ${s.endTimeUnixNano}`).sort(),
        spans.map((s: Json) => `${s.name} ${s.startTimeUnixNano} ${s.endTimeUnixNano}`).sort(),
      );
    }
  });

  test("traceparent joins the upstream trace; tracedFetch's header names the region's span", () => {
    const upTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const upSpan = "00f067aa0ba902b7";
    const outSpan = "b7ad6b7169203331";
    const bytes = craftTrace((w) => {
      w.taskBegin(1000, 1, 0, "GET /orders/:id");
      w.log(1100, 1, "http.method", "GET");
      w.log(1200, 1, "traceparent", `00-${upTrace}-${upSpan}-01`);
      w.regionBegin(2000, 1, 1, "db.query");
      w.log(2500, 1, "rows", "3");
      w.regionEnd(3000, 1);
      w.log(3100, 1, "traceparent.out", `00-${upTrace}-${outSpan}-01`);
      w.regionBegin(3200, 2, 1, "fetch api.example");
      w.log(3300, 1, "fetch.method", "GET");
      w.regionEnd(4000, 2);
      w.taskBegin(4100, 2, 1, "render");
      w.taskEnd(4500, 2);
      w.taskBegin(4600, 3, 0, "background job");
      w.log(4700, 1, "http.status", "200");
      w.taskEnd(5000, 1);
    });
    const spans = decodeRequest(exportOtlp(bytes), "crafted");
    const byName = new Map(spans.map((s: Json) => [s.name, s]));
    const root = byName.get("GET /orders/:id");
    assert.equal(root.traceId, upTrace);
    assert.equal(root.parentSpanId, upSpan);
    assert.equal(root.kind, 2, "a request task is a SERVER span");
    const db = byName.get("db.query");
    assert.equal(db.parentSpanId, root.spanId);
    assert.equal(db.traceId, upTrace);
    assert.deepEqual(db.events.map((e: Json) => [e.name, attr(e.attributes, "message")]), [
      ["rows", "3"],
    ]);
    const fetch = byName.get("fetch api.example");
    assert.equal(fetch.spanId, outSpan, "the region's span id is the one sent downstream");
    assert.equal(fetch.kind, 3, "a fetch region is a CLIENT span");
    const render = byName.get("render");
    assert.equal(render.parentSpanId, root.spanId);
    assert.equal(render.traceId, upTrace);
    const job = byName.get("background job");
    assert.notEqual(job.traceId, upTrace);
    assert.equal(job.parentSpanId, undefined);
    assert.equal(attr(job.attributes, "runtrace.open_at_end"), true, "open at the end");
    checkSpans(spans, "crafted", new Set([upSpan]), false);
  });

  test("ids are random: two exports of one trace share none", () => {
    const bytes = new Uint8Array(readFileSync(here("./fixtures/cappuccino.trace")));
    const a = decodeRequest(exportOtlp(bytes), "a").map((s: Json) => s.spanId);
    const b = new Set(decodeRequest(exportOtlp(bytes), "b").map((s: Json) => s.spanId));
    assert.ok(a.every((id: string) => !b.has(id)));
  });
});

/** Runs the CLI in-process with captured streams. */
async function run(args: string[]) {
  let out = "", err = "";
  const dec = new TextDecoder();
  const sink = (to: (s: string) => void) => ({
    write(c: Uint8Array | string) {
      to(typeof c === "string" ? c : dec.decode(c));
      return Promise.resolve();
    },
  });
  const io: CliIO = {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    stdin: async function* () {},
    stderrIsTTY: false,
    stdoutIsTTY: false,
  };
  const status = await main(args, io);
  return { status, stdout: out, stderr: err };
}

describe("runtrace push to a loopback OTLP/HTTP receiver", { skip }, () => {
  const rx = new Receiver();
  const workload = here("./fixtures/workload.trace");
  after(() => rx.stop());

  test("batches under the limit, gzip, headers, resource attributes, every span once", async () => {
    await rx.reset();
    const r = await run([
      "push",
      workload,
      "--endpoint",
      rx.url,
      "--header",
      "x-tenant=acme",
      "--header",
      "authorization=Bearer t0ken",
      "--service-name",
      "checkout",
      "--batch-spans",
      "50",
      "--json",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    const t = parseTrace(new Uint8Array(readFileSync(workload)));
    const total = t.tasks.length + t.regions.length;
    assert.equal(summary.spans, total);
    assert.ok(rx.received.length >= Math.ceil(total / 50), `${rx.received.length} requests`);
    assert.equal(summary.requests, rx.received.length);
    const ids = new Set<string>();
    for (const q of rx.received) {
      assert.equal(q.headers["content-type"], "application/x-protobuf");
      assert.equal(q.headers["content-encoding"], "gzip");
      assert.equal(q.headers["x-tenant"], "acme");
      assert.equal(q.headers["authorization"], "Bearer t0ken");
      assert.ok(q.spans.length <= 50, `a batch of ${q.spans.length} spans`);
      for (const s of q.spans) {
        assert.equal(attr(s.resource.attributes, "service.name"), "checkout");
        assert.equal(attr(s.resource.attributes, "process.pid"), String(t.header.pid));
        ids.add(s.spanId);
      }
    }
    assert.equal(ids.size, total, "every span arrives once");
    checkSpans(rx.received.flatMap((q) => q.spans), "pushed");
  });

  test("OTEL_EXPORTER_OTLP_ENDPOINT and _HEADERS are the defaults", async () => {
    await rx.reset();
    const env = globalThis.process?.env ?? {};
    const saved = { ...env };
    env.OTEL_EXPORTER_OTLP_ENDPOINT = rx.url + "/";
    env.OTEL_EXPORTER_OTLP_HEADERS = "x-from-env=yes%20indeed";
    env.OTEL_SERVICE_NAME = "from-env";
    try {
      const r = await run(["push", here("./fixtures/cappuccino.trace")]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        r.stdout,
        /^pushed \d+ spans in 1 requests to http:\/\/127\.0\.0\.1:\d+\/v1\/traces/,
      );
    } finally {
      for (
        const k of [
          "OTEL_EXPORTER_OTLP_ENDPOINT",
          "OTEL_EXPORTER_OTLP_HEADERS",
          "OTEL_SERVICE_NAME",
        ]
      ) {
        if (saved[k] === undefined) delete env[k];
        else env[k] = saved[k];
      }
    }
    assert.equal(rx.received.length, 1);
    assert.equal(rx.received[0].headers["x-from-env"], "yes indeed");
    assert.equal(attr(rx.received[0].spans[0].resource.attributes, "service.name"), "from-env");
  });

  test("OTEL_EXPORTER_OTLP_COMPRESSION=none sends the body as it is", async () => {
    await rx.reset();
    const env = globalThis.process?.env ?? {};
    env.OTEL_EXPORTER_OTLP_COMPRESSION = "none";
    try {
      const r = await run(["push", here("./fixtures/cappuccino.trace"), "--endpoint", rx.url]);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      delete env.OTEL_EXPORTER_OTLP_COMPRESSION;
    }
    assert.equal(rx.received.length, 1);
    assert.equal(rx.received[0].headers["content-encoding"], undefined);
  });

  test("503 then 200: retried after Retry-After, nothing lost", async () => {
    await rx.reset((_req, res, n) => {
      if (n !== 1) return false;
      res.writeHead(503, { "retry-after": "0" });
      res.end("busy");
      return true;
    });
    const r = await run(["push", here("./fixtures/cappuccino.trace"), "--endpoint", rx.url]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(rx.attempts, 2);
    assert.equal(rx.received.length, 1);
    assert.match(r.stdout, /\(1 retries\)/);
  });

  test("a 400 is not retried; the receiver's message is shown", async () => {
    await rx.reset((_req, res) => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: 3, message: "bad span\u001b]0;pwned\u0007 data" }));
      return true;
    });
    const r = await run(["push", here("./fixtures/cappuccino.trace"), "--endpoint", rx.url]);
    assert.equal(r.status, 1);
    assert.equal(rx.attempts, 1);
    assert.match(r.stderr, /answered 400: bad span/);
    assert.ok(!r.stderr.includes("\u001b"), "no control characters reach the terminal");
  });

  test("a receiver that never answers costs bounded time", async () => {
    await rx.reset(() => true); // never answers
    const t0 = performance.now();
    const r = await run([
      "push",
      here("./fixtures/cappuccino.trace"),
      "--endpoint",
      rx.url,
      "--timeout",
      "300ms",
      "--retries",
      "1",
    ]);
    const ms = performance.now() - t0;
    assert.equal(r.status, 1);
    assert.match(r.stderr, /did not answer within 300 ms \(gave up after 2 attempts\)/);
    assert.ok(ms < 5000, `${ms} ms`);
    rx.server.closeAllConnections?.();
  });

  test("an unreachable receiver is a clear error", async () => {
    const r = await run([
      "push",
      here("./fixtures/cappuccino.trace"),
      "--endpoint",
      await closedPortUrl(),
      "--retries",
      "0",
    ]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/traces/);
  });

  test("a file written by export --format otlp is the same request format", async () => {
    const out = join(tempDir(), "t.otlp.pb");
    const r = await run(["export", workload, "--format", "otlp", "-o", out]);
    assert.equal(r.status, 0, r.stderr);
    const spans = decodeRequest(new Uint8Array(readFileSync(out)), out);
    checkSpans(spans, out);
  });
});

describe("runtrace export --format otlp-metrics against the OTLP metrics schema", { skip }, () => {
  test("every fixture: each counter is a gauge, each sample a data point at its time", async () => {
    const schema = loadSchema("otlp", [
      "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
    ]);
    const Request = schema.lookupType(
      "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest",
    );
    let samples = 0;
    for (const src of fixtureSources()) {
      const t = parseTrace(new Uint8Array(readFileSync(src)));
      const out = join(tempDir(), "metrics.pb");
      const run = await runCli([
        "export",
        src,
        "--format",
        "otlp-metrics",
        "-o",
        out,
        "--service-name",
        "svc",
      ]);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`${t.counters.length} data points from `));
      const bytes = new Uint8Array(readFileSync(out));
      strictFields(Request, bytes, src);
      const req = Request.toObject(Request.decode(bytes), {
        longs: String,
        enums: Number,
        defaults: false,
      }) as Json;
      const got: string[] = [];
      for (const rm of req.resourceMetrics ?? []) {
        assert.equal(attr(rm.resource.attributes, "service.name"), "svc");
        assert.equal(attr(rm.resource.attributes, "process.runtime.name"), t.header.runtime);
        for (const sm of rm.scopeMetrics) {
          assert.equal(sm.scope.name, "runtrace");
          for (const m of sm.metrics) {
            assert.ok(m.gauge, `${src}: ${m.name} is a gauge`);
            for (const p of m.gauge.dataPoints) {
              got.push(
                `${m.name} ${p.timeUnixNano} ${p.asDouble} ${attr(p.attributes, "thread.id")}`,
              );
            }
          }
        }
      }
      const epoch = BigInt(Math.round((t.header.timeOrigin + t.header.startTime) * 1e3)) * 1000n;
      const want = t.counters.map((c) =>
        `${c.name} ${epoch + BigInt(Math.round(c.time))} ${c.value} ${c.thread}`
      );
      assert.deepEqual(got.sort(), want.sort(), src);
      samples += t.counters.length;
    }
    assert.ok(samples > 0, "the fixtures have counters");
  });
});
