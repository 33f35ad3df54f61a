/// <reference lib="dom" />
/**
 * The details panel beside the timeline: what the selected task, region,
 * log, GC or stall is, with links to the items it relates to. A task's
 * details say what held it up: the stalls caused by other work, each with
 * a link to the region that ran, and the GCs that overlapped it.
 *
 * @module
 */

import type { LogRecord, RegionRecord, TaskRecord, Trace } from "../../read/trace_model.ts";
import { formatDuration } from "../../read/duration.ts";
import { escapeHtml } from "./ticks_and_html.ts";
import { formatValue, type Selection } from "./timeline.ts";
import { type PageModel, stallCulprit } from "./delay.ts";

/** What links in the page's panels and tables do. */
export interface Nav {
  /** Shows an item on the timeline, selected. */
  jump(sel: Selection): void;
  /** Opens the focus view of task `index`, with `sel` (else the task) selected. */
  focus(index: number, sel?: Selection): void;
}

/**
 * A button that jumps to an item on the timeline.
 *
 * @example
 * ```ts
 * import { link } from "./details.ts";
 * link("task", 3, "request #42"); // '<button class="link" data-jump="task:3">request #42</button>'
 * ```
 */
export function link(kind: Selection["kind"], index: number, text: string): string {
  return `<button class="link" data-jump="${kind}:${index}">${escapeHtml(text)}</button>`;
}

/**
 * A button that opens the focus view of task `index`.
 *
 * @example
 * ```ts
 * import { focusLink } from "./details.ts";
 * focusLink(3, "12ms"); // '<button class="link" data-focus="3">12ms</button>'
 * ```
 */
export function focusLink(index: number, text: string, cls = "link"): string {
  return `<button class="${cls}" data-focus="${index}">${escapeHtml(text)}</button>`;
}

/**
 * Makes the links under `root` work (once per root).
 *
 * @example
 * ```ts
 * import { wireLinks, type Nav } from "./details.ts";
 * declare const nav: Nav;
 * wireLinks(document.body, nav);
 * ```
 */
export function wireLinks(root: HTMLElement, nav: Nav): void {
  root.addEventListener("click", (e) => {
    const target = e.target as HTMLElement;
    const f = target.closest<HTMLElement>("[data-focus]");
    if (f) {
      nav.focus(Number(f.dataset.focus));
      return;
    }
    const b = target.closest<HTMLElement>("[data-jump]");
    if (!b) return;
    const [kind, index] = b.dataset.jump!.split(":");
    nav.jump({ kind: kind as Selection["kind"], index: Number(index) });
  });
}

/** Task index by id, made once per trace. */
const taskIndices = new WeakMap<Trace, Map<number, number>>();

/**
 * The index of `item` in `list`, which is sorted by `key`: a binary search
 * to its key, then a walk over the items with the same key. The model's
 * records point at each other rather than at indices; this finds one
 * without a map over a million records.
 */
function indexIn<T>(list: readonly T[], item: T, key: (x: T) => number): number {
  const k = key(item);
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(list[mid]) < k) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < list.length && key(list[i]) === k; i++) if (list[i] === item) return i;
  return -1;
}

/** A panel's content: its title, key-value rows and logs. */
interface Panel {
  title: string;
  rows: [string, string][];
  logs: { time: number; category: string; message: string; index: number }[];
}

/** Helpers every kind of details uses. */
class PanelBuilder implements Panel {
  title = "";
  rows: [string, string][] = [];
  logs: Panel["logs"] = [];
  readonly trace: Trace;
  private tasks: Map<number, number>;
  constructor(readonly model: PageModel) {
    const trace = this.trace = model.trace;
    let tasks = taskIndices.get(trace);
    if (!tasks) taskIndices.set(trace, tasks = new Map(trace.tasks.map((t, i) => [t.id, i])));
    this.tasks = tasks;
  }
  regionIndex(r: RegionRecord): number {
    return indexIn(this.trace.regions, r, (x) => x.start);
  }
  row(k: string, v: string): void {
    this.rows.push([k, v]);
  }
  taskLink(id: number): string {
    if (id === 0) return "background";
    const i = this.tasks.get(id);
    return i === undefined ? `task ${id}` : link("task", i, `${this.trace.tasks[i].type} #${id}`);
  }
  regionLink(thread: number, id: number, fallback: string): string {
    const p = this.trace.regions.findIndex((x) => x.thread === thread && x.id === id);
    return p < 0 ? escapeHtml(fallback) : link("region", p, this.trace.regions[p].type);
  }
  thread(id: number): string {
    const name = this.trace.threads.find((t) => t.id === id)?.name;
    return `${id}${name ? ` (${escapeHtml(name)})` : ""}`;
  }
  /** Recorded with `stacks: true`: where the event was made, innermost frame first. */
  stack(label: string, stack?: string[]): void {
    if (!stack?.length) return;
    const frames = stack.slice(0, 12).map((f) => escapeHtml(f.replace("file://", "")));
    this.row(label, `<span class="msg">${frames.join("<br>")}</span>`);
  }
  addLogs(list: LogRecord[]): void {
    const logs = this.trace.logs;
    this.logs = list.slice(0, 100).map((l) => ({
      ...l,
      index: indexIn(logs, l, (x) => x.time),
    }));
  }
}

