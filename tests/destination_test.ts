import { describe, test } from "node:test";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import * as trace from "../mod.ts";
import { parseTrace } from "../read.ts";
import { concat, tempDir } from "./helpers.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

describe("destinations", { skip }, () => {
  test("a WritableStream receives the whole trace before stop resolves", async () => {
    const chunks: Uint8Array[] = [];
    const ws = new WritableStream<Uint8Array>({
      async write(c) {
        await new Promise((r) => setTimeout(r, 1)); // a slow sink
        chunks.push(c.slice());
      },
    });
    await trace.start(ws);
    for (let i = 0; i < 1000; i++) trace.log("n", String(i));
    await trace.stop();
    const t = parseTrace(concat(chunks));
    assert.equal(t.truncated, false);
    assert.equal(t.logs.length, 1000);
    // The stream is released, not closed: the caller still owns it.
    assert.equal(ws.locked, false);
    await ws.close();
  });

  test("a writer object that takes a few bytes at a time (Deno.FsFile style)", async () => {
    const chunks: Uint8Array[] = [];
    let flushed = false;
    const writer = {
      write(p: Uint8Array): Promise<number> {
        const n = Math.min(p.length, 7);
        chunks.push(p.slice(0, n));
        return Promise.resolve(n);
      },
      flush() {
        flushed = true;
      },
    };
    await trace.start(writer);
    trace.withRegion("r", () => trace.log("c", "partial writes"));
    await trace.stop();
    const t = parseTrace(concat(chunks));
    assert.equal(t.regions.length, 1);
    assert.equal(t.logs[0].message, "partial writes");
    assert.ok(flushed, "flush() is called at stop (Bun's FileSink buffers)");
  });

  test("a synchronous writer returning nothing (Bun FileSink style)", async () => {
    const chunks: Uint8Array[] = [];
    await trace.start({ write: (p: Uint8Array) => void chunks.push(p.slice()) });
    trace.log("c", "sync");
    await trace.stop();
    assert.equal(parseTrace(concat(chunks)).logs[0].message, "sync");
  });

  test("an unusable destination makes start reject, naming it", async () => {
    await assert.rejects(
      trace.start(join(tempDir(), "no", "such", "dir", "t.trace")),
      (e: Error) => /cannot open trace file ".*no\/such\/dir\/t\.trace"/.test(e.message),
    );
    assert.equal(trace.isEnabled(), false);

    const closed = new WritableStream<Uint8Array>();
    await closed.close();
    await assert.rejects(trace.start(closed));
    assert.equal(trace.isEnabled(), false);

    const locked = new WritableStream<Uint8Array>();
    locked.getWriter();
    await assert.rejects(trace.start(locked), /locked/);

    // @ts-expect-error: deliberately wrong
    await assert.rejects(trace.start({}), /file path, a WritableStream or an object with a write/);
    await assert.rejects(trace.start(""), /empty file path/);
    assert.equal(trace.isEnabled(), false);

    // And tracing still works afterwards.
    const chunks: Uint8Array[] = [];
    await trace.start({ write: (p: Uint8Array) => void chunks.push(p.slice()) });
    await trace.stop();
    assert.equal(parseTrace(concat(chunks)).truncated, false);
  });

  test("a sink that fails mid-trace: the program keeps running, stop rejects with its error", async () => {
    const failure = new Error("disk full");
    let written = 0;
    await trace.start({
      write(p: Uint8Array) {
        if (written > 1000) return Promise.reject(failure);
        written += p.length;
        return Promise.resolve(p.length);
      },
    }, { flushInterval: 5 });
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 200; i++) trace.log("c", "some text to fill the sink");
      await new Promise((r) => setTimeout(r, 5));
    }
    // The application carries on; API calls stay harmless.
    trace.startRegion("after failure").end();
    await assert.rejects(trace.stop(), (e) => e === failure);
    assert.equal(trace.isEnabled(), false);
  });

  test("a file that cannot take the header (a full device) makes start reject with the system error", async () => {
    if (process.platform !== "linux") return;
    await assert.rejects(
      trace.start("/dev/full"),
      /cannot open trace file "\/dev\/full".*(ENOSPC|No space left)/i,
    );
    assert.equal(trace.isEnabled(), false);
  });
});
