/**
 * The layout of a trace index file (`FILE.idx`), shared by the builder and
 * the reader. docs/viewer.md describes it. The file is the builder's private
 * cache: it is rebuilt whenever its version, or the trace's size or
 * modification time, differ.
 *
 * The types here are also what the served page gets as JSON.
 *
 * @module
 */

import type { TraceHeader } from "../../format/decoder.ts";
import type { RegionTypeSummary, TaskTypeSummary } from "../../read/analysis.ts";

/** Bumped whenever the layout changes: an index of another version is rebuilt. */
export const INDEX_VERSION = 5;

/** Last 8 bytes of an index file. */
export const INDEX_MAGIC = "rtindex1";

/**
 * A slice record: 32 bytes, little-endian.
 * `start f64 (ns), dur f64 (ns), task f64, row u16, kind u8, flags u8, type u32`.
 */
export const SLICE_BYTES = 32;

/**
 * A task's record in the store by id: `id f64, start f64, dur f64, first
 * f64, last f64, type u32, thread u24 | flags << 24`; `first` and `last` are
 * the byte range of the trace's batches that hold the task's events.
 */
export const ID_BYTES = 48;

/** What a slice is. */
export const Kind = { TASK: 0, REGION: 1, STALL: 2, GC: 3 } as const;

/** Slice flag: it had not ended when the trace did. */
export const FLAG_OPEN = 1;
/** Slice flag: its begin is not in the trace (it began before). */
export const FLAG_NO_BEGIN = 2;

/** Records between two entries of a level's in-memory sample of start times. */
export const SAMPLE_EVERY = 128;

/** Density bins per row: the counts of slices starting in each bin. */
export const DENSITY_BINS = 8192;

/** Levels of duration: level k holds slices with duration in [2^k, 2^(k+1)) ns (0: below 2 ns). */
export const LEVELS = 48;

/**
 * The duration class of `ns`: floor(log2(ns)), 0 below 2 ns.
 *
 * @example
 * ```ts
 * import { levelOf } from "./index_layout.ts";
 * levelOf(1000); // 9: 512 ≤ 1000 < 1024
 * ```
 */
export function levelOf(ns: number): number {
  if (ns < 2) return 0;
  // Below 2^31 ns (2 s), most durations: the position of the top bit, no logarithm.
  if (ns < 2147483648) return 31 - Math.clz32(ns);
  return Math.min(LEVELS - 1, Math.floor(Math.log2(ns)));
}

/** Where one level of one store lies in the index file. */
export interface LevelPlace {
  /** Duration class. */
  level: number;
  /** Byte offset of its first record. */
  offset: number;
  /** Records. */
  count: number;
  /** Byte offset of its sample (every SAMPLE_EVERY-th start, f64). */
  sampleOffset: number;
}

/** One timeline row: a slot of a track, on a thread (thread 0: the task track). */
export interface RowInfo {
  /** Row id, as in the records. */
  row: number;
  /** Thread id; 0 for the tasks, which may span threads. */
  thread: number;
  /** What the row shows. */
  track: "tasks" | "regions" | "stalls" | "gc";
  /** Slot within the track: a slice takes the lowest slot free at its start. */
  slot: number;
}

/** A task in a summary list: enough to find its focus data. */
export interface TaskRef {
  id: number;
  type: string;
  start: number;
  duration: number;
  thread: number;
}

/** A stall in a summary list. */
export interface StallRef {
  thread: number;
  start: number;
  duration: number;
  /** The region type running at its midpoint, "" if none. */
  region: string;
  /** That region's task (0: none), and its type if known. */
  task: number;
  taskType?: string;
}

/** The summaries the page opens on, made during the pass. */
export interface IndexSummary {
  taskTypes: TaskTypeSummary[];
  regionTypes: RegionTypeSummary[];
  /** The slowest complete tasks of the trace, slowest first. */
  slowest: TaskRef[];
  /** The slowest tasks of each type, slowest first. */
  slowestByType: Record<string, TaskRef[]>;
  /** The longest stalls, longest first. */
  stalls: StallRef[];
  stallCount: number;
  stallTotal: number;
  gcCount: number;
  gcTotal: number;
  /** Logs per category. */
  logs: Record<string, number>;
  problems: string[];
  problemCount: number;
}

