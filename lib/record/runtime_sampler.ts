/**
 * The execution side of the trace, sampled on one unref'd timer per thread:
 * a heartbeat that detects event-loop stalls, the lower bound of event-loop
 * utilisation derived from it, and (on the main thread) heap and memory
 * counters, with garbage collections inferred from heap drops.
 *
 * The heartbeat runs only while the thread records: after {@linkcode QUIET_MS}
 * of on-time beats with nothing recorded it stops, and the next record
 * restarts it (ring_writer.ts's dormancy). A stall in code that records
 * nothing, after such a quiet spell, is therefore not seen.
 *
 * Neither Deno nor Bun reports GC events (Deno lists the `gc` entry type but
 * delivers none) or event-loop utilisation (`eventLoopUtilization()` returns
 * zeros in both), so both are derived here and labelled as such.
 *
 * @module
 */

import process from "node:process";
import { clearInterval, setInterval } from "node:timers";
import { getHeapStatistics } from "node:v8";
import { Rec } from "./ring_layout.ts";
import {
  enabled,
  intern,
  record,
  recordCount,
  recordValue,
  sleepUntilNextRecord,
} from "./ring_writer.ts";
import { GC_INFERRED } from "../format/constants.ts";

/** What the runtime sampler records; see `StartOptions.runtime` in mod.ts. */
export interface RuntimeEventOptions {
  /** Heartbeat period, ms (default 10): stalls are timed to about half of it. */
  heartbeat?: number;
  /** A stall is a heartbeat later than this many ms (default 50). */
  stallThreshold?: number;
  /** Heap and memory sample period, ms (default 10); 0 turns heap sampling off. */
  heapInterval?: number;
}

/**
 * Quiet time, ms, after which the heartbeat stops: every beat on time and
 * nothing recorded but the sampler's own counters. The next record restarts
 * it, so an idle process is not woken, and a stall that starts with a
 * recorded event (a region, a task, a log) is still timed from that event.
 */
export const QUIET_MS = 100;
/** Heap drops smaller than this are allocator noise, not a collection. */
const MIN_GC_DROP = 64 << 10;
/** Period of the event-loop utilisation counter, ms. */
const UTILISATION_WINDOW = 100;
/** RSS and external memory move slowly and cost a syscall: sampled this often, ms. */
const MEMORY_WINDOW = 100;

/**
 * The JavaScript heap, read the cheapest way the runtime allows: in Deno
 * `v8.getHeapStatistics()` costs 0.6 µs against 7.5 µs for
 * `process.memoryUsage()`, which also reads RSS; Bun has only the latter.
 */
const readHeap: () => { used: number; total: number } = "Deno" in globalThis
  ? () => {
    const h = getHeapStatistics();
    return { used: h.used_heap_size, total: h.total_heap_size };
  }
  : () => {
    const m = process.memoryUsage();
    return { used: m.heapUsed, total: m.heapTotal };
  };

let timer: ReturnType<typeof setInterval> | undefined;
/** Bumped by every start and stop: a dormant sampler's wake from before is stale. */
let samplerGeneration = 0;

/** Starts sampling on this thread; `heap` only on the main thread. */
export function startRuntimeSampler(o: RuntimeEventOptions, heap: boolean): void {
  stopRuntimeSampler();
  const generation = samplerGeneration;
  const period = o.heartbeat ?? 10;
  const threshold = o.stallThreshold ?? 50;
  const heapEvery = heap ? (o.heapInterval ?? 10) : 0;
  let lastBeat = performance.now();
  let windowStart = lastBeat;
  let blocked = 0;
  let lastHeap = lastBeat;
  let lastMemory = -Infinity;
  let lastUsed = -1;
  /** {@linkcode recordCount} after the last beat's own records. */
  let ownCount = recordCount();
  let quietSince = lastBeat;

  const tick = () => {
    if (!enabled) return;
    const now = performance.now();
    const late = now - lastBeat - period;
    if (recordCount() !== ownCount || late > period) quietSince = now;
    if (late > 0) blocked += late;
    if (late >= threshold) {
      // The loop stopped somewhere between the last beat and the next one
      // due: its start is taken halfway, so the error is ± period / 2.
      record(Rec.STALL, Math.round((late + period / 2) * 1000), 0, 0, 0, 0);
    }
    lastBeat = now;
    if (now - windowStart >= UTILISATION_WINDOW) {
      const share = Math.min(1, blocked / (now - windowStart));
      recordValue(Rec.COUNTER, now, intern("eventloop.utilization"), 0, share);
      windowStart = now;
      blocked = 0;
    }
    if (heapEvery > 0 && now - lastHeap >= heapEvery - 0.5) {
      const h = readHeap();
      recordValue(Rec.COUNTER, now, intern("heap.used"), 0, h.used);
      recordValue(Rec.COUNTER, now, intern("heap.total"), 0, h.total);
      if (now - lastMemory >= MEMORY_WINDOW) {
        const m = process.memoryUsage();
        recordValue(Rec.COUNTER, now, intern("memory.external"), 0, m.external);
        recordValue(Rec.COUNTER, now, intern("memory.rss"), 0, m.rss);
        lastMemory = now;
      }
      if (lastUsed >= 0 && lastUsed - h.used >= MIN_GC_DROP) {
        // Only a collection shrinks the heap; it ran at some point since the
        // last sample, so the event spans that window, not the pause.
        const window = Math.round((now - lastHeap) * 1000);
        recordValue(Rec.GC, now, window, GC_INFERRED, lastUsed - h.used);
      }
      lastUsed = h.used;
      lastHeap = now;
    }
    ownCount = recordCount();
    if (now - quietSince >= QUIET_MS) sleep();
  };
  const sleep = () => {
    clearInterval(timer);
    timer = undefined;
    sleepUntilNextRecord(wake);
  };
  // Called from the slow path of the record that ends the quiet spell: the
  // loop was idle until this moment, so a stall is timed from here.
  const wake = () => {
    if (generation !== samplerGeneration) return;
    lastBeat = windowStart = quietSince = performance.now();
    blocked = 0;
    arm();
  };
  const arm = () => {
    timer = setInterval(tick, period);
    timer.unref?.();
  };
  arm();
}

/** Stops this thread's sampler. */
export function stopRuntimeSampler(): void {
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
  samplerGeneration++;
}
