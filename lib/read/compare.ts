/**
 * Comparing two traces, for `runtrace diff` and regression checks in CI: per
 * task type and per region type, the count and the p50 / p90 / p99 of the
 * durations before and after, and whether the shift is more than chance.
 *
 * Streamed: durations go into fine log histograms (100 buckets per decade),
 * so memory grows with the number of types, never with the trace. A
 * percentile is reported as the middle (geometric) of its bucket, clamped to
 * the exact minimum and maximum: within ±1.2 % of the exact nearest-rank
 * value.
 *
 * Significance: a two-sided Mann-Whitney U test on the bucketed durations.
 * It asks whether a duration drawn from "after" tends to be larger than one
 * drawn from "before", without assuming any distribution (latencies are
 * skewed and multi-modal, which rules out a t-test). Durations in the same
 * bucket count as ties; U's normal approximation is used with the tie
 * correction, which is accurate from about ten samples a side. It tests the
 * whole distribution, so a change confined to the slowest 1 % may show in
 * p99 without being significant: the p-value says whether the typical task
 * changed, the percentiles say by how much.
 *
 * @example
 * ```ts
 * import { compareDurations, TypeDurations } from "./compare.ts";
 * import { TraceDecoder } from "../format/decoder.ts";
 * const read = async (path: string) => {
 *   const c = new TypeDurations();
 *   const d = new TraceDecoder(c.add);
 *   d.push(await Deno.readFile(path));
 *   d.finish();
 *   return c;
 * };
 * for (const row of compareDurations(await read("before.out"), await read("after.out"))) {
 *   console.log(row.kind, row.type, row.change.p50, row.test?.p);
 * }
 * ```
 *
 * @module
 */

import type { EventVisitor, TraceEvent } from "../format/decoder.ts";
import { IntMap, threadKey } from "./int_map.ts";
import { LogBuckets } from "./log_buckets.ts";

/** Buckets per power of ten of a {@linkcode FineHistogram}. */
export const FINE_BUCKETS_PER_DECADE = 100;

/** A {@linkcode FineHistogram}'s bucket of a duration, from a table (lib/read/log_buckets.ts). */
const FINE_INDEX = new LogBuckets((ns) =>
  ns >= 1 ? Math.floor(FINE_BUCKETS_PER_DECADE * Math.log10(ns)) : -1
);

/** Buckets a {@linkcode FineHistogram} keeps in its array: up to 10^20 ns. */
const DENSE_FINE_BUCKETS = 2001;

/**
 * A log histogram of durations with 100 buckets per decade (bucket `b`
 * holds `10^(b/100) ≤ d < 10^((b+1)/100)` ns; below 1 ns, bucket -1), with
 * the exact count, minimum and maximum.
 *
 * @example
 * ```ts
 * import { FineHistogram } from "./compare.ts";
 * const h = new FineHistogram();
 * for (const d of [1e6, 2e6, 3e6]) h.add(d);
 * h.quantile(50); // about 2e6, within 1.2 %
 * ```
 */
export class FineHistogram {
  /** Durations added. */
  count = 0;
  /** Smallest duration added, ns. */
  min: number = Infinity;
  /** Largest duration added, ns. */
  max: number = -Infinity;
  /**
   * Count per bucket `b` at index `b + 1`, for durations below 10^20 ns (a
   * typed array: adding is an index, not two `Map` calls per duration).
   */
  private dense = new Float64Array(DENSE_FINE_BUCKETS);
  /** Buckets beyond `dense`. */
  private far: Map<number, number> | undefined;

  /** Count per bucket, in ascending bucket order: a copy, made on each read. */
  get counts(): Map<number, number> {
    return new Map(this.sorted());
  }

  /** Adds one duration, ns. */
  add(ns: number): void {
    const b = FINE_INDEX.of(ns);
    if (b + 1 < DENSE_FINE_BUCKETS) this.dense[b + 1]++;
    else (this.far ??= new Map()).set(b, (this.far.get(b) ?? 0) + 1);
    this.count++;
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
  }

