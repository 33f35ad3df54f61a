/// <reference lib="dom" />
/**
 * The search box: matches task and region types, log categories and log
 * messages, highlights the matches on the timeline and steps through them
 * with Enter.
 *
 * @module
 */

import type { Columns } from "./columns.ts";
import type { Matches, Selection, Timeline } from "./timeline.ts";

/**
 * Wires the search box `input` and its status line to the timeline.
 *
 * @example
 * ```ts
 * import { setupSearch } from "./search.ts";
 * import type { Columns } from "./columns.ts";
 * import type { Timeline } from "./timeline.ts";
 * declare const cols: Columns, timeline: Timeline;
 * setupSearch(document.querySelector("#search")!, document.querySelector("#search-status")!, cols, timeline, () => {});
 * ```
 */
export function setupSearch(
  input: HTMLInputElement,
  status: HTMLElement,
  cols: Columns,
  timeline: Timeline,
  showTimeline: () => void,
): void {
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
    // Runtime events by what they are called on the timeline: "stall", "GC".
    if ("event-loop stall".includes(q)) {
      for (let i = 0; i < cols.stalls.n; i++) {
        found.push([cols.stalls.start[i], { kind: "stall", index: i }]);
      }
    }
    if ("gc garbage collection".includes(q)) {
      for (let i = 0; i < cols.gcs.n; i++) {
        found.push([cols.gcs.start[i], { kind: "gc", index: i }]);
      }
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