/** Everything about an index but its records: the JSON block at its end. */
export interface IndexMeta {
  version: number;
  /** The trace file's size and modification time (whole ms), to tell a stale index. */
  traceSize: number;
  traceMtimeMs: number;
  header: TraceHeader;
  events: number;
  lost: number;
  truncated: boolean;
  /** End of the trace, ns. */
  duration: number;
  /** Bytes of the trace's header. */
  headerEnd: number;
  /** The trace's STRINGS batches, raw, at this offset of the index. */
  stringsOffset: number;
  stringsLength: number;
  /** Type names; records hold indexes into it. */
  types: string[];
  rows: RowInfo[];
  threads: { id: number; name: string }[];
  /** Every task, region, stall and GC, by duration level. */
  slices: LevelPlace[];
  /** Every task by id (one level, 0): ID_BYTES records. */
  ids: LevelPlace[];
  /** The log section (lib/viewer/serve/log_store.ts): offset, bytes, logs. */
  logsOffset: number;
  logsLength: number;
  logCount: number;
  /** The log section's block directory (log_store.ts): offset, and number of 32-byte entries. */
  logBlocksOffset: number;
  logBlocks: number;
  /** Per row, DENSITY_BINS u32 counts of slices starting in each bin of `densityBinNs`. */
  densityOffset: number;
  densityBinNs: number;
  summary: IndexSummary;
}

/** A task's region, log or stall, for its focus view. */
export interface FocusData {
  task: {
    id: number;
    type: string;
    start: number;
    end: number;
    thread: number;
    open: boolean;
    /** Its row on the timeline. */
    row: number;
  };
  regions: { thread: number; start: number; end: number; type: string; open: boolean }[];
  logs: { thread: number; time: number; category: string; message: string }[];
  /** The stalls and GCs over it; a stall's `region` and `task` are its culprit. */
  stalls: (StallRef & { kind: "stall" | "gc" })[];
  /** Where its time went (lib/read/delay.ts's attribution); the four sum to its duration. */
  delay?: {
    inRegions: number;
    blocked: number;
    gc: number;
    waiting: number;
    /** The stalls of other work that delayed it, largest share first. */
    blockedBy: (StallRef & { delay: number })[];
  };
  /** True when the task's events span more bytes than are read for one view. */
  cut: boolean;
}

/** One log, as the page gets it. */
export interface LogRow {
  time: number;
  task: number;
  thread: number;
  category: string;
  message: string;
}

/** What a scan looks for; every given field must match. */
export interface LogFilter {
  /** Exact category. */
  category?: string;
  /** Task id. */
  task?: number;
  /** Case-insensitive text in the message or the category. */
  text?: string;
}

/** One step of a scan, in time order (ties: in the trace's order). */
export interface LogPage {
  rows: LogRow[];
  /**
   * The cursor to go on from (sent back as `from`: "" or "0" is the
   * start); `done` when every log is read (of the task's life, with a task filter).
   */
  next: string;
  done: boolean;
  /** How far the scan has got, 0 to 1: the time reached, of the trace's (or the task's) span. */
  progress: number;
}

/** A slice found by `TraceIndex.instance` (a percentile's link). */
export interface SliceRef {
  start: number;
  duration: number;
  /** Its task (a task's own id). */
  task: number;
  row: number;
}

/**
 * An instance of a histogram bucket with what delayed it: from the stalls
 * and GCs of its thread that overlap it (lib/viewer/serve/stall_overlap.ts).
 */
export interface BucketRow extends SliceRef {
  /** Its thread: a task's home thread, a region's own. */
  thread: number;
  /** ns its thread's event loop was stalled by other work during it. */
  blocked: number;
  /** ns of garbage collection on its thread during it, outside stalls. */
  gc: number;
  /** The stall of other work with the largest share of `blocked`, and that share. */
  delayedBy?: StallRef & { delay: number };
  /** True when the instance is too long to read every stall and GC over it: at least these. */
  partial?: boolean;
}

/** One step of the instances of a histogram bucket (`TraceIndex.bucket`). */
export interface BucketPage {
  rows: BucketRow[];
  /** The cursor to go on from; `done` when every level of the bucket is read. */
  next: number;
  done: boolean;
}
