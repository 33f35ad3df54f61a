/// <reference lib="dom" />
/**
 * The served page (`runtrace view --serve`): nothing of the trace is in the
 * page; it asks the server for the index's summaries, the timeline's tiles
 * and a task's focus data. It opens on the Overview (the task and region
 * types, the slowest tasks, the longest stalls), which is in the first
 * answer, so a trace of any size opens on something to act on.
 *
 * @module
 */

import { formatDuration } from "../../read/duration.ts";
import type { LatencySummary } from "../../read/analysis.ts";
import type { FocusData, StallRef, TaskRef } from "../serve/index_layout.ts";
import { assignColors } from "./colors.ts";
import { fetchFocus, fetchMeta, type PageMeta } from "./remote_data.ts";
import { type RemoteSelection, RemoteTimeline } from "./remote_timeline.ts";
import { escapeHtml } from "./ticks_and_html.ts";
import { Kind } from "../serve/index_layout.ts";

/** What the served page exposes for tests and benchmarks, on `runtraceViewer`. */
export interface RemoteHook {
  ready: boolean;
  error?: string;
  /** ms since navigation start when the Overview was shown. */
  firstDrawMs?: number;
  /** ms since navigation start when the timeline's first tile was drawn. */
  firstTileMs?: number;
  remote?: {
    meta: PageMeta;
    timeline: RemoteTimeline;
    /** The focus data shown, if any. */
    focus?: FocusData;
    /** Opens a task's focus data; resolves when it is shown. */
    openTask(ref: TaskRef): Promise<void>;
  };
}

const $ = <T extends HTMLElement>(sel: string): T => document.querySelector(sel) as T;
const dur = (ns: number) => escapeHtml(formatDuration(ns));

/** A latency row's cells: count, p50, p90, p99, max. */
function latencyCells(l: LatencySummary | undefined): string {
  if (!l) return `<td class="num" colspan="4">—</td>`;
  const est = l.relativeError ? "≈" : "";
  return `<td class="num">${est}${dur(l.p50)}</td><td class="num">${est}${dur(l.p90)}</td>` +
    `<td class="num">${est}${dur(l.p99)}</td><td class="num">${dur(l.max)}</td>`;
}

function taskButton(t: TaskRef, i: number, list: string): string {
  return `<button class="link" data-list="${list}" data-i="${i}">${
    escapeHtml(t.type || "(no type)")
  } #${t.id}</button> ${dur(t.duration)}`;
}

/** A table of latency rows (task or region types). */
function latencyTable(what: string, rows: readonly LatencyRow[]): string {
  const body = rows.map((t) =>
    `<tr><td>${escapeHtml(t.type)}</td><td class="num">${t.count}</td>${
      latencyCells(t.latency)
    }</tr>`
  ).join("");
  return `<table class="stats"><thead><tr><th>${what} type</th><th class="num">Count</th>` +
    `<th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th>` +
    `</tr></thead><tbody>${
      body || `<tr><td colspan="6" class="hint">none</td></tr>`
    }</tbody></table>`;
}

/** What a row of {@linkcode latencyTable} shows. */
interface LatencyRow {
  type: string;
  count: number;
  latency: LatencySummary | undefined;
}

const typesTable = (m: PageMeta) => latencyTable("Task", m.summary.taskTypes);
const regionsTable = (m: PageMeta) => latencyTable("Region", m.summary.regionTypes);

