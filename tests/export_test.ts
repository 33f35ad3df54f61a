/**
 * The exports: the Chrome Trace Event JSON passes a structural validator
 * written here (nesting per thread, async pairs, flows that bind, relative
 * timestamps), and the Perfetto protobuf decodes with a decoder written here
 * against the fields the exporter uses, to the same slices as the JSON.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as trace from "../mod.ts";
import { parseTrace, TraceDecoder } from "../read.ts";
import { ChromeExporter } from "../lib/export/chrome.ts";
import { Clock, EventType, PerfettoExporter, PF, SequenceFlags } from "../lib/export/perfetto.ts";
import { ProtoWriter } from "../lib/export/protobuf_writer.ts";
import { craftTrace } from "./craft_trace.ts";
import { exportTrace, sleep, tempDir } from "./helpers.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

const WORKLOAD = fileURLToPath(new URL("./fixtures/workload.trace", import.meta.url));

// ---------------------------------------------------------------------------
// Trace Event Format validator

interface TraceEventJson {
  ph: string;
  name?: string;
  cat?: string;
  ts?: number;
  pid?: number;
  tid?: number;
  id?: number | string;
  s?: string;
  args?: Record<string, unknown>;
  bind_id?: number | string;
  flow_in?: boolean;
  flow_out?: boolean;
}

/** A slice as both exports should show it: track, name, begin, end (ns). */
type Slice = string;

interface Validated {
  slices: Slice[];
  asyncSlices: Slice[];
  runtimeSlices: Slice[];
  flows: number;
  logs: number;
  counters: number;
}

/** A `Validated` with nothing counted yet. */
function noneValidated(): Validated {
  return { slices: [], asyncSlices: [], runtimeSlices: [], flows: 0, logs: 0, counters: 0 };
}

/**
 * Checks the rules of the Trace Event Format that viewers enforce; throws an
 * AssertionError naming the first broken rule and event index.
 */
