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
import type { FocusData, StallRef } from "../serve/index_layout.ts";
import { assignColors } from "./colors.ts";
import { fetchFocus, fetchInstance, fetchMeta, type PageMeta } from "./remote_data.ts";
import {
  culpritHtml,
  latencyTable,
  regionsPageHtml,
  renderRemoteLogs,
  taskLink,
  tasksPageHtml,
  wireBuckets,
} from "./remote_pages.ts";
import { setupRemoteSearch } from "./remote_search.ts";
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
    /** Opens task `id`'s focus data; resolves when it is shown. */
    openTask(id: number): Promise<void>;
  };
}

const $ = <T extends HTMLElement>(sel: string): T => document.querySelector(sel) as T;
const dur = (ns: number) => escapeHtml(formatDuration(ns));

function stallsList(stalls: StallRef[]): string {
  return stalls.slice(0, 10).map((s, i) =>
    `<li><button class="link" data-stall="${i}">${dur(s.duration)} stall</button> at ${
      dur(s.start)
    }: ${culpritHtml(s)}</li>`
  ).join("");
}

/** The Overview: what to look at first. */
function overviewHtml(m: PageMeta): string {
  const s = m.summary;
  const slow = s.slowest.slice(0, 10).map((t) =>
    `<li>${taskLink(t.id, `${t.type || "(no type)"} #${t.id}`)} ${dur(t.duration)}</li>`
  ).join("");
  const logs = Object.entries(s.logs).map(([c, n]) => `${escapeHtml(c || "(none)")}: ${n}`)
    .join(" · ");
  return `<h2>Task types</h2>${latencyTable("task", s.taskTypes, false)}
<h2>Slowest tasks</h2>${
    slow ? `<ol class="slowest">${slow}</ol>` : `<p class="hint">no complete tasks</p>`
  }
<h2>Event-loop stalls</h2><p>${s.stallCount} stalls, ${
    dur(s.stallTotal)
  } in all · ${s.gcCount} GCs, ${dur(s.gcTotal)}</p>${
    s.stallCount ? `<ol class="slowest">${stallsList(s.stalls)}</ol>` : ""
  }
<h2>Region types</h2>${latencyTable("region", s.regionTypes, false)}
<h2>Logs</h2><p>${logs || "no logs"}</p>`;
}

