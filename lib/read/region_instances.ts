/**
 * The second pass of `runtrace regions --type`: the regions of one type,
 * slowest first, keeping only as many as will be shown, so that memory
 * follows the output and not the trace.
 *
 * @module
 */

import type { EventVisitor, TraceEvent } from "../format/decoder.ts";
import { type RegionRecord, regionRecord } from "./trace_model.ts";

/** Duration for ordering: regions not ended come last. */
function sortDuration(r: RegionRecord): number {
  return r.end === undefined ? -1 : r.end - r.start;
}

/** A region with its place in file order (the model's tie-breaker). */
interface Ranked {
  r: RegionRecord;
  seq: number;
}

/** The model's order: slowest first, then by start, then in file order. */
function slower(a: Ranked, b: Ranked): number {
  return sortDuration(b.r) - sortDuration(a.r) || a.r.start - b.r.start || a.seq - b.seq;
}

/**
 * Collects the regions of `type` as the model records them, and the names
 * of the threads, keeping the `keep` slowest (all with `Infinity`). Feed it
 * every event.
 *
 * @example
 * ```ts
 * import { TraceDecoder } from "../format/decoder.ts";
 * import { RegionList } from "./region_instances.ts";
 * const list = new RegionList("db.query", 20);
 * const d = new TraceDecoder(list.add);
 * d.push(await Deno.readFile("trace.out"));
 * d.finish();
 * console.log(list.count, list.slowest()[0]);
 * ```
 */
export class RegionList implements EventVisitor {
  /** Regions of the type in the trace. */
  count = 0;
  /** Thread names, the first each thread got (as the model keeps them). */
  threads: Map<number, string> = new Map();
  private type: string;
  private keep: number;
  private open = new Map<number, Ranked>();
  private kept: Ranked[] = [];
  private seq = 0;

  /** Lists the regions of `type`, keeping the `keep` slowest. */
  constructor(type: string, keep: number) {
    this.type = type;
    this.keep = keep;
  }

  /** Takes the events the visitor methods do not (and, without a visitor, all). */
  add = (e: TraceEvent): void => {
    switch (e.kind) {
      case "thread":
        if (!this.threads.has(e.thread)) this.threads.set(e.thread, e.name);
        break;
      case "regionBegin":
        if (e.type !== this.type) this.seq++;
        else this.begin(regionRecord(e));
        break;
      case "regionEnd":
        this.regionEnd(e.time, e.thread, e.region);
        break;
      case "end":
        for (const x of this.open.values()) this.offer(x);
        this.open.clear();
        break;
    }
  };

  /** Visitor: a region began (only those of the type are made into records). */
  regionBegin(
    time: number,
    thread: number,
    region: number,
    task: number,
    type: string,
    parent: number,
    lane: number,
    stack: string[] | undefined,
  ): void {
    if (type !== this.type) {
      this.seq++;
      return;
    }
    const kind = "regionBegin";
    this.begin(regionRecord({ kind, time, thread, region, task, type, parent, lane, stack }));
  }

  /** Visitor: a region ended. */
  regionEnd(time: number, thread: number, region: number): void {
    const key = thread * 4294967296 + region;
    const x = this.open.get(key);
    if (!x) return;
    this.open.delete(key);
    x.r.end = time;
    this.offer(x);
  }

  /** Visitor: tasks and logs are not needed. */
  taskBegin(): void {}
  /** Visitor: not needed. */
  taskEnd(): void {}
  /** Visitor: not needed (the message is never decoded). */
  log(): void {}

  private begin(r: RegionRecord): void {
    this.open.set(r.thread * 4294967296 + r.id, { r, seq: this.seq++ });
  }

  /** The kept regions, slowest first. */
  slowest(): RegionRecord[] {
    return this.kept.sort(slower).map((x) => x.r);
  }

  private offer(x: Ranked): void {
    this.count++;
    if (this.keep === Infinity) {
      this.kept.push(x);
      return;
    }
    // A short sorted list: insert in place, drop the fastest beyond `keep`.
    const list = this.kept;
    if (list.length >= this.keep && slower(x, list[list.length - 1]) >= 0) return;
    let i = list.length;
    while (i > 0 && slower(x, list[i - 1]) < 0) i--;
    list.splice(i, 0, x);
    if (list.length > this.keep) list.pop();
  }
}
