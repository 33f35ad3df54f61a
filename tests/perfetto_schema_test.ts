/**
 * The Perfetto export against Perfetto's own schema (perfetto_trace.proto,
 * vendored in tests/schemas/perfetto with its licence), for every fixture
 * and a trace with workers, counters, stalls and lost events: every packet
 * decodes, with no field the schema lacks; every track is described before
 * an event uses it; interned names resolve within their sequence; slices
 * balance per track; timestamps resolve through the sequence's clocks (an
 * incremental clock's deltas from its `ClockSnapshot`, or whole times on
 * `BOOTTIME`) and a slice never ends before it begins.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PerfettoExporter } from "../lib/export/perfetto.ts";
import { craftTrace } from "./craft_trace.ts";
import { exportTrace, runFile, tempDir } from "./helpers.ts";
import { loadSchema, type PbType, plain, protobufjs, strictFields } from "./proto_schema.ts";

const here = (p: string) => new URL(p, import.meta.url).pathname;

function perfettoExport(bytes: Uint8Array): Uint8Array {
  return exportTrace(new PerfettoExporter(), bytes);
}

/** The packets of a `Trace`: field 1, length-delimited, one after another. */
function packets(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  const varint = () => {
    let v = 0, m = 1;
    for (;;) {
      const b = bytes[p++];
      v += (b & 0x7f) * m;
      if (b < 0x80) return v;
      m *= 128;
    }
  };
  while (p < bytes.length) {
    assert.equal(varint(), 1 * 8 + 2, `Trace at byte ${p}: only packets (field 1)`);
    const n = varint();
    assert.ok(p + n <= bytes.length, "a packet runs past the end");
    out.push(bytes.subarray(p, p + n));
    p += n;
  }
  return out;
}

interface Interned {
  names: Map<number, string>;
  categories: Map<number, string>;
  annotations: Map<number, string>;
  /** `trace_packet_defaults.timestamp_clock_id`, if set. */
  clock?: number;
  /** Incremental clocks' last times, by clock id. */
  incremental: Map<number, number>;
}

const BOOTTIME = 6;

/** Checks one exported trace; returns what it saw, for the totals. */
function check(Packet: PbType, bytes: Uint8Array, src: string) {
  const described = new Set<number>();
  const open = new Map<number, number[]>();
  const seqs = new Map<number, Interned>();
  let slices = 0, deltas = 0, whole = 0;
  packets(bytes).forEach((raw, i) => {
    const at = `${src} packet ${i}`;
    strictFields(Packet, raw, at);
    // deno-lint-ignore no-explicit-any
    const pk = plain(Packet, raw) as any;
    const seq = pk.trustedPacketSequenceId ?? 0;
    const flags = pk.sequenceFlags ?? 0;
    if (flags & 1) {
      seqs.set(seq, {
        names: new Map(),
        categories: new Map(),
        annotations: new Map(),
        incremental: new Map(),
      });
    }
    const st = seqs.get(seq);
    if (pk.tracePacketDefaults) {
      assert.ok(st && flags & 1, `${at}: defaults outside a packet clearing the state`);
      st.clock = pk.tracePacketDefaults.timestampClockId;
    }
    if (pk.clockSnapshot) {
      assert.ok(st, `${at}: a clock snapshot before the sequence's state was cleared`);
      assert.equal(pk.clockSnapshot.primaryTraceClock, BOOTTIME, `${at}: the trace's clock`);
      for (const c of pk.clockSnapshot.clocks) {
        if (c.isIncremental) {
          assert.ok(
            c.clockId >= 64 && c.clockId < 128,
            `${at}: clock ${c.clockId} not a sequence's`,
          );
          st.incremental.set(c.clockId, Number(c.timestamp ?? 0));
        } else assert.equal(c.clockId, BOOTTIME, `${at}: clock ${c.clockId}`);
      }
    }
    if (pk.internedData) {
      assert.ok(st, `${at}: interned data before the sequence's state was cleared`);
      const d = pk.internedData;
      for (const e of d.eventNames ?? []) st.names.set(e.iid, e.name);
      for (const e of d.eventCategories ?? []) st.categories.set(e.iid, e.name);
      for (const e of d.debugAnnotationNames ?? []) st.annotations.set(e.iid, e.name);
    }
    const td = pk.trackDescriptor;
    if (td) {
      assert.ok(td.uuid > 0, `${at}: a track needs a uuid`);
      if (td.parentUuid !== undefined) {
        assert.ok(described.has(td.parentUuid), `${at}: parent track ${td.parentUuid} unknown`);
      }
      described.add(td.uuid);
    }
    const te = pk.trackEvent;
    if (!te) return;
    assert.ok(pk.timestamp !== undefined, `${at}: an event needs a timestamp`);
    assert.ok(st, `${at}: an event on a sequence whose state was never cleared`);
    let ts = Number(pk.timestamp);
    const clock = pk.timestampClockId ?? st.clock ?? BOOTTIME;
    if (clock === BOOTTIME) whole++;
    else {
      const last = st.incremental.get(clock);
      assert.ok(last !== undefined, `${at}: clock ${clock} has no snapshot in the sequence`);
      ts += last;
      st.incremental.set(clock, ts);
      deltas++;
    }
    assert.ok(Number.isSafeInteger(ts) && ts >= 0, `${at}: time ${ts}`);
    assert.ok(flags & 2, `${at}: an event using interned data needs SEQ_NEEDS_INCREMENTAL_STATE`);
    assert.ok(described.has(te.trackUuid), `${at}: track ${te.trackUuid} used before described`);
    if (te.nameIid !== undefined) {
      assert.ok(st.names.has(te.nameIid), `${at}: name iid ${te.nameIid} does not resolve`);
    }
    for (const c of te.categoryIids ?? []) {
      assert.ok(st.categories.has(c), `${at}: category iid ${c} does not resolve`);
    }
    for (const a of te.debugAnnotations ?? []) {
      assert.ok(st.annotations.has(a.nameIid), `${at}: annotation iid ${a.nameIid}`);
    }
    let stack = open.get(te.trackUuid);
    if (!stack) open.set(te.trackUuid, stack = []);
    if (te.type === 1) {
      assert.ok(te.nameIid !== undefined, `${at}: a slice begins without a name`);
      stack.push(ts);
      slices++;
    } else if (te.type === 2) {
      const begin = stack.pop();
      assert.ok(begin !== undefined, `${at}: a slice ends on track ${te.trackUuid} with none open`);
      assert.ok(ts >= begin, `${at}: a slice ends at ${ts}, before its beginning at ${begin}`);
    }
  });
  for (const [uuid, stack] of open) {
    assert.equal(stack.length, 0, `${src}: track ${uuid} ends with ${stack.length} slices open`);
  }
  return { slices, tracks: described.size, deltas, whole };
}