  /** The buckets in ascending order, as [bucket, count]. */
  sorted(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.dense.length; i++) {
      if (this.dense[i] > 0) out.push([i - 1, this.dense[i]]);
    }
    if (this.far) out.push(...[...this.far].sort((a, b) => a[0] - b[0]));
    return out;
  }

  /** The nearest-rank percentile `p` (0–100), from its bucket; NaN when empty. */
  quantile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.min(this.count, Math.max(1, Math.ceil((p / 100) * this.count)));
    let seen = 0;
    for (const [b, n] of this.sorted()) {
      seen += n;
      if (seen >= rank) {
        const mid = b < 0 ? 0 : Math.pow(10, (b + 0.5) / FINE_BUCKETS_PER_DECADE);
        return Math.round(Math.min(this.max, Math.max(this.min, mid)));
      }
    }
    return this.max;
  }
}

/** The result of a Mann-Whitney U test of "after" against "before". */
export interface ShiftTest {
  /** U of the "after" sample: pairs (before, after) with after larger, ties counting half. */
  u: number;
  /** The standard score of U under "no shift", with continuity and tie corrections. */
  z: number;
  /** Two-sided p-value: the chance of a shift at least this large if nothing changed. */
  p: number;
  /**
   * `U / (n_before × n_after)`: the chance that a random "after" duration is
   * larger than a random "before" one (ties half). 0.5 is no shift; above is slower.
   */
  superiority: number;
}

/**
 * A two-sided Mann-Whitney U test on two bucketed samples (values in one
 * bucket are ties). `undefined` when either side is empty.
 *
 * @example
 * ```ts
 * import { FineHistogram, mannWhitney } from "./compare.ts";
 * const a = new FineHistogram(), b = new FineHistogram();
 * for (let i = 0; i < 50; i++) {
 *   a.add(10e6 + i * 1e4);
 *   b.add(12e6 + i * 1e4);
 * }
 * mannWhitney(a, b)!.p < 0.001; // true: "after" is slower
 * ```
 */
export function mannWhitney(before: FineHistogram, after: FineHistogram): ShiftTest | undefined {
  const n1 = before.count, n2 = after.count;
  if (n1 === 0 || n2 === 0) return undefined;
  const counts1 = before.counts, counts2 = after.counts;
  const buckets = new Set([...counts1.keys(), ...counts2.keys()]);
  let u = 0, below = 0, ties = 0;
  for (const b of [...buckets].sort((x, y) => x - y)) {
    const x = counts1.get(b) ?? 0, y = counts2.get(b) ?? 0;
    u += y * (below + x / 2);
    below += x;
    const t = x + y;
    ties += t * t * t - t;
  }
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * ((n + 1) - ties / (n * (n - 1) || 1));
  const diff = u - mean;
  const z = variance > 0
    ? (diff - Math.sign(diff) * Math.min(0.5, Math.abs(diff))) / Math.sqrt(variance)
    : 0;
  return { u, z, p: Math.min(1, 2 * normalTail(Math.abs(z))), superiority: u / (n1 * n2) };
}

/** P(Z > z) for a standard normal Z (Abramowitz and Stegun 7.1.26, error < 1.5e-7). */
function normalTail(z: number): number {
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return 0.5 * poly * Math.exp(-x * x);
}

/**
 * Collects the durations of complete tasks and regions per type from
 * streamed events, in memory bounded by open tasks and regions and the
 * number of types. Feed it every event (`add` is bound).
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { TypeDurations } from "./compare.ts";
 * const c = new TypeDurations();
 * const d = new TraceDecoder(c.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * console.log(c.tasks.get("handleRequest")?.quantile(99));
 * ```
 */
export class TypeDurations {
  /** Durations of complete tasks, by task type. */
  readonly tasks: Map<string, FineHistogram> = new Map();
  /** Durations of complete regions, by region type. */
  readonly regions: Map<string, FineHistogram> = new Map();
  private openTasks = new IntMap<Open>();
  private openRegions = new IntMap<Open>();
  /** The histogram of the type that ended last: ends of one type often come in a row. */
  private lastTaskType: string | undefined;
  private lastTaskHist: FineHistogram | undefined;
  private lastRegionType: string | undefined;
  private lastRegionHist: FineHistogram | undefined;
  /** Records of ended tasks and regions, reused: no object per task or region. */
  private spare: Open[] = [];

  /** Takes the next event. */
  add = (e: TraceEvent): void => {
    switch (e.kind) {
      case "taskBegin":
        return this.visitor.taskBegin(e.time, e.thread, e.task, e.parent, e.type, undefined);
      case "taskEnd":
        return this.visitor.taskEnd(e.time, e.thread, e.task);
      case "regionBegin":
        return this.visitor.regionBegin(
          e.time,
          e.thread,
          e.region,
          e.task,
          e.type,
          0,
          0,
          undefined,
        );
      case "regionEnd":
        return this.visitor.regionEnd(e.time, e.thread, e.region);
    }
  };