function validateChrome(events: TraceEventJson[], durationNs: number): Validated {
  assert.ok(Array.isArray(events), "the JSON is an array");
  const named = new Set<string>();
  const stacks = new Map<string, { e: TraceEventJson; i: number }[]>();
  const lastTs = new Map<string, number>();
  const asyncOpen = new Map<string, { e: TraceEventJson; i: number }[]>();
  const flowsOut = new Map<string, number>();
  const out = noneValidated();
  /** Every slice of a thread, B/E pairs and X alike: together they must nest. */
  const complete = new Map<string, { ts: number; end: number; i: number }[]>();
  const sliceOf = (thread: string) => {
    let list = complete.get(thread);
    if (!list) complete.set(thread, list = []);
    return list;
  };
  const maxUs = durationNs / 1000 + 1e-6;
  events.forEach((e, i) => {
    const at = `event ${i} ${JSON.stringify(e)}`;
    assert.equal(typeof e.ph, "string", `${at}: ph`);
    assert.equal(typeof e.pid, "number", `${at}: pid`);
    if (e.ph === "M") {
      assert.ok(
        ["process_name", "thread_name", "thread_sort_index"].includes(e.name!),
        `${at}: metadata name`,
      );
      if (e.name === "thread_name") named.add(`${e.pid}:${e.tid}`);
      return;
    }
    assert.equal(typeof e.ts, "number", `${at}: ts`);
    // Relative timestamps: inside the trace, not epoch microseconds.
    assert.ok(e.ts! >= 0 && e.ts! <= maxUs, `${at}: ts outside 0..${maxUs}µs`);
    assert.equal(typeof e.tid, "number", `${at}: tid`);
    const thread = `${e.pid}:${e.tid}`;
    switch (e.ph) {
      case "B":
      case "E":
      case "i": {
        assert.ok(named.has(thread), `${at}: thread ${thread} has no thread_name before it`);
        const last = lastTs.get(thread) ?? 0;
        assert.ok(e.ts! >= last, `${at}: time goes back on thread ${thread}`);
        lastTs.set(thread, e.ts!);
        let stack = stacks.get(thread);
        if (!stack) stacks.set(thread, stack = []);
        if (e.ph === "B") {
          assert.equal(typeof e.name, "string", `${at}: B needs a name`);
          stack.push({ e, i });
        } else if (e.ph === "E") {
          const b = stack.pop();
          assert.ok(b, `${at}: E without an open B on thread ${thread}`);
          assert.ok(e.ts! >= b.e.ts!, `${at}: E before its B`);
          sliceOf(thread).push({ ts: b.e.ts!, end: e.ts!, i: b.i });
          out.slices.push(
            `${e.tid} ${b.e.name} ${Math.round(b.e.ts! * 1000)} ${Math.round(e.ts! * 1000)}`,
          );
        } else {
          assert.ok(["t", "p", "g"].includes(e.s!), `${at}: instant scope`);
          if (e.cat === "log") {
            assert.equal(typeof e.args?.message, "string", `${at}: log message in args`);
            out.logs++;
          }
        }
        break;
      }
      case "b":
      case "e":
      case "n": {
        assert.ok(e.id !== undefined, `${at}: async events need an id`);
        assert.equal(typeof e.cat, "string", `${at}: async events need a category`);
        assert.equal(typeof e.name, "string", `${at}: async events need a name (Perfetto's key)`);
        const key = `${e.cat}:${e.id}:${e.name}`;
        let open = asyncOpen.get(key);
        if (!open) asyncOpen.set(key, open = []);
        if (e.ph === "b") {
          open.push({ e, i });
        } else if (e.ph === "e") {
          const b = open.pop();
          assert.ok(b, `${at}: async end without its begin (same cat, id and name)`);
          assert.ok(e.ts! >= b.e.ts!, `${at}: async end before its begin`);
          out.asyncSlices.push(
            `${e.id} ${e.name} ${Math.round(b.e.ts! * 1000)} ${Math.round(e.ts! * 1000)}`,
          );
        } else {
          const b = open[open.length - 1];
          assert.ok(b && b.e.ts! <= e.ts!, `${at}: async instant outside its slice`);
        }
        // Flow v2: flow_out binds to this event's slice, flow_in to the begin.
        if (e.bind_id !== undefined) {
          const id = String(e.bind_id);
          if (e.flow_out) {
            assert.ok(e.ph === "n" || e.ph === "b", `${at}: flow source must be a slice event`);
            assert.ok(!flowsOut.has(id), `${at}: flow id ${id} reused`);
            flowsOut.set(id, e.ts!);
          }
          if (e.flow_in) {
            assert.equal(e.ph, "b", `${at}: flow target must begin a slice`);
            const from = flowsOut.get(id);
            assert.ok(from !== undefined, `${at}: flow ${id} ends but never started`);
            assert.ok(from <= e.ts!, `${at}: flow ${id} goes back in time`);
            flowsOut.delete(id);
            out.flows++;
          }
        }
        break;
      }
      case "X": {
        const dur = (e as { dur?: number }).dur;
        assert.ok(typeof dur === "number" && dur >= 0, `${at}: X needs a duration`);
        assert.equal(typeof e.name, "string", `${at}: X needs a name`);
        assert.ok(named.has(thread), `${at}: thread ${thread} has no thread_name before it`);
        assert.ok(e.ts! + dur <= maxUs, `${at}: X ends after the trace`);
        sliceOf(thread).push({ ts: e.ts!, end: e.ts! + dur, i });
        const span = `${e.name} ${Math.round(e.ts! * 1000)} ${Math.round((e.ts! + dur) * 1000)}`;
        // Regions are X slices when they end (B/E when one begins with its parent).
        if (e.cat === "region") out.slices.push(`${e.tid} ${span}`);
        else out.runtimeSlices.push(span);
        break;
      }
      case "C":
        assert.ok(e.args && Object.keys(e.args).length > 0, `${at}: counter without values`);
        for (const v of Object.values(e.args)) assert.equal(typeof v, "number", `${at}: value`);
        out.counters++;
        break;
      default:
        assert.fail(`${at}: phase ${e.ph} is not one the exporter should write`);
    }
  });
  for (const [thread, stack] of stacks) {
    assert.equal(stack.length, 0, `thread ${thread}: ${stack.length} B without E`);
  }
  // The slices of a thread (X, and B/E pairs) must nest or follow each other,
  // once sorted as viewers sort them (by begin, the longer first).
  for (const list of complete.values()) {
    list.sort((a, b) => a.ts - b.ts || b.end - a.end);
    const open: { end: number; i: number }[] = [];
    for (const x of list) {
      while (open.length > 0 && open[open.length - 1].end <= x.ts) open.pop();
      const outer = open[open.length - 1];
      assert.ok(!outer || x.end <= outer.end, `event ${x.i}: X overlaps event ${outer?.i}`);
      open.push(x);
    }
  }
  for (const [key, open] of asyncOpen) {
    assert.equal(open.length, 0, `async ${key}: begin without end`);
  }
  assert.equal(flowsOut.size, 0, `flows that never ended: ${[...flowsOut.keys()]}`);
  return out;
}

