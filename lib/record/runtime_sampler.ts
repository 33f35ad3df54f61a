/**
 * The execution side of the trace, sampled on one unref'd timer per thread:
 * a heartbeat that detects event-loop stalls, the lower bound of event-loop
 * utilisation derived from it, and (on the main thread) heap and memory
 * counters, with garbage collections inferred from heap drops.
 *
 * The heartbeat runs only while the process is active: after
 * {@linkcode QUIET_MS} of on-time beats, nothing recorded and little CPU
 * used, it stops; the next record restarts it (ring_writer.ts's dormancy),
 * and so does a slow check that finds the process busy. A stall in code that
 * records nothing after such a quiet spell is seen only if it holds up that
 * check, and then as a lower bound.
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
  endDormancy,
  intern,
  publish,
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
  /**
   * Heap and memory sample period, ms (default 10); 0 turns heap sampling
   * off. Where a sample costs more than 0.2 % of the thread's time (Bun's
   * `process.memoryUsage()` in a busy process), samples are spaced out to
   * keep within that, up to 40 ms apart.
   */
  heapInterval?: number;
}

/**
 * Length, ms, of a quiet spell after which the heartbeat stops: every beat on
 * time, nothing recorded but the sampler's own counters, and the process
 * using under {@linkcode ACTIVE_SHARE} of a core. The next record restarts
 * it, so an idle process is not woken, and a stall that starts with a
 * recorded event (a region, a task, a log) is still timed from that event.
 */
export const QUIET_MS = 100;
/**
 * Process CPU time, as a share of one core, that makes a spell busy though
 * nothing was recorded (the heartbeat itself costs about 2.5 %).
 */
const ACTIVE_SHARE = 0.05;
/**
 * While the heartbeat sleeps, a check this often, ms, restarts it when the
 * process is busy with code that records nothing, and records a stall that
 * held the check up (its length a lower bound).
 */
const DORMANT_CHECK_MS = 500;
/** Heap drops smaller than this are allocator noise, not a collection. */
const MIN_GC_DROP = 64 << 10;
/** Period of the event-loop utilisation counter, ms. */
const UTILISATION_WINDOW = 100;
/** RSS and external memory move slowly and cost a syscall: sampled this often, ms. */
const MEMORY_WINDOW = 100;

/**
 * Longest share of the thread's time that heap and memory sampling may take:
 * a sample that costs more (Bun's `process.memoryUsage()` takes 6 µs in a
 * quiet process and 40 µs or more in a busy server) is taken less often, down
 * to this share, and the samples are never closer than `heapInterval`.
 */
const SAMPLE_BUDGET = 0.002;
/** Longest gap, ms, that {@linkcode SAMPLE_BUDGET} may put between heap samples. */
const MAX_SAMPLE_GAP = 40;

/** One reading of the heap, and of RSS and external memory when it has them. */
interface HeapReading {
  used: number;
  total: number;
  /** RSS and external memory, read by the same call (Bun), or undefined (Deno). */
  memory?: { rss: number; external: number };
}

/**
 * The JavaScript heap, read the cheapest way the runtime allows: in Deno
 * `v8.getHeapStatistics()` costs 0.6 µs against 7.5 µs for
 * `process.memoryUsage()`, which also reads RSS; Bun has only the latter
 * (its `v8.getHeapStatistics()` walks the heap: milliseconds), whose RSS and
 * external memory are then used too, instead of a second call.
 */
const readHeap: () => HeapReading = "Deno" in globalThis
  ? () => {
    const h = getHeapStatistics();
    return { used: h.used_heap_size, total: h.total_heap_size };
  }
  : () => {
    const m = process.memoryUsage();
    return { used: m.heapUsed, total: m.heapTotal, memory: m };
  };

/** Process CPU time so far, ms (all threads). */
function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

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
  /** Time between heap samples, ms, and the estimated cost of one, ms: see SAMPLE_BUDGET. */
  let heapGap = heapEvery;
  let heapCost = Infinity;
  /** {@linkcode recordCount} after the last beat's own records. */
  let ownCount = recordCount();
  /** The spell being judged quiet or busy: its start, the CPU time then, whether it saw work. */
  let spellStart = lastBeat;
  let spellCpu = cpuMs();
  let busySpell = false;

  const tick = () => {
    if (!enabled) return;
    const now = performance.now();
    const late = now - lastBeat - period;
    if (recordCount() !== ownCount || late > period) busySpell = true;
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
    if (heapEvery > 0 && now - lastHeap >= heapGap - 0.5) {
      const h = readHeap();
      // The reading's own cost sets the gap. Wall time, which a preempted
      // thread stretches by milliseconds on a loaded machine: so the
      // estimate follows a cheaper reading at once and a dearer one slowly,
      // and the gap stays under MAX_SAMPLE_GAP (heap curves and inferred
      // collections need samples).
      const cost = performance.now() - now;
      heapCost = cost < heapCost ? cost : heapCost + (cost - heapCost) / 32;
      heapGap = Math.min(Math.max(heapEvery, heapCost / SAMPLE_BUDGET), MAX_SAMPLE_GAP);
      recordValue(Rec.COUNTER, now, intern("heap.used"), 0, h.used);
      recordValue(Rec.COUNTER, now, intern("heap.total"), 0, h.total);
      if (now - lastMemory >= MEMORY_WINDOW) {
        const m = h.memory ?? process.memoryUsage();
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
    // The hand-over of what this tick and the program recorded since the last.
    publish();
    if (now - spellStart >= QUIET_MS && !spellWasBusy(now)) sleep();
  };
  /** Ends the current spell at `now`: whether it saw work or used CPU. */
  const spellWasBusy = (now: number) => {
    const cpu = cpuMs();
    const busy = busySpell || (cpu - spellCpu) / (now - spellStart) >= ACTIVE_SHARE;
    spellStart = now;
    spellCpu = cpu;
    busySpell = false;
    return busy;
  };
  const sleep = () => {
    clearInterval(timer);
    sleepUntilNextRecord(wake);
    lastBeat = performance.now();
    timer = setInterval(check, DORMANT_CHECK_MS);
    timer.unref?.();
  };
  // Dormant: a stall that held this check up is recorded (which ends the
  // dormancy); a busy process that records nothing ends it too.
  const check = () => {
    if (!enabled) return;
    const now = performance.now();
    const late = now - lastBeat - DORMANT_CHECK_MS;
    lastBeat = now;
    if (late >= threshold) record(Rec.STALL, Math.round(late * 1000), 0, 0, 0, 0);
    else if (spellWasBusy(now)) endDormancy();
  };
  // Called from the slow path of the record that ends the dormancy: the
  // loop was idle until this moment, so a stall is timed from here.
  const wake = () => {
    if (generation !== samplerGeneration) return;
    clearInterval(timer);
    lastBeat = windowStart = performance.now();
    blocked = 0;
    spellWasBusy(lastBeat);
    busySpell = true;
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
