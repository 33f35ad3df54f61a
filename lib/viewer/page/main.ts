/// <reference lib="dom" />
/**
 * The viewer page's entry point: decodes the trace embedded in the page with
 * the same reader the CLI uses, then builds the timeline and the Tasks,
 * Regions and Logs pages. Anything that goes wrong ends on an error panel
 * that says what happened, never on a blank page.
 *
 * @module
 */

import { TraceDecoder } from "../../format/decoder.ts";
import { type Trace, TraceBuilder } from "../../read/trace_model.ts";
import { type Columns, decodeColumns } from "./columns.ts";
import { assignColors } from "./colors.ts";
import {
  bucketOf,
  type HistogramBucket,
  type LatencySummary,
  summarizeRegionTypes,
  summarizeTaskTypes,
  taskSpan,
  taskTypeOf,
} from "../../read/analysis.ts";
import { formatDuration } from "../../read/duration.ts";
import { escapeHtml } from "./ticks_and_html.ts";
import { layoutTrace } from "./model.ts";
import { formatValue, type Matches, type Selection, Timeline } from "./timeline.ts";

/** What the page exposes for tests and benchmarks. */
interface ViewerHook {
  ready: boolean;
  error?: string;
  /** ms since navigation start when the first timeline draw finished. */
  firstDrawMs?: number;
  /** ms since navigation start at the first animation frame after that draw. */
  firstFrameMs?: number;
  /** ms spent decoding (base64 included) and laying out. */
  base64Ms?: number;
  decodeMs?: number;
  layoutMs?: number;
  /** ms since navigation start when the full model (for details and pages) was built. */
  modelMs?: number;
  timeline?: Timeline;
  cols?: Columns;
  trace?: Trace;
}

const hook: ViewerHook = { ready: false };
(globalThis as unknown as { runtraceViewer: ViewerHook }).runtraceViewer = hook;

const $ = <T extends HTMLElement>(sel: string): T => document.querySelector(sel) as T;

