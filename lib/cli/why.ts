/**
 * `runtrace why FILE TASK_ID | --slowest [--type T] | --p99 --type T`: one
 * task's story. Where its wall time went (its own regions, blocked by
 * another's stall, GC, waiting with the loop free), the cause named in one
 * sentence, and its timeline with the stalls and collections that touched
 * it.
 *
 * Streamed: a task given by id takes one pass over the trace. `--slowest`
 * and `--p99` take two: find it, then tell its story. For `--p99` the first
 * pass counts the durations per sub-range and keeps the slowest tasks (at
 * most a quarter of them, and a million: the 99th percentile's is among
 * them unless durations fall through the trace or there are over about 50
 * million tasks of the type); otherwise one more pass picks it among those
 * in the sub-range holding the 99th percentile, and one more each time that
 * sub-range holds over a million tasks (lib/read/nearest_rank.ts).
 * Memory holds the chosen task's events, never the trace's.
 *
 * @module
 */

import type { EndEvent, EventVisitor } from "../format/decoder.ts";
import { percentileItem } from "../read/nearest_rank.ts";
import { FineHistogram } from "../read/compare.ts";
import { DelayAnalyzer, type StallCause, type TaskDelay } from "../read/delay.ts";
import { IntMap } from "../read/int_map.ts";
import { formatTimestamp } from "../read/duration.ts";
import { breakdownRows, culprit, pct, threadName } from "./delay_text.ts";
import { parseArgs } from "./flags.ts";
import { CliError, type CliIO, stdinRereadable, withRereadableStdin } from "./io.ts";
import { finishCommand, streamTrace } from "./read.ts";
import { dur, table } from "./table.ts";
import { oneLine } from "./tasks.ts";
import { terminalSafe } from "./terminal_text.ts";

/** Usage line of the command. */
export const WHY_USAGE =
  "runtrace why FILE (TASK_ID | --slowest [--type T] | --p99 --type T) [--json]";

/** A region of the story's task. */
interface StoryRegion {
  id: number;
  type: string;
  thread: number;
  start: number;
  end: number | undefined;
}

/** The four states of a task. */
const STATES = ["inRegions", "blocked", "gc", "waiting"] as const;
type State = (typeof STATES)[number];

/** Everything `why` tells about one task. */
interface Story {
  delay: TaskDelay;
  /** The median of each state over the complete tasks of its type, ns. */
  typical: { count: number; inRegions: number; blocked: number; gc: number; waiting: number };
  regions: StoryRegion[];
  logs: { time: number; thread: number; category: string; message: string }[];
  subtasks: { id: number; type: string; start: number; end: number | undefined }[];
  /** Stalls and reported or inferred collections of any thread during its life. */
  stalls: StallCause[];
  gcs: { thread: number; start: number; end: number; inferred: boolean }[];
  threads: Map<number, string>;
}

/** Runs `runtrace why`; returns the exit status. */
export async function whyCommand(args: string[], io: CliIO): Promise<number> {
  const { flags, positional } = parseArgs("why", args, {
    slowest: { kind: "boolean" },
    p99: { kind: "boolean" },
    type: { kind: "string" },
    json: { kind: "boolean" },
  });
  const [path, idText, ...rest] = positional;
  const pick = flags.slowest ? "slowest" : flags.p99 ? "p99" : undefined;
  if (path === undefined || rest.length > 0 || (pick === undefined) === (idText === undefined)) {
    throw new CliError(`usage: ${WHY_USAGE}`, 2);
  }
  if (flags.slowest && flags.p99) throw new CliError("use --slowest or --p99, not both", 2);
  const type = flags.type as string | undefined;
  if (flags.p99 && type === undefined) {
    throw new CliError("--p99 needs --type T: the 99th percentile of which tasks?", 2);
  }
  if (pick !== undefined && path === "-" && !stdinRereadable(io)) {
    // --slowest and --p99 read the trace more than once: from a temporary copy of stdin.
    return await withRereadableStdin(io, (again) => whyCommand(args, again));
  }
  let id: number;
  if (idText !== undefined) {
    if (!/^\d+$/.test(idText)) throw new CliError(`"${idText}" is not a task id`, 2);
    id = Number(idText);
  } else {
    id = await chooseTask(path, io, pick!, type);
  }
  const { story, end } = await tellStory(path, io, id);
  await io.stdout.write(
    (flags.json ? JSON.stringify(storyJson(story), null, 2) : terminalSafe(formatStory(story))) +
      "\n",
  );
  return await finishCommand(io, path, end);
}

