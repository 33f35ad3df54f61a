/// <reference lib="dom" />
/**
 * The Logs page: every log with filters by category, task id and text,
 * shown a page at a time.
 *
 * @module
 */

import type { Trace } from "../../read/trace_model.ts";
import { formatDuration } from "../../read/duration.ts";
import { escapeHtml } from "./ticks_and_html.ts";
import { link, type Nav, wireLinks } from "./details.ts";

/**
 * Renders the Logs page into `root`.
 *
 * @example
 * ```ts
 * import { renderLogsPage } from "./logs_page.ts";
 * import type { Nav } from "./details.ts";
 * import type { Trace } from "../../read/trace_model.ts";
 * declare const trace: Trace, nav: Nav;
 * renderLogsPage(document.querySelector("#view-logs")!, trace, nav);
 * ```
 */
export function renderLogsPage(root: HTMLElement, trace: Trace, nav: Nav): void {
  const $ = <T extends HTMLElement>(sel: string): T => root.querySelector(sel) as T;
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
  wireLinks(root, nav);
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