/** Where a task's time went, as the self-contained page's details say it. */
function delayHtml(f: FocusData): string {
  const d = f.delay;
  if (!d) return "";
  const total = Math.max(1, f.task.end - f.task.start);
  const share = (ns: number) => ` (${Math.round(ns / total * 100)}%)`;
  const rows = [
    `<tr><th>In its regions</th><td>${dur(d.inRegions)}${share(d.inRegions)}</td></tr>`,
    `<tr><th>Blocked by others</th><td class="blocked">${dur(d.blocked)}${
      share(d.blocked)
    }</td></tr>`,
    ...d.blockedBy.slice(0, 5).map((b) =>
      `<tr class="delayed-by"><th>Delayed by</th><td><button class="link" data-zoom="${b.start}:${
        b.start + b.duration
      }">a ${dur(b.delay)} stall</button>: ${culpritHtml(b)}</td></tr>`
    ),
    d.blockedBy.length > 5
      ? `<tr><th></th><td>and ${d.blockedBy.length - 5} more stalls</td></tr>`
      : "",
    d.gc > 0 ? `<tr><th>In GC</th><td>${dur(d.gc)}${share(d.gc)}</td></tr>` : "",
    `<tr><th>Waiting</th><td>${dur(d.waiting)}${
      share(d.waiting)
    }, the loop free (I/O, timers, locks)</td></tr>`,
  ];
  return `<h3>Where its time went</h3><table class="kv delay">${rows.join("")}</table>`;
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
    `<tr><td>${s.kind === "gc" ? "GC" : `stall: ${culpritHtml(s)}`}</td>` +
    `<td class="num">${dur(s.duration)}</td><td>${
      bar(s.start, s.start + s.duration, "#d93025")
    }</td></tr>`
  ).join("");
  return `<h2>${escapeHtml(t.type || "(no type)")} <span class="id">#${t.id}</span></h2>
<table class="kv"><tr><th>Duration</th><td>${dur(t.end - t.start)}${
    t.open ? " (not ended)" : ""
  }</td></tr>
<tr><th>Start</th><td>${dur(t.start)}</td></tr></table>${delayHtml(f)}
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
    ? `<p>In task ${taskLink(s.task, `#${s.task}`)}</p>`
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
  /** Opens task `id`'s focus data; `zoom` narrows the view to a part of it (a region). */
  const openTask = async (id: number, zoom?: { start: number; duration: number }) => {
    show("timeline");
    details.innerHTML = `<p class="hint">Reading task #${id}…</p>`;
    const f = await fetchFocus(id);
    if (!f) {
      details.innerHTML = `<p class="hint">Task #${id} is not in the index.</p>`;
      return;
    }
    remote.focus = f;
    details.innerHTML = focusHtml(f);
    bar.hidden = false;
    bar.innerHTML = `Task <b>${escapeHtml(f.task.type)} #${f.task.id}</b> · ${
      dur(f.task.end - f.task.start)
    } · ${f.stalls.length} stalls or GCs over it${
      f.delay?.blocked ? ` · blocked ${dur(f.delay.blocked)} by others` : ""
    } <button class="unfocus">Show the whole trace</button>`;
    const row = meta.rows[f.task.row];
    if (row) {
      timeline.selection = {
        kind: Kind.TASK,
        type: f.task.type,
        start: f.task.start,
        duration: f.task.end - f.task.start,
        task: f.task.id,
        row,
      };
      timeline.reveal(f.task.row);
    }
    const a = zoom?.start ?? f.task.start, b = zoom ? zoom.start + zoom.duration : f.task.end;
    const pad = (b - a) * 0.1 + 1000;
    timeline.zoomTo(a - pad, b + pad);
    await timeline.settled();
  };
  /** A percentile's link: the instance of that duration, its task's focus data. */
  const openRank = async (kind: "task" | "region", type: string, ns: number) => {
    const found = await fetchInstance(kind, type, ns);
    if (!found) return;
    if (kind === "task") return openTask(found.task);
    if (found.task !== 0) return openTask(found.task, found);
    show("timeline");
    const pad = found.duration * 0.1 + 1000;
    timeline.zoomTo(found.start - pad, found.start + found.duration + pad);
  };
  const remote: NonNullable<RemoteHook["remote"]> = {
    meta,
    timeline,
    openTask: (id) => openTask(id),
  };
  hook.remote = remote;
  const zoomTo = (start: number, end: number) => {
    show("timeline");
    const pad = (end - start) * 0.5 + 1000;
    timeline.zoomTo(start - pad, end + pad);
  };
  // Every task link, percentile link and stall link of every view and panel.
  document.addEventListener("click", (e) => {
    const b = (e.target as HTMLElement).closest<HTMLElement>("button.link");
    if (!b) return;
    const d = b.dataset;
    if (d.task !== undefined) void openTask(Number(d.task));
    else if (d.kind !== undefined) {
      void openRank(d.kind as "task" | "region", d.type ?? "", Number(d.ns));
    } else if (d.stall !== undefined) {
      const s = meta.summary.stalls[Number(d.stall)];
      zoomTo(s.start, s.start + s.duration);
    } else if (d.zoom !== undefined) {
      const [a, z] = d.zoom.split(":").map(Number);
      zoomTo(a, z);
    } else if (d.openTask !== undefined && selected) void openTask(selected.task);
  });
  bar.addEventListener("click", (e) => {
    if (!(e.target as HTMLElement).closest("button.unfocus")) return;
    bar.hidden = true;
    remote.focus = undefined;
    timeline.zoomTo(0, Math.max(1, meta.duration));
  });
  $("#view-overview").innerHTML = overviewHtml(meta);
  $("#view-tasks").innerHTML = tasksPageHtml(meta);
  $("#view-regions").innerHTML = regionsPageHtml(meta);
  wireBuckets($("#view-tasks"));
  wireBuckets($("#view-regions"));
  const filterLogs = renderRemoteLogs($("#view-logs"), meta);
  setupRemoteSearch($<HTMLInputElement>("#search"), $("#search-status"), meta, {
    showResults: (html) => {
      show("timeline");
      details.innerHTML = html;
    },
    showLogs: (text) => {
      show("logs");
      filterLogs({ text });
    },
    openTask: (id) => void openTask(id),
    highlight: (types) => timeline.setMatches(types),
  });
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