function stallsList(stalls: StallRef[]): string {
  return stalls.slice(0, 10).map((s, i) =>
    `<li><button class="link" data-stall="${i}">${dur(s.duration)} stall</button> at ${
      dur(s.start)
    }${s.region ? ` in ${escapeHtml(s.region)}` : ""}${s.task ? ` (task #${s.task})` : ""}</li>`
  ).join("");
}

/** The Overview: what to look at first. */
function overviewHtml(m: PageMeta): string {
  const s = m.summary;
  const slow = s.slowest.slice(0, 10).map((t, i) => `<li>${taskButton(t, i, "slowest")}</li>`)
    .join("");
  const logs = Object.entries(s.logs).map(([c, n]) => `${escapeHtml(c || "(none)")}: ${n}`)
    .join(" · ");
  return `<h2>Task types</h2>${typesTable(m)}
<h2>Slowest tasks</h2>${
    slow ? `<ol class="slowest">${slow}</ol>` : `<p class="hint">no complete tasks</p>`
  }
<h2>Event-loop stalls</h2><p>${s.stallCount} stalls, ${
    dur(s.stallTotal)
  } in all · ${s.gcCount} GCs, ${dur(s.gcTotal)}</p>${
    s.stallCount ? `<ol class="slowest">${stallsList(s.stalls)}</ol>` : ""
  }
<h2>Region types</h2>${regionsTable(m)}
<h2>Logs</h2><p>${logs || "no logs"}</p>`;
}

/** The Tasks page: the types, and each type's slowest tasks. */
function tasksHtml(m: PageMeta): string {
  const per = Object.entries(m.summary.slowestByType).map(([type, list]) =>
    `<h3>${escapeHtml(type || "(no type)")}</h3><ol class="slowest">${
      list.map((t, i) => `<li>${taskButton(t, i, `type:${type}`)}</li>`).join("")
    }</ol>`
  ).join("");
  return `${typesTable(m)}<h2>Slowest of each type</h2>${per}`;
}

/** The details panel for a task's focus data. */
function focusHtml(f: FocusData): string {
  const t = f.task;
  const span = Math.max(1, t.end - t.start);
  const bar = (a: number, b: number, color: string) =>
    `<span style="display:inline-block;position:relative;width:120px;height:8px;background:#f1f3f4">` +
    `<span style="position:absolute;left:${((a - t.start) / span * 100).toFixed(1)}%;width:${
      Math.max(1, (b - a) / span * 100).toFixed(1)
    }%;height:8px;background:${color}"></span></span>`;
  const regions = f.regions.map((r) =>
    `<tr><td>${escapeHtml(r.type)}</td><td class="num">${dur(r.end - r.start)}</td><td>${
      bar(r.start, r.end, "#1a73e8")
    }</td></tr>`
  ).join("");
  const logs = f.logs.map((l) =>
    `<tr><td class="num">+${dur(l.time - t.start)}</td><td>${
      escapeHtml(l.category)
    }</td><td class="msg">${escapeHtml(l.message)}</td></tr>`
  ).join("");
  const stalls = f.stalls.map((s) =>
    `<tr><td>${s.kind === "gc" ? "GC" : "stall"}${
      s.region ? ` in ${escapeHtml(s.region)}` : ""
    }</td>` +
    `<td class="num">${dur(s.duration)}</td><td>${
      bar(s.start, s.start + s.duration, "#d93025")
    }</td></tr>`
  ).join("");
  return `<h2>${escapeHtml(t.type || "(no type)")} <span class="id">#${t.id}</span></h2>
<table class="kv"><tr><th>Duration</th><td>${dur(t.end - t.start)}${
    t.open ? " (not ended)" : ""
  }</td></tr>
<tr><th>Start</th><td>${dur(t.start)}</td></tr></table>
<h3>Regions (${f.regions.length})</h3><table class="stats focus-regions">${regions}</table>
<h3>Logs (${f.logs.length})</h3><table class="logs-table focus-logs">${logs}</table>
<h3>Stalls and GCs over it (${f.stalls.length})</h3><table class="stats focus-stalls">${stalls}</table>${
    f.cut
      ? `<p class="hint">The task's events span too much of the trace: the first part is shown.</p>`
      : ""
  }`;
}

/** The details panel for a slice picked on the timeline. */
function selectionHtml(s: RemoteSelection): string {
  const what = ["Task", "Region", "Stall", "GC"][s.kind] ?? "Slice";
  const task = s.kind === Kind.TASK
    ? `<p><button class="link" data-open-task="1">Open this task's focus data</button></p>`
    : s.task
    ? `<p>In task #${s.task}</p>`
    : "";
  return `<h2>${what}: ${escapeHtml(s.type || "(no type)")}</h2><table class="kv">
<tr><th>Duration</th><td>${dur(s.duration)}</td></tr><tr><th>Start</th><td>${dur(s.start)}</td></tr>
</table>${task}`;
}

/**
 * Runs the served page: fetches the meta block, shows the Overview, and
 * wires the timeline, the tabs and the focus data.
 *
 * @example
 * ```ts ignore
 * await remoteMain(hook);
 * ```
 */
