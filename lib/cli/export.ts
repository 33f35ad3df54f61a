/**
 * `runtrace export FILE [-o OUT] [--format chrome|perfetto|otlp|otlp-json|otlp-metrics]`:
 * the trace for the viewers and tracing backends people already use,
 * converted as a stream.
 *
 * @module
 */

import { ChromeExporter } from "../export/chrome.ts";
import { type LayoutReport, layoutWarnings } from "../export/layout.ts";
import { PerfettoExporter } from "../export/perfetto.ts";
import { VIEWS_KEPT } from "../export/chunk_buffer.ts";
import { OtlpExporter, type OtlpReport } from "../export/otlp.ts";
import { OtlpMetricsExporter, type OtlpMetricsReport } from "../export/otlp_metrics.ts";
import process from "node:process";
import { resourceFromEnv } from "../export/otel_env.ts";
import type { EventVisitor, TraceEvent } from "../format/decoder.ts";
import { parseArgs, traceArg } from "./flags.ts";
import { CliError, type CliIO, type CliOutput, fileOutput } from "./io.ts";
import { finishCommand, streamTrace } from "./read.ts";
import { WriteQueue } from "./write_queue.ts";

/** Usage line of the command. */
export const EXPORT_USAGE =
  "runtrace export FILE [-o OUT] [--format chrome|perfetto|otlp|otlp-json|otlp-metrics] [--service-name S] [--json]";

const BINARY = new Set(["perfetto", "otlp", "otlp-metrics"]);

interface Exporter {
  add: (e: TraceEvent) => void;
  /** The decoder's fast path for the frequent kinds, if the format has one. */
  readonly visitor: EventVisitor | undefined;
  /** Output since the last call, valid while one of the latest `VIEWS_KEPT` views. */
  takeView(): Uint8Array;
  readonly events: number;
  readonly report: LayoutReport | OtlpReport | OtlpMetricsReport;
}

/** The exporter of a format. */
function exporterFor(format: string, flags: Record<string, unknown>): Exporter {
  if (format === "perfetto") return new PerfettoExporter();
  if (format === "otlp-metrics") {
    return new OtlpMetricsExporter(resourceFromEnv(process.env, {
      serviceName: flags["service-name"] as string | undefined,
      serviceVersion: flags["service-version"] as string | undefined,
    }));
  }
  if (format === "otlp" || format === "otlp-json") {
    return new OtlpExporter({
      encoding: format === "otlp" ? "protobuf" : "json",
      ...resourceFromEnv(process.env, {
        serviceName: flags["service-name"] as string | undefined,
        serviceVersion: flags["service-version"] as string | undefined,
      }),
    });
  }
  return new ChromeExporter();
}

/** Runs `runtrace export`; returns the exit status. */
export async function exportCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("export", args, {
    out: { kind: "string", short: "o" },
    format: {
      kind: "string",
      choices: ["chrome", "perfetto", "otlp", "otlp-json", "otlp-metrics"],
    },
    "service-name": { kind: "string" },
    "service-version": { kind: "string" },
    json: { kind: "boolean" },
  });
  const path = traceArg("export", positional);
  const format = (flags.format as string | undefined) ?? "chrome";
  const outPath = flags.out as string | undefined;
  if (BINARY.has(format) && (outPath === undefined || outPath === "-") && io.stdoutIsTTY) {
    throw new CliError(
      `refusing to write the binary ${format} format to a terminal: use -o FILE or a pipe`,
      2,
    );
  }
  const exporter = exporterFor(format, flags);
  const file = outPath === undefined || outPath === "-" ? undefined : await fileOutput(outPath);
  const out: CliOutput = file ?? io.stdout;
  // Writes in flight while the next chunks are converted: the runtime's I/O
  // threads copy them out meanwhile. `takeView` keeps its latest VIEWS_KEPT
  // views valid, so that many writes may be in flight when the output
  // allows it; `room` before each `takeView` waits for the write of the view
  // whose memory it reuses.
  const queue = new WriteQueue(out, Math.min(out.maxInFlight ?? 1, VIEWS_KEPT));
  const flush = async () => {
    await queue.room();
    queue.start(exporter.takeView());
  };
  let end;
  try {
    // The frequent events go to the exporter's visitor, without an object each.
    end = await streamTrace(path, io, exporter.add, {
      visitor: exporter.visitor,
      label: "exporting",
      afterChunk: flush,
    });
    await flush();
    await queue.drain();
  } finally {
    // On an error, let the writes in flight finish before closing the file.
    await queue.settle();
    await file?.close();
  }
  const summary = {
    format,
    output: outPath ?? "-",
    inputEvents: end.events,
    outputEvents: exporter.events,
    ...exporter.report,
  };
  // With the export on standard output, the summary goes to standard error.
  const report = file ? io.stdout : io.stderr;
  if (flags.json) await report.write(JSON.stringify(summary) + "\n");
  else if (file) {
    await report.write(
      `${outPath}: ${exporter.events} ${
        format === "otlp-metrics"
          ? "data points"
          : format.startsWith("otlp")
          ? "spans"
          : `${format} events`
      } from ${end.events} trace events\n`,
    );
  }
  const r = exporter.report;
  const notes = ("tracks" in r ? layoutWarnings(r) : "spans" in r ? otlpWarnings(r) : []).map((w) =>
    `runtrace: note: ${w}`
  );
  return await finishCommand(io, path, end, notes);
}

/** Notes about an OTLP export, one line each. */
function otlpWarnings(r: OtlpReport): string[] {
  const out: string[] = [];
  if (r.openAtEnd > 0) {
    out.push(`${r.openAtEnd} spans had not ended; they end at the end of the trace`);
  }
  if (r.droppedEvents > 0) {
    out.push(`${r.droppedEvents} span events beyond 128 per span were left out (counted)`);
  }
  if (r.orphanRegionEnds > 0) {
    out.push(`${r.orphanRegionEnds} region ends had no beginning in the trace and were skipped`);
  }
  return out;
}
