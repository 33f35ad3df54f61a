/**
 * Event-loop responsiveness as Go's minimum mutator utilisation (MMU): for
 * each window size `w`, the smallest share of any `w`-long window of a
 * thread's life during which its event loop was free to run callbacks. Go
 * counts the time the garbage collector takes from the program; a JavaScript
 * thread loses it to stalls (a callback that runs too long) and to reported
 * garbage-collection pauses. (Inferred collections are left out: their span
 * is a sampling window, not a pause, and any pause long enough to matter is
 * already a stall.)
 *
 * A curve that stays near 100 % down to small windows means the loop
 * answered promptly throughout; a curve at 0 % up to 150 ms means that, at
 * least once, the loop answered nothing for 150 ms. `maxBlocked` is the same
 * curve read the other way: the most blocked time found in any window.
 *
 * @example The main thread's worst 100 ms
 * ```ts
 * import { parseTrace } from "../../read.ts";
 * import { responsivenessOf } from "./responsiveness.ts";
 * const curves = responsivenessOf(parseTrace(await Deno.readFile("trace.out")));
 * const main = curves.find((c) => c.thread === 1);
 * console.log(main?.curve.find((p) => p.window === 100e6)?.utilization);
 * ```
 *
 * @module
 */

import type { EventVisitor, TraceEvent } from "../format/decoder.ts";
import type { Trace } from "./trace_model.ts";

/** The window sizes of a curve by default, ns: 1 ms to 10 s, 1-2-5 steps. */
export const MMU_WINDOWS: readonly number[] = [
  1e6,
  2e6,
  5e6,
  10e6,
  20e6,
  50e6,
  100e6,
  200e6,
  500e6,
  1e9,
  2e9,
  5e9,
  10e9,
];

/** One point of a responsiveness curve. */
export interface MmuPoint {
  /** Window size, ns. */
  window: number;
  /** Smallest share (0 to 1) of any window of this size in which the loop was free. */
  utilization: number;
  /** Most blocked time in any window of this size, ns: `(1 - utilization) * window`. */
  maxBlocked: number;
  /** Start of a worst window, ns since the trace started. */
  worstAt: number;
}

/** The responsiveness curve of one thread. */
export interface ThreadResponsiveness {
  /** Thread id (1 is the main thread). */
  thread: number;
  /** Its name, "" if the trace never named it. */
  name: string;
  /** The part of the trace the thread was observed in: its first to its last event, ns. */
  from: number;
  /** End of that span, ns. */
  to: number;
  /** Blocked time in all (stalls and reported GC pauses, overlaps counted once), ns. */
  blocked: number;
  /** One point per window size that fits in the thread's span, smallest first. */
  curve: MmuPoint[];
}

/** A blocked interval of a thread, ns. */
export interface BlockedInterval {
  /** Start, ns. */
  start: number;
  /** End, ns. */
  end: number;
}

/**
 * The responsiveness curve of one thread over [from, to], given the
 * intervals in which its loop was blocked (in any order, overlaps allowed).
 * Windows longer than the span are left out. Exact: the worst window of a
 * size starts at a blocked interval's start or ends at one's end, and every
 * such window is measured.
 *
 * @example
 * ```ts
 * import { mmuCurve } from "./responsiveness.ts";
 * // A 150 ms stall in one second: no 100 ms window had the loop free.
 * mmuCurve([{ start: 400e6, end: 550e6 }], 0, 1e9, [100e6, 1e9]);
 * // [{ window: 1e8, utilization: 0, ... }, { window: 1e9, utilization: 0.85, ... }]
 * ```
 */
export function mmuCurve(
  blocked: readonly BlockedInterval[],
  from: number,
  to: number,
  windows: readonly number[] = MMU_WINDOWS,
): MmuPoint[] {
  const merged = merge(blocked, from, to);
  // prefix[i]: blocked time before merged interval i starts.
  const prefix = [0];
  for (const m of merged) prefix.push(prefix[prefix.length - 1] + m.end - m.start);
  const blockedBefore = (t: number): number => {
    // The last interval starting at or before t.
    let lo = 0, hi = merged.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (merged[mid].start <= t) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return 0;
    const m = merged[lo - 1];
    return prefix[lo - 1] + Math.min(t, m.end) - m.start;
  };
  const out: MmuPoint[] = [];
  for (const w of windows) {
    if (w > to - from || w <= 0) continue;
    let worst = 0, worstAt = from;
    const consider = (x: number) => {
      x = Math.min(Math.max(x, from), to - w);
      const b = blockedBefore(x + w) - blockedBefore(x);
      if (b > worst) [worst, worstAt] = [b, x];
    };
    for (const m of merged) {
      consider(m.start);
      consider(m.end - w);
    }
    out.push({ window: w, utilization: 1 - worst / w, maxBlocked: worst, worstAt });
  }
  return out;
}

/** Sorts, clips to [from, to] and merges overlapping intervals. */
function merge(list: readonly BlockedInterval[], from: number, to: number): BlockedInterval[] {
  const sorted = list
    .map((b) => ({ start: Math.max(b.start, from), end: Math.min(b.end, to) }))
    .filter((b) => b.end > b.start)
    .sort((a, b) => a.start - b.start);
  const out: BlockedInterval[] = [];
  for (const b of sorted) {
    const last = out[out.length - 1];
    if (last && b.start <= last.end) last.end = Math.max(last.end, b.end);
    else out.push({ ...b });
  }
  return out;
}