// ---------------------------------------------------------------------------
// Protobuf decoder

/** A decoded field: varints and fixed64 as bigint, LEN as bytes. */
type Field = { n: number; v: bigint | Uint8Array };

function decodeMessage(b: Uint8Array): Field[] {
  const fields: Field[] = [];
  let p = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      assert.ok(p < b.length, "varint past the end");
      const x = b[p++];
      v |= BigInt(x & 0x7f) << shift;
      if (x < 0x80) return v;
      shift += 7n;
      assert.ok(shift < 70n, "varint too long");
    }
  };
  while (p < b.length) {
    const key = Number(varint());
    const n = key >>> 3;
    const wire = key & 7;
    assert.ok(n > 0, "field number 0");
    if (wire === 0) fields.push({ n, v: varint() });
    else if (wire === 1) {
      assert.ok(p + 8 <= b.length, "fixed64 past the end");
      const dv = new DataView(b.buffer, b.byteOffset + p, 8);
      fields.push({ n, v: dv.getBigUint64(0, true) });
      p += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      assert.ok(p + len <= b.length, "length past the end");
      fields.push({ n, v: b.subarray(p, p + len) });
      p += len;
    } else if (wire === 5) {
      p += 4;
    } else assert.fail(`unexpected wire type ${wire}`);
  }
  return fields;
}

const get = (fs: Field[], n: number) => fs.find((f) => f.n === n)?.v;
const all = (fs: Field[], n: number) => fs.filter((f) => f.n === n).map((f) => f.v);
const num = (v: unknown) => v === undefined ? undefined : Number(v as bigint);
const str = (v: unknown) => new TextDecoder().decode(v as Uint8Array);
const msg = (v: unknown) => decodeMessage(v as Uint8Array);

interface PerfettoDecoded extends Validated {
  packets: number;
}