/** Bytes of the embedded trace. */
function embeddedTrace(): Uint8Array {
  const el = document.getElementById("runtrace-data");
  if (!el) throw new Error("the page holds no trace data (the runtrace-data element is missing)");
  const text = (el.textContent ?? "").replace(/\s+/g, "");
  const from = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
  if (from) return from(text);
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function showError(title: string, detail: string): void {
  hook.error = `${title}: ${detail}`;
  const el = $("#error");
  el.hidden = false;
  el.innerHTML = `<h2>${escapeHtml(title)}</h2><p>${escapeHtml(detail)}</p>`;
  for (const s of document.querySelectorAll<HTMLElement>(".view")) s.hidden = true;
  for (const b of document.querySelectorAll<HTMLButtonElement>("[role=tab]")) b.disabled = true;
  ($("#search") as HTMLInputElement).disabled = true;
}

/**
 * Builds the full trace model (lib/read/trace_model.ts) from the same bytes in
 * the background, a slice at a time so the timeline stays responsive; a
 * caller that needs it at once finishes the work synchronously.
 */
class ModelLoader {
  private builder = new TraceBuilder();
  private decoder = new TraceDecoder(this.builder.add);
  private at = 0;
  private trace?: Trace;
  private onReady: (t: Trace) => void;

  constructor(private bytes: Uint8Array, onReady: (t: Trace) => void) {
    this.onReady = onReady;
  }

  /** Starts the background work. */
  start(): void {
    const tick = () => {
      if (this.trace) return;
      const until = performance.now() + 30;
      while (!this.trace && performance.now() < until) this.step();
      if (!this.trace) setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
  }

  /** The model, built now if the background work has not finished. */
  get(): Trace {
    while (!this.trace) this.step();
    return this.trace;
  }

  private step(): void {
    const chunk = 1 << 16;
    if (this.at < this.bytes.length) {
      this.decoder.push(this.bytes.subarray(this.at, this.at + chunk));
      this.at += chunk;
      return;
    }
    this.decoder.finish();
    this.trace = this.builder.result();
    this.onReady(this.trace);
  }
}

function main(): void {
  const name = document.body.dataset.name ?? "trace";
  let cols: Columns;
  let bytes: Uint8Array;
  const t0 = performance.now();
  try {
    bytes = embeddedTrace();
    hook.base64Ms = performance.now() - t0;
    cols = decodeColumns(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/^runtrace: /, "") : String(e);
    const notTrace = /not a runtrace trace|unsupported trace format|empty input|trace header/
      .test(msg);
    showError(
      notTrace ? `${name} is not a runtrace trace` : `${name} is a corrupt trace`,
      msg,
    );
    hook.ready = true;
    return;
  }
  const t1 = performance.now();
  hook.decodeMs = t1 - t0;
  hook.cols = cols;
  const layout = layoutTrace(cols);
  hook.layoutMs = performance.now() - t1;
  showBanner(cols, undefined);
  showSummary(cols, name);
  const colors = assignColors(cols.names);
  const loader = new ModelLoader(bytes, (trace) => {
    hook.trace = trace;
    hook.modelMs = performance.now();
    if (trace.problems.length > 0) showBanner(cols, trace);
  });
  const timeline = new Timeline($("#timeline-host"), {
    cols,
    layout,
    colors,
    onSelect: (sel) => showDetails(loader.get(), sel, jump),
  });
  hook.timeline = timeline;
  hook.firstDrawMs = performance.now();
  requestAnimationFrame(() => {
    hook.firstFrameMs = performance.now();
    loader.start();
  });
  showDetails(undefined, undefined, jump);

  const pages = new Map<string, () => void>([
    ["tasks", () => renderStatsPage(loader.get(), "tasks", colors, jump)],
    ["regions", () => renderStatsPage(loader.get(), "regions", colors, jump)],
    ["logs", () => renderLogsPage(loader.get(), jump)],
  ]);
  const rendered = new Set<string>();
  function show(view: string): void {
    for (const b of document.querySelectorAll<HTMLButtonElement>("[role=tab]")) {
      const on = b.dataset.view === view;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
    }
    for (const s of document.querySelectorAll<HTMLElement>(".view")) {
      s.hidden = s.id !== `view-${view}`;
    }
    if (!rendered.has(view) && pages.has(view)) {
      rendered.add(view);
      pages.get(view)!();
    }
    if (view === "timeline") timeline.requestDraw();
    if (location.hash !== `#${view}`) history.replaceState(null, "", `#${view}`);
  }
  function jump(sel: Selection): void {
    show("timeline");
    timeline.select(sel, true);
    timeline.canvas.focus();
  }
  const tabs = [...document.querySelectorAll<HTMLButtonElement>("[role=tab]")];
  for (const b of tabs) {
    b.addEventListener("click", () => show(b.dataset.view!));
    b.addEventListener("keydown", (e) => {
      const at = tabs.indexOf(b);
      const to = e.key === "ArrowRight" ? at + 1 : e.key === "ArrowLeft" ? at - 1 : -2;
      if (to === -2) return;
      const next = tabs[(to + tabs.length) % tabs.length];
      next.focus();
      show(next.dataset.view!);
    });
  }
  setupSearch(cols, timeline, () => show("timeline"));
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement?.tagName !== "INPUT") {
      e.preventDefault();
      ($("#search") as HTMLInputElement).focus();
    }
  });
  const initial = location.hash.slice(1);
  show(["tasks", "regions", "logs"].includes(initial) ? initial : "timeline");
  hook.ready = true;
}

function showBanner(cols: Columns, trace: Trace | undefined): void {
  const notes: string[] = [];
  if (cols.truncated) {
    notes.push("The trace was cut short: it is shown up to its last complete batch.");
  }
  if (cols.lost > 0) {
    notes.push(`The recorder lost ${cols.lost} events: some tasks or regions may be missing.`);
  }
  if (trace && trace.problems.length > 0) {
    notes.push(
      `${trace.problems.length} problem(s) in the trace: ${trace.problems.slice(0, 3).join("; ")}`,
    );
  }
  if (cols.tasks.n + cols.regions.n + cols.logs.n === 0) {
    notes.push("The trace holds no tasks, regions or logs.");
  }
  const el = $("#banner");
  if (notes.length === 0) return;
  el.hidden = false;
  el.innerHTML = notes.map((n) => `<p>${escapeHtml(n)}</p>`).join("");
}

