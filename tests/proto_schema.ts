/**
 * Protobuf output checked against official schemas: the vendored .proto
 * files (tests/schemas/, with their licences) loaded with protobufjs, a
 * dev-only tool installed into the tool cache (dev_tools.ts). Besides
 * protobufjs' decoding, {@linkcode strictFields} walks the wire format and
 * fails on any field number or wire type the schema does not define, which
 * protobufjs would skip silently.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type DevTool, devTool, toolRequire } from "./dev_tools.ts";

/** protobufjs, installed into the tool cache, or why it is not. */
export const protobufjs: DevTool = devTool("protobufjs", "protobufjs", "7.6.6");

// deno-lint-ignore no-explicit-any
export type PbType = any;

const here = (p: string) => new URL(p, import.meta.url).pathname;

/** Loads a vendored schema: `root` holds the .proto files, `files` the entries. */
export function loadSchema(root: string, files: string[]): { lookupType(name: string): PbType } {
  // deno-lint-ignore no-explicit-any
  const pb = toolRequire(protobufjs.dir!)("protobufjs") as any;
  const r = new pb.Root();
  const base = here(`./schemas/${root}/`);
  r.resolvePath = (_origin: string, target: string) =>
    target.startsWith("/") ? target : base + target;
  r.loadSync(files, { keepCase: false });
  r.resolveAll();
  return r;
}

/** Wire types by protobufjs field type; messages and enums are handled apart. */
const WIRE: Record<string, number> = {
  double: 1,
  fixed64: 1,
  sfixed64: 1,
  float: 5,
  fixed32: 5,
  sfixed32: 5,
  string: 2,
  bytes: 2,
};

/**
 * Walks `bytes` as a `type` message and asserts that every field is defined
 * by the schema with that wire type (packed repeated scalars as length-
 * delimited), recursing into nested messages. `at` names the place in errors.
 */
export function strictFields(type: PbType, bytes: Uint8Array, at: string): void {
  let p = 0;
  const varint = (): number => {
    let v = 0, m = 1;
    for (;;) {
      assert.ok(p < bytes.length, `${at}: a varint runs past the end`);
      const b = bytes[p++];
      v += (b & 0x7f) * m;
      if (b < 0x80) return v;
      m *= 128;
    }
  };
  while (p < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8), wire = key % 8;
    const f = type.fieldsById[field];
    assert.ok(f, `${at}: field ${field} is not in ${type.fullName}`);
    const where = `${at}.${f.name}`;
    const t = f.resolvedType;
    if (t && t.fields) {
      assert.equal(wire, 2, `${where}: a message needs wire type 2`);
      const n = varint();
      assert.ok(p + n <= bytes.length, `${where}: length past the end`);
      strictFields(t, bytes.subarray(p, p + n), where);
      p += n;
      continue;
    }
    const expect = t ? 0 : WIRE[f.type] ?? 0;
    if (wire === 2 && expect !== 2) {
      assert.ok(f.repeated, `${where}: length-delimited, but a scalar that is not repeated`);
    } else assert.equal(wire, expect, `${where}: wire type ${wire}, the schema says ${expect}`);
    if (wire === 0) varint();
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      // Not `p += varint()`: that reads p before varint() moves it.
      const n = varint();
      p += n;
    } else assert.fail(`${where}: wire type ${wire}`);
    assert.ok(p <= bytes.length, `${where}: past the end`);
  }
}

/** The decoded message as a plain object, 64-bit integers as numbers. */
export function plain(type: PbType, bytes: Uint8Array): Record<string, unknown> {
  return type.toObject(type.decode(bytes), { longs: Number, enums: Number, defaults: false });
}
