/// <reference lib="dom" />
/**
 * The Tasks and Regions pages: a row per type with its count, percentiles
 * and latency histogram. Each percentile is a link to the instance at that
 * rank (its task's focus view opens on it); a histogram bucket lists its
 * instances with what delayed them; columns sort; the table copies as CSV.
 *
 * @module
 */

import {
  bucketOf,
  type LatencySummary,
  summarizeRegionTypes,
  summarizeTaskTypes,
  taskSpan,
  taskTypeOf,
} from "../../read/analysis.ts";
import { formatDuration } from "../../read/duration.ts";
import type { Trace } from "../../read/trace_model.ts";
import { escapeHtml } from "./ticks_and_html.ts";
import { focusLink, link, type Nav, wireLinks } from "./details.ts";
import { type PageModel, stallCulprit } from "./delay.ts";

/** A row of the Tasks or Regions page: the analysis model's summary of one type. */
export interface TypeRow {
  type: string;
  count: number;
  complete: number;
  latency: LatencySummary | undefined;
  /** Region rows: count per task type. */
  split?: { taskType: string; count: number }[];
  /**
   * Complete instances (task or region indices), shortest first: typed, so
   * the worker moves them to the page rather than the page deserialising
   * an array of numbers per type.
   */
  ranked: Int32Array;
}

type Which = "tasks" | "regions";
const RANKS = [["p50", 50], ["p90", 90], ["p99", 99], ["max", 100]] as const;

/** The rows of the Tasks or Regions page, and each instance's duration, ns (NaN: not complete). */
export interface StatsRows {
  rows: TypeRow[];
  duration: Float64Array;
}

/**
 * Rows of the Tasks or Regions page, each with its instances ranked by
 * duration: no DOM, so the page's worker can make them (the whole model is
 * read once for them, too long for the page's main thread on a large trace).
 *
 * @example
 * ```ts
 * import { parseTrace } from "../../read/trace_model.ts";
 * import { statsRows } from "./stats_page.ts";
 * const { rows } = statsRows(parseTrace(await Deno.readFile("trace.out")), "tasks");
 * console.log(rows.map((r) => `${r.type}: ${r.count}`));
 * ```
 */
export function statsRows(trace: Trace, which: "tasks" | "regions"): StatsRows {
  const rows: TypeRow[] = which === "tasks"
    ? summarizeTaskTypes(trace).map((r) => ({ ...r, ranked: new Int32Array(0) }))
    : summarizeRegionTypes(trace).map((r) => ({
      ...r,
      split: r.byTaskType,
      ranked: new Int32Array(0),
    }));
  const byType = new Map(rows.map((r) => [r.type, [] as number[]]));
  const duration = new Float64Array(which === "tasks" ? trace.tasks.length : trace.regions.length)
    .fill(NaN);
  if (which === "tasks") {
    trace.tasks.forEach((t, i) => {
      const span = taskSpan(trace, t);
      if (!span.complete) return;
      duration[i] = span.duration;
      byType.get(taskTypeOf(t))?.push(i);
    });
  } else {
    trace.regions.forEach((r, i) => {
      if (r.end === undefined) return;
      duration[i] = Math.max(0, r.end - r.start);
      byType.get(r.type)?.push(i);
    });
  }
  for (const r of rows) {
    r.ranked = Int32Array.from(byType.get(r.type)!).sort((a, b) =>
      duration[a] - duration[b] || a - b
    );
  }
  return { rows, duration };
}

/**
 * The instance at nearest-rank percentile `p` of a row (as
 * {@linkcode summarizeLatencies} computes it), so its duration is the one shown.
 */
function atRank(row: TypeRow, p: number): number | undefined {
  const n = row.ranked.length;
  if (n === 0) return undefined;
  return row.ranked[Math.min(n, Math.max(1, Math.ceil(p / 100 * n))) - 1];
}