/**
 * Collects what the curves need from streamed events: per thread, its span
 * and its blocked intervals (one per stall or reported GC: memory grows
 * with those, never with other events). Feed it every event (`add` is
 * bound), then call `result`.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { ResponsivenessCollector } from "./responsiveness.ts";
 * const c = new ResponsivenessCollector();
 * const d = new TraceDecoder(c.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * for (const t of c.result()) console.log(t.thread, t.curve[0]?.utilization);
 * ```
 */
export class ResponsivenessCollector {
  private threads = new Map<number, { name: string; from: number; to: number }>();
  private blocked = new Map<number, BlockedInterval[]>();
  private windows: readonly number[];
  private lastId = -1;
  private lastThread: { name: string; from: number; to: number } | undefined;

  /** Makes a collector of curves over `windows` (ns; {@linkcode MMU_WINDOWS} by default). */
  constructor(windows: readonly number[] = MMU_WINDOWS) {
    this.windows = windows;
  }

  /**
   * The decoder's fast path for the frequent kinds (no event objects):
   * `new TraceDecoder(c.add, c.visitor)`; `add` alone gives the same result.
   */
  readonly visitor: EventVisitor = {
    taskBegin: () => {},
    taskEnd: () => {},
    regionBegin: (time, thread) => this.see(thread, time, time),
    regionEnd: (time, thread) => this.see(thread, time, time),
    log: (time, thread) => this.see(thread, time, time),
  };

  /** Takes the next event. */
  add = (e: TraceEvent): void => {
    switch (e.kind) {
      case "thread":
        this.thread(e.thread).name = e.name;
        return;
      case "end":
        // The main thread is observed over the whole trace.
        this.see(1, 0, e.time);
        return;
      case "stall":
      case "gc": {
        const end = e.time + e.duration;
        this.see(e.thread, e.time, end);
        if (e.kind === "gc" && e.inferred) return;
        let list = this.blocked.get(e.thread);
        if (!list) this.blocked.set(e.thread, list = []);
        list.push({ start: e.time, end });
        return;
      }
      case "regionBegin":
      case "regionEnd":
      case "log":
      case "counter":
        this.see(e.thread, e.time, e.time);
    }
  };

  /** A thread's entry, made on first sight with an empty span. */
  private thread(id: number): { name: string; from: number; to: number } {
    let t = this.threads.get(id);
    if (!t) this.threads.set(id, t = { name: "", from: Infinity, to: -Infinity });
    return t;
  }

  /** Widens a thread's observed span to [a, b]. */
  private see(id: number, a: number, b: number): void {
    // Most events are the main thread's: skip the map while the thread repeats.
    let t = this.lastThread;
    if (t === undefined || this.lastId !== id) {
      t = this.lastThread = this.thread(id);
      this.lastId = id;
    }
    if (a < t.from) t.from = a;
    if (b > t.to) t.to = b;
  }

  /** One curve per thread that recorded events, by thread id. */
  result(): ThreadResponsiveness[] {
    const seen = [...this.threads].filter(([, t]) => t.to >= t.from);
    return seen.sort(([a], [b]) => a - b).map(([thread, t]) => {
      const list = this.blocked.get(thread) ?? [];
      const curve = mmuCurve(list, t.from, t.to, this.windows);
      return {
        thread,
        name: t.name,
        from: t.from,
        to: t.to,
        blocked: merge(list, t.from, t.to).reduce((s, b) => s + b.end - b.start, 0),
        curve,
      };
    });
  }
}

/**
 * The curves of a trace already in memory (the viewer's model): per thread,
 * from its stalls and reported GC pauses: the same curves as
 * {@linkcode ResponsivenessCollector} gives for the same trace. A thread is
 * observed from its first to its last region, log, counter, stall or GC
 * (the main thread over the whole trace).
 *
 * @example
 * ```ts
 * import { parseTrace } from "../../read.ts";
 * import { responsivenessOf } from "./responsiveness.ts";
 * for (const t of responsivenessOf(parseTrace(await Deno.readFile("trace.out")))) {
 *   console.log(t.name, t.curve.map((p) => `${p.window / 1e6}ms ${Math.round(p.utilization * 100)}%`));
 * }
 * ```
 */
export function responsivenessOf(
  trace: Trace,
  windows: readonly number[] = MMU_WINDOWS,
): ThreadResponsiveness[] {
  const spans = new Map<number, { from: number; to: number }>();
  const see = (thread: number, a: number, b: number) => {
    const s = spans.get(thread);
    if (!s) spans.set(thread, { from: a, to: b });
    else [s.from, s.to] = [Math.min(s.from, a), Math.max(s.to, b)];
  };
  see(1, 0, trace.duration);
  for (const r of trace.regions) see(r.thread, r.start, r.end ?? r.start);
  for (const l of trace.logs) see(l.thread, l.time, l.time);
  for (const c of trace.counters) see(c.thread, c.time, c.time);
  for (const x of [...trace.stalls, ...trace.gcs]) see(x.thread, x.start, x.end);
  const names = new Map(trace.threads.map((t) => [t.id, t.name]));
  return [...spans].sort(([a], [b]) => a - b).map(([thread, s]) => {
    const list: BlockedInterval[] = [
      ...trace.stalls.filter((x) => x.thread === thread),
      ...trace.gcs.filter((g) => g.thread === thread && !g.inferred),
    ];
    return {
      thread,
      name: names.get(thread) ?? "",
      from: s.from,
      to: s.to,
      blocked: merge(list, s.from, s.to).reduce((n, b) => n + b.end - b.start, 0),
      curve: mmuCurve(list, s.from, s.to, windows),
    };
  });
}
