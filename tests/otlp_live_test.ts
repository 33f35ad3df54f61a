/**
 * Live OTLP export (`start(file, { otlp })`): spans reach a loopback
 * OTLP/HTTP receiver (127.0.0.1) while the program records, every task and
 * region arrives by the end with its parent, each request decoded with
 * OpenTelemetry's official schemas; a 503 is retried; a receiver that never
 * answers or a closed port costs the program nothing and `stop()` bounded
 * time, and the spans not delivered are counted in `stop()`'s result and in
 * the trace (`runtrace.otlp.dropped`).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { tracedFetch } from "../http.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import { closedPortUrl, type Json, Receiver } from "./otlp_receiver.ts";
import { protobufjs } from "./proto_schema.ts";
import { busy, exportTrace, readTrace, tempDir } from "./helpers.ts";
import { readFileSync } from "node:fs";
import process from "node:process";
import { OtlpExporter } from "../lib/export/otlp.ts";
import { MAX_QUEUED_SPANS, OtlpLiveTap } from "../lib/export/otlp_live.ts";
import { decodeRequest } from "./otlp_receiver.ts";

const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : protobufjs.skip;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records `jobs` tasks, each with two nested regions. */
async function work(jobs: number): Promise<void> {
  for (let i = 0; i < jobs; i++) {
    const [ctx, task] = trace.newTask("job");
    await trace.withRegion(ctx, "fetch", async () => {
      trace.withRegion("parse", () => {}); // in the current context: fetch
      await sleep(1);
    });
    task.end();
  }
}

/**
 * Spans without their random ids: each with its parent's and its trace's
 * first span's name and runtrace ids instead, sorted.
 */
function canonical(spans: Json[]): string[] {
  const key = (s: Json) =>
    `${s.name} ${
      JSON.stringify(s.attributes.filter((a: Json) => /^runtrace\.(task|region)\.id$/.test(a.key)))
    }`;
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  return spans.map((s) => {
    const { spanId: _, traceId: _t, parentSpanId, resource: _r, scope: _s, ...rest } = s;
    const parent = byId.get(parentSpanId);
    return JSON.stringify({ ...rest, parent: parent ? key(parent) : parentSpanId ?? null });
  }).sort();
}