/** Decodes and checks a Perfetto trace the way trace processor reads one. */
function validatePerfetto(bytes: Uint8Array): PerfettoDecoded {
  const packets = decodeMessage(bytes);
  assert.ok(packets.every((p) => p.n === PF.trace.packet), "Trace holds only packets");
  const names = new Map<number, string>();
  const annotationNames = new Map<number, string>();
  const categories = new Map<number, string>();
  const tracks = new Map<number, { name: string; kind: string; tid?: number }>();
  const open = new Map<number, { name: string; ts: number }[]>();
  const lastTs = new Map<number, number>();
  const flowSources = new Set<number>();
  // The sequence's default clock and its incremental clocks' last times, by id.
  let defaultClock: number | undefined;
  const incremental = new Map<number, number>();
  const out: PerfettoDecoded = { ...noneValidated(), packets: packets.length };
  packets.forEach((pf, i) => {
    const p = msg(pf.v);
    const at = `packet ${i}`;
    assert.equal(num(get(p, PF.packet.sequenceId)), 1, `${at}: trusted_packet_sequence_id`);
    const flags = num(get(p, PF.packet.sequenceFlags));
    if (i === 0) assert.equal(flags, SequenceFlags.INCREMENTAL_STATE_CLEARED, `${at}: first`);
    else assert.equal(flags, SequenceFlags.NEEDS_INCREMENTAL_STATE, `${at}: flags`);
    const defaults = get(p, PF.packet.defaults);
    if (defaults) {
      assert.equal(i, 0, `${at}: defaults after the state was cleared`);
      defaultClock = num(get(msg(defaults), PF.defaults.timestampClockId));
    }
    const snapshot = get(p, PF.packet.clockSnapshot);
    if (snapshot) {
      const s = msg(snapshot);
      assert.equal(num(get(s, PF.clockSnapshot.primaryTraceClock)), Clock.BOOTTIME, `${at}`);
      for (const c of all(s, PF.clockSnapshot.clocks)) {
        const m = msg(c);
        const id = num(get(m, PF.clock.id))!;
        const t = num(get(m, PF.clock.timestamp)) ?? 0;
        if (num(get(m, PF.clock.incremental))) {
          assert.ok(id >= 64 && id < 128, `${at}: incremental clock ${id} not a sequence's`);
          incremental.set(id, t);
        } else assert.deepEqual([id, t], [Clock.BOOTTIME, 0], `${at}: BOOTTIME at 0`);
      }
    }
    const interned = get(p, PF.packet.internedData);
    if (interned) {
      for (
        const [field, map] of [
          [PF.interned.names, names],
          [PF.interned.annotationNames, annotationNames],
          [PF.interned.categories, categories],
        ] as const
      ) {
        for (const e of all(msg(interned), field)) {
          const m = msg(e);
          const iid = num(get(m, PF.entry.iid))!;
          assert.ok(iid > 0 && !map.has(iid), `${at}: iid ${iid} redefined`);
          map.set(iid, str(get(m, PF.entry.name)));
        }
      }
    }
    const desc = get(p, PF.packet.trackDescriptor);
    if (desc) {
      const d = msg(desc);
      const uuid = num(get(d, PF.track.uuid))!;
      const thread = get(d, PF.track.thread);
      const kind = get(d, PF.track.process)
        ? "process"
        : thread
        ? "thread"
        : get(d, PF.track.counter)
        ? "counter"
        : "async";
      if (kind !== "process") {
        const parent = num(get(d, PF.track.parentUuid));
        if (parent !== undefined) assert.ok(tracks.has(parent), `${at}: unknown parent`);
      }
      tracks.set(uuid, {
        name: str(get(d, PF.track.name)),
        kind,
        tid: thread ? num(get(msg(thread), PF.thread.tid)) : undefined,
      });
    }
    const ev = get(p, PF.packet.trackEvent);
    if (!ev) return;
    const e = msg(ev);
    let ts = num(get(p, PF.packet.timestamp));
    assert.ok(ts !== undefined && ts >= 0, `${at}: track event without timestamp`);
    const clock = num(get(p, PF.packet.timestampClockId)) ?? defaultClock ?? Clock.BOOTTIME;
    if (clock !== Clock.BOOTTIME) {
      // A delta since the last time on that clock.
      const last = incremental.get(clock);
      assert.ok(last !== undefined, `${at}: clock ${clock} used before its snapshot`);
      ts += last;
      incremental.set(clock, ts);
    }
    const uuid = num(get(e, PF.event.trackUuid))!;
    const track = tracks.get(uuid);
    assert.ok(track, `${at}: track ${uuid} used before its descriptor`);
    assert.ok(ts >= (lastTs.get(uuid) ?? 0), `${at}: time goes back on track ${uuid}`);
    lastTs.set(uuid, ts);
    const type = num(get(e, PF.event.type));
    const nameIid = num(get(e, PF.event.nameIid));
    const name = nameIid === undefined ? undefined : names.get(nameIid);
    if (nameIid !== undefined) assert.ok(name !== undefined, `${at}: name iid ${nameIid}`);
    for (const c of all(e, PF.event.categoryIids)) {
      assert.ok(categories.has(Number(c)), `${at}: category iid ${c}`);
    }
    const annotations = new Map<string, unknown>();
    for (const a of all(e, PF.event.debugAnnotations)) {
      const m = msg(a);
      const key = annotationNames.get(num(get(m, PF.annotation.nameIid))!);
      assert.ok(key, `${at}: debug annotation name iid`);
      const s = get(m, PF.annotation.string);
      annotations.set(
        key,
        s !== undefined ? str(s) : num(get(m, PF.annotation.uint) ?? get(m, PF.annotation.bool)),
      );
    }
    let stack = open.get(uuid);
    if (!stack) open.set(uuid, stack = []);
    switch (type) {
      case EventType.SLICE_BEGIN:
        assert.ok(
          track.kind === "thread" || track.kind === "async",
          `${at}: slice on ${track.kind}`,
        );
        assert.ok(name, `${at}: slice without name`);
        stack.push({ name, ts });
        for (const f of all(e, PF.event.terminatingFlowIds)) {
          assert.ok(flowSources.delete(Number(f)), `${at}: flow ${f} ends before it starts`);
          out.flows++;
        }
        break;
      case EventType.SLICE_END: {
        const b = stack.pop();
        assert.ok(b, `${at}: slice end without begin on track ${uuid}`);
        const s = `${b.name} ${b.ts} ${ts}`;
        if (track.kind === "thread") out.slices.push(`${track.tid} ${s}`);
        else if (/ · (event-loop stalls|GC)$/.test(track.name)) out.runtimeSlices.push(s);
        else out.asyncSlices.push(`${(uuid - 16) / 2} ${s}`);
        break;
      }
      case EventType.INSTANT:
        if (track.kind === "async") assert.ok(stack.length > 0, `${at}: instant outside slice`);
        for (const f of all(e, PF.event.flowIds)) flowSources.add(Number(f));
        if (name !== undefined && annotations.has("message")) out.logs++;
        break;
      case EventType.COUNTER:
        assert.equal(track.kind, "counter", `${at}: counter value on a ${track.kind} track`);
        assert.ok(
          get(e, PF.event.counterValue) !== undefined ||
            get(e, PF.event.doubleCounterValue) !== undefined,
          `${at}: counter value`,
        );
        out.counters++;
        break;
      default:
        assert.fail(`${at}: event type ${type}`);
    }
  });
  for (const [uuid, stack] of open) assert.equal(stack.length, 0, `track ${uuid} left open`);
  assert.equal(flowSources.size, 0, "flows that never ended");
  return out;
}