function showSummary(cols: Columns, name: string): void {
  const h = cols.header;
  $("#summary").textContent = `${name} · ${cols.events} events · ${
    formatDuration(cols.duration)
  } · ${cols.tasks.n} tasks · ${cols.regions.n} regions · ${cols.logs.n} logs · ${h.runtime} ${h.runtimeVersion}`;
}

function threadName(trace: Trace, id: number): string {
  const name = trace.threads.find((t) => t.id === id)?.name;
  return `${id}${name ? ` (${escapeHtml(name)})` : ""}`;
}

/** Renders a button that jumps to an item on the timeline. */
function link(kind: Selection["kind"], index: number, text: string): string {
  return `<button class="link" data-jump="${kind}:${index}">${escapeHtml(text)}</button>`;
}

function wireLinks(root: HTMLElement, jump: (s: Selection) => void): void {
  root.addEventListener("click", (e) => {
    const b = (e.target as HTMLElement).closest<HTMLElement>("[data-jump]");
    if (!b) return;
    const [kind, index] = b.dataset.jump!.split(":");
    jump({ kind: kind as Selection["kind"], index: Number(index) });
  });
}

let detailsWired = false;
let itemIndex: { logs: Map<object, number>; regions: Map<object, number> } | undefined;

function showDetails(
  trace: Trace | undefined,
  sel: Selection | undefined,
  jump: (s: Selection) => void,
): void {
  const el = $("#details");
  if (!detailsWired) {
    wireLinks(el, jump);
    detailsWired = true;
  }
  if (!sel || !trace) {
    el.innerHTML =
      `<p class="hint">Click a slice, or focus the timeline and press <kbd>]</kbd>, to see its details.</p>`;
    return;
  }
  const taskIdx = new Map<number, number>();
  const taskLink = (id: number) => {
    if (id === 0) return "background";
    if (taskIdx.size === 0) trace.tasks.forEach((t, i) => taskIdx.set(t.id, i));
    const i = taskIdx.get(id);
    return i === undefined ? `task ${id}` : link("task", i, `${trace.tasks[i].type} #${id}`);
  };
  const rows: [string, string][] = [];
  let title = "";
  let logs: { time: number; category: string; message: string; index: number }[] = [];
  // Records point at each other, not at indices; map them back once.
  itemIndex ??= {
    logs: new Map(trace.logs.map((l, i) => [l, i])),
    regions: new Map(trace.regions.map((r, i) => [r, i])),
  };
  const logIndex = (l: object) => itemIndex!.logs.get(l) ?? -1;
  // Recorded with `stacks: true`: where the event was made, innermost frame first.
  const stackRow = (label: string, stack?: string[]) => {
    if (!stack?.length) return;
    const frames = stack.slice(0, 12).map((f) => escapeHtml(f.replace("file://", "")));
    rows.push([label, `<span class="msg">${frames.join("<br>")}</span>`]);
  };
  if (sel.kind === "task") {
    const t = trace.tasks[sel.index];
    title = `Task ${escapeHtml(t.type || "(no type)")} <span class="id">#${t.id}</span>`;
    rows.push(["Type", escapeHtml(t.type)]);
    rows.push(["Start", t.start === undefined ? "before the trace" : formatDuration(t.start)]);
    rows.push(["End", t.end === undefined ? "did not end in the trace" : formatDuration(t.end)]);
    rows.push([
      "Duration",
      t.start !== undefined && t.end !== undefined ? formatDuration(t.end - t.start) : "incomplete",
    ]);
    rows.push(["Parent task", taskLink(t.parent)]);
    stackRow("Created at", t.stack);
    if (t.children.length) {
      rows.push([
        "Subtasks",
        t.children.slice(0, 30).map(taskLink).join(" ") +
        (t.children.length > 30 ? ` and ${t.children.length - 30} more` : ""),
      ]);
    }
    const regionIdx = itemIndex.regions;
    rows.push([
      "Regions",
      t.regions.length === 0 ? "none" : t.regions.slice(0, 30).map((r) =>
        link(
          "region",
          regionIdx.get(r)!,
          `${r.type} ${r.end === undefined ? "…" : formatDuration(r.end - r.start)}`,
        )
      ).join(" ") + (t.regions.length > 30 ? ` and ${t.regions.length - 30} more` : ""),
    ]);
    logs = t.logs.slice(0, 100).map((l) => ({ ...l, index: logIndex(l) }));
  } else if (sel.kind === "region") {
    const r = trace.regions[sel.index];
    title = `Region ${escapeHtml(r.type)} <span class="id">#${r.id}</span>`;
    rows.push(["Type", escapeHtml(r.type)]);
    rows.push(["Start", formatDuration(r.start)]);
    rows.push(["End", r.end === undefined ? "did not end in the trace" : formatDuration(r.end)]);
    rows.push(["Duration", r.end === undefined ? "incomplete" : formatDuration(r.end - r.start)]);
    rows.push(["Task", taskLink(r.task)]);
    const task = trace.task(r.task);
    if (task) rows.push(["Parent task", taskLink(task.parent)]);
    if (r.parent !== 0) {
      const p = trace.regions.findIndex((x) => x.thread === r.thread && x.id === r.parent);
      rows.push([
        "Enclosing region",
        p < 0 ? `#${r.parent}` : link("region", p, trace.regions[p].type),
      ]);
    }
    const name = trace.threads.find((t) => t.id === r.thread)?.name;
    rows.push(["Thread", `${r.thread}${name ? ` (${escapeHtml(name)})` : ""}`]);
    rows.push(["Async lane", String(r.lane)]);
    stackRow("Started at", r.stack);
    const end = r.end ?? trace.duration;
    const source = task ? task.logs : trace.logs.filter((l) => l.task === 0);
    logs = source.filter((l) => l.time >= r.start && l.time <= end).slice(0, 100)
      .map((l) => ({ ...l, index: logIndex(l) }));
  } else if (sel.kind === "gc") {
    const g = trace.gcs[sel.index];
    title = g.inferred ? "GC (inferred)" : "Garbage collection";
    rows.push(["Start", formatDuration(g.start)]);
    rows.push([g.inferred ? "Window" : "Duration", formatDuration(g.end - g.start)]);
    rows.push(["Heap freed", formatValue("heap", g.freed)]);
    rows.push(["Thread", threadName(trace, g.thread)]);
    if (g.inferred) {
      rows.push([
        "",
        "The runtime reported no GC: the heap shrank between two samples, somewhere in this window.",
      ]);
    }
  } else if (sel.kind === "stall") {
    const st = trace.stalls[sel.index];
    title = "Event-loop stall";
    rows.push(["Start", formatDuration(st.start)]);
    rows.push(["Duration", formatDuration(st.end - st.start)]);
    rows.push(["Thread", threadName(trace, st.thread)]);
    if (st.region !== 0) {
      const p = trace.regions.findIndex((x) => x.thread === st.thread && x.id === st.region);
      rows.push([
        "Running region",
        p < 0
          ? escapeHtml(st.regionType ?? `#${st.region}`)
          : link("region", p, trace.regions[p].type),
      ]);
    }
    rows.push(["Task", taskLink(st.task)]);
  } else {
    const l = trace.logs[sel.index];
    title = `Log ${escapeHtml(l.category || "(no category)")}`;
    rows.push(["Category", escapeHtml(l.category)]);
    rows.push(["Message", `<span class="msg">${escapeHtml(l.message)}</span>`]);
    if (l.truncated) rows.push(["", "The message was cut to the recorder's length limit."]);
    rows.push(["Time", formatDuration(l.time)]);
    rows.push(["Task", taskLink(l.task)]);
    const name = trace.threads.find((t) => t.id === l.thread)?.name;
    rows.push(["Thread", `${l.thread}${name ? ` (${escapeHtml(name)})` : ""}`]);
    stackRow("Logged at", l.stack);
  }
  const logHtml = logs.length === 0
    ? ""
    : `<h3>Logs</h3><table class="logs"><tbody>${
      logs.map((l) =>
        `<tr><td>${link("log", l.index, formatDuration(l.time))}</td><td>${
          escapeHtml(l.category)
        }</td><td class="msg">${escapeHtml(l.message)}</td></tr>`
      ).join("")
    }</tbody></table>`;
  el.innerHTML = `<h2>${title}</h2><table class="kv"><tbody>${
    rows.map(([k, v]) => `<tr><th scope="row">${k}</th><td>${v}</td></tr>`).join("")
  }</tbody></table>${logHtml}`;
}