/** A sortable column of the type table. */
interface Column {
  key: string;
  label: string;
  num: boolean;
  value: (r: TypeRow) => number | string;
  cell: (r: TypeRow, ti: number) => string;
}

function columns(which: Which, noun: string, colors: Map<string, string>): Column[] {
  const rank = (key: string, p: number): Column => ({
    key,
    label: key === "max" ? "Max" : key,
    num: true,
    value: (r) => r.latency?.[key as "p50"] ?? -1,
    cell: (r, ti) => {
      const v = r.latency?.[key as "p50"];
      return `<td class="num ${key}">${
        v === undefined
          ? "-"
          : `<button class="link rank" data-type="${ti}" data-rank="${p}" title="Open the ${key} ${noun}">${
            formatDuration(v)
          }</button>`
      }</td>`;
    },
  });
  const cols: Column[] = [
    {
      key: "type",
      label: which === "tasks" ? "Task type" : "Region type",
      num: false,
      value: (r) => r.type,
      cell: (r) =>
        `<th scope="row"><span class="swatch" style="background:${
          colors.get(r.type) ?? "#ccc"
        }"></span>${escapeHtml(r.type)}</th>`,
    },
    {
      key: "count",
      label: "Count",
      num: true,
      value: (r) => r.count,
      cell: (r) => `<td class="num count">${r.count}</td>`,
    },
    {
      key: "complete",
      label: "Complete",
      num: true,
      value: (r) => r.complete,
      cell: (r) => `<td class="num complete">${r.complete}</td>`,
    },
    ...RANKS.map(([k, p]) => rank(k, p)),
  ];
  return cols;
}

/**
 * A latency histogram with bars on a log scale, so a tail bucket of three
 * tasks is visible beside one of three thousand, each with its count.
 */
function histogram(row: TypeRow, ti: number, noun: string): string {
  const buckets = row.latency?.histogram ?? [];
  if (buckets.length === 0) return "no complete instances";
  const most = Math.max(1, ...buckets.map((b) => b.count));
  const bars = buckets.map((b, bi) => {
    const n = b.count;
    const h = n === 0 ? 0 : Math.max(3, Math.round(Math.log1p(n) / Math.log1p(most) * 34));
    const label = `${formatDuration(b.start)} to ${formatDuration(b.end)}: ${n} ${noun}${
      n === 1 ? "" : "s"
    }`;
    return `<button class="bucket" data-type="${ti}" data-bucket="${bi}" title="${label}" aria-label="${label}"${
      n === 0 ? " disabled" : ""
    }><small>${n === 0 ? "" : n}</small><span style="height:${h}px"></span></button>`;
  }).join("");
  return `<div class="hist" role="group" aria-label="Latency histogram of ${
    escapeHtml(row.type)
  } (log scale)">${bars}</div><div class="hist-axis"><span>${
    formatDuration(buckets[0].start)
  }</span><span>${formatDuration(buckets[buckets.length - 1].end)}</span></div>`;
}

/**
 * The type table as CSV: one line per type, durations in ns.
 *
 * @example
 * ```ts
 * import { statsCsv } from "./stats_page.ts";
 * statsCsv([]); // "type,count,complete,p50_ns,p90_ns,p99_ns,max_ns\n"
 * ```
 */