describe("protobuf writer", () => {
  test("varints of every size decode to the value written", () => {
    const values = [0, 1, 127, 128, 300, 2 ** 21 - 1, 2 ** 28 - 1, 2 ** 28, 2 ** 31 - 1, 2 ** 31];
    values.push(2 ** 32 + 5, 2 ** 35 + 12345, 2 ** 50 + 7, Number.MAX_SAFE_INTEGER);
    const w = new ProtoWriter(16);
    for (const v of values) w.uint(1, v);
    w.fixed64(2, 2 ** 40 + 3);
    const m = w.begin(3);
    w.string(4, "é".repeat(100));
    w.end(m);
    const fields = decodeMessage(w.take());
    assert.deepEqual(fields.slice(0, values.length).map((f) => Number(f.v)), values);
    assert.equal(Number(fields[values.length].v), 2 ** 40 + 3);
    const inner = msg(fields[values.length + 1].v);
    assert.equal(str(get(inner, 4)), "é".repeat(100));
  });
});

// ---------------------------------------------------------------------------

function exportBoth(bytes: Uint8Array) {
  const chrome = new ChromeExporter();
  const perfetto = new PerfettoExporter();
  const text = new TextDecoder();
  let json = "";
  const parts: Uint8Array[] = [];
  const both = new TraceDecoder((e) => {
    chrome.add(e);
    perfetto.add(e);
  });
  // Small chunks, draining after each, as the CLI streams.
  for (let i = 0; i < bytes.length; i += 97) {
    both.push(bytes.subarray(i, i + 97));
    json += text.decode(chrome.take(), { stream: true });
    parts.push(perfetto.take());
  }
  both.finish();
  json += text.decode(chrome.take());
  parts.push(perfetto.take());
  const pb = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) pb.set(p, (o += p.length) - p.length);
  return { json, pb, chrome, perfetto };
}

