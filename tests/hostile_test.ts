/**
 * The reliability suite: the recorder under hostile conditions (writers that
 * fail or crawl, abrupt exits, start/stop races, arguments of any type, huge
 * numbers of names). Cases that could hang or eat memory run in a child
 * process with a time limit and report their own memory use.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import { traceHandler } from "../http.ts";
import { drainWorker } from "../lib/record/session.ts";
import * as trace from "../mod.ts";
import { parseTrace } from "../read.ts";
import { concat, modUrl, readTrace, runtime, sleep, tempDir, tracedInMemory } from "./helpers.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

interface ChildResult {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `source` in a child of this runtime with a time limit and, in Deno, a
 * heap limit and `gc()` (Bun has no such flag; its tests report RSS instead,
 * and have `Bun.gc`).
 */
function child(source: string, options: { timeoutMs?: number; heapMb?: number } = {}) {
  const file = join(tempDir(), "script.ts");
  writeFileSync(file, source);
  const args = runtime === "deno"
    ? ["run", "-A", `--v8-flags=--expose-gc,--max-old-space-size=${options.heapMb ?? 512}`, file]
    : [file];
  const started = performance.now();
  const r = spawnSync(process.execPath, args, {
    encoding: "utf8",
    timeout: options.timeoutMs ?? 30_000,
    env: { ...process.env, NO_COLOR: "1", RUNTRACE: "" },
  });
  return {
    status: r.status,
    stdout: r.stdout ?? "",
    stderr: r.stderr ?? "",
    ms: performance.now() - started,
  } satisfies ChildResult;
}

