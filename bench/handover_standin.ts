/**
 * Stand-ins of the ring writer's record path for bench/bench.ts (issue 11),
 * to compare the two ways of handing records to the drain worker in one
 * process: "per record" publishes the ring's head with an `Atomics.store`
 * after every record (runtrace before issue 11), "per block" publishes it
 * once per 256 records (ring_writer.ts now, whose timer also publishes what
 * a block holds so far). Each writes into a ring of its own, as large as the default one, that
 * a consumer thread drains as the drain worker does: every 50 ms, or when
 * woken at half full, reading every word of every record.
 *
 * @module
 */

const CAPACITY = 1 << 18;
const CTRL_WORDS = 32;
const HEAD = 0, TAIL = 16, WAKE = 3, STOP = 4;
const BLOCK = 256;

const CONSUMER = `
onmessage = (e) => {
  const { sab, capacity } = e.data;
  const ctrl = new Int32Array(sab, 0, ${CTRL_WORDS});
  const u32 = new Uint32Array(sab, ${CTRL_WORDS * 4}, capacity * 8);
  const mask = capacity - 1;
  let acc = 0;
  // Deno's terminate() does not end a thread that loops on Atomics.wait: it is told to stop.
  while (Atomics.load(ctrl, ${STOP}) === 0) {
    const seen = Atomics.load(ctrl, ${WAKE});
    const head = Atomics.load(ctrl, ${HEAD});
    let tail = Atomics.load(ctrl, ${TAIL});
    while (tail !== head) {
      const i = (tail & mask) << 3;
      acc += u32[i] + u32[i + 2] + u32[i + 3] + u32[i + 4] + u32[i + 5] + u32[i + 6] + u32[i + 7];
      tail = (tail + 1) | 0;
    }
    Atomics.store(ctrl, ${TAIL}, tail);
    if (acc === -1) postMessage(acc);
    Atomics.wait(ctrl, ${WAKE}, seen, 50);
  }
  close();
};`;

/** One stand-in ring and the producer's state, as ring_writer.ts keeps it. */
class StandInRing {
  ctrl: Int32Array;
  f64: Float64Array;
  u32: Uint32Array;
  mask = CAPACITY - 1;
  head = 0;
  limit = 0;
  published = 0;
  worker: Worker;
  /** Whether every record is published (the old hand-over). */
  each: boolean;

  constructor(each: boolean) {
    this.each = each;
    const sab = new SharedArrayBuffer(CTRL_WORDS * 4 + CAPACITY * 32);
    this.ctrl = new Int32Array(sab, 0, CTRL_WORDS);
    this.f64 = new Float64Array(sab, CTRL_WORDS * 4, CAPACITY * 4);
    this.u32 = new Uint32Array(sab, CTRL_WORDS * 4, CAPACITY * 8);
    const url = URL.createObjectURL(new Blob([CONSUMER], { type: "text/javascript" }));
    this.worker = new Worker(url, { type: "module" });
    this.worker.postMessage({ sab, capacity: CAPACITY });
  }

  /** The slow path: room, a wake at half full, and (per block) the publication. */
  reserve(): boolean {
    this.publish();
    const used = (this.head - Atomics.load(this.ctrl, TAIL)) | 0;
    if (used >= CAPACITY >> 1) {
      Atomics.add(this.ctrl, WAKE, 1);
      Atomics.notify(this.ctrl, WAKE);
    }
    if (used >= CAPACITY) return false;
    const step = this.each ? CAPACITY >> 2 : BLOCK;
    this.limit = (this.head + Math.min(CAPACITY - used, CAPACITY >> 2, step)) | 0;
    return true;
  }

  publish(): void {
    if (this.head === this.published) return;
    this.published = this.head;
    Atomics.store(this.ctrl, HEAD, this.head);
  }
}

/** The record path: a clock read and six stores, and the hand-over of `r`. */
function standInRecord(
  r: StandInRing,
  kind: number,
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
): boolean {
  if (r.head === r.limit && !r.reserve()) return false;
  const i = (r.head & r.mask) << 3;
  r.f64[i >> 1] = performance.now();
  r.u32[i + 2] = kind;
  r.u32[i + 3] = a;
  r.u32[i + 4] = b;
  r.u32[i + 5] = c;
  r.u32[i + 6] = d;
  r.u32[i + 7] = e;
  r.head = (r.head + 1) | 0;
  if (r.each) r.publish();
  return true;
}

/** Two records per iteration, as a region pair writes; returns the ms taken. */
function standInPairs(r: StandInRing, n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    standInRecord(r, 5, 1, 2, i, 0, 1);
    standInRecord(r, 6, i, 0, 0, 0, 0);
  }
  return performance.now() - t0;
}

let rings: { perRecord: StandInRing; perBlock: StandInRing } | undefined;
const ringsNow = () =>
  rings ??= { perRecord: new StandInRing(true), perBlock: new StandInRing(false) };

/**
 * The stand-ins' cases for bench.ts: `n` iterations of two records, with the
 * head published per record, or per block. Their consumer threads start at
 * the first call; {@linkcode closeStandIns} ends them.
 *
 * @example
 * ```ts
 * import { closeStandIns, standInPerBlock } from "./handover_standin.ts";
 * console.log(standInPerBlock(1 << 15), "ms");
 * closeStandIns();
 * ```
 */
export function standInPerRecord(n: number): number {
  return standInPairs(ringsNow().perRecord, n);
}

/** See {@linkcode standInPerRecord}. */
export function standInPerBlock(n: number): number {
  return standInPairs(ringsNow().perBlock, n);
}

/** Ends the stand-ins' consumer threads, if they started. */
export function closeStandIns(): void {
  for (const ring of rings ? [rings.perRecord, rings.perBlock] : []) {
    Atomics.store(ring.ctrl, STOP, 1);
    Atomics.add(ring.ctrl, WAKE, 1);
    Atomics.notify(ring.ctrl, WAKE);
    ring.worker.terminate();
  }
  rings = undefined;
}
