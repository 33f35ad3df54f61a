/**
 * Export of a trace's counters (the runtime's heap, memory and event-loop
 * utilisation samples, and the program's own) as OpenTelemetry metrics: an
 * OTLP/protobuf `ExportMetricsServiceRequest` in which each counter is a
 * gauge named as in the trace, each sample a data point with its time and
 * `thread.id`. As a stream: data points are held until 4096 of them make a
 * batch (one `ResourceMetrics`), so memory stays bounded on any trace; the
 * batches concatenated are one request, as OTLP's repeated fields allow.
 *
 * The fields written (opentelemetry/proto/…, v1):
 * - `ExportMetricsServiceRequest`: resource_metrics 1
 * - `ResourceMetrics`: resource 1, scope_metrics 2; `ScopeMetrics`: scope 1, metrics 2
 * - `Metric`: name 1, unit 3, gauge 5; `Gauge`: data_points 1
 * - `NumberDataPoint`: attributes 7, time_unix_nano 3, as_double 4
 *
 * @module
 */

import type { EventVisitor, TraceEvent, TraceHeader } from "../format/decoder.ts";
import { ChunkBuffer } from "./chunk_buffer.ts";
import {
  attrProto,
  EpochClock,
  type OtlpResource,
  resourceAttrs,
  SCOPE,
  Utf8Cache,
} from "./otlp.ts";
import { ProtoWriter } from "./protobuf_writer.ts";
import { capName } from "./name_cap.ts";

/** Data points per batch. */
const BATCH_POINTS = 4096;
/** The visitor's methods for the kinds without metrics. */
const none = () => {};

/** UCUM units of the runtime's counters; others have none. */
const UNITS: Record<string, string> = {
  "heap.used": "By",
  "heap.total": "By",
  "memory.external": "By",
  "memory.rss": "By",
  "eventloop.utilization": "1",
};

/** What the metrics export reports. */
export interface OtlpMetricsReport {
  /** Data points written. */
  points: number;
  /** Distinct metrics (counter names). */
  metrics: number;
  /** The trace was cut short. */
  truncated: boolean;
  /** Events the recorder lost. */
  lost: number;
}

/** One metric's points of the open batch. */
interface Series {
  times: number[];
  values: number[];
  threads: number[];
}

/**
 * Streams a trace's counters out as OTLP metrics (protobuf). Feed it every
 * event with `add`; after each chunk of input, `takeView()` the output so
 * far; once more after the `end` event.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { OtlpMetricsExporter } from "./otlp_metrics.ts";
 * const x = new OtlpMetricsExporter({ serviceName: "checkout" });
 * const d = new TraceDecoder(x.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * await Deno.writeFile("metrics.otlp.pb", x.takeView());
 * ```
 */
export class OtlpMetricsExporter {
  /**
   * The decoder's fast path for the frequent kinds, none of which is a
   * metric: they pass without an event object each. Counters come as events.
   */
  readonly visitor: EventVisitor = {
    taskBegin: none,
    taskEnd: none,
    regionBegin: none,
    regionEnd: none,
    log: none,
  };
  /** What was exported; complete after the `end` event. */
  report: OtlpMetricsReport = { points: 0, metrics: 0, truncated: false, lost: 0 };
  private out = new ChunkBuffer(1 << 16);
  private clock = new EpochClock();
  private header?: TraceHeader;
  private resource: OtlpResource;
  private strs = new Utf8Cache();
  private series = new Map<string, Series>();
  private names = new Set<string>();
  private held = 0;

  /** Makes an exporter; the resource as `OtlpExporter`'s. */
  constructor(resource: OtlpResource = {}) {
    this.resource = resource;
  }

  /** Takes the next event; the `end` event writes the points held. */
  add = (e: TraceEvent): void => {
    if (e.kind === "header") {
      this.header = e.header;
      this.clock.set(e.header);
    } else if (e.kind === "counter") {
      const name = capName(e.name || "counter");
      let s = this.series.get(name);
      if (!s) this.series.set(name, s = { times: [], values: [], threads: [] });
      s.times.push(e.time);
      s.values.push(e.value);
      s.threads.push(e.thread);
      this.names.add(name);
      if (++this.held >= BATCH_POINTS) this.flush();
    } else if (e.kind === "end") {
      this.flush();
      this.report.truncated = e.truncated;
      this.report.lost = e.lost;
      this.report.metrics = this.names.size;
    }
  };

  /** Data points written so far. */
  get events(): number {
    return this.report.points;
  }

  /** Writes the points held as one `ResourceMetrics`. */
  private flush(): void {
    if (this.held === 0) return;
    const w = new ProtoWriter(64 + this.held * 40);
    const rm = w.begin(1);
    const r = w.begin(1);
    for (const a of resourceAttrs(this.header, this.resource)) attrProto(w, 1, a, this.strs);
    w.end(r);
    const sm = w.begin(2);
    const scope = w.begin(1);
    w.string(1, SCOPE.name);
    w.string(2, SCOPE.version);
    w.end(scope);
    for (const [name, s] of this.series) {
      const m = w.begin(2);
      w.bytes(1, this.strs.get(name));
      const unit = UNITS[name];
      if (unit) w.string(3, unit);
      const gauge = w.begin(5);
      for (let i = 0; i < s.times.length; i++) {
        const p = w.begin(1);
        attrProto(w, 7, ["thread.id", s.threads[i]], this.strs);
        this.clock.write(w, 3, s.times[i]);
        w.double(4, s.values[i]);
        w.end(p);
      }
      w.end(gauge);
      w.end(m);
    }
    w.end(sm);
    w.end(rm);
    const bytes = w.take();
    this.out.ensure(bytes.length);
    this.out.buf.set(bytes, this.out.pos);
    this.out.pos += bytes.length;
    this.report.points += this.held;
    this.held = 0;
    this.series.clear();
  }

  /** Like `take`, without a copy: valid until the next `takeView`. */
  takeView(): Uint8Array {
    return this.out.takeView();
  }

  /** The output written since the last call (a copy). */
  take(): Uint8Array {
    return this.out.take();
  }
}