/** Calls `f` with the duration and id of every complete task of `type` (any type if undefined). */
async function taskDurations(
  path: string,
  io: CliIO,
  type: string | undefined,
  f: (duration: number, id: number) => void,
): Promise<void> {
  // Only task begins and ends matter: the decoder's fast path, no event objects.
  await streamTrace(path, io, () => {}, { visitor: WhyVisitor.durations(type, f) });
}

/** The id of the slowest task, or of the one at the 99th percentile (nearest rank). */
async function chooseTask(
  path: string,
  io: CliIO,
  pick: "slowest" | "p99",
  type: string | undefined,
): Promise<number> {
  const what = type === undefined ? "complete tasks" : `complete tasks of type ${oneLine(type)}`;
  if (pick === "slowest") {
    let best = -1, bestId = 0;
    await taskDurations(path, io, type, (d, id) => {
      if (d > best) [best, bestId] = [d, id];
    });
    if (best < 0) throw new CliError(`the trace has no ${what}`);
    return bestId;
  }
  // One pass counts the histogram and keeps the slowest tasks, the 99th
  // percentile's among them unless over about 50 M tasks (then one more pass).
  const scan = (visit: (d: number, id: number) => void) => taskDurations(path, io, type, visit);
  const { count, item } = await percentileItem(scan, 99);
  if (count === 0) throw new CliError(`the trace has no ${what}`);
  if (item === undefined) throw new CliError(`the trace changed while it was read twice`);
  return item.id;
}

/** The median of each state per task type, from bounded histograms. */
class TypicalStates {
  private byType = new Map<string, Record<State, FineHistogram>>();
  /** The last type counted and its histograms: most tasks in a row share a type. */
  private lastType: string | undefined;
  private last: Record<State, FineHistogram> | undefined;

  /** Counts a settled task (complete ones only). */
  add(t: TaskDelay): void {
    if (!t.complete) return;
    let h = this.last;
    if (t.type !== this.lastType || h === undefined) {
      h = this.byType.get(t.type);
      if (!h) {
        h = {
          inRegions: new FineHistogram(),
          blocked: new FineHistogram(),
          gc: new FineHistogram(),
          waiting: new FineHistogram(),
        };
        this.byType.set(t.type, h);
      }
      this.lastType = t.type;
      this.last = h;
    }
    // Once per task of the trace: the four states named, not looked up by key.
    h.inRegions.add(t.inRegions);
    h.blocked.add(t.blocked);
    h.gc.add(t.gc);
    h.waiting.add(t.waiting);
  }

  /** The typical task of `type`: the median of each state. */
  of(type: string): Story["typical"] {
    const h = this.byType.get(type);
    return {
      count: h?.inRegions.count ?? 0,
      inRegions: h?.inRegions.quantile(50) ?? 0,
      blocked: h?.blocked.quantile(50) ?? 0,
      gc: h?.gc.quantile(50) ?? 0,
      waiting: h?.waiting.quantile(50) ?? 0,
    };
  }
}

/** What the story's pass collects about task `id` besides its delays. */
type StoryParts = Omit<Story, "delay" | "typical">;

/**
 * The decoder's visitor for every pass of `why`: the first passes' (task
 * durations, made by {@linkcode WhyVisitor.durations}) and the story's
 * ({@linkcode WhyVisitor.story}). One class for all, not a literal of
 * closures per pass: Bun compiles the decoder's loop for the functions it
 * calls, and a pass calling other functions (even new closures of the same
 * code) had it compiled again and run slower (0.3-0.4 s CPU on 10 M events).
 */
class WhyVisitor implements EventVisitor {
  /** Durations pass: the type counted (any if undefined) and the begin times of its open tasks. */
  private type: string | undefined = undefined;
  private onDuration: ((duration: number, id: number) => void) | undefined = undefined;
  private starts: IntMap<number> | undefined = undefined;
  /** Story pass: the analyzer's visitor (undefined in a durations pass), the task and what is kept of it. */
  private v: EventVisitor | undefined = undefined;
  private id = -1;
  private parts: StoryParts | undefined = undefined;
  private regions: Map<number, StoryRegion> | undefined = undefined;
  private text: InstanceType<typeof TextDecoder> | undefined = undefined;
  /**
   * The task's subtasks and regions not yet ended: most task and region
   * ends are other tasks', passed on without a lookup while these are 0.
   */
  private openSubtasks = 0;
  private openRegions = 0;

