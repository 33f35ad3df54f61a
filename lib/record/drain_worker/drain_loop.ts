/**
 * The drain worker's loop: consumes the shared rings and feeds each record
 * to the consumers that are on: a trace being written to its destination,
 * and a flight recorder's window of recent chunks. Each consumer has its own
 * {@linkcode TraceWriter} (its own time 0 and string table), so a trace
 * started while a flight recorder runs is a complete trace of its own.
 *
 * @module
 */

import { type HeaderFields, TraceWriter } from "../../format/encoder.ts";
import { Ctrl, Flush } from "../ring_layout.ts";
import { FlightWindow } from "./flight_window.ts";
import { type DrainWorkerData, errorInfo, type ToWorker, type WorkerPort } from "./messages.ts";
import { OpenSet } from "./open_set.ts";
import { type RecordSink, RingDrainer, type RingSpec } from "./ring_drainer.ts";
import { StringTable } from "./string_table.ts";
import { TraceOutput, type TraceTotals } from "./trace_output.ts";
import type { OtlpTapFactory } from "./trace_tap.ts";

/** What the worker's entry module supplies from the layers above lib/record. */
export interface DrainLoopDeps {
  /** Makes the live OTLP export of a trace that asks for one. */
  otlpTap?: OtlpTapFactory;
}

/** Records one drain takes from a ring before looking at the others. */
const DRAIN_MAX = 1 << 15;
/** Records one pass takes in all before yielding to messages. */
const PASS_MAX = 1 << 16;
/** Bytes a trace's writer holds before they go to the output; also a batch's budget. */
const FLUSH_BYTES = 1 << 20;

/** The drain worker: its rings, its consumers and its loop. */
export class DrainLoop {
  private table = new StringTable();
  /** The main thread's ring: its control words carry WAKE and FLUSH. */
  private main: RingDrainer;
  /** Every thread's ring; a thread that ended is drained once more, then dropped. */
  private rings: RingDrainer[];
  private threads: [number, string][];
  private port: WorkerPort;
  private flushInterval: number;
  /** The trace being written, if any. */
  private trace: TraceOutput | undefined;
  /** The flight recorder's window, if any. */
  private flight: FlightWindow | undefined;
  /**
   * The writers of the consumers that are on, after the trace's live export
   * tap if it has one (a writer comes last: its batch bounds a drain).
   */
  private writers: RecordSink[] = [];
  /** Added to this worker's `performance.now()` gives the recording thread's. */
  private originShift = 0;
  /** Open tasks and regions, tracked while a flight recorder runs. */
  private open: OpenSet | undefined;
  /** The trace's `maxWait`: how long finishing waits for a slow destination. */
  private maxWait = 0;
  /** Set by {@linkcode close}: the loop ends at its next turn and drains nothing more. */
  private closed = false;
  /** This loop's session number (`Ctrl.SESSION`). */
  private session: number;
  private deps: DrainLoopDeps;
  /** The trace's live export settings: `stopTimeout` and the dropped counter's name. */
  private tapEnd = { timeout: 2000, droppedName: 0 };

  constructor(data: DrainWorkerData, port: WorkerPort, deps: DrainLoopDeps = {}) {
    this.deps = deps;
    this.main = new RingDrainer({ ...data, name: data.threadName }, this.table);
    this.rings = [this.main];
    this.threads = [[data.thread, data.threadName]];
    this.port = port;
    this.flushInterval = data.flushInterval;
    this.session = data.session ?? 0;
  }

  /**
   * Starts draining and tells the main thread it is ready; the worker's entry
   * module passes each message on to {@linkcode handle}.
   */
  start(): void {
    void this.run();
    this.port.postMessage({ type: "ready" });
  }

  /**
   * Ends the loop: the session is over and the worker is kept warm for the
   * next one, which gets a loop of its own (its ring may be this one's,
   * reset by the main thread). Closing twice does nothing.
   */
  close(): void {
    this.closed = true;
    this.nudge();
  }

  /**
   * Wakes the loop, for a change it must see at once though the ring may be
   * dormant: a ring added (a dormant main ring no longer says that nothing
   * waits), or the loop closed. Not after every message: a drain between a
   * flight recorder's start and a trace's would give the events logged right
   * after an unawaited `start()` to the recorder alone.
   */
  private nudge(): void {
    Atomics.add(this.main.ctrl, Ctrl.WAKE, 1);
    Atomics.notify(this.main.ctrl, Ctrl.WAKE);
  }

  /** Acts on one message from the main thread. */
  handle(m: ToWorker): void {
    switch (m.type) {
      case "startTrace":
        this.startTrace(m);
        return this.opened();
      case "stopTrace": {
        this.trace?.endAt(m.endMs);
        if (this.trace?.tap) return void this.stopTapped(this.trace, m.endMs);
        const totals = this.finishTrace() ?? { events: 0, lost: 0 };
        return this.port.postMessage({ type: "traceStopped", ...totals });
      }
      case "startFlight":
        this.startFlight(m.header, m.minAge, m.maxBytes);
        return this.opened();
      case "stopFlight":
        this.drainToEmpty();
        this.flight = undefined;
        this.dropOpenIfUnused();
        return this.port.postMessage({ type: "flightStopped" });
      case "snapshot": {
        this.drainToEmpty();
        const bytes = this.flight ? this.flight.snapshot(this.threads) : new Uint8Array(0);
        return this.port.postMessage({ type: "snapshot", bytes }, [bytes.buffer]);
      }
      case "addRing":
        return this.addRing(m);
      case "endRing":
        return this.endRing(m.thread, m.endMs);
    }
  }