function checkBoth(bytes: Uint8Array) {
  const t = parseTrace(bytes);
  const { json, pb, chrome } = exportBoth(bytes);
  const c = validateChrome(JSON.parse(json), t.duration);
  const p = validatePerfetto(pb);
  // Every region is a slice (split regions give extra pieces), every task an
  // async slice, every log an instant, every subtask with a live parent a flow.
  assert.equal(c.slices.length, t.regions.length + chrome.report.splitRegions);
  assert.equal(c.asyncSlices.length, t.tasks.length);
  assert.equal(c.logs, t.logs.length);
  const linked = t.tasks.filter((x) => {
    const parent = x.parent === 0 ? undefined : t.task(x.parent);
    return parent && parent.start !== undefined && x.start !== undefined &&
      (parent.end === undefined || parent.end >= x.start);
  });
  assert.equal(c.flows, linked.length);
  assert.ok(c.counters >= t.tasks.length + t.counters.length);
  assert.equal(c.runtimeSlices.length, t.stalls.length + t.gcs.length);
  // The two formats say the same.
  assert.deepEqual([...p.slices].sort(), [...c.slices].sort());
  assert.deepEqual(
    p.asyncSlices.map((s) => s.replace(/^(\d+) /, "$1 ")).sort(),
    c.asyncSlices.sort(),
  );
  assert.deepEqual([...p.runtimeSlices].sort(), [...c.runtimeSlices].sort());
  assert.equal(p.counters, c.counters);
  assert.equal(p.flows, c.flows);
  assert.equal(p.logs, c.logs);
  return { t, c, p, chrome };
}