/** A list of links, the first 30 and how many more. */
function some<T>(items: T[], each: (x: T) => string): string {
  return items.slice(0, 30).map(each).join(" ") +
    (items.length > 30 ? ` and ${items.length - 30} more` : "");
}

/** The time a task or region ran: cut by the trace's edges where it was. */
function spanRows(p: PanelBuilder, start: number | undefined, end: number | undefined): void {
  p.row("Start", start === undefined ? "began before the trace" : formatDuration(start));
  p.row("End", end === undefined ? "still running at the end of the trace" : formatDuration(end));
  p.row(
    "Duration",
    start !== undefined && end !== undefined
      ? formatDuration(end - start)
      : `at least ${formatDuration((end ?? p.trace.duration) - (start ?? 0))} (cut by the trace)`,
  );
}

/**
 * Where the task's time went (the reader's delay attribution): in its own
 * regions, blocked by other work's stalls (each linked, with its culprit),
 * in GC, and waiting with the loop free.
 */
function delayRows(p: PanelBuilder, t: TaskRecord): void {
  const d = p.model.delays.of(t);
  const share = (ns: number) => d.duration > 0 ? ` (${Math.round(ns / d.duration * 100)}%)` : "";
  p.row("In its regions", `${formatDuration(d.inRegions)}${share(d.inRegions)}`);
  p.row("Blocked by others", `${formatDuration(d.blocked)}${share(d.blocked)}`);
  for (const { stall, delay } of d.blockedBy.slice(0, 5)) {
    const si = p.model.delays.stallIndex(stall);
    const what = `a ${formatDuration(delay)} stall`;
    const culprit = stall.region !== 0
      ? p.regionLink(stall.thread, stall.region, stallCulprit(stall))
      : escapeHtml(stallCulprit(stall));
    const task = stall.task !== 0 && stall.regionType ? ` in ${p.taskLink(stall.task)}` : "";
    p.row("Delayed by", `${si >= 0 ? link("stall", si, what) : what}: ${culprit}${task}`);
  }
  if (d.blockedBy.length > 5) p.row("", `and ${d.blockedBy.length - 5} more stalls`);
  if (d.gc > 0) p.row("In GC", `${formatDuration(d.gc)}${share(d.gc)}`);
  p.row(
    "Waiting",
    `${formatDuration(d.waiting)}${share(d.waiting)}, the loop free (I/O, timers, locks)`,
  );
}

function taskPanel(p: PanelBuilder, index: number): void {
  const t = p.trace.tasks[index];
  p.title = `Task ${escapeHtml(t.type || "(no type)")} <span class="id">#${t.id}</span>`;
  p.row("Type", escapeHtml(t.type));
  spanRows(p, t.start, t.end);
  delayRows(p, t);
  p.row("Parent task", p.taskLink(t.parent));
  p.stack("Created at", t.stack);
  if (t.children.length) p.row("Subtasks", some(t.children, (id) => p.taskLink(id)));
  const label = (r: RegionRecord) =>
    `${r.type} ${r.end === undefined ? "…" : formatDuration(r.end - r.start)}`;
  p.row(
    "Regions",
    t.regions.length === 0
      ? "none"
      : some(t.regions, (r) => link("region", p.regionIndex(r), label(r))),
  );
  p.row("", focusLink(index, "Focus on this task", "link focus-task"));
  p.addLogs(t.logs);
}

