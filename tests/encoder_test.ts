/**
 * The encoder in isolation (lib/format/encoder.ts): batches, the string
 * table, times and region ids carried from batch to batch, the window of a
 * trace's time, and the drain worker's trace-wide string table.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ByteWriter, type TraceWriter } from "../lib/format/encoder.ts";
import { Batch, GC_INFERRED, LOG_TRUNCATED } from "../lib/format/constants.ts";
import type { TraceEvent } from "../lib/format/decoder.ts";
import { Rec } from "../lib/record/ring_layout.ts";
import { internType, record } from "../lib/record/ring_writer.ts";
import { StringTable } from "../lib/record/drain_worker/string_table.ts";
import {
  attachTestRing,
  decodeAll,
  detachRing,
  drainAll,
  finish,
  newWriter,
} from "./recorder_parts.ts";

/** The batch types of a trace, in order, after its header. */
function batchTypes(bytes: Uint8Array): number[] {
  let p = 8; // magic
  const uvarint = () => {
    let v = 0, shift = 0;
    for (;;) {
      const b = bytes[p++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  uvarint(); // version
  const headerBytes = uvarint();
  p += headerBytes;
  const types: number[] = [];
  while (p < bytes.length) {
    types.push(bytes[p++]);
    const length = uvarint();
    p += length;
  }
  return types;
}

const bytesOf = (w: TraceWriter) => w.out.buf.slice(0, w.out.pos);
/** Events without the header, thread names and end, as compact strings. */
const brief = (events: TraceEvent[]) =>
  events.flatMap((e) => {
    switch (e.kind) {
      case "taskBegin":
        return [`t${e.thread} +task ${e.task} ${e.type} parent ${e.parent} @${e.time}`];
      case "taskEnd":
        return [`t${e.thread} -task ${e.task} @${e.time}`];
      case "regionBegin":
        return [`t${e.thread} +region ${e.region} ${e.type} in ${e.parent} lane ${e.lane}`];
      case "regionEnd":
        return [`t${e.thread} -region ${e.region}`];
      case "log":
        return [`t${e.thread} log ${e.category}: ${e.message}${e.truncated ? " (cut)" : ""}`];
      default:
        return [];
    }
  });

describe("the encoder", () => {
  test("a batch is sealed behind the STRINGS batch that defines what it uses", () => {
    const w = newWriter();
    w.open(1);
    w.defineString(1, "order");
    w.taskBegin(w.startMs + 0.001, 1, 0, 1);
    w.close();
    w.open(1);
    w.taskEnd(w.startMs + 0.002, 1);
    w.close();
    w.open(1); // no events: no batch
    w.close();
    w.end();
    assert.deepEqual(batchTypes(bytesOf(w)), [
      Batch.THREAD,
      Batch.STRINGS,
      Batch.EVENTS,
      Batch.EVENTS,
      Batch.END,
    ]);
    assert.deepEqual(brief(decodeAll(bytesOf(w))), [
      "t1 +task 1 order parent 0 @1000",
      "t1 -task 1 @2000",
    ]);
  });

  test("times and region ids continue per thread across interleaved batches", () => {
    const w = newWriter();
    w.defineString(1, "r");
    const at = (us: number) => w.startMs + us / 1000;
    for (let k = 0; k < 3; k++) {
      for (const thread of [1, 2]) {
        w.open(thread);
        const id = 100 * thread + k + 1;
        w.regionBegin(at(10 * k + thread), 0, 1, id, k > 0 ? id - 1 : 0, thread);
        w.close();
      }
    }
    w.open(2);
    w.regionEnd(at(50), 203);
    w.close();
    w.open(1);
    w.regionEnd(at(51), 101);
    w.close();
    const events = finish(w);
    assert.deepEqual(brief(events), [
      "t1 +region 101 r in 0 lane 1",
      "t2 +region 201 r in 0 lane 2",
      "t1 +region 102 r in 101 lane 1",
      "t2 +region 202 r in 201 lane 2",
      "t1 +region 103 r in 102 lane 1",
      "t2 +region 203 r in 202 lane 2",
      "t2 -region 203",
      "t1 -region 101",
    ]);
    const times = events.flatMap((e) => e.kind === "regionBegin" ? [e.time] : []);
    assert.deepEqual(times, [1000, 2000, 11000, 12000, 21000, 22000]);
  });

  test("every event kind round-trips through the decoder", () => {
    const w = newWriter();
    ["job", "cat", "heap", "stack\n  at f"].forEach((s, i) => w.defineString(i + 1, s));
    const t = (us: number) => w.startMs + us / 1000;
    w.open(1);
    w.stack(t(1), 4);
    w.taskBegin(t(1), 5, 0, 1);
    w.log(t(2), 5, 2, LOG_TRUNCATED, "héllo");
    w.logUtf8(t(3), 5, 2, 0, new TextEncoder().encode("bytes!!"), 5);
    w.counter(t(4), 3, 1.5e9);
    w.stall(t(5000), 2500, 0, 5); // stamped at its end, read back at its start
    w.gc(t(6000), 700, GC_INFERRED, 4096);
    w.lostEvents(3);
    w.threadEnd(t(7000));
    w.close();
    const events = finish(w).filter((e) => !["header", "thread"].includes(e.kind));
    assert.deepEqual(events.map((e) => e.kind), [
      "taskBegin",
      "log",
      "log",
      "counter",
      "stall",
      "gc",
      "lost",
      "threadEnd",
      "end",
    ]);
    const [task, log, log2, counter, stall, gc, lost, , end] = events as unknown as Record<
      string,
      unknown
    >[];
    assert.deepEqual(task.stack, ["f"]);
    assert.equal(log.message, "héllo");
    assert.equal(log.truncated, true);
    assert.equal(log2.message, "bytes");
    assert.equal(counter.name, "heap");
    assert.equal(counter.value, 1.5e9);
    assert.deepEqual([stall.duration, stall.task, stall.time], [2_500_000, 5, 2_500_000]);
    assert.deepEqual([gc.duration, gc.inferred, gc.freed], [700_000, true, 4096]);
    assert.equal(lost.count, 3);
    assert.deepEqual([end.events, end.lost, end.truncated], [9, 3, false]); // the STACK counts
  });

  test("events stamped before the trace's start or after its end are left out", () => {
    const w = newWriter();
    w.endMs = w.startMs + 1;
    w.defineString(1, "job");
    w.open(1);
    w.taskBegin(w.startMs - 0.5, 1, 0, 1); // before: a flight recorder's older records
    w.taskBegin(w.startMs + 0.5, 2, 0, 1);
    w.taskEnd(w.startMs + 2, 2); // after stop()
    w.close();
    assert.deepEqual(brief(finish(w)), ["t1 +task 2 job parent 0 @500000"]);
  });

  test("a trace that starts late defines the whole string table first", () => {
    const w = newWriter();
    w.defineAll(["", "a", "b", "c"]);
    w.open(1);
    w.taskBegin(w.startMs, 1, 0, 3);
    w.close();
    assert.deepEqual(brief(finish(w)), ["t1 +task 1 c parent 0 @0"]);
  });

  test("ByteWriter's varints hold every safe integer and grow the buffer", () => {
    const b = new ByteWriter(4);
    const values = [0, 1, 127, 128, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
    for (const v of values) {
      b.ensure(10);
      b.uvarint(v);
    }
    b.ensure(10);
    b.svarint(-3);
    let p = 0;
    const read = () => {
      let v = 0, shift = 0;
      for (;;) {
        const x = b.buf[p++];
        v += (x & 0x7f) * 2 ** shift;
        if (x < 0x80) return v;
        shift += 7;
      }
    };
    assert.deepEqual(values.map(read), values);
    assert.equal(read(), 5); // zigzag of -3
    assert.equal(p, b.pos);
  });
});

describe("the drain worker's string table", () => {
  test("threads that intern one string under different ids share one trace id", () => {
    const table = new StringTable();
    const w = newWriter();
    w.threadName(2, "worker");
    const a = attachTestRing({ capacity: 1024, textCapacity: 4096 }, {}, table);
    try {
      internType("padding");
      record(Rec.TASK_BEGIN, 1, 0, internType("shared"), 0, 0);
      drainAll(a.drainer, [w]);
    } finally {
      detachRing();
    }
    const b = attachTestRing({ capacity: 1024, textCapacity: 4096 }, { thread: 2 }, table);
    try {
      record(Rec.TASK_BEGIN, 2, 0, internType("shared"), 0, 0);
      record(Rec.TASK_BEGIN, 3, 0, internType("only here"), 0, 0);
      drainAll(b.drainer, [w]);
    } finally {
      detachRing();
    }
    assert.deepEqual(table.list, ["", "padding", "shared", "only here"]);
    const events = finish(w);
    assert.deepEqual(
      events.flatMap((e) => e.kind === "taskBegin" ? [`${e.thread}:${e.type}`] : []),
      ["1:shared", "2:shared", "2:only here"],
    );
  });
});
