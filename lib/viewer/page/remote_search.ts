/// <reference lib="dom" />
/**
 * The served page's search box: the text is matched against the task and
 * region types and log categories (few, in the page) and, by the server's
 * scan, the log messages; the results are listed in the details panel, each
 * a link (a task's focus data, a percentile's instance, the Logs page
 * filtered by the text). The logs are searched through the whole trace a
 * bounded server step at a time, the progress shown; a newer search, Escape
 * or the Stop button stops it. A number, or `#` and a number, opens that task.
 * Enter opens the next task found.
 *
 * @module
 */

import { formatDuration } from "../../read/duration.ts";
import type { LogRow } from "../serve/index_layout.ts";
import { fetchLogs, type PageMeta } from "./remote_data.ts";
import { logRow, taskLink } from "./remote_pages.ts";
import { escapeHtml } from "./ticks_and_html.ts";

/** What the search does with what it found. */
export interface RemoteSearchActions {
  /** Shows the results' HTML (in the details panel). */
  showResults(html: string): void;
  /** Shows the Logs page filtered by `text`. */
  showLogs(text: string): void;
  /** Opens a task's focus data. */
  openTask(id: number): void;
  /** Highlights the slices of these type ids on the timeline (undefined: none). */
  highlight(types: ReadonlySet<number> | undefined): void;
}

/** Logs listed with the results; the Logs page has the rest. */
const LOGS_SHOWN = 20;

