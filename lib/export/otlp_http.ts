/**
 * Sends OTLP requests to an OTLP/HTTP receiver: `POST` protobuf, gzipped
 * (zlib's fastest level), retrying what the OTLP specification calls
 * retryable (429, 502, 503, 504, and a connection that fails or times out)
 * with exponential backoff, honouring `Retry-After`. Every attempt has a
 * time limit, so a receiver that never answers costs bounded time.
 *
 * @module
 */

import { gzipSync } from "node:zlib";

/** Options of {@linkcode OtlpHttpSender}. */
export interface OtlpHttpOptions {
  /** The full URL, e.g. `http://localhost:4318/v1/traces`. */
  url: string;
  /** Extra request headers (authentication, tenant). */
  headers?: Record<string, string>;
  /** Time limit of one attempt, ms (default 10 000). */
  timeoutMs?: number;
  /** Attempts after the first for a retryable failure (default 5). */
  retries?: number;
  /** First backoff, ms, doubled per retry up to 30 s (default 500). */
  backoffMs?: number;
  /** Gzip the body (default true). */
  gzip?: boolean;
  /** The fetch to use (default `globalThis.fetch`). */
  fetch?: typeof fetch;
}

/** A failure to deliver, with what the receiver said. */
export class OtlpSendError extends Error {
  /** The HTTP status, or 0 when no response came. */
  status: number;
  /** Makes an error. */
  constructor(message: string, status: number) {
    super(message);
    this.name = "OtlpSendError";
    this.status = status;
  }
}

/** What a delivered request's response said. */
export interface OtlpSendResult {
  /** Attempts it took. */
  attempts: number;
  /** Spans the receiver rejected (partial success), with its message. */
  rejected: number;
  /** The receiver's message about them. */
  message: string;
}

const RETRYABLE = new Set([429, 502, 503, 504]);
const MAX_BACKOFF = 30_000;

/**
 * `bytes` gzipped at zlib's fastest level. Level 1 costs a fifth of the
 * default level's time (and of `CompressionStream`'s) on OTLP spans and
 * gives 4.3 times smaller requests instead of 5.1: the live export gzips in
 * the drain worker, whose CPU the traced program shares.
 */
export function gzip(bytes: Uint8Array): Uint8Array {
  return gzipSync(bytes, { level: 1 });
}

/** Reads a protobuf varint at `p`; returns [value, next]. */
function varint(b: Uint8Array, p: number): [number, number] {
  let v = 0, m = 1;
  while (p < b.length) {
    const x = b[p++];
    v += (x & 0x7f) * m;
    if (x < 0x80) break;
    m *= 128;
  }
  return [v, p];
}

/** The fields of one protobuf message: number → varint value or bytes. */
function fields(b: Uint8Array): Map<number, number | Uint8Array> {
  const out = new Map<number, number | Uint8Array>();
  let p = 0;
  while (p < b.length) {
    let key, v;
    [key, p] = varint(b, p);
    const wire = key & 7, field = Math.floor(key / 8);
    if (wire === 0) {
      [v, p] = varint(b, p);
      out.set(field, v);
    } else if (wire === 2) {
      [v, p] = varint(b, p);
      out.set(field, b.subarray(p, p + v));
      p += v;
    } else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else break;
  }
  return out;
}

/**
 * The receiver's message in an error body: a `google.rpc.Status` (protobuf,
 * `message` is field 2), JSON with `message`, or text; one line, at most
 * 300 characters, control characters replaced.
 */
function bodyMessage(body: Uint8Array, type: string): string {
  let text = "";
  if (type.includes("protobuf")) {
    const m = fields(body).get(2);
    if (m instanceof Uint8Array) text = new TextDecoder().decode(m);
  }
  if (!text) {
    text = new TextDecoder().decode(body);
    try {
      const j = JSON.parse(text);
      if (typeof j?.message === "string") text = j.message;
    } catch {
      // Not JSON: the text as it is.
    }
  }
  // deno-lint-ignore no-control-regex
  text = text.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
  return text.length > 300 ? text.slice(0, 300) + "…" : text;
}