/** The last line of stdout that parses as JSON: what a child script reports. */
function report(r: ChildResult): Record<string, number> {
  const line = r.stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  assert.ok(line, `no report from the child (status ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line);
}

/**
 * A script that logs flat out for 3 s into a slow destination (`destination`
 * is its source; `options` start()'s options, without runtime events so
 * that only logs are counted), appending what it gets to
 * `path`, and reports how long stop() took and the peak RSS growth from just
 * after start() (the worker's own fixed cost is not growth).
 */
const slowScript = (path: string, destination: string, options: string) => `
import * as trace from ${JSON.stringify(modUrl)};
import { appendFileSync } from "node:fs";
import process from "node:process";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const save = (p) => appendFileSync(${JSON.stringify(path)}, p);
await trace.start(${destination}, ${options});
const rss0 = process.memoryUsage().rss;
let peak = rss0;
const text = "x".repeat(200);
let emitted = 0;
const until = performance.now() + 3000;
while (performance.now() < until) {
  for (let i = 0; i < 2000; i++, emitted++) trace.log("load", text);
  await sleep(0);
  peak = Math.max(peak, process.memoryUsage().rss);
}
const t0 = performance.now();
const stats = await trace.stop();
const stopMs = performance.now() - t0;
console.log(JSON.stringify({ emitted, stopMs, growthMb: (peak - rss0) / 2 ** 20, ...stats }));
`;

describe("a slow destination", () => {
  const destinations: [string, string, string][] = [
    [
      "a WritableStream taking 50 ms per write",
      "new WritableStream({ async write(c) { await sleep(50); save(c); } })",
      "{ runtime: false }",
    ],
    [
      "a writer taking 50 ms per call",
      "{ async write(p) { await sleep(50); save(p); return p.length; } }",
      "{ runtime: false }",
    ],
    [
      "a writer taking 50 ms per call and 64 KiB of it, bound 1 MiB",
      "{ async write(p) { await sleep(50); const n = Math.min(p.length, 65536); save(p.subarray(0, n)); return n; } }",
      "{ runtime: false, destinationBufferSize: 1 << 20 }",
    ],
  ];
  for (const [name, destination, options] of destinations) {
    test(`${name}: memory stays bounded, stop() is prompt, loss is counted`, () => {
      const path = join(tempDir(), "t.trace");
      const r = child(slowScript(path, destination, options), { timeoutMs: 60_000 });
      assert.equal(r.status, 0, r.stderr.slice(-2000));
      const { emitted, stopMs, growthMb, lost, events } = report(r);
      assert.ok(growthMb < 128, `RSS grew by ${growthMb.toFixed(0)} MB`);
      assert.ok(stopMs < 5000, `stop() took ${stopMs.toFixed(0)} ms`);
      const t = readTrace(path);
      assert.equal(t.truncated, false);
      assert.equal(t.logs.length + t.lost, emitted, `${t.logs.length} recorded + ${t.lost} lost`);
      assert.equal(lost, t.lost, "stop() reports the loss");
      assert.ok(events >= t.logs.length);
    });
  }
});

describe("a live-trace client that does not read", { skip }, () => {
  test("the recording ends on time and the endpoint is free at once", async () => {
    const handler = traceHandler();
    const first = await handler(new Request("http://localhost/debug/trace?seconds=0.3"));
    assert.equal(first.status, 200);
    // Nobody reads `first`: load well past its back-pressure bound.
    const text = "y".repeat(200);
    const until = performance.now() + 600;
    while (performance.now() < until) {
      for (let i = 0; i < 2000; i++) trace.log("load", text);
      await sleep(0);
    }
    await sleep(100);
    assert.equal(trace.isEnabled(), false, "the recording ended after its 0.3 s");
    // Stopping takes a moment (the rest of the ring), not the client's time.
    let second = await handler(new Request("http://localhost/debug/trace?seconds=0.05"));
    for (let tries = 0; second.status === 409 && tries < 40; tries++) {
      await sleep(50);
      second = await handler(new Request("http://localhost/debug/trace?seconds=0.05"));
    }
    assert.equal(second.status, 200, "no 409 while the first client lags");
    const t = parseTrace(new Uint8Array(await second.arrayBuffer()));
    assert.equal(t.truncated, false);
    // The first trace is still whole when its client finally reads it.
    const late = parseTrace(new Uint8Array(await first.arrayBuffer()));
    assert.equal(late.truncated, false);
    assert.ok(late.logs.length > 0);
  });
});

describe("a destination that fails", { skip }, () => {
  test("a writer that throws stops recording; stop() rejects with its error", async () => {
    const failure = new Error("writer broke");
    let calls = 0;
    await trace.start({
      write(p: Uint8Array) {
        if (++calls > 5) throw failure;
        return p.length;
      },
    }, { flushInterval: 2 });
    for (let round = 0; round < 50 && trace.isEnabled(); round++) {
      for (let i = 0; i < 100; i++) trace.log("c", "filling the writer " + i);
      await sleep(5);
    }
    assert.equal(trace.isEnabled(), false, "recording stops when the writer fails");
    assert.ok(calls > 5);
    const after = calls;
    trace.log("c", "after the failure");
    await sleep(20);
    assert.equal(calls, after, "nothing more is written");
    await assert.rejects(trace.stop(), (e) => e === failure);
    // Tracing works again afterwards.
    const chunks: Uint8Array[] = [];
    await trace.start({ write: (p: Uint8Array) => void chunks.push(p.slice()) });
    trace.log("c", "again");
    await trace.stop();
    assert.equal(parseTrace(concat(chunks)).logs[0].message, "again");
  });
});

describe("start and stop in any order", { skip }, () => {
  test("FlightRecorder start/stop/start/stop, not awaited, never rejects", async () => {
    const fr = new trace.FlightRecorder();
    const stops: Promise<void>[] = [];
    for (let round = 0; round < 3; round++) {
      fr.start();
      stops.push(fr.stop());
      fr.start();
      stops.push(fr.stop());
    }
    await Promise.all(stops);
    assert.equal(trace.isEnabled(), false);
    // And it records afterwards.
    fr.start();
    trace.log("c", "recorded");
    const parts: Uint8Array[] = [];
    await fr.writeTo({ write: (p: Uint8Array) => void parts.push(p.slice()) });
    await fr.stop();
    assert.equal(parseTrace(concat(parts)).logs.at(-1)?.message, "recorded");
  });

  test("trace start/stop/start/stop, not awaited: the second trace is complete", async () => {
    const first: Uint8Array[] = [], second: Uint8Array[] = [];
    const a = trace.start({ write: (p: Uint8Array) => void first.push(p.slice()) });
    trace.log("c", "one");
    const b = trace.stop();
    const c = trace.start({ write: (p: Uint8Array) => void second.push(p.slice()) });
    const d = trace.stop();
    await Promise.all([a, b, c, d]);
    assert.equal(parseTrace(concat(first)).logs[0].message, "one");
    assert.equal(parseTrace(concat(first)).truncated, false);
    assert.equal(parseTrace(concat(second)).truncated, false);
    assert.equal(trace.isEnabled(), false);
  });

  test("a trace and a flight recorder started and stopped interleaved, unawaited", async () => {
    for (let round = 0; round < 3; round++) {
      const fr = new trace.FlightRecorder();
      const chunks: Uint8Array[] = [];
      fr.start();
      const started = trace.start({ write: (p: Uint8Array) => void chunks.push(p.slice()) });
      trace.log("c", "both");
      const snap = fr.writeTo({ write: () => {} });
      const frStopped = fr.stop();
      const stopped = trace.stop();
      await Promise.all([started, snap, frStopped, stopped]);
      assert.equal(trace.isEnabled(), false, "nothing left recording");
      assert.equal(parseTrace(concat(chunks)).logs[0].message, "both");
    }
  });

  test("a trace stopped while a flight recorder starts keeps the recorder recording", async () => {
    await trace.start({ write: () => {} });
    const stopping = trace.stop();
    const fr = new trace.FlightRecorder();
    fr.start();
    await stopping;
    assert.equal(trace.isEnabled(), true);
    trace.log("c", "seen by the recorder");
    const parts: Uint8Array[] = [];
    await fr.writeTo({ write: (p: Uint8Array) => void parts.push(p.slice()) });
    await fr.stop();
    assert.ok(parseTrace(concat(parts)).logs.some((l) => l.message === "seen by the recorder"));
  });

  test("stop() promises that nobody awaits never become unhandled rejections", async () => {
    let unhandled = 0;
    const onUnhandled = () => unhandled++;
    process.on("unhandledRejection", onUnhandled);
    try {
      let calls = 0;
      await trace.start({
        write(p: Uint8Array) {
          if (++calls > 1) throw new Error("fails after the header");
          return p.length;
        },
      });
      trace.log("c", "x");
      trace.stop(); // rejects, and nobody listens
      trace.start("").catch(() => {}); // bad input still rejects for those who await
      await sleep(50);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    assert.equal(unhandled, 0);
  });
});

describe("the drain worker fails", { skip }, () => {
  test("under a trace: recording stops, stop() rejects with the cause", async () => {
    await trace.start({ write: () => {} });
    trace.log("c", "before");
    await drainWorker()!.terminate();
    await sleep(20);
    assert.equal(trace.isEnabled(), false);
    trace.log("c", "harmless after the failure");
    await assert.rejects(trace.stop(), /recording stopped: the drain worker failed/);
    await trace.stop(); // reported once
  });

  test("under a flight recorder: its stop() rejects with the cause", async () => {
    const fr = new trace.FlightRecorder();
    fr.start();
    await sleep(20);
    await drainWorker()!.terminate();
    await sleep(20);
    assert.equal(trace.isEnabled(), false);
    await assert.rejects(fr.stop(), /recording stopped: the drain worker failed/);
    fr.start();
    assert.equal(trace.isEnabled(), true);
    await fr.stop();
  });
});

describe("arguments of any type", { skip }, () => {
  test("recording calls never throw; values are converted, or marked", async () => {
    const hostile: unknown[] = [
      Symbol("sym"),
      Object.create(null),
      {
        toString: () => {
          throw new Error("no");
        },
      },
      null,
      undefined,
      42,
      10n,
      () => 1,
      new Proxy({}, {
        get: () => {
          throw new Error("trap");
        },
      }),
    ];
    const t = await tracedInMemory(() => {
      const [ctx, task] = trace.newTask("parent");
      for (const v of hostile) {
        const any = v as never;
        trace.newTask(any)[1].end();
        trace.newTask(null as never, any)[1].end();
        trace.newTask(ctx, any)[1].end();
        trace.startRegion(any).end();
        trace.startRegion(ctx, any).end();
        trace.startRegion(any, any).end();
        trace.withRegion(any, () => {});
        trace.withRegion(ctx, any, () => {});
        trace.log(any, any);
        trace.log(ctx, any, any);
        trace.log(any, "c", any);
        trace.logf(any, any, any);
        trace.logf("c", "%d %s %j %x %q %f %i %o", any, any, any, any, any, any, any, any);
        trace.logf(ctx, "c", any, any);
        trace.logf(any, "c", "%d", any);
      }
      trace.logf(ctx, "c", "%d", Symbol());
      trace.log(ctx, "c", Object.create(null));
      trace.newTask(null as never, "typed")[1].end();
      task.end();
    });
    const messages = t.logs.map((l) => l.message);
    assert.ok(messages.includes("<runtrace: unprintable object>"));
    assert.ok(messages.includes("%!d(symbol)"));
    assert.ok(messages.some((m) => m.includes("Symbol(sym)")));
    assert.ok(t.tasks.some((k) => k.type === "typed"));
    assert.ok(t.tasks.some((k) => k.type === "42"));
    assert.ok(t.regions.some((r) => r.type === "<runtrace: unprintable object>"));
  });
});

describe("a million distinct names", () => {
  test("the name tables stay bounded; the excess is counted and visible", () => {
    const path = join(tempDir(), "t.trace");
    const r = child(
      `
import * as trace from ${JSON.stringify(modUrl)};
import process from "node:process";
await trace.start(${JSON.stringify(path)}, { runtime: false });
const gc = () => { globalThis.gc?.(); globalThis.Bun?.gc(true); };
gc();
const rss0 = process.memoryUsage().rss, heap0 = process.memoryUsage().heapUsed;
for (let i = 0; i < 1_000_000; i++) {
  const [ctx, task] = trace.newTask("type " + i);
  trace.log(ctx, "category " + i, "m");
  task.end();
  if (i % 50_000 === 0) await new Promise((r) => setTimeout(r, 0));
}
await new Promise((r) => setTimeout(r, 200));
gc();
const growthMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
const heapMb = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
const stats = await trace.stop();
console.log(JSON.stringify({ growthMb, heapMb, ...stats }));
`,
      { timeoutMs: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    const { growthMb, heapMb, namesOverLimit, lost } = report(r);
    // What the names hold is heap that a GC cannot free (hundreds of MB
    // unbounded); RSS also counts both isolates' slack, so its bound is loose.
    assert.ok(heapMb < 32, `the heap kept ${heapMb.toFixed(0)} MB`);
    assert.ok(growthMb < 192, `RSS grew by ${growthMb.toFixed(0)} MB`);
    assert.ok(namesOverLimit > 1_800_000, `${namesOverLimit} names over the limit`);
    const t = readTrace(path);
    const marked = t.tasks.filter((k) => k.type === "runtrace: too many distinct names").length;
    assert.ok(marked > 900_000 - lost, `${marked} tasks under the marker`);
    assert.ok(t.logs.some((l) => l.category === "runtrace: too many distinct names"));
  });
});

/** A script that records `n` logs into `path`, then ends with `ending`. */
const exitScript = (path: string, n: number, ending: string) => `
import * as trace from ${JSON.stringify(modUrl)};
import process from "node:process";
await trace.start(${JSON.stringify(path)});
for (let i = 0; i < ${n}; i++) trace.log("n", "message " + i);
trace.log("late", "the last event");
${ending}
`;

describe("exit paths leave a complete trace file", () => {
  const cases: [string, string, number | null, string[]][] = [
    ["process.exit()", "process.exit(3);", 3, ["deno", "bun"]],
    ["Deno.exit()", "Deno.exit(3);", 3, ["deno"]],
    ["an uncaught exception", 'setTimeout(() => { throw new Error("boom"); }, 0);', 1, [
      "deno",
      "bun",
    ]],
    ["a top-level throw", 'throw new Error("boom");', 1, ["deno", "bun"]],
    ["an unhandled rejection", 'Promise.reject(new Error("nobody catches this"));', 1, [
      "deno",
      "bun",
    ]],
  ];
  for (const [name, ending, status, runtimes] of cases) {
    test(name, { skip: !runtimes.includes(runtime) }, () => {
      const path = join(tempDir(), "t.trace");
      const r = child(exitScript(path, 200_000, ending), { timeoutMs: 60_000 });
      assert.equal(r.status, status, r.stderr.slice(-2000));
      const t = readTrace(path);
      assert.equal(t.truncated, false, "the file ends with its END batch");
      assert.equal(t.logs.length + t.lost, 200_001);
      assert.equal(t.logs.at(-1)!.message, "the last event");
    });
  }

  test("a Deno error listener that keeps the program alive: the trace goes on", {
    skip: runtime !== "deno",
  }, () => {
    const path = join(tempDir(), "t.trace");
    const r = child(exitScript(
      path,
      1000,
      `globalThis.addEventListener("error", (e) => e.preventDefault());
       setTimeout(() => { throw new Error("handled"); }, 0);
       await new Promise((r) => setTimeout(r, 50));
       trace.log("late", "after the error");
       await trace.stop();`,
    ));
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    const t = readTrace(path);
    assert.equal(t.truncated, false);
    assert.equal(t.logs.length, 1002);
    assert.equal(t.logs.at(-1)!.message, "after the error");
  });
});
