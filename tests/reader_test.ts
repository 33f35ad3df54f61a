import { describe, test } from "node:test";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { parseTrace, readEvents, TraceDecoder, TraceFormatError } from "../read.ts";
import type { TraceEvent } from "../read.ts";
import { tempDir } from "./helpers.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

/** A small trace with every event kind. */
async function smallTrace(): Promise<Uint8Array> {
  const path = join(tempDir(), "small.trace");
  await trace.start(path, { runtime: false });
  const [ctx, task] = trace.newTask("t");
  trace.log(ctx, "cat", "message é");
  trace.withRegion(ctx, "outer", () => trace.startRegion("inner").end());
  task.end();
  await trace.stop();
  return new Uint8Array(readFileSync(path));
}

async function collect(source: Parameters<typeof readEvents>[0]): Promise<TraceEvent[]> {
  const out: TraceEvent[] = [];
  for await (const e of readEvents(source)) out.push(e);
  return out;
}

describe("reader", { skip }, () => {
  test("readEvents yields header first, end last, the same events as parseTrace", async () => {
    const bytes = await smallTrace();
    const events = await collect(bytes);
    assert.equal(events[0].kind, "header");
    const end = events.at(-1)!;
    assert.equal(end.kind, "end");
    assert.equal(end.kind === "end" && end.truncated, false);
    const kinds = events.map((e) => e.kind).filter((k) => k !== "thread");
    assert.deepEqual(kinds, [
      "header",
      "taskBegin",
      "log",
      "regionBegin",
      "regionBegin",
      "regionEnd",
      "regionEnd",
      "taskEnd",
      "end",
    ]);
    const t = parseTrace(bytes);
    assert.equal(t.events, 7);
  });

  test("streams in 1-byte chunks from a ReadableStream and from an async iterable", async () => {
    const bytes = await smallTrace();
    const whole = await collect(bytes);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i++) c.enqueue(bytes.subarray(i, i + 1));
        c.close();
      },
    });
    assert.deepEqual(await collect(stream), whole);
    async function* pieces() {
      for (let i = 0; i < bytes.length; i += 3) yield bytes.subarray(i, i + 3);
    }
    assert.deepEqual(await collect(pieces()), whole);
  });

  test("a trace cut at every byte offset: an error or a partial read marked truncated", async () => {
    const bytes = await smallTrace();
    const full = parseTrace(bytes);
    let partial = 0, errors = 0;
    for (let k = 0; k < bytes.length; k++) {
      const cut = bytes.subarray(0, k);
      try {
        const t = parseTrace(cut);
        assert.equal(t.truncated, true, `cut at ${k} not reported as truncated`);
        assert.ok(t.events <= full.events);
        partial++;
      } catch (e) {
        assert.ok(e instanceof TraceFormatError, `cut at ${k}: ${e}`);
        assert.match(e.message, /byte offset \d+/);
        errors++;
      }
    }
    assert.ok(errors > 0 && partial > 0);
    // Cuts after the header read every complete batch before the cut.
    const cutLate = parseTrace(bytes.subarray(0, bytes.length - 1));
    assert.equal(cutLate.truncated, true);
    assert.equal(cutLate.tasks.length, 1);
  });

  test("foreign and corrupt input gets an error naming what and where", async () => {
    const enc = new TextEncoder();
    assert.throws(() => parseTrace(new Uint8Array()), /empty input/);
    assert.throws(
      () => parseTrace(enc.encode('[{"ph":"B"}]')),
      (e: TraceFormatError) => e.offset === 0 && /not a runtrace trace/.test(e.message),
    );
    assert.throws(
      () => parseTrace(enc.encode("runtrace\x09\x00")),
      /unsupported trace format version 9/,
    );

    const bytes = await smallTrace();
    const headerEnd = 8 + 2 + bytes[9];
    // A batch that claims an absurd length is refused, not allocated.
    const huge = bytes.slice(0, headerEnd + 6);
    huge.set([2, 0xff, 0xff, 0xff, 0xff, 0x7f], headerEnd);
    assert.throws(() => parseTrace(huge), /batch claims \d+ bytes.*corrupt/);
    // Flipping each byte after the header never hangs or crashes the reader.
    for (let k = headerEnd; k < bytes.length; k++) {
      const bad = bytes.slice();
      bad[k] ^= 0xa5;
      try {
        parseTrace(bad);
      } catch (e) {
        assert.ok(e instanceof TraceFormatError, `flip at ${k}: ${e}`);
      }
    }
    // Data after the end of the trace is an error.
    const twice = new Uint8Array(bytes.length + 3);
    twice.set(bytes);
    twice.set([1, 1, 0], bytes.length);
    assert.throws(() => parseTrace(twice), /data after the end of the trace/);
  });

  test("the decoder keeps its memory bounded while streaming", () => {
    const d = new TraceDecoder(() => {});
    assert.throws(() => d.finish(), /empty input/);
  });
});