function setupSearch(cols: Columns, timeline: Timeline, showTimeline: () => void): void {
  const input = $("#search") as HTMLInputElement;
  const status = $("#search-status");
  let hits: Selection[] = [];
  let at = -1;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = () => {
    const q = input.value.trim().toLowerCase();
    at = -1;
    if (!q) {
      hits = [];
      timeline.setMatches(undefined);
      status.textContent = "";
      return;
    }
    // Types and categories are few: match each name once, then flag items by name.
    const named = Uint8Array.from(cols.names, (n) => n.toLowerCase().includes(q) ? 1 : 0);
    const { tasks, regions, logs } = cols;
    const m: Matches = {
      tasks: new Uint8Array(tasks.n),
      regions: new Uint8Array(regions.n),
      logs: new Uint8Array(logs.n),
    };
    const found: [number, Selection][] = [];
    for (let i = 0; i < tasks.n; i++) {
      if (!named[tasks.type[i]]) continue;
      m.tasks[i] = 1;
      found.push([Number.isNaN(tasks.start[i]) ? 0 : tasks.start[i], { kind: "task", index: i }]);
    }
    for (let i = 0; i < regions.n; i++) {
      if (!named[regions.type[i]]) continue;
      m.regions[i] = 1;
      found.push([regions.start[i], { kind: "region", index: i }]);
    }
    for (let i = 0; i < logs.n; i++) {
      if (!named[logs.category[i]] && !logs.message[i].toLowerCase().includes(q)) continue;
      m.logs[i] = 1;
      found.push([logs.time[i], { kind: "log", index: i }]);
    }
    found.sort((a, b) => a[0] - b[0]);
    hits = found.map((f) => f[1]);
    timeline.setMatches(m);
    status.textContent = hits.length === 0 ? "no matches" : `${hits.length} matches · Enter: next`;
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, 120);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      input.value = "";
      run();
      return;
    }
    if (e.key !== "Enter") return;
    clearTimeout(timer);
    if (hits.length === 0) run();
    if (hits.length === 0) return;
    at = (at + (e.shiftKey ? -1 : 1) + hits.length) % hits.length;
    status.textContent = `${at + 1} of ${hits.length}`;
    showTimeline();
    timeline.select(hits[at], true);
  });
}

