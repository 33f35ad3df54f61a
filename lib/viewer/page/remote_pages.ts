/// <reference lib="dom" />
/**
 * The served page's Tasks, Regions and Logs pages, answered by the server
 * from the trace's index: the type tables with p50/p90/p99/Max as links to
 * the instance at that rank (its task's focus data opens on it), the
 * latency histograms on a log scale with their counts, each type's slowest
 * tasks; and the logs, filtered by category, task and text, a bounded scan
 * step at a time.
 *
 * @module
 */

import { formatDuration } from "../../read/duration.ts";
import type { LatencySummary } from "../../read/analysis.ts";
import type { BucketRow, LogFilter, LogRow, TaskRef } from "../serve/index_layout.ts";
import { fetchBucket, fetchLogs, type PageMeta } from "./remote_data.ts";
import { escapeHtml } from "./ticks_and_html.ts";

const dur = (ns: number) => escapeHtml(formatDuration(ns));

/** What a row of a type table shows. */
export interface LatencyRow {
  type: string;
  count: number;
  complete?: number;
  latency: LatencySummary | undefined;
}

const RANKS = [["p50", "p50"], ["p90", "p90"], ["p99", "p99"], ["max", "Max"]] as const;

/**
 * A latency histogram with bars on a log scale and their counts, so a tail
 * bucket of three is visible beside one of three thousand.
 */
function histogram(l: LatencySummary | undefined, kind: "task" | "region", type: string): string {
  const buckets = l?.histogram ?? [];
  if (buckets.length === 0) return "";
  const most = Math.max(1, ...buckets.map((b) => b.count));
  const bars = buckets.map((b) => {
    const h = b.count === 0
      ? 0
      : Math.max(3, Math.round(Math.log1p(b.count) / Math.log1p(most) * 34));
    const label = `${formatDuration(b.start)} to ${formatDuration(b.end)}: ${b.count} ${kind}${
      b.count === 1 ? "" : "s"
    }`;
    return `<button class="bucket" data-kind="${kind}" data-type="${
      escapeHtml(type)
    }" data-lo="${b.start}" data-hi="${b.end}" title="${label}" aria-label="${label}"${
      b.count === 0 ? " disabled" : ""
    }><small>${b.count || ""}</small><span style="height:${h}px"></span></button>`;
  }).join("");
  return `<div class="hist" role="group" aria-label="Latency histogram (log scale)">${bars}</div>` +
    `<div class="hist-axis"><span>${dur(buckets[0].start)}</span><span>${
      dur(buckets[buckets.length - 1].end)
    }</span></div>`;
}

/**
 * Lists a histogram bucket's instances when one is clicked in `root` (the
 * Tasks or Regions page), from the server's bounded scan of the levels the
 * bucket spans, each a link to its task's focus data, with its stall and GC
 * overlap and the stall that delayed it (its culprit a link); "Show more"
 * goes on.
 *
 * @example
 * ```ts ignore
 * wireBuckets(document.querySelector("#view-tasks")!);
 * ```
 */
export function wireBuckets(root: HTMLElement): void {
  const list = root.querySelector<HTMLElement>("section.instances")!;
  let run = 0;
  root.addEventListener("click", async (e) => {
    const b = (e.target as HTMLElement).closest<HTMLButtonElement>("button.bucket");
    if (!b) return;
    for (const x of root.querySelectorAll("button.bucket[aria-pressed]")) {
      x.removeAttribute("aria-pressed");
    }
    b.setAttribute("aria-pressed", "true");
    const d = b.dataset;
    const kind = d.kind as "task" | "region", type = d.type ?? "";
    const lo = Number(d.lo), hi = Number(d.hi);
    const mine = ++run;
    list.innerHTML =
      `<h3>${escapeHtml(type)}: ${kind}s from ${dur(lo)} to ${
        dur(hi)
      }</h3><table class="instances-table"><thead><tr><th>${
        kind === "task" ? "Task" : "Region of task"
      }</th><th class="num">Start</th><th class="num">Duration</th><th class="num">Thread</th>` +
      `<th class="num" title="Time its thread's event loop was stalled by other work">Stall overlap</th>` +
      `<th class="num" title="Garbage collection on its thread, outside stalls">GC</th>` +
      `<th>Delayed by</th></tr></thead><tbody></tbody></table>` +
      `<button class="more" hidden>Show more</button>`;
    const body = list.querySelector("tbody")!;
    const more = list.querySelector<HTMLButtonElement>("button.more")!;
    let from = 0;
    const step = async () => {
      more.hidden = true;
      let got = 0;
      while (got < 100) {
        const page = await fetchBucket(kind, type, lo, hi, from, 100 - got);
        if (mine !== run) return;
        body.insertAdjacentHTML(
          "beforeend",
          page.rows.map(bucketRow).join(""),
        );
        got += page.rows.length;
        from = page.next;
        if (page.done) return;
      }
      more.hidden = false;
    };
    more.addEventListener("click", () => void step());
    await step();
  });
}