  /**
   * Drains until the main thread asks for the exit flush or the loop is
   * closed. Drains again at once only if a pass left records behind (a
   * producer flat out); otherwise sleeps until `flushInterval` or the
   * half-full wake, so steady traffic costs one wake per interval, not one
   * per millisecond. A ring the main thread marked dormant (nothing recorded
   * for a while; its next record wakes this loop) is waited on without a
   * timeout: an idle process costs no wakes.
   */
  private async run(): Promise<void> {
    const ctrl = this.main.ctrl;
    for (;;) {
      if (this.closed) return;
      const seen = Atomics.load(ctrl, Ctrl.WAKE);
      const flush = Atomics.load(ctrl, Ctrl.FLUSH);
      // Read after FLUSH: an exit flush asked of the ring's next session is
      // never taken by this one, whose close message is still on its way.
      if (Atomics.load(ctrl, Ctrl.SESSION) !== this.session) return;
      if (flush === Flush.REQUESTED) {
        // The main thread is exiting and waits, blocked, for the trace.
        this.finishTrace();
        Atomics.store(ctrl, Ctrl.FLUSH, Flush.DONE);
        Atomics.notify(ctrl, Ctrl.FLUSH);
        return;
      }
      if (flush === Flush.CHECKPOINT) {
        // The main thread may be dying (Deno's fatal error event) and waits.
        this.drainToEmpty();
        this.trace?.checkpoint();
        Atomics.store(ctrl, Ctrl.FLUSH, Flush.IDLE);
        Atomics.notify(ctrl, Ctrl.FLUSH);
      }
      // Not while a consumer is being set up: see Ctrl.OPENING.
      if (Atomics.load(ctrl, Ctrl.OPENING) <= 0) this.drainAll();
      const blocked = this.trace?.full() === true;
      if (this.writers.length > 0 && !blocked && this.rings.some((r) => r.pending() > 0)) {
        await new Promise((r) => setTimeout(r, 0)); // let messages (stop, snapshot) in
        continue;
      }
      const r = Atomics.waitAsync(
        ctrl,
        Ctrl.WAKE,
        seen,
        this.asleep() ? Infinity : this.flushInterval,
      );
      if (r.async) await r.value;
    }
  }

  /** A consumer the main thread asked for is set up (or failed): draining may go on. */
  private opened(): void {
    if (Atomics.sub(this.main.ctrl, Ctrl.OPENING, 1) === 1) this.nudge();
  }

  /**
   * Whether the loop may sleep until woken: only the main ring is drained
   * (a joined thread's records would not wake it), it is empty, and its
   * producer marked it dormant, so that its next record wakes this loop.
   */
  private asleep(): boolean {
    return this.rings.length === 1 && Atomics.load(this.main.ctrl, Ctrl.DORMANT) === 1 &&
      this.main.pending() === 0;
  }

  /**
   * One pass over the rings, bounded so that messages are not starved, and
   * stopped at a slow destination's bound unless `force`d. Returns the
   * number of records drained.
   */
  drainAll(force = false): number {
    const { trace, flight } = this;
    if (this.closed) return 0;
    // With no consumer yet, records wait in the ring for the one being set up.
    if (this.writers.length === 0 || (!force && trace?.full())) return 0;
    let total = 0;
    // Batches stay small enough that a flight window or a trace's part rotates between them.
    let budget = flight ? Math.min(FLUSH_BYTES, flight.maxBytes >> 4) : FLUSH_BYTES;
    if (trace?.partBytes !== undefined) budget = Math.min(budget, trace.partBytes / 16);
    for (const ring of this.rings) {
      for (;;) {
        flight?.rotateIfDue(performance.now() + this.originShift, this.table.list, this.open);
        trace?.rotateIfDue(ring.pending() > 0, this.threads, this.table.list, this.open);
        const n = ring.drain(this.writers, DRAIN_MAX, budget);
        total += n;
        if (trace && trace.writer.out.pos > FLUSH_BYTES) trace.flush();
        flight?.take();
        if (n === 0 || total >= PASS_MAX || ring.pending() === 0) break;
        if (!force && trace?.full()) break;
      }
    }
    trace?.flush();
    return total;
  }

  /**
   * Drains every ring until it is empty, for a consumer that is starting or
   * finishing: past a slow destination's bound too, by at most a ring.
   */
  drainToEmpty(): void {
    while (this.drainAll(true) > 0);
  }

