/**
 * The ring in isolation: the ring writer (the caller's side) and the drain
 * worker's RingDrainer, in one thread. Wrap-around of records and of the
 * text ring, and the full-ring policy: wait up to `maxWait`, then drop, count
 * and record the loss.
 */
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Ctrl, Rec } from "../lib/record/ring_layout.ts";
import {
  enabled,
  internCategory,
  internType,
  PUBLISH_EVERY,
  record,
  recordEnd,
  recordLog,
} from "../lib/record/ring_writer.ts";
import {
  attachTestRing,
  detachRing,
  drainAll,
  finish,
  newWriter,
  publish,
} from "./recorder_parts.ts";
import type { LogEvent, TraceEvent } from "../lib/format/decoder.ts";

const logs = (events: TraceEvent[]) =>
  events.filter((e): e is LogEvent => e.kind === "log").map((e) => e.message);

afterEach(() => detachRing());

describe("the ring", () => {
  test("records wrap around the ring: many times its capacity arrive whole and in order", () => {
    const { drainer } = attachTestRing({ capacity: 1024, textCapacity: 1 << 14 });
    const w = newWriter();
    const type = internType("job");
    let next = 1;
    for (let round = 0; round < 10; round++) {
      // 700 tasks a round: the slots used move around the ring and cross its end.
      for (let k = 0; k < 350; k++, next++) {
        record(Rec.TASK_BEGIN, next, 0, type, 0, 0);
        recordEnd(Rec.TASK_END, next);
      }
      assert.equal(drainer.pending() > 0, true);
      assert.equal(drainAll(drainer, [w]) >= 700, true);
      assert.equal(drainer.pending(), 0);
    }
    const events = finish(w);
    const tasks = events.flatMap((e) =>
      e.kind === "taskBegin" ? [`+${e.task}`] : e.kind === "taskEnd" ? [`-${e.task}`] : []
    );
    assert.equal(tasks.length, 7000);
    assert.deepEqual(
      tasks,
      Array.from({ length: 7000 }, (_, k) => `${k % 2 ? "-" : "+"}${(k >> 1) + 1}`),
    );
    assert.ok(events.every((e) => e.kind !== "lost"));
  });

  test("the hand-over: records reach the worker every PUBLISH_EVERY records, when published, and when recording stops", () => {
    const { drainer } = attachTestRing({ capacity: 4096, textCapacity: 1024 });
    recordEnd(Rec.TASK_END, 1);
    recordEnd(Rec.TASK_END, 2);
    assert.equal(drainer.pending(), 0, "published before a block was full");
    publish();
    assert.equal(drainer.pending(), 2, "not published by publish()");
    for (let k = 0; k < PUBLISH_EVERY + 10; k++) recordEnd(Rec.TASK_END, 3 + k);
    // The block that began at the first record ended at PUBLISH_EVERY: published.
    assert.equal(drainer.pending(), PUBLISH_EVERY, "a long run publishes in blocks");
    recordEnd(Rec.TASK_END, 1000);
    detachRing();
    assert.equal(drainer.pending(), 2 + PUBLISH_EVERY + 11, "detaching publishes");
  });

  test("log text wraps around the text ring, also when a message straddles its end", () => {
    const { drainer } = attachTestRing({ capacity: 1024, textCapacity: 1024 });
    const w = newWriter();
    const category = internCategory("c");
    const sent: string[] = [];
    for (let round = 0; round < 40; round++) {
      // 7 messages of about 100 units: they straddle the end of the 1024-unit ring.
      for (let k = 0; k < 7; k++) {
        const m = `${round}:${k}:😀` + "é€x".repeat(40).slice(0, 90 + k);
        sent.push(m);
        recordLog(0, category, m);
      }
      drainAll(drainer, [w]);
    }
    assert.deepEqual(logs(finish(w)), sent);
  });

  test("texts of every length parity, with new names between them, wrap around the text ring exactly", () => {
    // writeText pads odd lengths to keep positions even (two units per store).
    const { drainer } = attachTestRing({ capacity: 1024, textCapacity: 1024 });
    const w = newWriter();
    const sent: string[] = [];
    for (let round = 0; round < 60; round++) {
      for (let len = 0; len < 12; len++) {
        const category = internCategory(`cat${round % 7}-${len % 3}`);
        const m = `${round % 10}${"aé\uD800🍵".repeat(len)}`.slice(0, len + (round & 1)) +
          "\uDC00".repeat(len & 1);
        sent.push(m.replace(/[\uD800-\uDFFF]/gu, "\uFFFD"));
        recordLog(0, category, m);
      }
      drainAll(drainer, [w]);
    }
    assert.deepEqual(logs(finish(w)), sent);
  });

  test("a full ring: the caller waits up to maxWait, then drops and counts, and the trace records the loss", () => {
    const { ring, drainer } = attachTestRing({ capacity: 1024, textCapacity: 1 << 14 }, {
      maxWait: 60,
    });
    const ctrl = new Int32Array(ring, 0, 32);
    const w = newWriter();
    for (let k = 1; k <= 1024; k++) recordEnd(Rec.TASK_END, k);
    publish();
    assert.equal(drainer.pending(), 1024, "the ring holds its capacity");

    let t0 = performance.now();
    recordEnd(Rec.TASK_END, 1025);
    const waited = performance.now() - t0;
    assert.ok(waited >= 50, `waited ${waited} ms for room, less than maxWait`);
    assert.equal(Atomics.load(ctrl, Ctrl.LOST), 1);

    // Deemed stalled: the next events drop at once.
    t0 = performance.now();
    for (let k = 0; k < 99; k++) recordEnd(Rec.TASK_END, 2000 + k);
    assert.ok(performance.now() - t0 < 50, "a stalled ring does not wait again per event");
    assert.equal(Atomics.load(ctrl, Ctrl.LOST), 100);

    assert.equal(drainAll(drainer, [w]), 1024);
    // With room again, events are recorded and the waiting is over.
    recordEnd(Rec.TASK_END, 3000);
    drainAll(drainer, [w]);
    const events = finish(w);
    const lost = events.filter((e) => e.kind === "lost");
    assert.deepEqual(lost.map((e) => e.kind === "lost" && e.count), [100]);
    const end = events.at(-1)!;
    assert.equal(end.kind === "end" && end.lost, 100);
    const ended = events.flatMap((e) => e.kind === "taskEnd" ? [e.task] : []);
    assert.equal(ended.length, 1025);
    assert.equal(ended.at(-1), 3000);
    assert.ok(enabled, "dropping never turns recording off");
  });

  test("a full text ring: a message waits up to maxWait, then is dropped and counted", () => {
    const { ring, drainer } = attachTestRing({ capacity: 1024, textCapacity: 1024 }, {
      maxWait: 60,
      maxMessage: 512,
    });
    const ctrl = new Int32Array(ring, 0, 32);
    const w = newWriter();
    const category = internCategory("c");
    recordLog(0, category, "a".repeat(500));
    recordLog(0, category, "b".repeat(500));
    const t0 = performance.now();
    recordLog(0, category, "c".repeat(500));
    assert.ok(performance.now() - t0 >= 50, "waited for text room");
    assert.equal(Atomics.load(ctrl, Ctrl.LOST), 1);
    drainAll(drainer, [w]);
    recordLog(0, category, "d".repeat(500));
    drainAll(drainer, [w]);
    const events = finish(w);
    assert.deepEqual(logs(events).map((m) => m[0] + m.length), ["a500", "b500", "d500"]);
    assert.equal(events.filter((e) => e.kind === "lost").length, 1);
  });

  test("messages longer than maxMessage are cut and flagged", () => {
    const { drainer } = attachTestRing({ capacity: 1024, textCapacity: 1024 }, { maxMessage: 10 });
    const w = newWriter();
    recordLog(0, internCategory("c"), "0123456789abcdef");
    drainAll(drainer, [w]);
    const log = finish(w).find((e): e is LogEvent => e.kind === "log")!;
    assert.equal(log.message, "0123456789");
    assert.equal(log.truncated, true);
  });
});