export async function remoteMain(hook: RemoteHook, fail: (title: string, detail: string) => void) {
  let meta: PageMeta;
  try {
    meta = await fetchMeta();
  } catch (e) {
    fail("The server did not answer", String(e));
    hook.ready = true;
    return;
  }
  const h = meta.header;
  $("#summary").textContent = `${meta.name} · ${meta.events} events · ${
    formatDuration(meta.duration)
  } · served from its index · ${h.runtime} ${h.runtimeVersion}`;
  banner(meta);
  $("#timeline-help").innerHTML = "Zoom <kbd>W</kbd>/<kbd>S</kbd> or wheel · pan <kbd>A</kbd>/" +
    "<kbd>D</kbd> or drag · scroll the rows <kbd>↑</kbd>/<kbd>↓</kbd> or shift+wheel · all " +
    "<kbd>0</kbd> · click a slice for its details; shorter than a pixel: shaded by density";
  const search = $<HTMLInputElement>("#search");
  search.disabled = true;
  search.placeholder = "search: in the self-contained page only";
  const colors = assignColors(meta.types);
  const details = $("#details");
  details.innerHTML =
    `<p class="hint">Click a slice for its details, or a task in the Overview.</p>`;
  const bar = $("#focus-bar");
  let selected: RemoteSelection | undefined;
  const timeline = new RemoteTimeline($("#timeline-host"), {
    meta,
    colors,
    onSelect: (sel) => {
      selected = sel;
      details.innerHTML = sel ? selectionHtml(sel) : `<p class="hint">Nothing there.</p>`;
    },
  });
  const show = tabs();
  const openTask = async (ref: TaskRef) => {
    show("timeline");
    details.innerHTML = `<p class="hint">Reading task #${ref.id}…</p>`;
    const f = await fetchFocus(ref);
    if (!f) {
      details.innerHTML = `<p class="hint">Task #${ref.id} is not in the index.</p>`;
      return;
    }
    remote.focus = f;
    details.innerHTML = focusHtml(f);
    bar.hidden = false;
    bar.innerHTML = `Task <b>${escapeHtml(f.task.type)} #${f.task.id}</b> · ${
      dur(f.task.end - f.task.start)
    } · ${f.stalls.length} stalls or GCs over it <button class="unfocus">Show the whole trace</button>`;
    timeline.selection = {
      kind: Kind.TASK,
      type: f.task.type,
      start: f.task.start,
      duration: f.task.end - f.task.start,
      task: f.task.id,
      row: meta.rows[f.task.row],
    };
    timeline.reveal(f.task.row);
    const pad = (f.task.end - f.task.start) * 0.1 + 1000;
    timeline.zoomTo(f.task.start - pad, f.task.end + pad);
    await timeline.settled();
  };
  const remote: NonNullable<RemoteHook["remote"]> = { meta, timeline, openTask };
  hook.remote = remote;
  wireLists(meta, openTask, (s) => {
    show("timeline");
    const pad = s.duration * 0.5 + 1000;
    timeline.zoomTo(s.start - pad, s.start + s.duration + pad);
  });
  details.addEventListener("click", (e) => {
    if ((e.target as HTMLElement).closest("[data-open-task]") && selected) {
      void openTask({ ...selected, id: selected.task, thread: selected.row.thread });
    }
  });
  bar.addEventListener("click", (e) => {
    if (!(e.target as HTMLElement).closest("button.unfocus")) return;
    bar.hidden = true;
    remote.focus = undefined;
    timeline.zoomTo(0, Math.max(1, meta.duration));
  });
  $("#view-overview").innerHTML = overviewHtml(meta);
  $("#view-tasks").innerHTML = tasksHtml(meta);
  $("#view-regions").innerHTML = regionsTable(meta);
  $("#view-logs").innerHTML =
    `<p class="hint">In the served viewer, a task's logs are in its focus ` +
    `data (open a task from the Overview or the timeline). Logs per category: ${
      escapeHtml(
        Object.entries(meta.summary.logs).map(([c, n]) => `${c}: ${n}`).join(", ") || "none",
      )
    }.</p>`;
  const initial = location.hash.slice(1);
  show(["timeline", "tasks", "regions", "logs"].includes(initial) ? initial : "overview");
  hook.firstDrawMs = performance.now();
  timeline.zoomTo(0, Math.max(1, meta.duration));
  void timeline.settled().then(() => hook.firstTileMs = performance.now());
  hook.ready = true;
}

function banner(m: PageMeta): void {
  const notes: string[] = [];
  if (m.truncated) {
    notes.push("The trace was cut short: it is shown up to its last complete batch.");
  }
  if (m.lost > 0) {
    notes.push(`The recorder lost ${m.lost} events: some tasks or regions may be missing.`);
  }
  if (m.summary.problemCount > 0) {
    notes.push(
      `${m.summary.problemCount} problem(s) in the trace: ${
        m.summary.problems.slice(0, 3).join("; ")
      }`,
    );
  }
  if (notes.length === 0) return;
  const el = $("#banner");
  el.hidden = false;
  el.innerHTML = notes.map((n) => `<p>${escapeHtml(n)}</p>`).join("");
}

/** The tabs; returns the function that shows a view. */
function tabs(): (view: string) => void {
  const buttons = [...document.querySelectorAll<HTMLButtonElement>("[role=tab]")];
  const show = (view: string) => {
    for (const b of buttons) {
      const on = b.dataset.view === view;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
    }
    for (const s of document.querySelectorAll<HTMLElement>(".view")) {
      s.hidden = s.id !== `view-${view}`;
    }
    if (location.hash !== `#${view}`) history.replaceState(null, "", `#${view}`);
  };
  for (const b of buttons) b.addEventListener("click", () => show(b.dataset.view!));
  return show;
}

/** Clicks on the task and stall lists of the Overview and Tasks pages. */
function wireLists(
  m: PageMeta,
  openTask: (ref: TaskRef) => Promise<void>,
  showStall: (s: StallRef) => void,
): void {
  for (const id of ["#view-overview", "#view-tasks"]) {
    $(id).addEventListener("click", (e) => {
      const b = (e.target as HTMLElement).closest<HTMLElement>("button.link");
      if (!b) return;
      if (b.dataset.stall !== undefined) {
        return showStall(m.summary.stalls[Number(b.dataset.stall)]);
      }
      const list = b.dataset.list ?? "";
      const refs = list === "slowest" ? m.summary.slowest : m.summary.slowestByType[list.slice(5)];
      const ref = refs?.[Number(b.dataset.i)];
      if (ref) void openTask(ref);
    });
  }
}
