/**
 * The Perfetto export against Perfetto's own schema (perfetto_trace.proto,
 * vendored in tests/schemas/perfetto with its licence), for every fixture
 * and a trace with workers, counters, stalls and lost events: every packet
 * decodes, with no field the schema lacks; every track is described before
 * an event uses it; interned names resolve within their sequence; slices
 * balance per track.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PerfettoExporter } from "../lib/export/perfetto.ts";
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
}

/** Checks one exported trace; returns what it saw, for the totals. */
function check(Packet: PbType, bytes: Uint8Array, src: string) {
  const described = new Set<number>();
  const open = new Map<number, number>();
  const seqs = new Map<number, Interned>();
  let slices = 0;
  packets(bytes).forEach((raw, i) => {
    const at = `${src} packet ${i}`;
    strictFields(Packet, raw, at);
    // deno-lint-ignore no-explicit-any
    const pk = plain(Packet, raw) as any;
    const seq = pk.trustedPacketSequenceId ?? 0;
    const flags = pk.sequenceFlags ?? 0;
    if (flags & 1) {
      seqs.set(seq, { names: new Map(), categories: new Map(), annotations: new Map() });
    }
    const st = seqs.get(seq);
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
    const depth = open.get(te.trackUuid) ?? 0;
    if (te.type === 1) {
      assert.ok(te.nameIid !== undefined, `${at}: a slice begins without a name`);
      open.set(te.trackUuid, depth + 1);
      slices++;
    } else if (te.type === 2) {
      assert.ok(depth > 0, `${at}: a slice ends on track ${te.trackUuid} with none open`);
      open.set(te.trackUuid, depth - 1);
    }
  });
  for (const [uuid, depth] of open) {
    assert.equal(depth, 0, `${src}: track ${uuid} ends with ${depth} slices open`);
  }
  return { slices, tracks: described.size };
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
    for (const src of sources) {
      const { slices, tracks } = check(
        Packet,
        perfettoExport(new Uint8Array(readFileSync(src))),
        src,
      );
      assert.ok(slices > 0 && tracks > 3, `${src}: ${slices} slices on ${tracks} tracks`);
    }
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

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