/** A row of the Tasks or Regions page: the analysis model's summary of one type. */
interface TypeRow {
  type: string;
  count: number;
  complete: number;
  latency: LatencySummary | undefined;
  /** Region rows: count per task type. */
  split?: { taskType: string; count: number }[];
}

function renderStatsPage(
  trace: Trace,
  which: "tasks" | "regions",
  colors: Map<string, string>,
  jump: (s: Selection) => void,
): void {
  const root = $(`#view-${which}`);
  const rows: TypeRow[] = which === "tasks"
    ? summarizeTaskTypes(trace)
    : summarizeRegionTypes(trace).map((r) => ({ ...r, split: r.byTaskType }));
  // Instances of each (type, bucket), and their durations, for the bucket lists.
  const duration = new Map<number, number>();
  const members = new Map<string, number[]>();
  const add = (type: string, i: number, d: number) => {
    duration.set(i, d);
    const key = `${bucketOf(d)}\0${type}`;
    const list = members.get(key);
    if (list) list.push(i);
    else members.set(key, [i]);
  };
  if (which === "tasks") {
    trace.tasks.forEach((t, i) => {
      const span = taskSpan(trace, t);
      if (span.complete) add(taskTypeOf(t), i, span.duration);
    });
  } else {
    trace.regions.forEach((r, i) => {
      if (r.end !== undefined) add(r.type, i, Math.max(0, r.end - r.start));
    });
  }
  const kind: Selection["kind"] = which === "tasks" ? "task" : "region";
  const noun = which === "tasks" ? "task" : "region";
  if (rows.length === 0) {
    root.innerHTML = `<p class="hint">The trace has no ${which}.</p>`;
    return;
  }
  const hist = (row: TypeRow, ti: number): string => {
    const buckets: HistogramBucket[] = row.latency?.histogram ?? [];
    if (buckets.length === 0) return "no complete instances";
    const most = Math.max(1, ...buckets.map((b) => b.count));
    return `<div class="hist" role="group" aria-label="Latency histogram of ${
      escapeHtml(row.type)
    }">${
      buckets.map((b, bi) => {
        const n = b.count;
        const h = n === 0 ? 0 : Math.max(3, Math.round(n / most * 40));
        const label = `${formatDuration(b.start)} to ${formatDuration(b.end)}: ${n} ${noun}${
          n === 1 ? "" : "s"
        }`;
        return `<button class="bucket" data-type="${ti}" data-bucket="${bi}" title="${label}" aria-label="${label}"${
          n === 0 ? " disabled" : ""
        }><span style="height:${h}px"></span></button>`;
      }).join("")
    }</div><div class="hist-axis"><span>${formatDuration(buckets[0].start)}</span><span>${
      formatDuration(buckets[buckets.length - 1].end)
    }</span></div>`;
  };
  const split = (row: TypeRow) =>
    row.split
      ? `<td>${row.split.map((s) => `${escapeHtml(s.taskType)} ×${s.count}`).join(", ")}</td>`
      : "";
  const cell = (cls: string, v: number | undefined) =>
    `<td class="num ${cls}">${v === undefined ? "-" : formatDuration(v)}</td>`;
  root.innerHTML = `<table class="stats" id="${which}-table"><thead><tr><th scope="col">${
    which === "tasks" ? "Task type" : "Region type"
  }</th><th scope="col">Count</th><th scope="col">Complete</th><th scope="col">p50</th><th scope="col">p90</th><th scope="col">p99</th><th scope="col">Max</th><th scope="col">Latency histogram</th>${
    which === "regions" ? `<th scope="col">By task type</th>` : ""
  }</tr></thead><tbody>${
    rows.map((row, ti) =>
      `<tr data-type-name="${
        escapeHtml(row.type)
      }"><th scope="row"><span class="swatch" style="background:${
        colors.get(row.type) ?? "#ccc"
      }"></span>${
        escapeHtml(row.type)
      }</th><td class="num count">${row.count}</td><td class="num complete">${row.complete}</td>${
        cell("p50", row.latency?.p50)
      }${cell("p90", row.latency?.p90)}${cell("p99", row.latency?.p99)}${
        cell("max", row.latency?.max)
      }<td>${hist(row, ti)}</td>${split(row)}</tr>`
    ).join("")
  }</tbody></table><section id="${which}-instances" class="instances" aria-live="polite"></section>`;
  const list = $(`#${which}-instances`);
  wireLinks(list, jump);
  root.querySelector("table")!.addEventListener("click", (e) => {
    const b = (e.target as HTMLElement).closest<HTMLButtonElement>("button.bucket");
    if (!b) return;
    const row = rows[Number(b.dataset.type)];
    const bucket = row.latency!.histogram[Number(b.dataset.bucket)];
    for (const x of root.querySelectorAll("button.bucket[aria-pressed]")) {
      x.removeAttribute("aria-pressed");
    }
    b.setAttribute("aria-pressed", "true");
    const items = [...(members.get(`${bucket.bucket}\0${row.type}`) ?? [])]
      .sort((x, y) => duration.get(y)! - duration.get(x)!);
    const shown = items.slice(0, 500);
    const line = (i: number) => {
      if (which === "tasks") {
        const t = trace.tasks[i];
        return `<tr><td>${link(kind, i, `#${t.id}`)}</td><td class="num">${
          formatDuration(t.start ?? 0)
        }</td><td class="num dur">${
          formatDuration(duration.get(i)!)
        }</td><td class="num">${t.regions.length}</td><td class="num">${t.logs.length}</td><td>${
          escapeHtml(t.logs.slice(0, 3).map((l) => `${l.category}=${l.message}`).join(" "))
        }</td></tr>`;
      }
      const r = trace.regions[i];
      return `<tr><td>${link(kind, i, `#${r.id}`)}</td><td class="num">${
        formatDuration(r.start)
      }</td><td class="num dur">${formatDuration(duration.get(i)!)}</td><td>${
        escapeHtml(trace.task(r.task)?.type ?? "background")
      } #${r.task}</td><td class="num">${r.thread}</td></tr>`;
    };
    const head = which === "tasks"
      ? "<th>Task</th><th>Start</th><th>Duration</th><th>Regions</th><th>Logs</th><th>First logs</th>"
      : "<th>Region</th><th>Start</th><th>Duration</th><th>Task</th><th>Thread</th>";
    list.innerHTML = `<h3>${escapeHtml(row.type)}: ${items.length} ${noun}${
      items.length === 1 ? "" : "s"
    } from ${formatDuration(bucket.start)} to ${formatDuration(bucket.end)}${
      items.length > shown.length ? ` (the slowest ${shown.length} shown)` : ""
    }</h3><table class="instances-table"><thead><tr>${head}</tr></thead><tbody>${
      shown.map(line).join("")
    }</tbody></table>`;
    list.querySelector<HTMLElement>("button.link")?.focus();
  });
}