describe("live OTLP export", { skip }, () => {
  const rx = new Receiver();
  after(() => rx.stop());
  const spans = () => rx.received.flatMap((r) => r.spans as Json[]);

  test("spans arrive while recording, and all of them with their parents by stop()", async () => {
    await rx.reset();
    const file = join(tempDir(), "live.trace");
    await trace.start(file, {
      otlp: { endpoint: rx.url, serviceName: "live-test", exportInterval: 100 },
    });
    await work(20);
    const t0 = performance.now();
    while (spans().length === 0 && performance.now() - t0 < 5000) await sleep(20);
    assert.ok(spans().length > 0, "spans arrive before stop()");
    await work(30);
    const stats = await trace.stop();
    assert.deepEqual(stats.otlp, { sent: 150, dropped: 0 });
    const all = spans();
    assert.equal(all.length, 150);
    const byId = new Map(all.map((s: Json) => [s.spanId, s]));
    const jobs = all.filter((s: Json) => s.name === "job");
    const fetches = all.filter((s: Json) => s.name === "fetch");
    const parses = all.filter((s: Json) => s.name === "parse");
    assert.equal(jobs.length, 50);
    assert.equal(fetches.length, 50);
    assert.equal(parses.length, 50);
    for (const f of fetches) assert.equal(byId.get(f.parentSpanId)?.name, "job");
    for (const p of parses) assert.equal(byId.get(p.parentSpanId)?.name, "fetch");
    const service = rx.received[0].spans[0].resource.attributes
      .find((a: Json) => a.key === "service.name").value.stringValue;
    assert.equal(service, "live-test");
    // The file trace is complete beside it, with nothing dropped.
    const t = readTrace(file);
    assert.equal(t.tasks.length, 50);
    assert.ok(!t.counters.some((c) => c.name === "runtrace.otlp.dropped"));
  });

  test("the live spans are the ones `export --format otlp` makes of the trace file", async () => {
    await rx.reset();
    const file = join(tempDir(), "same.trace");
    await trace.start(file, { otlp: { endpoint: rx.url } });
    const [ctx, order] = trace.newTask("order");
    trace.log(ctx, "note", "héllo ✓ " + "x".repeat(300));
    trace.log(ctx, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    const [sub, child] = trace.newTask(ctx, "subtask");
    await trace.withRegion(sub, "io", async () => {
      trace.log(sub, "step", "inside");
      await sleep(1);
      trace.withRegion(sub, "blocking", () => busy(150)); // a stall, if the heartbeat sees it
    });
    child.end();
    trace.newTask("left open");
    trace.startRegion(ctx, "open region");
    await work(3);
    order.end();
    await trace.stop();
    const offline = decodeRequest(exportTrace(new OtlpExporter(), readFileSync(file)), "export");
    assert.equal(spans().length, offline.length);
    assert.deepEqual(canonical(spans()), canonical(offline));
    const joined = spans().find((s: Json) => s.name === "order");
    assert.equal(joined.traceId, "0af7651916cd43dd8448eb211c80319c");
  });

  test("tracedFetch's calls in one task carry the trace id its span gets, live and offline", async () => {
    await rx.reset();
    const downstream = new Receiver();
    const seen: string[] = [];
    await downstream.reset((req, res) => {
      seen.push(String(req.headers.traceparent));
      res.end();
      return true;
    });
    const fetch = tracedFetch(globalThis.fetch, { propagate: true });
    const file = join(tempDir(), "fetch.trace");
    await trace.start(file, { otlp: { endpoint: rx.url } });
    const [ctx, task] = trace.newTask("order");
    await ctx.run(async () => {
      trace.withRegion("parse", () => {}); // ends before any call
      for (let i = 0; i < 3; i++) await (await fetch(downstream.url)).text();
    });
    task.end();
    const [ctx2, task2] = trace.newTask("other");
    await ctx2.run(async () => await (await fetch(downstream.url)).text());
    task2.end();
    await trace.stop();
    await downstream.stop();
    const offline = decodeRequest(exportTrace(new OtlpExporter(), readFileSync(file)), "export");
    assert.equal(seen.length, 4);
    const ids = seen.map((h) => h.split("-"));
    for (const [name, exported] of [["live", spans()], ["offline", offline]] as const) {
      const order = exported.find((s: Json) => s.name === "order");
      const other = exported.find((s: Json) => s.name === "other");
      for (const [, traceId] of ids.slice(0, 3)) assert.equal(traceId, order.traceId, name);
      assert.equal(ids[3][1], other.traceId, name);
      assert.notEqual(order.traceId, other.traceId);
      // The task's spans are all in its trace, and each call names its region's span.
      const inOrder = exported.filter((s: Json) => s.traceId === order.traceId);
      assert.deepEqual(inOrder.map((s: Json) => s.name.split(" ")[0]).sort(), [
        "fetch",
        "fetch",
        "fetch",
        "order",
        "parse",
      ]);
      const calls = exported.filter((s: Json) => s.name.startsWith("fetch "));
      assert.deepEqual(
        calls.map((s: Json) => s.spanId).sort(),
        ids.map(([, , span]) => span).sort(),
        name,
      );
    }
  });

  test("gzip: not to a loopback receiver by default; OTEL_EXPORTER_OTLP_COMPRESSION=gzip asks for it", async () => {
    const encodings = [];
    for (const compression of [undefined, "gzip"]) {
      await rx.reset();
      if (compression) process.env.OTEL_EXPORTER_OTLP_COMPRESSION = compression;
      try {
        await trace.start({ otlp: { endpoint: rx.url } });
        await work(1);
        assert.deepEqual((await trace.stop()).otlp, { sent: 3, dropped: 0 });
      } finally {
        delete process.env.OTEL_EXPORTER_OTLP_COMPRESSION;
      }
      encodings.push(rx.received.map((r) => r.headers["content-encoding"] ?? "none").join());
    }
    assert.deepEqual(encodings, ["none", "gzip"]);
  });

  test("a receiver answering 503 is retried", async () => {
    await rx.reset((_req, res, n) => {
      if (n > 1) return false;
      res.writeHead(503, { "retry-after": "0" });
      res.end();
      return true;
    });
    await trace.start(join(tempDir(), "retry.trace"), { otlp: { endpoint: rx.url } });
    await work(3);
    const stats = await trace.stop();
    assert.deepEqual(stats.otlp, { sent: 9, dropped: 0 });
    assert.ok(rx.attempts >= 2);
    assert.equal(spans().length, 9);
  });

  /** Records against `endpoint`, which delivers nothing: drops counted, stop bounded. */
  async function undeliverable(endpoint: string) {
    const file = join(tempDir(), "down.trace");
    await trace.start(file, { otlp: { endpoint, exportInterval: 50, stopTimeout: 1000 } });
    const t0 = performance.now();
    await work(10);
    const working = performance.now() - t0;
    const s0 = performance.now();
    const stats = await trace.stop();
    const stopping = performance.now() - s0;
    assert.ok(stopping < 5000, `stop() took ${stopping} ms`);
    assert.ok(working < 5000, `the program took ${working} ms`);
    assert.deepEqual(stats.otlp, { sent: 0, dropped: 30 });
    const t = readTrace(file);
    assert.equal(t.tasks.length, 10);
    const dropped = t.counters.filter((c) => c.name === "runtrace.otlp.dropped");
    assert.deepEqual(dropped.map((c) => c.value), [30]);
  }

  test("a receiver that never answers: the program goes on, stop() is bounded, drops are counted", async () => {
    await rx.reset(() => true); // never answers
    await undeliverable(rx.url);
    rx.server.closeAllConnections?.();
  });

  test("a closed port: likewise", async () => {
    await undeliverable(await closedPortUrl());
  });

  test("start({ otlp }) exports without a trace destination", async () => {
    await rx.reset();
    await trace.start({ otlp: { endpoint: rx.url, serviceName: "no-file" } });
    await work(4);
    const stats = await trace.stop();
    assert.deepEqual(stats.otlp, { sent: 12, dropped: 0 });
    assert.ok(stats.events > 0);
    assert.equal(spans().length, 12);
  });

  test("a flight recorder runs beside it, and snapshots", async () => {
    await rx.reset();
    const fr = new trace.FlightRecorder();
    fr.start();
    await trace.start(join(tempDir(), "beside.trace"), { otlp: { endpoint: rx.url } });
    await work(5);
    const snapshot = join(tempDir(), "snapshot.trace");
    assert.ok((await fr.writeTo(snapshot)) > 0);
    const stats = await trace.stop();
    await work(1); // recorded by the flight recorder alone
    assert.ok((await fr.writeTo(snapshot)) > 0);
    await fr.stop();
    assert.deepEqual(stats.otlp, { sent: 15, dropped: 0 });
    assert.equal(spans().length, 15);
    assert.equal(readTrace(snapshot).tasks.length, 6);
  });

  test("a bad endpoint is a clear error from start()", async () => {
    await assert.rejects(
      trace.start(join(tempDir(), "bad.trace"), { otlp: { endpoint: "localhost:4318" } }),
      /otlp.endpoint must be an http:\/\/ or https:\/\/ URL/,
    );
    assert.equal(trace.isEnabled(), false);
  });
});

describe("the live export's queue", { skip: protobufjs.skip }, () => {
  test("a receiver that never answers: the queue stays under its cap, the rest is dropped and counted, finish() is bounded", async () => {
    const rx = new Receiver();
    await rx.reset(() => true); // reads each request, never answers
    const tap = new OtlpLiveTap({ endpoint: rx.url, exportInterval: -1 });
    const header = {
      timeOrigin: performance.timeOrigin,
      startTime: performance.now(),
      resolutionNs: 1000,
      runtime: "test",
      runtimeVersion: "0",
      pid: 1,
    };
    const strings = ["", "job"];
    tap.begin(header, [[1, "main"]], strings);
    const spans = 66_000; // four times the cap, and more
    const t0 = header.startTime;
    for (let k = 0; k < spans; k += 1000) {
      tap.open(1);
      for (let i = k; i < k + 1000; i++) {
        tap.taskBegin(t0 + i * 1e-3, i + 1, 0, 1);
        tap.taskEnd(t0 + i * 1e-3 + 5e-4, i + 1);
      }
      tap.close();
      await sleep(0); // the worker's loop turns between drains
    }
    const f0 = performance.now();
    const totals = await tap.finish(performance.now() + 300);
    const finishing = performance.now() - f0;
    assert.ok(finishing < 3000, `finish() took ${finishing} ms`);
    assert.equal(totals.sent, 0);
    assert.equal(totals.dropped, spans);
    assert.ok(totals.maxQueued > 0 && totals.maxQueued <= MAX_QUEUED_SPANS, `${totals.maxQueued}`);
    assert.ok(rx.attempts >= 1, "the first batch was sent");
    rx.server.closeAllConnections?.();
    await rx.stop();
  });
});
