/**
 * OpenTelemetry's standard environment variables, as `runtrace export
 * --format otlp` and `runtrace push` read them: `OTEL_SERVICE_NAME`,
 * `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`,
 * `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT`,
 * `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`.
 *
 * @module
 */

import type { OtlpResource } from "./otlp.ts";

/** The environment, as a plain record (for tests: any record). */
export type Env = Record<string, string | undefined>;

/** OTLP/HTTP's default endpoint. */
export const DEFAULT_ENDPOINT = "http://localhost:4318";

/**
 * Parses a `k1=v1,k2=v2` list (W3C Baggage-like, values percent-encoded),
 * as `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS` are written.
 * Malformed entries are skipped, as the specification says.
 *
 * @example
 * ```ts
 * import { parseKeyValues } from "./otel_env.ts";
 * parseKeyValues("a=1,b=x%20y"); // { a: "1", b: "x y" }
 * ```
 */
export function parseKeyValues(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? "").split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    try {
      if (key) out[key] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // A malformed escape: the entry is skipped.
    }
  }
  return out;
}

/**
 * The resource from the environment, flags winning: `service.name` from
 * `serviceName`, else `OTEL_SERVICE_NAME`, else `service.name` in
 * `OTEL_RESOURCE_ATTRIBUTES`; the other attributes from the latter.
 *
 * @example
 * ```ts
 * import { resourceFromEnv } from "./otel_env.ts";
 * resourceFromEnv({ OTEL_SERVICE_NAME: "checkout" }).serviceName; // "checkout"
 * ```
 */
export function resourceFromEnv(env: Env, flags: OtlpResource = {}): OtlpResource {
  const attributes = parseKeyValues(env.OTEL_RESOURCE_ATTRIBUTES);
  const serviceName = flags.serviceName || env.OTEL_SERVICE_NAME || attributes["service.name"];
  const serviceVersion = flags.serviceVersion || attributes["service.version"];
  const hostName = flags.hostName || attributes["host.name"];
  return { serviceName, serviceVersion, hostName, attributes };
}

/**
 * The URL spans are POSTed to: `endpoint` (a flag) plus `/v1/traces`, else
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, else
 * `OTEL_EXPORTER_OTLP_ENDPOINT` plus `/v1/traces`, else
 * `http://localhost:4318/v1/traces`.
 *
 * @example
 * ```ts
 * import { tracesUrl } from "./otel_env.ts";
 * tracesUrl({}, "http://collector:4318/"); // "http://collector:4318/v1/traces"
 * ```
 */
export function tracesUrl(env: Env, endpoint?: string): string {
  const join = (base: string) => base.replace(/\/+$/, "") + "/v1/traces";
  if (endpoint) return join(endpoint);
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  return join(env.OTEL_EXPORTER_OTLP_ENDPOINT || DEFAULT_ENDPOINT);
}

/** Headers from `OTEL_EXPORTER_OTLP_HEADERS` and `…_TRACES_HEADERS`, then `K=V` flags. */
export function headersFromEnv(env: Env, flags: readonly string[] = []): Record<string, string> {
  const out = {
    ...parseKeyValues(env.OTEL_EXPORTER_OTLP_HEADERS),
    ...parseKeyValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
  };
  for (const f of flags) {
    const eq = f.indexOf("=");
    if (eq <= 0) throw new TypeError(`--header needs K=V, not "${f}"`);
    out[f.slice(0, eq).trim()] = f.slice(eq + 1).trim();
  }
  return out;
}

/**
 * The per-request time limit, ms, from `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`
 * or `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds), if set to a number.
 *
 * @example
 * ```ts
 * import { timeoutFromEnv } from "./otel_env.ts";
 * timeoutFromEnv({ OTEL_EXPORTER_OTLP_TIMEOUT: "2500" }); // 2500
 * ```
 */
export function timeoutFromEnv(env: Env): number | undefined {
  const v = env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT;
  const n = Number(v);
  return v !== undefined && v.trim() !== "" && Number.isFinite(n) && n > 0 ? n : undefined;
}

/**
 * Whether to gzip: not when `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` (or
 * `OTEL_EXPORTER_OTLP_COMPRESSION`) is `none`; gzip otherwise.
 *
 * @example
 * ```ts
 * import { gzipFromEnv } from "./otel_env.ts";
 * gzipFromEnv({ OTEL_EXPORTER_OTLP_COMPRESSION: "none" }); // false
 * ```
 */
export function gzipFromEnv(env: Env): boolean {
  return compressionFromEnv(env) !== "none";
}

/**
 * What `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` (or
 * `OTEL_EXPORTER_OTLP_COMPRESSION`) asks for: `gzip`, `none`, or undefined
 * when unset (or another value).
 *
 * @example
 * ```ts
 * import { compressionFromEnv } from "./otel_env.ts";
 * compressionFromEnv({ OTEL_EXPORTER_OTLP_COMPRESSION: "gzip" }); // "gzip"
 * compressionFromEnv({}); // undefined
 * ```
 */
export function compressionFromEnv(env: Env): "gzip" | "none" | undefined {
  const v = (env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION ?? env.OTEL_EXPORTER_OTLP_COMPRESSION)
    ?.trim().toLowerCase();
  return v === "gzip" || v === "none" ? v : undefined;
}

/**
 * Whether `url` is on this host's loopback (`localhost`, 127.0.0.0/8,
 * `[::1]`): a Collector beside the program.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./otel_env.ts";
 * isLoopback("http://127.0.0.1:4318/v1/traces"); // true
 * ```
 */
export function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