  /**
   * The decoder's fast path (no event objects): `new TraceDecoder(c.add,
   * c.visitor)`; `add` alone gives the same result.
   */
  readonly visitor: EventVisitor = {
    taskBegin: (time, _thread, task, _parent, type) => {
      this.openTasks.set(task, this.open(type, time));
    },
    taskEnd: (time, _thread, task) => {
      const t = this.openTasks.delete(task);
      if (!t) return;
      if (t.type !== this.lastTaskType) {
        this.lastTaskHist = histogram(this.tasks, t.type);
        this.lastTaskType = t.type;
      }
      this.lastTaskHist!.add(Math.max(0, time - t.start));
      this.release(t);
    },
    regionBegin: (time, thread, region, _task, type) => {
      this.openRegions.set(threadKey(thread, region), this.open(type, time));
    },
    regionEnd: (time, thread, region) => {
      const r = this.openRegions.delete(threadKey(thread, region));
      if (!r) return;
      if (r.type !== this.lastRegionType) {
        this.lastRegionHist = histogram(this.regions, r.type);
        this.lastRegionType = r.type;
      }
      this.lastRegionHist!.add(Math.max(0, time - r.start));
      this.release(r);
    },
    log: () => {},
  };

  /** A record for a task or region that began: a spare one, or a new one. */
  private open(type: string, start: number): Open {
    const o = this.spare.pop();
    if (o === undefined) return { type, start };
    o.type = type;
    o.start = start;
    return o;
  }

  /** Keeps an ended task's or region's record for reuse. */
  private release(o: Open): void {
    // A replaced begin (the same id begun twice) leaves its record unreleased: harmless.
    if (this.spare.length < 256) this.spare.push(o);
  }
}

/** An open task or region of {@linkcode TypeDurations}. */
interface Open {
  type: string;
  start: number;
}

function histogram(m: Map<string, FineHistogram>, type: string): FineHistogram {
  let h = m.get(type);
  if (!h) m.set(type, h = new FineHistogram());
  return h;
}

/** Count and percentiles of one side of a comparison, ns. */
export interface SideSummary {
  /** Complete tasks or regions of the type. */
  count: number;
  /** Median duration. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
}

/** One task type or region type, before and after. */
export interface TypeDiff {
  /** Whether `type` names tasks or regions. */
  kind: "task" | "region";
  /** The type. */
  type: string;
  /** Undefined if the "before" trace has none of the type. */
  before: SideSummary | undefined;
  /** Undefined if the "after" trace has none of the type. */
  after: SideSummary | undefined;
  /** Relative change of each percentile (0.1 is 10 % slower); NaN if a side is missing. */
  change: { p50: number; p90: number; p99: number };
  /** The Mann-Whitney test; undefined if a side is missing. */
  test: ShiftTest | undefined;
}

/**
 * Compares two traces' durations: one row per task type, then one per region
 * type, each in order of first appearance (before's types first).
 *
 * @example
 * ```ts
 * import { compareDurations, TypeDurations } from "./compare.ts";
 * declare const before: TypeDurations, after: TypeDurations;
 * const slower = compareDurations(before, after).filter((r) => r.change.p90 > 0.1);
 * ```
 */
export function compareDurations(before: TypeDurations, after: TypeDurations): TypeDiff[] {
  const rows: TypeDiff[] = [];
  for (const kind of ["task", "region"] as const) {
    const a = kind === "task" ? before.tasks : before.regions;
    const b = kind === "task" ? after.tasks : after.regions;
    for (const type of new Set([...a.keys(), ...b.keys()])) {
      const x = a.get(type), y = b.get(type);
      const sx = x && summary(x), sy = y && summary(y);
      const rel = (k: "p50" | "p90" | "p99") =>
        sx && sy && sx[k] > 0 ? (sy[k] - sx[k]) / sx[k] : NaN;
      rows.push({
        kind,
        type,
        before: sx,
        after: sy,
        change: { p50: rel("p50"), p90: rel("p90"), p99: rel("p99") },
        test: x && y ? mannWhitney(x, y) : undefined,
      });
    }
  }
  return rows;
}

function summary(h: FineHistogram): SideSummary {
  return { count: h.count, p50: h.quantile(50), p90: h.quantile(90), p99: h.quantile(99) };
}