function regionPanel(p: PanelBuilder, index: number): void {
  const r = p.trace.regions[index];
  p.title = `Region ${escapeHtml(r.type)} <span class="id">#${r.id}</span>`;
  p.row("Type", escapeHtml(r.type));
  spanRows(p, r.start, r.end);
  p.row("Task", p.taskLink(r.task));
  const task = p.trace.task(r.task);
  if (task) p.row("Parent task", p.taskLink(task.parent));
  if (r.parent !== 0) p.row("Enclosing region", p.regionLink(r.thread, r.parent, `#${r.parent}`));
  p.row("Thread", p.thread(r.thread));
  p.stack("Started at", r.stack);
  const stalls = p.trace.stalls.filter((s) => s.thread === r.thread && s.region === r.id);
  if (stalls.length > 0) {
    const total = stalls.reduce((n, s) => n + s.end - s.start, 0);
    p.row("Blocked the loop", `${formatDuration(total)} in ${stalls.length} stall(s)`);
  }
  const end = r.end ?? p.trace.duration;
  const source = task ? task.logs : p.trace.logs.filter((l) => l.task === 0);
  p.addLogs(source.filter((l) => l.time >= r.start && l.time <= end));
}

function runtimePanel(p: PanelBuilder, sel: Selection): void {
  if (sel.kind === "gc") {
    const g = p.trace.gcs[sel.index];
    p.title = g.inferred ? "GC (inferred)" : "Garbage collection";
    p.row("Start", formatDuration(g.start));
    p.row(g.inferred ? "Window" : "Duration", formatDuration(g.end - g.start));
    p.row("Heap freed", formatValue("heap", g.freed));
    p.row("Thread", p.thread(g.thread));
    if (g.inferred) {
      p.row(
        "",
        "The runtime reported no GC: the heap shrank between two samples, somewhere in this window.",
      );
    }
    return;
  }
  const st = p.trace.stalls[sel.index];
  p.title = "Event-loop stall";
  p.row("Start", formatDuration(st.start));
  p.row("Duration", formatDuration(st.end - st.start));
  p.row("Thread", p.thread(st.thread));
  if (st.region !== 0) {
    p.row("Running region", p.regionLink(st.thread, st.region, st.regionType ?? `#${st.region}`));
  }
  p.row("Task", p.taskLink(st.task));
}

function logPanel(p: PanelBuilder, index: number): void {
  const l = p.trace.logs[index];
  p.title = `Log ${escapeHtml(l.category || "(no category)")}`;
  p.row("Category", escapeHtml(l.category));
  p.row("Message", `<span class="msg">${escapeHtml(l.message)}</span>`);
  if (l.truncated) p.row("", "The message was cut to the recorder's length limit.");
  p.row("Time", formatDuration(l.time));
  p.row("Task", p.taskLink(l.task));
  p.row("Thread", p.thread(l.thread));
  p.stack("Logged at", l.stack);
}

/** The panel's HTML. */
function render(p: Panel): string {
  const logs = p.logs.length === 0
    ? ""
    : `<h3>Logs</h3><table class="logs"><tbody>${
      p.logs.map((l) =>
        `<tr><td>${link("log", l.index, formatDuration(l.time))}</td><td>${
          escapeHtml(l.category)
        }</td><td class="msg">${escapeHtml(l.message)}</td></tr>`
      ).join("")
    }</tbody></table>`;
  return `<h2>${p.title}</h2><table class="kv"><tbody>${
    p.rows.map(([k, v]) => `<tr><th scope="row">${k}</th><td>${v}</td></tr>`).join("")
  }</tbody></table>${logs}`;
}

const wired = new WeakSet<HTMLElement>();

/**
 * Shows the details of `sel` in `el` (a hint when nothing is selected or
 * the model is not built yet).
 *
 * @example
 * ```ts
 * import { showDetails, type Nav } from "./details.ts";
 * import type { PageModel } from "./delay.ts";
 * declare const model: PageModel, nav: Nav;
 * showDetails(document.querySelector("#details")!, model, { kind: "task", index: 0 }, nav);
 * ```
 */
export function showDetails(
  el: HTMLElement,
  model: PageModel | undefined,
  sel: Selection | undefined,
  nav: Nav,
): void {
  if (!wired.has(el)) {
    wireLinks(el, nav);
    wired.add(el);
  }
  if (!sel || !model) {
    el.innerHTML =
      `<p class="hint">Click a slice, or focus the timeline and press <kbd>]</kbd>, to see its details.</p>`;
    return;
  }
  const p = new PanelBuilder(model);
  if (sel.kind === "task") taskPanel(p, sel.index);
  else if (sel.kind === "region") regionPanel(p, sel.index);
  else if (sel.kind === "log") logPanel(p, sel.index);
  else runtimePanel(p, sel);
  el.innerHTML = render(p);
}