/** How long `Retry-After` asks to wait, ms, if it says. */
function retryAfter(h: string | null): number | undefined {
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(h);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * Posts OTLP `ExportTraceServiceRequest`s (protobuf) to a receiver.
 *
 * @example
 * ```ts
 * import { OtlpHttpSender } from "./otlp_http.ts";
 * const sender = new OtlpHttpSender({ url: "http://localhost:4318/v1/traces" });
 * declare const request: Uint8Array; // an ExportTraceServiceRequest
 * await sender.send(request);
 * ```
 */
export class OtlpHttpSender {
  private o: Required<Omit<OtlpHttpOptions, "fetch">> & { fetch: typeof fetch };

  /** Makes a sender; see {@linkcode OtlpHttpOptions}. */
  constructor(options: OtlpHttpOptions) {
    this.o = {
      url: options.url,
      headers: options.headers ?? {},
      timeoutMs: options.timeoutMs ?? 10_000,
      retries: options.retries ?? 5,
      backoffMs: options.backoffMs ?? 500,
      gzip: options.gzip ?? true,
      fetch: options.fetch ?? globalThis.fetch,
    };
  }

  /**
   * Sends one request; resolves when the receiver accepted it, or rejects
   * with an {@linkcode OtlpSendError} saying why not: a status that is not
   * retryable (with the receiver's message), retries used up, or `signal`
   * aborted (no more attempts then).
   */
  async send(request: Uint8Array, signal?: AbortSignal): Promise<OtlpSendResult> {
    const o = this.o;
    const body = o.gzip ? gzip(request) : request;
    const headers: Record<string, string> = {
      ...o.headers,
      "content-type": "application/x-protobuf",
    };
    if (o.gzip) headers["content-encoding"] = "gzip";
    let wait = o.backoffMs;
    for (let attempt = 1;; attempt++) {
      let failure: OtlpSendError;
      let asked: number | undefined;
      try {
        const res = await o.fetch(o.url, {
          method: "POST",
          headers,
          body: body as Uint8Array<ArrayBuffer>,
          signal: signal
            ? AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)])
            : AbortSignal.timeout(o.timeoutMs),
        });
        const answer = new Uint8Array(await res.arrayBuffer());
        const type = res.headers.get("content-type") ?? "";
        if (res.ok) return { attempts: attempt, ...partialSuccess(answer, type) };
        const said = bodyMessage(answer, type);
        failure = new OtlpSendError(
          `${o.url} answered ${res.status}${said ? `: ${said}` : ""}`,
          res.status,
        );
        if (!RETRYABLE.has(res.status)) throw failure;
        asked = retryAfter(res.headers.get("retry-after"));
      } catch (e) {
        if (e instanceof OtlpSendError && !RETRYABLE.has(e.status)) throw e;
        failure = e instanceof OtlpSendError ? e : new OtlpSendError(
          (e as Error)?.name === "TimeoutError"
            ? `${o.url} did not answer within ${o.timeoutMs} ms`
            : `cannot reach ${o.url}: ${(e as Error)?.message ?? e}`,
          0,
        );
      }
      if (attempt > o.retries || signal?.aborted) {
        failure.message += ` (gave up after ${attempt} attempts)`;
        throw failure;
      }
      await pause(Math.min(asked ?? wait, MAX_BACKOFF), signal);
      if (signal?.aborted) throw failure;
      wait = Math.min(wait * 2, MAX_BACKOFF);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` is aborted. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

/** `ExportTraceServiceResponse.partial_success` (field 1: rejected_spans 1, error_message 2). */
function partialSuccess(body: Uint8Array, type: string): { rejected: number; message: string } {
  if (body.length === 0) return { rejected: 0, message: "" };
  if (type.includes("json")) {
    try {
      const j = JSON.parse(new TextDecoder().decode(body));
      return {
        rejected: Number(j?.partialSuccess?.rejectedSpans ?? 0),
        message: String(j?.partialSuccess?.errorMessage ?? ""),
      };
    } catch {
      return { rejected: 0, message: "" };
    }
  }
  const ps = fields(body).get(1);
  if (!(ps instanceof Uint8Array)) return { rejected: 0, message: "" };
  const f = fields(ps);
  const m = f.get(2);
  return {
    rejected: typeof f.get(1) === "number" ? f.get(1) as number : 0,
    message: m instanceof Uint8Array ? new TextDecoder().decode(m) : "",
  };
}
