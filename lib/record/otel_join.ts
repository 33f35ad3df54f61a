/**
 * Joining OpenTelemetry where it already runs: the W3C `traceparent` of the
 * span active now, read through OpenTelemetry's global registration (what
 * `@opentelemetry/api` registers, and Deno's built-in OpenTelemetry with
 * `OTEL_DENO=true`), without importing any OpenTelemetry package.
 *
 * @module
 */

/** Where `@opentelemetry/api` (major version 1) keeps its registered globals. */
const API = Symbol.for("opentelemetry.js.api.1");
/** The context key of the active span (`createContextKey` is `Symbol.for`). */
const SPAN = Symbol.for("OpenTelemetry Context Key SPAN");

interface SpanContext {
  traceId?: unknown;
  spanId?: unknown;
  traceFlags?: unknown;
}

/** The part of OpenTelemetry's registered API read here; any part may be missing. */
interface OtelGlobals {
  context?: {
    active?(): { getValue?(key: symbol): { spanContext?(): SpanContext } | undefined };
  };
}

/**
 * The `traceparent` (`00-<trace id>-<span id>-<flags>`) of the OpenTelemetry
 * span active in the current async context, or undefined when no
 * OpenTelemetry API is registered, none is active, or its ids are invalid.
 * Never throws. When nothing is registered this is one property read.
 *
 * @example
 * ```ts
 * import { activeTraceparent } from "./otel_join.ts";
 * activeTraceparent(); // undefined without OpenTelemetry
 * ```
 */
export function activeTraceparent(): string | undefined {
  const api = (globalThis as { [API]?: OtelGlobals })[API];
  if (api === undefined) return undefined;
  try {
    const sc = api.context?.active?.()?.getValue?.(SPAN)?.spanContext?.();
    if (!sc) return undefined;
    const { traceId, spanId, traceFlags } = sc;
    if (typeof traceId !== "string" || !/^[0-9a-f]{32}$/.test(traceId) || /^0+$/.test(traceId)) {
      return undefined;
    }
    if (typeof spanId !== "string" || !/^[0-9a-f]{16}$/.test(spanId) || /^0+$/.test(spanId)) {
      return undefined;
    }
    const flags = typeof traceFlags === "number" ? traceFlags & 0xff : 0;
    return `00-${traceId}-${spanId}-${flags.toString(16).padStart(2, "0")}`;
  } catch {
    // A broken registration must not reach the app.
    return undefined;
  }
}