  /** Calls `f` with the duration and id of every complete task of `type` (any if undefined). */
  static durations(
    type: string | undefined,
    f: (duration: number, id: number) => void,
  ): WhyVisitor {
    const w = new WhyVisitor();
    w.type = type;
    w.onDuration = f;
    w.starts = new IntMap<number>();
    return w;
  }

  /**
   * Passes every event on to the analyzer's visitor `v` (no event objects),
   * and keeps those of task `id` (its regions, its logs, its subtasks) in
   * `parts` and `regions`.
   */
  static story(
    id: number,
    v: EventVisitor,
    parts: StoryParts,
    regions: Map<number, StoryRegion>,
  ): WhyVisitor {
    const w = new WhyVisitor();
    w.v = v;
    w.id = id;
    w.parts = parts;
    w.regions = regions;
    w.text = new TextDecoder("utf-8", { fatal: false });
    return w;
  }

  /** A task begins: its start noted (durations), or passed on and kept if a subtask (story). */
  taskBegin(
    time: number,
    thread: number,
    task: number,
    parent: number,
    type: string,
    stack: string[] | undefined,
  ): void {
    const v = this.v;
    if (v === undefined) {
      if (this.type === undefined || type === this.type) this.starts!.set(task, time);
      return;
    }
    v.taskBegin(time, thread, task, parent, type, stack);
    if (parent !== this.id) return;
    this.parts!.subtasks.push({ id: task, type, start: time, end: undefined });
    this.openSubtasks++;
  }

  /** A task ends: its duration reported (durations), or passed on and a subtask's end kept (story). */
  taskEnd(time: number, thread: number, task: number): void {
    const v = this.v;
    if (v === undefined) {
      const start = this.starts!.delete(task);
      if (start !== undefined) this.onDuration!(time - start, task);
      return;
    }
    v.taskEnd(time, thread, task);
    if (this.openSubtasks === 0) return;
    const sub = this.parts!.subtasks.find((s) => s.id === task);
    if (sub && sub.end === undefined) {
      sub.end = time;
      // A subtask id begun twice and ended once leaves the count above 0: only slower.
      this.openSubtasks--;
    }
  }

  /** A region begins: passed on, and kept if the task's (story). */
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
    const v = this.v;
    if (v === undefined) return;
    v.regionBegin(time, thread, region, task, type, parent, lane, stack);
    if (task !== this.id) return;
    const key = thread * 4294967296 + region;
    const was = this.regions!.get(key);
    if (was === undefined || was.end !== undefined) this.openRegions++;
    this.regions!.set(key, { id: region, type, thread, start: time, end: undefined });
  }

  /** A region ends: passed on, and its end kept if one of the task's (story). */
  regionEnd(time: number, thread: number, region: number): void {
    const v = this.v;
    if (v === undefined) return;
    v.regionEnd(time, thread, region);
    if (this.openRegions === 0) return;
    const r = this.regions!.get(thread * 4294967296 + region);
    if (r && r.end === undefined) {
      r.end = time;
      this.openRegions--;
    }
  }

  /** A log: passed on, and kept if the task's (story). */
  log(
    time: number,
    thread: number,
    task: number,
    category: string,
    bytes: Uint8Array,
    start: number,
    stop: number,
    truncated: boolean,
    stack: string[] | undefined,
  ): void {
    const v = this.v;
    if (v === undefined) return;
    v.log(time, thread, task, category, bytes, start, stop, truncated, stack);
    if (task !== this.id) return;
    const message = this.text!.decode(bytes.subarray(start, stop));
    this.parts!.logs.push({ time, thread, category, message });
  }
}