describe("chrome and perfetto exports", { skip }, () => {
  test("the workload fixture: tasks, subtasks, async regions, misnested regions, open ends", () => {
    const { t, c, chrome } = checkBoth(new Uint8Array(readFileSync(WORKLOAD)));
    assert.ok(chrome.report.splitRegions > 0, "the fixture has regions ended out of order");
    assert.equal(chrome.report.openTasks, 1);
    assert.equal(chrome.report.openRegions, 1);
    assert.equal(c.flows, 24, "each render subtask is linked to its request");
    assert.ok(t.tasks.length > 50);
    assert.ok(t.stalls.length > 0 && t.gcs.length > 0 && t.counters.length > 0);
  });

  test("a trace recorded now with nested subtasks and interleaved async regions", async () => {
    const path = join(tempDir(), "live.trace");
    await trace.start(path);
    try {
      const work = async (depth: number, ctx: trace.Context): Promise<void> => {
        const [c, task] = trace.newTask(ctx, `level${depth}`);
        trace.log(c, "depth", String(depth));
        await Promise.all([
          trace.withRegion(c, "a", () => sleep(2)),
          trace.withRegion(c, "b", async () => {
            const r = trace.startRegion(c, "inner");
            await sleep(1);
            r.end();
          }),
          depth < 3 ? work(depth + 1, c) : Promise.resolve(),
        ]);
        task.end();
      };
      await Promise.all([work(0, trace.background), work(0, trace.background)]);
      trace.log("done", "all levels");
    } finally {
      await trace.stop();
    }
    const { t, c } = checkBoth(new Uint8Array(readFileSync(path)));
    assert.equal(t.tasks.length, 8);
    assert.equal(c.flows, 6, "every subtask links to its parent");
  });

  test("a truncated trace still exports to valid, balanced output", () => {
    const bytes = new Uint8Array(readFileSync(WORKLOAD));
    for (const f of [0.3, 0.55, 0.8]) {
      const cut = bytes.subarray(0, Math.floor(bytes.length * f));
      const { chrome } = checkBoth(cut);
      assert.equal(chrome.report.truncated, true);
    }
  });

  test("regions are X slices; one begun with the regions around it has those written first, as B", () => {
    const bytes = craftTrace((w) => {
      w.regionBegin(1000, 1, 0, "outer");
      w.regionBegin(1000, 2, 0, "inner");
      w.regionBegin(1000, 3, 0, "innermost");
      w.regionEnd(2000, 3);
      w.regionEnd(3000, 2);
      w.regionBegin(3500, 5, 0, "later");
      w.regionEnd(3600, 5);
      w.regionEnd(4000, 1);
      w.regionBegin(5000, 4, 0, "alone");
      w.regionEnd(6000, 4);
    });
    const { c } = checkBoth(bytes);
    assert.equal(c.slices.length, 5);
    const { json } = exportBoth(bytes);
    const regions = (JSON.parse(json) as TraceEventJson[])
      .filter((e) => e.cat === "region")
      .map((e) => `${e.ph} ${e.name}`);
    // Viewers order slices that begin together by file order (Perfetto) or
    // by duration (DevTools): the outer ones first in the file suits both.
    assert.deepEqual(regions, [
      "B outer",
      "B inner",
      "X innermost",
      "E inner",
      "X later",
      "E outer",
      "X alone",
    ]);
  });

  test("timestamps keep nanoseconds as microsecond decimals", () => {
    const { json } = exportBoth(new Uint8Array(readFileSync(WORKLOAD)));
    const t = parseTrace(new Uint8Array(readFileSync(WORKLOAD)));
    const events = JSON.parse(json) as (TraceEventJson & { dur?: number })[];
    // Region slices are written when they end: the first to begin is the earliest.
    const first = events
      .filter((e) => e.cat === "region" && (e.ph === "X" || e.ph === "B"))
      .reduce((a, e) => e.ts! < a.ts! ? e : a);
    assert.equal(first.ts! * 1000, t.regions[0].start);
    assert.equal(first.ph, "X");
    assert.equal(Math.round(first.dur! * 1000), t.regions[0].end! - t.regions[0].start);
  });
});

describe("the decoder's visitor path", { skip }, () => {
  /** One export, through `add` alone or through `add` plus the exporter's visitor. */
  function exportWith(bytes: Uint8Array, format: "chrome" | "perfetto", visitor: boolean) {
    const x = format === "chrome" ? new ChromeExporter() : new PerfettoExporter();
    return exportTrace(x, bytes, { visitor, chunk: 4093 });
  }

  test("exports byte for byte what the object path exports, in both formats", async () => {
    const path = join(tempDir(), "messages.trace");
    await trace.start(path, { runtime: false });
    const [ctx, task] = trace.newTask('naïve "quoted" task');
    trace.log(ctx, "q", 'quotes " and \\ backslashes, \n newline, \u0001 control');
    trace.log(ctx, "ü", "non-ASCII: 日本語 🍵 é");
    trace.log(ctx, "long", "x".repeat(5000));
    trace.log(ctx, "bad", "lone \uD800 surrogate");
    const outer = trace.startRegion(ctx, "outer");
    const inner = trace.startRegion(ctx, "inner");
    outer.end(); // misnested on purpose
    inner.end();
    trace.startRegion(ctx, "left open");
    task.end();
    trace.newTask("never ended");
    await trace.stop();
    const recorded = new Uint8Array(readFileSync(path));
    const fixture = new Uint8Array(
      readFileSync(fileURLToPath(new URL("./fixtures/workload.trace", import.meta.url))),
    );
    for (const bytes of [recorded, fixture]) {
      for (const format of ["chrome", "perfetto"] as const) {
        assert.deepEqual(
          exportWith(bytes, format, true),
          exportWith(bytes, format, false),
          `${format} differs between the visitor and the object path`,
        );
      }
    }
  });
});
