/// <reference lib="dom" />
/**
 * The served page's search box: the text is matched against the task and
 * region types and log categories (few, in the page) and, by the server's
 * scan, the log messages; the results are listed in the details panel, each
 * a link (a task's focus data, a percentile's instance, the Logs page
 * filtered by the text). A number, or `#` and a number, opens that task.
 * Enter opens the next task found.
 *
 * @module
 */

import { formatDuration } from "../../read/duration.ts";
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
  let timer: ReturnType<typeof setTimeout> | undefined;
  const search = async () => {
    const text = input.value.trim();
    const q = text.toLowerCase();
    const mine = ++run;
    at = -1;
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
    status.textContent = "searching the logs…";
    const logs = await fetchLogs({ text }, 0, LOGS_SHOWN);
    if (mine !== run) return;
    tasks = [...found.tasks, ...logs.rows.map((l) => l.task).filter((t) => t !== 0)];
    const logHtml = logs.rows.length
      ? `<h3>Logs with “${escapeHtml(text)}”</h3><table class="logs-table search-logs">${
        logs.rows.map(logRow).join("")
      }</table><p><button class="link" data-search-logs="1">${
        logs.done && logs.rows.length < LOGS_SHOWN ? "On the Logs page" : "More on the Logs page"
      }</button></p>`
      : logs.done
      ? `<p class="hint">No log holds “${escapeHtml(text)}”.</p>`
      : `<p><button class="link" data-search-logs="1">Search every log on the Logs page</button></p>`;
    const n = found.html.length + logs.rows.length;
    status.textContent = n === 0 && logs.done ? "no matches" : `${n} found · Enter: next task`;
    act.showResults(
      `<h2>Search: “${escapeHtml(text)}”</h2>${
        found.html.length ? `<ul class="search-results">${found.html.join("")}</ul>` : ""
      }${logHtml}`,
    );
    document.querySelector("[data-search-logs]")?.addEventListener(
      "click",
      () => act.showLogs(text),
    );
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