/** One pass: the task's delays, regions, logs, subtasks and the stalls and GCs around it. */
async function tellStory(
  path: string,
  io: CliIO,
  id: number,
): Promise<{ story: Story; end: EndEvent }> {
  let delay: TaskDelay | undefined;
  // The story compares the task with a typical one of its type.
  const typical = new TypicalStates();
  const analyzer = new DelayAnalyzer({
    onTask: (t) => {
      if (t.id === id) delay = t;
      typical.add(t);
    },
  });
  const regions = new Map<number, StoryRegion>();
  const story: StoryParts = {
    regions: [],
    logs: [],
    subtasks: [],
    stalls: [],
    gcs: [],
    threads: new Map(),
  };
  const end = await streamTrace(path, io, (e) => {
    analyzer.add(e);
    if (e.kind === "thread") story.threads.set(e.thread, e.name);
    else if (e.kind === "gc") {
      story.gcs.push({
        thread: e.thread,
        start: e.time,
        end: e.time + e.duration,
        inferred: e.inferred,
      });
    }
  }, { visitor: WhyVisitor.story(id, analyzer.visitor, story, regions) });
  if (!delay) throw new CliError(`the trace has no task ${id}`);
  const d: TaskDelay = delay;
  const during = (x: { start: number; end: number }) => x.start < d.end && x.end > d.start;
  story.stalls = analyzer.result().stalls.filter(during);
  story.gcs = story.gcs.filter(during);
  story.regions = [...regions.values()].sort((a, b) => a.start - b.start);
  return { story: { ...story, delay: d, typical: typical.of(d.type) }, end };
}

/**
 * The one-sentence answer: the state furthest above its typical value for
 * the task's type (the median over its complete tasks), so that a request
 * that waited 23ms on a lock is called waiting even if its 27ms in regions
 * is more; with one task of its type, simply the largest state.
 */
function verdict(s: Story): string[] {
  const d = s.delay;
  const text: Record<State, () => string> = {
    blocked: () => blockedText(s),
    inRegions: () => regionsText(s),
    waiting: () => waitingText(s),
    gc: () =>
      `spent ${dur(d.gc)} in garbage-collection windows on ${threadName(s.threads, d.thread)}`,
  };
  const compare = s.typical.count > 1;
  const excess = (k: State) => d[k] - (compare ? s.typical[k] : 0);
  const ranked = [...STATES].sort((a, b) => excess(b) - excess(a));
  const out: string[] = [];
  if (compare && excess(ranked[0]) < 0.1 * d.duration) {
    // Nothing stands out: say so, and name where most of its time went.
    const most = [...STATES].sort((a, b) => d[b] - d[a])[0];
    out.push(
      `Why: nothing stands out against a typical ${oneLine(d.type)}; most of its time: ${
        text[most]()
      }.`,
    );
  } else {
    out.push(`Why: ${text[ranked[0]]()}.`);
  }
  for (const k of ranked.slice(1)) {
    if (d[k] > 0 && excess(k) >= 0.1 * d.duration) out.push(`Also: ${text[k]()}.`);
  }
  if (compare) {
    const t = s.typical;
    out.push(
      `A typical ${oneLine(d.type)} (the median of each, over ${t.count}): ${
        dur(t.inRegions)
      } in its regions, ${dur(t.blocked)} blocked, ${dur(t.gc)} in GC, ${dur(t.waiting)} waiting.`,
    );
  }
  return out;
}

function blockedText(s: Story): string {
  const b = s.delay.blockedBy;
  if (b.length === 0) return "it was never blocked by other work";
  const first = b[0].stall;
  const more = b.length > 1
    ? ` (and ${dur(s.delay.blocked - b[0].delay)} by ${b.length - 1} more)`
    : "";
  return `delayed ${dur(b[0].delay)} by a stall in ${culprit(first)}${more}: the event loop of ${
    threadName(s.threads, first.thread)
  } ran nothing from ${formatTimestamp(first.start)} to ${formatTimestamp(first.end)}`;
}

/** Time in its regions, and the region type that took most of it (less the stalls by others). */
function regionsText(s: Story): string {
  const d = s.delay;
  const byType = new Map<string, number>();
  const overlap = (a: number, b: number, x: { start: number; end: number }) =>
    Math.max(0, Math.min(b, x.end) - Math.max(a, x.start));
  for (const r of s.regions) {
    const a = Math.max(r.start, d.start);
    const b = Math.min(r.end ?? d.end, d.end);
    if (b <= a) continue;
    const blocked = d.blockedBy.reduce((n, x) => n + overlap(a, b, x.stall), 0);
    byType.set(r.type, (byType.get(r.type) ?? 0) + Math.max(0, b - a - blocked));
  }
  const top = [...byType].sort((a, b) => b[1] - a[1])[0];
  const most = top && top[1] > 0 ? `, most in ${oneLine(top[0])} (${dur(top[1])})` : "";
  return `spent ${dur(d.inRegions)} in its own regions${most}`;
}

