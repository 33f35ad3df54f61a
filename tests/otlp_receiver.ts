/**
 * OTLP requests decoded with OpenTelemetry's official protobuf schemas
 * (tests/schemas/otlp), and a loopback OTLP/HTTP receiver (127.0.0.1) that
 * decodes what it is sent: shared by the export, push and live-export tests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { gunzipSync } from "node:zlib";
import { concat } from "./helpers.ts";
import { loadSchema, type PbType, strictFields } from "./proto_schema.ts";

// deno-lint-ignore no-explicit-any
export type Json = any;

export let Request: PbType;
let schema: { lookupType(name: string): PbType };
export function types() {
  schema ??= loadSchema("otlp", ["opentelemetry/proto/collector/trace/v1/trace_service.proto"]);
  Request ??= schema.lookupType(
    "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
  );
  return { Request, schema };
}

export const hex = (b: Uint8Array | undefined) =>
  b ? [...b].map((x) => x.toString(16).padStart(2, "0")).join("") : "";

/** The spans of a decoded request, ids as hex, times as bigints. */
export function spansOf(req: Json) {
  const out: Json[] = [];
  for (const rs of req.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({ ...s, resource: rs.resource, scope: ss.scope });
      }
    }
  }
  return out;
}

/** Decodes a protobuf request strictly; spans with hex ids. */
export function decodeRequest(bytes: Uint8Array, at: string) {
  const { Request } = types();
  strictFields(Request, bytes, at);
  const req = Request.toObject(Request.decode(bytes), {
    longs: String,
    enums: Number,
    bytes: Array,
    defaults: false,
  });
  return spansOf(req).map((s: Json) => ({
    ...s,
    traceId: hex(new Uint8Array(s.traceId)),
    spanId: hex(new Uint8Array(s.spanId)),
    parentSpanId: s.parentSpanId ? hex(new Uint8Array(s.parentSpanId)) : undefined,
  }));
}

export interface Received {
  headers: IncomingMessage["headers"];
  raw: Uint8Array;
  spans: Json[];
}

export type Answer = (req: IncomingMessage, res: ServerResponse, n: number) => boolean;

export class Receiver {
  server!: Server;
  url = "";
  received: Received[] = [];
  attempts = 0;
  /** Answers a request itself when it returns true; else 200 after decoding. */
  answer: Answer = () => false;

  private started?: Promise<void>;

  /** Starts the server once; every test awaits it (hooks differ between runtimes). */
  ready(): Promise<void> {
    return this.started ??= this.start();
  }

  private async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const n = ++this.attempts;
      const chunks: Uint8Array[] = [];
      req.on("data", (c: Uint8Array) => chunks.push(new Uint8Array(c)));
      req.on("end", () => {
        if (this.answer(req, res, n)) return;
        try {
          let raw = concat(chunks);
          if (req.headers["content-encoding"] === "gzip") raw = new Uint8Array(gunzipSync(raw));
          const spans = decodeRequest(raw, `request ${n}`);
          this.received.push({ headers: req.headers, raw, spans });
          res.writeHead(200, { "content-type": "application/x-protobuf" });
          res.end();
        } catch (e) {
          // A request the schema rejects fails the push, with the reason.
          res.writeHead(400, { "content-type": "text/plain" });
          res.end(String(e).split("\n")[0]);
        }
      });
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    const a = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${a.port}`;
  }

  async reset(answer: Answer = () => false): Promise<void> {
    await this.ready();
    this.received = [];
    this.attempts = 0;
    this.answer = answer;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections?.();
    await new Promise((r) => this.server.close(r));
  }
}

/** The URL of a port on 127.0.0.1 that was just free and is closed: nothing answers there. */
export async function closedPortUrl(): Promise<string> {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
  const port = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r));
  return `http://127.0.0.1:${port}`;
}