/** Who ran a stall: its region's type and task, the task a link to its focus data. */
export function culpritHtml(s: { region: string; task: number; taskType?: string }): string {
  const task = s.task === 0 ? "" : taskLink(s.task, `${s.taskType || "task"} #${s.task}`);
  if (s.region) return `${escapeHtml(s.region)}${task ? ` (${task})` : ""}`;
  return task || "code outside any region";
}

/**
 * One instance of a bucket: its task, start, duration, thread, the time
 * its thread was stalled by other work and in GC during it, and the stall
 * that delayed it most, its culprit a link ("≥" where the server read only
 * part of a long instance's stalls).
 */
function bucketRow(r: BucketRow): string {
  const atLeast = r.partial ? "≥" : "";
  const by = r.delayedBy
    ? `<button class="link" data-zoom="${r.delayedBy.start}:${
      r.delayedBy.start + r.delayedBy.duration
    }">${dur(r.delayedBy.delay)}</button> ${culpritHtml(r.delayedBy)}`
    : "";
  return `<tr${r.blocked > 0 ? ' class="stalled"' : ""}><td>${
    taskLink(r.task, `#${r.task}`)
  }</td><td class="num">${dur(r.start)}</td><td class="num dur">${
    dur(r.duration)
  }</td><td class="num">${r.thread}</td><td class="num stall">${
    r.blocked > 0 ? atLeast + dur(r.blocked) : r.partial ? "?" : "-"
  }</td><td class="num gc">${
    r.gc > 0 ? atLeast + dur(r.gc) : r.partial ? "?" : "-"
  }</td><td class="delayed-by">${by}</td></tr>`;
}

/**
 * A type table: count and p50/p90/p99/Max, each percentile a link to the
 * instance at that rank (`button.rank` with `data-kind`, `data-type`,
 * `data-ns`), and the latency histogram when `hist` is set.
 *
 * @example
 * ```ts
 * import { latencyTable } from "./remote_pages.ts";
 * latencyTable("task", [], false); // a table saying "none"
 * ```
 */
export function latencyTable(
  kind: "task" | "region",
  rows: readonly LatencyRow[],
  hist: boolean,
): string {
  const noun = kind;
  const body = rows.map((t) => {
    const l = t.latency;
    const est = l?.relativeError ? "≈" : "";
    const cells = RANKS.map(([k, label]) =>
      l
        ? `<td class="num ${k}"><button class="link rank" data-kind="${kind}" data-type="${
          escapeHtml(t.type)
        }" data-ns="${l[k]}" title="Open the ${label} ${noun}">${k === "max" ? "" : est}${
          dur(l[k])
        }</button></td>`
        : `<td class="num">—</td>`
    ).join("");
    return `<tr data-type-name="${escapeHtml(t.type)}"><th scope="row">${
      escapeHtml(t.type || "(no type)")
    }</th><td class="num count">${t.count}</td>${cells}${
      hist ? `<td>${histogram(l, kind, t.type)}</td>` : ""
    }</tr>`;
  }).join("");
  return `<table class="stats ${kind}-types"><thead><tr><th scope="col">${
    kind === "task" ? "Task" : "Region"
  } type</th><th class="num">Count</th><th class="num">p50</th><th class="num">p90</th>` +
    `<th class="num">p99</th><th class="num">Max</th>${
      hist ? `<th>Latency histogram (log scale)</th>` : ""
    }</tr></thead><tbody>${
      body || `<tr><td colspan="7" class="hint">none</td></tr>`
    }</tbody></table>${
      rows.some((r) => r.latency?.relativeError)
        ? `<p class="hint">≈: from a sketch, within ${
          (rows.find((r) => r.latency?.relativeError)!.latency!.relativeError! * 100).toFixed(1)
        }%; the link opens an instance of that duration or the nearest.</p>`
        : ""
    }`;
}

/** A link that opens a task's focus data (`button.link` with `data-task`). */
export function taskLink(id: number, label: string): string {
  return `<button class="link" data-task="${id}">${escapeHtml(label)}</button>`;
}

/**
 * The Tasks page: the task types, and each type's slowest tasks.
 *
 * @example
 * ```ts ignore
 * root.innerHTML = tasksPageHtml(meta);
 * ```
 */
export function tasksPageHtml(m: PageMeta): string {
  const per = Object.entries(m.summary.slowestByType).map(([type, list]) =>
    `<h3>${escapeHtml(type || "(no type)")}</h3><ol class="slowest">${
      list.map((t: TaskRef) => `<li>${taskLink(t.id, `#${t.id}`)} ${dur(t.duration)}</li>`)
        .join("")
    }</ol>`
  ).join("");
  return `${
    latencyTable("task", m.summary.taskTypes, true)
  }<section class="instances" aria-live="polite"></section><h2>Slowest of each type</h2>${per}`;
}

/**
 * The Regions page: the region types, each split by task type.
 *
 * @example
 * ```ts ignore
 * root.innerHTML = regionsPageHtml(meta);
 * ```
 */
export function regionsPageHtml(m: PageMeta): string {
  const split = m.summary.regionTypes.map((r) =>
    `<li>${escapeHtml(r.type)}: ${
      r.byTaskType.map((s) => `${escapeHtml(s.taskType)} ×${s.count}`).join(", ")
    }</li>`
  ).join("");
  return `${
    latencyTable("region", m.summary.regionTypes, true)
  }<section class="instances" aria-live="polite"></section>${
    split ? `<h2>By task type</h2><ul>${split}</ul>` : ""
  }`;
}

/** One log as a table row; its task a link. */
export function logRow(l: LogRow): string {
  return `<tr data-time="${l.time}" data-thread="${l.thread}"><td class="num">${
    dur(l.time)
  }</td><td class="num">${l.thread}</td><td>${
    l.task === 0 ? "background" : taskLink(l.task, `#${l.task}`)
  }</td><td>${escapeHtml(l.category)}</td><td class="msg">${escapeHtml(l.message)}</td></tr>`;
}

/**
 * Renders the Logs page into `root`: the logs in time order across threads,
 * filtered by category, task id and text, answered by the server's scan of
 * the logs a step at a time ("Show more" goes on from where the last step
 * stopped), so it works at any size.
 * Returns the function that sets the text and task filters and runs them
 * (the search box's "logs with this text").
 *
 * @example
 * ```ts ignore
 * const filter = renderRemoteLogs(document.querySelector("#view-logs")!, meta);
 * filter({ text: "timeout" });
 * ```
 */
export function renderRemoteLogs(
  root: HTMLElement,
  m: PageMeta,
): (f: { text?: string; task?: number }) => void {
  const cats = Object.keys(m.summary.logs).sort();
  root.innerHTML =
    `<form class="filters" onsubmit="return false"><label>Category <select id="log-cat">` +
    `<option value="">all</option>${
      cats.map((c) => `<option value="${escapeHtml(c)}">${escapeHtml(c || "(none)")}</option>`)
        .join("")
    }</select></label> <label>Task id <input id="log-task" inputmode="numeric" size="8"></label> ` +
    `<label>Text <input id="log-text" type="search" size="24"></label> <span id="log-count" aria-live="polite"></span></form>` +
    `<table class="logs-table"><thead><tr><th>Time</th><th>Thread</th><th>Task</th><th>Category</th>` +
    `<th>Message</th></tr></thead><tbody id="log-rows"></tbody></table><button id="log-more" hidden>Show more</button>` +
    `<button id="log-stop" hidden>Stop</button>`;
  const q = <T extends HTMLElement>(sel: string) => root.querySelector(sel) as T;
  const cat = q<HTMLSelectElement>("#log-cat"), task = q<HTMLInputElement>("#log-task");
  const text = q<HTMLInputElement>("#log-text"), body = q("#log-rows");
  const more = q<HTMLButtonElement>("#log-more"), count = q("#log-count");
  const stop = q<HTMLButtonElement>("#log-stop");
  let progress = 0;
  let filter: LogFilter = {};
  let next = "", shown = 0, run = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Steps of the scan until `want` more rows or the end; a newer filter or
   * the Stop button (shown while steps go on) cancels it.
   */
  const step = async (want: number) => {
    const mine = ++run;
    let got = 0;
    more.hidden = true;
    try {
      for (;;) {
        const page = await fetchLogs(filter, next, want - got);
        if (mine !== run) return;
        body.insertAdjacentHTML("beforeend", page.rows.map(logRow).join(""));
        got += page.rows.length;
        shown += page.rows.length;
        next = page.next;
        progress = page.progress;
        count.textContent = page.done
          ? `${shown} of ${m.logCount} logs`
          : `${shown} shown · ${Math.floor(progress * 100)}% of the logs read`;
        if (page.done) return;
        if (got >= want) {
          more.hidden = false;
          return;
        }
        stop.hidden = false;
      }
    } finally {
      if (mine === run) stop.hidden = true;
    }
  };
  const apply = () => {
    const t = task.value.trim();
    filter = {};
    if (cat.selectedIndex > 0) filter.category = cat.value;
    if (t !== "" && Number.isFinite(Number(t))) filter.task = Number(t);
    if (text.value.trim()) filter.text = text.value.trim();
    body.innerHTML = "";
    next = "";
    shown = progress = 0;
    void step(200);
  };
  for (const el of [cat, task, text]) {
    el.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(apply, 150);
    });
  }
  more.addEventListener("click", () => void step(200));
  stop.addEventListener("click", () => {
    run++;
    stop.hidden = true;
    more.hidden = false;
    count.textContent = `${shown} shown · stopped at ${Math.floor(progress * 100)}% of the logs`;
  });
  apply();
  return (f) => {
    clearTimeout(timer);
    task.value = f.task === undefined ? "" : String(f.task);
    text.value = f.text ?? "";
    apply();
  };
}