/** The results for `q` that need no server: types and categories by name, a task by id. */
function typeResults(m: PageMeta, q: string): { html: string[]; tasks: number[] } {
  const s = m.summary;
  const has = (name: string) => name.toLowerCase().includes(q);
  const html: string[] = [];
  const tasks: number[] = [];
  const id = /^#?(\d+)$/.exec(q);
  if (id) {
    html.push(`<li>${taskLink(Number(id[1]), `task #${id[1]}`)}</li>`);
    tasks.push(Number(id[1]));
  }
  for (const t of s.taskTypes.filter((t) => has(t.type))) {
    const slow = s.slowestByType[t.type] ?? [];
    tasks.push(...slow.map((r) => r.id));
    html.push(
      `<li>task type <b>${escapeHtml(t.type)}</b>: ${t.count} tasks; slowest ${
        slow.slice(0, 5).map((r) => `${taskLink(r.id, `#${r.id}`)} ${formatDuration(r.duration)}`)
          .join(", ")
      }</li>`,
    );
  }
  for (const r of s.regionTypes.filter((r) => has(r.type))) {
    const max = r.latency?.max;
    html.push(
      `<li>region type <b>${escapeHtml(r.type)}</b>: ${r.count} regions${
        max === undefined
          ? ""
          : `; the longest <button class="link rank" data-kind="region" data-type="${
            escapeHtml(r.type)
          }" data-ns="${max}">${formatDuration(max)}</button>`
      }</li>`,
    );
  }
  if ("event-loop stall".includes(q) && s.stallCount > 0) {
    html.push(
      `<li>${s.stallCount} stalls: ${
        s.stalls.slice(0, 5).map((st, i) =>
          `<button class="link" data-stall="${i}">${formatDuration(st.duration)}</button>`
        ).join(", ")
      }</li>`,
    );
  }
  return { html, tasks };
}

/**
 * Wires the search box `input` and its status line.
 *
 * @example
 * ```ts ignore
 * setupRemoteSearch(input, status, meta, { showResults, showLogs, openTask });
 * ```
 */
export function setupRemoteSearch(
  input: HTMLInputElement,
  status: HTMLElement,
  m: PageMeta,
  act: RemoteSearchActions,
): void {
  input.disabled = false;
  input.placeholder = "task type, region, log text or #task id  ( / )";
  let tasks: number[] = [];
  let at = -1;
  let run = 0;
  let scan: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Stops the scan of the logs under way, if any (a newer search, Escape, or its Stop button). */
  const stop = () => {
    scan?.abort();
    scan = undefined;
  };
  const search = async () => {
    const text = input.value.trim();
    const q = text.toLowerCase();
    const mine = ++run;
    at = -1;
    stop();
    if (!q) {
      tasks = [];
      status.textContent = "";
      act.highlight(undefined);
      return;
    }
    const found = typeResults(m, q);
    // The task and region types named by the text, highlighted on the timeline.
    const named = new Set<number>();
    const kinds = new Set([
      ...m.summary.taskTypes.map((t) => t.type),
      ...m.summary.regionTypes.map((r) => r.type),
    ]);
    m.types.forEach((name, i) => {
      if (kinds.has(name) && name.toLowerCase().includes(q)) named.add(i);
    });
    act.highlight(named);
    tasks = [...found.tasks];
    act.showResults(
      `<h2>Search: “${escapeHtml(text)}”</h2>${
        found.html.length ? `<ul class="search-results">${found.html.join("")}</ul>` : ""
      }<div class="search-log-results"></div>`,
    );
    await searchLogs(text, mine, found.html.length);
  };
  /**
   * Scans the logs for `text` a bounded server step at a time, through the
   * whole trace, until LOGS_SHOWN are found; shows how far it got, and can
   * be stopped.
   */
  const searchLogs = async (text: string, mine: number, typeHits: number) => {
    const box = document.querySelector<HTMLElement>("#details .search-log-results");
    if (!box) return;
    const ctl = scan = new AbortController();
    const rows: LogRow[] = [];
    let from = "", done = false, progress = 0;
    const render = (searching: boolean) => {
      const n = typeHits + rows.length;
      status.textContent = searching
        ? `searching the logs… ${Math.floor(progress * 100)}%`
        : n === 0 && done
        ? "no matches"
        : `${n} found · Enter: next task`;
      const table = rows.length
        ? `<h3>Logs with “${escapeHtml(text)}”</h3><table class="logs-table search-logs">${
          rows.map(logRow).join("")
        }</table>`
        : "";
      const more = `<p><button class="link" data-search-logs="1">${
        rows.length === 0
          ? "Search every log on the Logs page"
          : done && rows.length < LOGS_SHOWN
          ? "On the Logs page"
          : "More on the Logs page"
      }</button></p>`;
      box.innerHTML = table +
        (searching
          ? `<p class="search-progress"><progress max="100" value="${
            Math.floor(progress * 100)
          }"></progress> ${
            Math.floor(progress * 100)
          }% of the logs searched <button class="search-stop">Stop</button></p>`
          : rows.length === 0 && done
          ? `<p class="hint">No log holds “${escapeHtml(text)}”.</p>`
          : rows.length === 0 && !done
          ? `<p class="hint">Stopped at ${Math.floor(progress * 100)}% of the logs.</p>${more}`
          : more);
      box.querySelector("button.search-stop")?.addEventListener("click", () => {
        stop();
        render(false);
      });
      box.querySelector("[data-search-logs]")?.addEventListener("click", () => act.showLogs(text));
    };
    render(true);
    while (!done && rows.length < LOGS_SHOWN) {
      let page;
      try {
        page = await fetchLogs({ text }, from, LOGS_SHOWN - rows.length, ctl.signal);
      } catch (e) {
        if (ctl.signal.aborted) return;
        throw e;
      }
      if (mine !== run || ctl.signal.aborted) return;
      rows.push(...page.rows);
      tasks.push(...page.rows.map((l) => l.task).filter((t) => t !== 0));
      from = page.next;
      done = page.done;
      progress = page.progress;
      render(!done && rows.length < LOGS_SHOWN);
    }
    if (scan === ctl) scan = undefined;
  };
  document.addEventListener("keydown", (e) => {
    const tag = document.activeElement?.tagName;
    if (e.key === "/" && tag !== "INPUT" && tag !== "SELECT" && tag !== "TEXTAREA") {
      e.preventDefault();
      input.focus();
    }
  });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => void search(), 200);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      input.value = "";
      void search();
      return;
    }
    if (e.key !== "Enter") return;
    clearTimeout(timer);
    if (tasks.length === 0) {
      void search();
      return;
    }
    at = (at + (e.shiftKey ? -1 : 1) + tasks.length) % tasks.length;
    status.textContent = `task ${at + 1} of ${tasks.length}`;
    act.openTask(tasks[at]);
  });
}