describe("the Perfetto export against perfetto_trace.proto", { skip: protobufjs.skip }, () => {
  test("every fixture and a trace with workers, counters, stalls and lost events", {
    timeout: 120_000,
  }, () => {
    const schema = loadSchema("perfetto", ["perfetto_trace.proto"]);
    const Packet = schema.lookupType("perfetto.protos.TracePacket");
    const sources = readdirSync(here("./fixtures"))
      .filter((f) => f.endsWith(".trace"))
      .map((f) => here(`./fixtures/${f}`));
    const rich = join(tempDir(), "rich.trace");
    const rec = runFile(here("./fixtures/rich.ts"), { args: [rich], timeoutMs: 60_000 });
    assert.equal(rec.status, 0, rec.stderr);
    sources.push(rich);
    let wholeTimes = 0;
    for (const src of sources) {
      const { slices, tracks, deltas, whole } = check(
        Packet,
        perfettoExport(new Uint8Array(readFileSync(src))),
        src,
      );
      assert.ok(slices > 0 && tracks > 3, `${src}: ${slices} slices on ${tracks} tracks`);
      assert.ok(deltas > whole, `${src}: ${deltas} times as deltas, ${whole} whole`);
      wholeTimes += whole;
    }
    // Runtime spans are written when they end: their beginnings come late.
    assert.ok(wholeTimes > 0, "no time earlier than the one before it was checked");
  });

  test("the checker catches a track used before it is described", () => {
    const schema = loadSchema("perfetto", ["perfetto_trace.proto"]);
    const Packet = schema.lookupType("perfetto.protos.TracePacket");
    const bytes = perfettoExport(new Uint8Array(readFileSync(here("./fixtures/cappuccino.trace"))));
    // Drop every track descriptor: the first event must then fail.
    const kept = packets(bytes).filter((p) => !plain(Packet, p).trackDescriptor);
    const framed = kept.flatMap((p) => [10, ...varintBytes(p.length), ...p]);
    assert.throws(() => check(Packet, new Uint8Array(framed), "cut"), /used before described/);
  });
});

describe("the Perfetto export's one-byte lengths", { skip: protobufjs.skip }, () => {
  test("messages of 127 bytes and more get longer lengths, and decode to what was logged", () => {
    const schema = loadSchema("perfetto", ["perfetto_trace.proto"]);
    const Packet = schema.lookupType("perfetto.protos.TracePacket");
    const sizes = [0, 1, 60, 100, 110, 120, 127, 128, 200, 5000, 20_000, 300_000];
    const messages = sizes.map((n, i) => String.fromCharCode(97 + i).repeat(n));
    // One ASCII and one non-ASCII of each: the fast and the general path.
    const all = messages.flatMap((m) => [m, m + "é"]);
    const bytes = craftTrace((w) => {
      let t = 1000;
      w.taskBegin(t++, 1, 0, "task");
      for (const m of all) w.log(t++, 1, "cat", m);
      w.taskEnd(t++, 1);
    });
    const out = perfettoExport(bytes);
    check(Packet, out, "long messages");
    const logged: string[] = [];
    for (const raw of packets(out)) {
      // deno-lint-ignore no-explicit-any
      const te = (plain(Packet, raw) as any).trackEvent;
      for (const a of te?.debugAnnotations ?? []) {
        if (a.stringValue !== undefined) logged.push(a.stringValue);
      }
    }
    assert.deepEqual(logged.map((m) => m.length), all.map((m) => m.length));
    assert.ok(logged.every((m, i) => m === all[i]), "a message changed");
  });

  test("the checker catches a sequence without its clock snapshot", () => {
    const schema = loadSchema("perfetto", ["perfetto_trace.proto"]);
    const Packet = schema.lookupType("perfetto.protos.TracePacket");
    const bytes = perfettoExport(new Uint8Array(readFileSync(here("./fixtures/cappuccino.trace"))));
    const kept = packets(bytes).filter((p) => !plain(Packet, p).clockSnapshot);
    const framed = kept.flatMap((p) => [10, ...varintBytes(p.length), ...p]);
    assert.throws(() => check(Packet, new Uint8Array(framed), "cut"), /has no snapshot/);
  });
});

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