/** The longest stretch with no region of the task open, and the logs in it. */
function waitingText(s: Story): string {
  const d = s.delay;
  const spans = s.regions.map((r) => [Math.max(r.start, d.start), Math.min(r.end ?? d.end, d.end)])
    .filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  let at = d.start, gap = 0, gapAt = d.start;
  for (const [a, b] of [...spans, [d.end, d.end]]) {
    if (a - at > gap) [gap, gapAt] = [a - at, at];
    at = Math.max(at, b);
  }
  let text = `waited ${
    dur(d.waiting)
  } with the event loop free and no region of its own open (I/O, a timer, a lock or a subtask)`;
  if (gap > 0) {
    const logs = s.logs.filter((l) => l.time >= gapAt && l.time < gapAt + gap)
      .map((l) => `${oneLine(l.category)}: ${oneLine(l.message)}`);
    text += `; the longest wait, ${dur(gap)} from ${formatTimestamp(gapAt)}${
      logs.length > 0 ? `, after "${logs[0]}"` : ""
    }`;
  }
  return text;
}

/** The text of `runtrace why`. */
function formatStory(s: Story): string {
  const d = s.delay;
  const state = d.complete ? "" : " (incomplete: measured to the edge of the trace)";
  const head = `task ${d.id} ${oneLine(d.type) || "(unknown)"}: ${dur(d.duration)}${state}, ${
    formatTimestamp(d.start)
  } to ${formatTimestamp(d.end)} on ${threadName(s.threads, d.thread)}${
    d.parent !== 0 ? `, parent ${d.parent}` : ""
  }`;
  const parts = [head, "", ...verdict(s), "", "Where the time went:"];
  parts.push(
    table(["", "", "", ""], breakdownRows(d), ["l", "r", "r", "l"], "  ").split("\n").slice(1).join(
      "\n",
    ),
  );
  parts.push("", "Timeline:", timeline(s));
  return parts.join("\n");
}

/** The task's events and the stalls and collections during it, in time order. */
function timeline(s: Story): string {
  const d = s.delay;
  const rows: [number, number, string[]][] = [];
  const add = (time: number, order: number, thread: number | undefined, text: string) =>
    rows.push([time, order, [
      formatTimestamp(time),
      dur(time - d.start),
      thread === undefined ? "" : threadName(s.threads, thread),
      text,
    ]]);
  if (d.complete || d.start > 0) add(d.start, 0, d.thread, "task begin");
  for (const r of s.regions) {
    add(
      r.start,
      1,
      r.thread,
      `region ${oneLine(r.type)} (${r.end === undefined ? "not ended" : dur(r.end - r.start)})`,
    );
  }
  for (const l of s.logs) {
    add(l.time, 2, l.thread, `log ${oneLine(l.category)}: ${oneLine(l.message)}`);
  }
  for (const t of s.subtasks) {
    add(
      t.start,
      3,
      undefined,
      `subtask ${t.id} ${oneLine(t.type)} (${
        t.end === undefined ? "not ended" : dur(t.end - t.start)
      })`,
    );
  }
  for (const st of s.stalls) {
    const share = d.blockedBy.find((b) => b.stall === st);
    const effect = st.task === d.id
      ? "its own code blocked the loop"
      : share
      ? `blocked this task ${dur(share.delay)}`
      : "another thread: did not block this task";
    add(st.start, 4, st.thread, `STALL ${dur(st.duration)} in ${culprit(st)}: ${effect}`);
  }
  for (const g of s.gcs) {
    add(
      g.start,
      5,
      g.thread,
      `GC ${dur(g.end - g.start)}${g.inferred ? " (inferred window)" : ""}`,
    );
  }
  if (d.complete) add(d.end, 6, undefined, "task end");
  rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return table(
    ["When", "Elapsed", "Thread", "Event"],
    rows.map((r) => r[2]),
    ["r", "r", "l", "l"],
    "  ",
  );
}

/** The `--json` document of `runtrace why`. */
function storyJson(s: Story): unknown {
  const d = s.delay;
  const stall = (x: StallCause) => ({ ...x, victims: x.victims.length });
  return {
    task: { ...d, blockedBy: d.blockedBy.map((b) => ({ delay: b.delay, stall: stall(b.stall) })) },
    why: verdict(s),
    typical: s.typical,
    shares: {
      inRegions: pct(d.inRegions, d.duration),
      blocked: pct(d.blocked, d.duration),
      gc: pct(d.gc, d.duration),
      waiting: pct(d.waiting, d.duration),
    },
    regions: s.regions,
    logs: s.logs,
    subtasks: s.subtasks,
    stalls: s.stalls.map(stall),
    gcs: s.gcs,
  };
}
