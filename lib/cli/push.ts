/**
 * `runtrace push FILE [--endpoint URL] [--header K=V]…`: sends a trace's
 * spans to an OTLP/HTTP receiver (an OpenTelemetry Collector, Jaeger,
 * Tempo), in batches, as the trace is read: memory stays bounded by a chunk
 * of input and the batches it makes.
 *
 * @module
 */

import process from "node:process";
import { OtlpExporter } from "../export/otlp.ts";
import { OtlpHttpSender, OtlpSendError } from "../export/otlp_http.ts";
import { parseArgs, traceArg } from "./flags.ts";
import { CliError, type CliIO } from "./io.ts";
import {
  gzipFromEnv,
  headersFromEnv,
  resourceFromEnv,
  timeoutFromEnv,
  tracesUrl,
} from "../export/otel_env.ts";
import { finishCommand, streamTrace } from "./read.ts";

/** Usage line of the command. */
export const PUSH_USAGE =
  "runtrace push FILE [--endpoint URL] [--header K=V]... [--service-name S] [--timeout 10s] [--retries 5] [--json]";

/** Runs `runtrace push`; returns the exit status. */
export async function pushCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("push", args, {
    endpoint: { kind: "string" },
    header: { kind: "string", repeat: true },
    "service-name": { kind: "string" },
    "service-version": { kind: "string" },
    timeout: { kind: "duration" },
    retries: { kind: "integer" },
    "batch-spans": { kind: "integer" },
    json: { kind: "boolean" },
  });
  const path = traceArg("push", positional);
  const env = process.env;
  const url = tracesUrl(env, flags.endpoint as string | undefined);
  if (!/^https?:\/\//.test(url)) {
    throw new CliError(`the endpoint must be an http:// or https:// URL, not "${url}"`, 2);
  }
  let headers;
  try {
    headers = headersFromEnv(env, (flags.header ?? []) as string[]);
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
  const sender = new OtlpHttpSender({
    url,
    headers,
    timeoutMs: flags.timeout === undefined ? timeoutFromEnv(env) : (flags.timeout as number) / 1e6,
    retries: flags.retries as number | undefined,
    gzip: gzipFromEnv(env),
  });
  const queue: { bytes: Uint8Array; spans: number }[] = [];
  const exporter = new OtlpExporter({
    ...resourceFromEnv(env, {
      serviceName: flags["service-name"] as string | undefined,
      serviceVersion: flags["service-version"] as string | undefined,
    }),
    maxBatchSpans: flags["batch-spans"] as number | undefined,
    // The batch's memory is reused for the next one: keep a copy.
    onBatch: (bytes, spans) => queue.push({ bytes: bytes.slice(), spans }),
  });
  const sent = { spans: 0, requests: 0, bytes: 0, rejected: 0, retried: 0 };
  const progress = async () => {
    if (!io.stderrIsTTY) return;
    await io.stderr.write(
      `\r\x1b[Kruntrace: pushed ${sent.spans} spans in ${sent.requests} requests to ${url}`,
    );
  };
  const drain = async () => {
    while (queue.length > 0) {
      const b = queue.shift()!;
      let r;
      try {
        r = await sender.send(b.bytes);
      } catch (e) {
        if (e instanceof OtlpSendError) {
          throw new CliError(
            `push failed after ${sent.spans} spans in ${sent.requests} requests: ${e.message}`,
          );
        }
        throw e;
      }
      sent.spans += b.spans;
      sent.requests++;
      sent.bytes += b.bytes.length;
      sent.rejected += r.rejected;
      sent.retried += r.attempts - 1;
      if (r.rejected > 0) {
        await io.stderr.write(
          `runtrace: warning: the receiver rejected ${r.rejected} spans${
            r.message ? `: ${r.message}` : ""
          }\n`,
        );
      }
      await progress();
    }
  };
  const end = await streamTrace(path, io, exporter.add, { label: "pushing", afterChunk: drain });
  await drain();
  if (io.stderrIsTTY) await io.stderr.write("\r\x1b[K");
  const summary = { endpoint: url, inputEvents: end.events, ...sent, ...exporter.report };
  if (flags.json) await io.stdout.write(JSON.stringify(summary) + "\n");
  else {
    await io.stdout.write(
      `pushed ${sent.spans} spans in ${sent.requests} requests to ${url}` +
        (sent.retried > 0 ? ` (${sent.retried} retries)` : "") + "\n",
    );
  }
  const notes = exporter.report.openAtEnd > 0
    ? [
      `runtrace: note: ${exporter.report.openAtEnd} spans had not ended; they end at the end of the trace`,
    ]
    : [];
  return await finishCommand(io, path, end, notes);
}