  /**
   * Drains every ring for a trace that finishes behind a slow destination:
   * waits up to `maxWait` for it to fall under its bound, then drops what is
   * left, counted, as the full-ring policy does.
   */
  private drainBehindOutput(trace: TraceOutput, maxWait: number): void {
    const deadline = performance.now() + maxWait;
    for (;;) {
      this.drainAll();
      if (this.rings.every((r) => r.pending() === 0)) return;
      if (!trace.full()) continue;
      if (performance.now() > deadline) break;
      trace.waitForOutput(5);
    }
    for (const ring of this.rings) while (ring.discard(this.writers, PASS_MAX) > 0);
    trace.flush();
  }

  /**
   * Opens the trace. Records still in the rings are not drained first: those
   * stamped after the trace's start (a call right after an unawaited
   * `start()`) belong to it, and its writer skips the earlier ones.
   */
  private startTrace(m: Extract<ToWorker, { type: "startTrace" }>): void {
    const bound = { ctrl: this.main.ctrl, pendingLimit: m.pendingLimit ?? Infinity };
    this.maxWait = m.maxWait ?? 200;
    try {
      const tap = m.otlp && this.deps.otlpTap ? this.deps.otlpTap(m.otlp) : undefined;
      this.tapEnd = { timeout: m.otlp?.stopTimeout ?? 2000, droppedName: m.otlpDroppedName ?? 0 };
      this.trace = TraceOutput.open(
        m.target,
        m.header,
        this.threads,
        this.table.list,
        this.port,
        bound,
        tap,
      );
    } catch (e) {
      this.port.postMessage({ type: "traceError", error: errorInfo(e) });
      return;
    }
    // A split trace's parts restate what is open, as a flight window's chunks do.
    if (this.trace.partBytes !== undefined) this.setOpen(this.open ?? new OpenSet());
    this.refreshWriters();
    this.port.postMessage({ type: "traceReady" });
  }

  /**
   * Stops a trace with a live export: drains what is left into it, takes it
   * off the consumers (the rings may go on for a flight recorder), then gives
   * the export up to its `stopTimeout` to deliver before the trace ends with
   * the count of spans it dropped.
   */
  private async stopTapped(trace: TraceOutput, endMs: number): Promise<void> {
    this.drainBehindOutput(trace, this.maxWait);
    this.drainToEmpty();
    this.trace = undefined;
    this.dropOpenIfUnused();
    let totals: TraceTotals;
    try {
      const { timeout, droppedName } = this.tapEnd;
      const thread = this.threads[0][0];
      const otlp = await trace.closeTap(performance.now() + timeout, endMs, droppedName, thread);
      totals = { ...trace.finish(), otlp };
    } catch (e) {
      totals = { ...trace.finish(), error: errorInfo(e) };
    }
    this.port.postMessage({ type: "traceStopped", ...totals });
  }

  /** Drains what is left into the trace and ends it; undefined when there is none. */
  private finishTrace() {
    if (!this.trace) return undefined;
    this.drainBehindOutput(this.trace, this.maxWait);
    this.drainToEmpty();
    const totals = this.trace.finish();
    this.trace = undefined;
    this.dropOpenIfUnused();
    return totals;
  }

  private startFlight(header: HeaderFields, minAge: number, maxBytes: number): void {
    this.drainToEmpty();
    this.originShift = performance.timeOrigin - header.timeOrigin;
    const w = new TraceWriter();
    w.startMs = header.startTime;
    this.flight = new FlightWindow(w, header, minAge, maxBytes);
    // A split trace may be tracking what is open already: one set serves both.
    this.setOpen(this.open ?? new OpenSet());
    this.port.postMessage({ type: "flightReady" });
  }

  private addRing(spec: RingSpec): void {
    this.drainToEmpty();
    const ring = new RingDrainer(spec, this.table);
    ring.open = this.open;
    this.rings.push(ring);
    this.threads.push([spec.thread, spec.name]);
    this.trace?.threadName(spec.thread, spec.name);
    this.nudge();
  }

  /** A thread ended: drained once more, its end recorded after its last events, dropped. */
  private endRing(thread: number, endMs: number): void {
    this.drainToEmpty();
    const ring = this.rings.find((r) => r.thread === thread);
    if (!ring) return;
    Atomics.store(ring.ctrl, Ctrl.CLOSED, 1);
    for (const w of this.writers) {
      w.open(ring.thread);
      w.threadEnd(endMs);
      w.close();
    }
    this.rings = this.rings.filter((r) => r !== ring);
    this.trace?.flush();
  }

  /** Stops tracking what is open once neither a flight window nor a split trace needs it. */
  private dropOpenIfUnused(): void {
    const split = this.trace?.partBytes !== undefined;
    this.setOpen(this.flight || split ? this.open : undefined);
  }

  private setOpen(open: OpenSet | undefined): void {
    this.open = open;
    for (const ring of this.rings) ring.open = open;
    this.refreshWriters();
  }

  private refreshWriters(): void {
    this.writers = [];
    if (this.trace?.tap) this.writers.push(this.trace.tap);
    if (this.trace) this.writers.push(this.trace.writer);
    if (this.flight) this.writers.push(this.flight.writer);
  }
}