export function statsCsv(rows: TypeRow[]): string {
  const q = (s: string) => /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  const lines = ["type,count,complete,p50_ns,p90_ns,p99_ns,max_ns"];
  for (const r of rows) {
    const l = r.latency;
    lines.push(
      [q(r.type), r.count, r.complete, l?.p50 ?? "", l?.p90 ?? "", l?.p99 ?? "", l?.max ?? ""]
        .join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Renders the Tasks or Regions page into `root`.
 *
 * @example
 * ```ts
 * import { renderStatsPage } from "./stats_page.ts";
 * import type { Nav } from "./details.ts";
 * import type { PageModel } from "./delay.ts";
 * declare const model: PageModel, nav: Nav;
 * renderStatsPage(document.querySelector("#view-tasks")!, model, "tasks", new Map(), nav);
 * ```
 */
export function renderStatsPage(
  root: HTMLElement,
  model: PageModel,
  which: Which,
  colors: Map<string, string>,
  nav: Nav,
): void {
  const trace = model.trace;
  const noun = which === "tasks" ? "task" : "region";
  // Made by the page's worker with the model, if it read the trace; else here.
  const { rows, duration } = model.stats?.[which] ?? statsRows(trace, which);
  if (rows.length === 0) {
    root.innerHTML = `<p class="hint">The trace has no ${which}.</p>`;
    return;
  }
  const cols = columns(which, noun, colors);
  const head = cols.map((c) =>
    `<th scope="col"${
      c.num ? ' class="num"' : ""
    } aria-sort="none"><button class="sort" data-key="${c.key}">${c.label}</button></th>`
  ).join("");
  root.innerHTML =
    `<div class="filters"><button id="${which}-csv-copy">Copy as CSV</button><span id="${which}-csv-status" aria-live="polite"></span></div><table class="stats" id="${which}-table"><thead><tr>${head}<th scope="col">Latency histogram (log scale)</th>${
      which === "regions" ? `<th scope="col">By task type</th>` : ""
    }</tr></thead><tbody></tbody></table><textarea id="${which}-csv" readonly hidden rows="6" cols="80"></textarea><section id="${which}-instances" class="instances" aria-live="polite"></section>`;
  const body = root.querySelector("tbody")!;
  const fill = () => {
    body.innerHTML = rows.map((row) => {
      const ti = rowsOrig.indexOf(row);
      const split = row.split
        ? `<td>${row.split.map((s) => `${escapeHtml(s.taskType)} ×${s.count}`).join(", ")}</td>`
        : "";
      return `<tr data-type-name="${escapeHtml(row.type)}">${
        cols.map((c) => c.cell(row, ti)).join("")
      }<td>${histogram(row, ti, noun)}</td>${split}</tr>`;
    }).join("");
  };
  const rowsOrig = rows.slice();
  fill();
  const list = root.querySelector<HTMLElement>(`#${which}-instances`)!;
  wireLinks(list, nav);
  wireSort(root, cols, rows, fill);
  wireCsv(root, which, rowsOrig);
  root.querySelector("table")!.addEventListener("click", (e) => {
    const target = e.target as HTMLElement;
    const rank = target.closest<HTMLButtonElement>("button.rank");
    if (rank) {
      const i = atRank(rowsOrig[Number(rank.dataset.type)], Number(rank.dataset.rank));
      if (i === undefined) return;
      if (which === "tasks") nav.focus(i);
      else openRegion(trace, i, nav);
      return;
    }
    const b = target.closest<HTMLButtonElement>("button.bucket");
    if (!b) return;
    for (const x of root.querySelectorAll("button.bucket[aria-pressed]")) {
      x.removeAttribute("aria-pressed");
    }
    b.setAttribute("aria-pressed", "true");
    const row = rowsOrig[Number(b.dataset.type)];
    listBucket(list, model, which, row, Number(b.dataset.bucket), duration);
  });
}

/** A region opens its task's focus view with the region selected (the timeline if it has no task). */
function openRegion(trace: Trace, i: number, nav: Nav): void {
  const r = trace.regions[i];
  const t = r.task === 0 ? -1 : trace.tasks.findIndex((x) => x.id === r.task);
  if (t >= 0) nav.focus(t, { kind: "region", index: i });
  else nav.jump({ kind: "region", index: i });
}

/** Header buttons sort the rows by their column; a second click reverses. */
function wireSort(root: HTMLElement, cols: Column[], rows: TypeRow[], fill: () => void): void {
  let by = "", dir = 1;
  root.querySelector("thead")!.addEventListener("click", (e) => {
    const b = (e.target as HTMLElement).closest<HTMLButtonElement>("button.sort");
    if (!b) return;
    const col = cols.find((c) => c.key === b.dataset.key)!;
    dir = by === col.key ? -dir : col.num ? -1 : 1;
    by = col.key;
    rows.sort((x, y) => {
      const a = col.value(x), c = col.value(y);
      return (a < c ? -1 : a > c ? 1 : 0) * dir;
    });
    for (const th of root.querySelectorAll("thead th[aria-sort]")) {
      th.setAttribute("aria-sort", "none");
    }
    b.parentElement!.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
    fill();
  });
}

/** "Copy as CSV": to the clipboard, or into a text box to copy by hand where the page may not. */
function wireCsv(root: HTMLElement, which: Which, rows: TypeRow[]): void {
  const text = root.querySelector<HTMLTextAreaElement>(`#${which}-csv`)!;
  const status = root.querySelector<HTMLElement>(`#${which}-csv-status`)!;
  root.querySelector(`#${which}-csv-copy`)!.addEventListener("click", async () => {
    const csv = statsCsv(rows);
    text.value = csv;
    try {
      await navigator.clipboard.writeText(csv);
      status.textContent = `copied ${rows.length} rows`;
      text.hidden = true;
    } catch {
      status.textContent = "the browser refused the clipboard: copy the text below";
      text.hidden = false;
      text.select();
    }
  });
}

/** Lists the instances of one histogram bucket, slowest first, with what delayed each task. */
function listBucket(
  list: HTMLElement,
  model: PageModel,
  which: Which,
  row: TypeRow,
  bi: number,
  duration: Float64Array,
): void {
  const trace = model.trace;
  const noun = which === "tasks" ? "task" : "region";
  const bucket = row.latency!.histogram[bi];
  const items = Array.from(row.ranked.filter((i) => bucketOf(duration[i]) === bucket.bucket))
    .reverse();
  const shown = items.slice(0, 500);
  const line = (i: number) => {
    if (which === "regions") {
      const r = trace.regions[i];
      return `<tr><td>${link("region", i, `#${r.id}`)}</td><td class="num">${
        formatDuration(r.start)
      }</td><td class="num dur">${formatDuration(duration[i])}</td><td>${
        escapeHtml(trace.task(r.task)?.type ?? "background")
      } #${r.task}</td><td class="num">${r.thread}</td></tr>`;
    }
    const t = trace.tasks[i];
    const d = model.delays.of(t);
    const culprit = d.blockedBy.length ? stallCulprit(d.blockedBy[0].stall) : "";
    return `<tr><td>${focusLink(i, `#${t.id}`)}</td><td class="num">${
      formatDuration(t.start ?? 0)
    }</td><td class="num dur">${formatDuration(duration[i])}</td><td class="num stall">${
      d.blocked > 0 ? formatDuration(d.blocked) : "-"
    }</td><td>${
      escapeHtml(culprit)
    }</td><td class="num">${t.regions.length}</td><td class="num">${t.logs.length}</td><td>${
      escapeHtml(t.logs.slice(0, 3).map((l) => `${l.category}=${l.message}`).join(" "))
    }</td></tr>`;
  };
  const head = which === "tasks"
    ? `<th>Task</th><th class="num">Start</th><th class="num">Duration</th><th class="num">Stall overlap</th><th>Delayed by</th><th class="num">Regions</th><th class="num">Logs</th><th>First logs</th>`
    : `<th>Region</th><th class="num">Start</th><th class="num">Duration</th><th>Task</th><th class="num">Thread</th>`;
  list.innerHTML = `<h3>${escapeHtml(row.type)}: ${items.length} ${noun}${
    items.length === 1 ? "" : "s"
  } from ${formatDuration(bucket.start)} to ${formatDuration(bucket.end)}${
    items.length > shown.length ? ` (the slowest ${shown.length} shown)` : ""
  }</h3><table class="instances-table"><thead><tr>${head}</tr></thead><tbody>${
    shown.map(line).join("")
  }</tbody></table>`;
  list.querySelector<HTMLElement>("button.link")?.focus();
}