function renderLogsPage(trace: Trace, jump: (s: Selection) => void): void {
  const root = $("#view-logs");
  const cats = [...new Set(trace.logs.map((l) => l.category))].sort();
  root.innerHTML =
    `<form class="filters" onsubmit="return false"><label>Category <select id="log-cat"><option value="">all</option>${
      cats.map((c) => `<option value="${escapeHtml(c)}">${escapeHtml(c || "(none)")}</option>`)
        .join("")
    }</select></label> <label>Task id <input id="log-task" inputmode="numeric" size="8"></label> <label>Text <input id="log-text" type="search" size="24"></label> <span id="log-count" aria-live="polite"></span></form><table class="logs-table"><thead><tr><th>Time</th><th>Thread</th><th>Task</th><th>Category</th><th>Message</th></tr></thead><tbody id="log-rows"></tbody></table><button id="log-more" hidden>Show more</button>`;
  const cat = $("#log-cat") as HTMLSelectElement;
  const task = $("#log-task") as HTMLInputElement;
  const text = $("#log-text") as HTMLInputElement;
  const body = $("#log-rows");
  const more = $("#log-more") as HTMLButtonElement;
  const taskIdx = new Map(trace.tasks.map((t, i) => [t.id, i]));
  wireLinks(root, jump);
  let matched: number[] = [];
  let shown = 0;
  const page = 500;
  const append = () => {
    const html: string[] = [];
    for (const i of matched.slice(shown, shown + page)) {
      const l = trace.logs[i];
      const ti = taskIdx.get(l.task);
      html.push(
        `<tr><td>${
          link("log", i, formatDuration(l.time))
        }</td><td class="num">${l.thread}</td><td>${
          ti === undefined
            ? (l.task === 0 ? "background" : `#${l.task}`)
            : link("task", ti, `${trace.tasks[ti].type} #${l.task}`)
        }</td><td>${escapeHtml(l.category)}</td><td class="msg">${escapeHtml(l.message)}</td></tr>`,
      );
    }
    body.insertAdjacentHTML("beforeend", html.join(""));
    shown = Math.min(matched.length, shown + page);
    more.hidden = shown >= matched.length;
  };
  const apply = () => {
    const c = cat.value;
    const t = task.value.trim();
    const tid = t === "" ? undefined : Number(t);
    const q = text.value.trim().toLowerCase();
    matched = [];
    trace.logs.forEach((l, i) => {
      if (cat.selectedIndex > 0 && l.category !== c) return;
      if (tid !== undefined && l.task !== tid) return;
      if (q && !l.message.toLowerCase().includes(q) && !l.category.toLowerCase().includes(q)) {
        return;
      }
      matched.push(i);
    });
    body.innerHTML = "";
    shown = 0;
    $("#log-count").textContent = `${matched.length} of ${trace.logs.length} logs`;
    append();
  };
  for (const el of [cat, task, text]) el.addEventListener("input", apply);
  more.addEventListener("click", append);
  apply();
}

try {
  main();
} catch (e) {
  showError("The viewer failed", e instanceof Error ? `${e.message}` : String(e));
  hook.ready = true;
}
