/// <reference lib="dom" />
/**
 * The viewer page's entry point: decodes the trace embedded in the page with
 * the same reader the CLI uses, then builds the timeline and the Tasks,
 * Regions and Logs pages, and switches between them and a task's focus
 * view. Anything that goes wrong ends on an error panel
 * that says what happened, never on a blank page.
 *
 * @module
 */

import { TraceDecoder } from "../../format/decoder.ts";
import { type Trace, TraceBuilder } from "../../read/trace_model.ts";
import { describeWindowEdges } from "../../read/region_nesting.ts";
import { type Columns, decodeColumns } from "./columns.ts";
import { assignColors } from "./colors.ts";
import { formatDuration } from "../../read/duration.ts";
import { escapeHtml } from "./ticks_and_html.ts";
import { type Layout, layoutTrace } from "./model.ts";
import { type Selection, Timeline } from "./timeline.ts";
import { type Nav, showDetails } from "./details.ts";
import { type Focus, focusTask } from "./focus.ts";
import { renderStatsPage } from "./stats_page.ts";
import { renderLogsPage } from "./logs_page.ts";
import { setupSearch } from "./search.ts";
import { type OverviewState, renderOverview } from "./overview.ts";
import { responsivenessOf, type ThreadResponsiveness } from "../../read/responsiveness.ts";
import { type PageModel, PageModelBuilder, stallCulprit } from "./delay.ts";
import { type RemoteHook, remoteMain } from "./remote_main.ts";

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
  /** Main-thread tasks over 50 ms, [start, duration] in ms since navigation start (Chromium). */
  longTasks?: [number, number][];
  timeline?: Timeline;
  cols?: Columns;
  trace?: Trace;
  /** Colour per task type, region type and log category. */
  colors?: Map<string, string>;
  /** The focus view shown, if any. */
  focus?: Focus;
  /** The Overview page, once shown. */
  overview?: OverviewState;
}

const hook: ViewerHook = { ready: false };
// The page's own record of long main-thread tasks, for the benchmark (where the browser has it).
if (globalThis.PerformanceObserver?.supportedEntryTypes?.includes("longtask")) {
  const long: [number, number][] = hook.longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) long.push([Math.round(e.startTime), Math.round(e.duration)]);
  }).observe({ type: "longtask", buffered: true });
}
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
 * Builds the page's model (the reader's trace model and delay attribution)
 * from the same bytes in the background, a slice at a time so the timeline
 * stays responsive; a caller that needs it at once finishes the work
 * synchronously.
 */
/** Traces up to this size are read at once when a view needs them, rather than waited for. */
const SYNC_BYTES = 1 << 19;

/** A line saying how far the reading of the trace is, for a view waiting for it. */
const reading = (what: string, share: number) =>
  `<p class="hint reading">Reading the trace for ${what}… ${Math.round(share * 100)}%</p>`;

class ModelLoader {
  private builder = new PageModelBuilder(new TraceBuilder());
  private decoder = new TraceDecoder(this.builder.add);
  private at = 0;
  private model?: PageModel;
  private onReady: (m: PageModel) => void;
  private waiters: ((m: PageModel) => void)[] = [];
  private finished = false;
  private trace?: Trace;

  constructor(private bytes: Uint8Array, onReady: (m: PageModel) => void) {
    this.onReady = onReady;
  }

  /** Starts the background work. */
  start(): void {
    const tick = () => {
      if (this.model) return;
      const until = performance.now() + 30;
      while (!this.model && performance.now() < until) if (this.step()) break;
      if (!this.model) setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
  }

  /**
   * Calls `use` with the model: now if it is built, or if the trace is small
   * (it reads in a few ms); else when the background work
   * finishes, after calling `waiting` with the share read so far. So no view
   * holds the page while a large trace is read.
   */
  use(use: (m: PageModel) => void, waiting?: (share: number) => void): void {
    if (!this.model && this.bytes.length <= SYNC_BYTES) {
      while (!this.model) this.step();
    }
    if (this.model) {
      use(this.model);
      return;
    }
    waiting?.(this.at / Math.max(1, this.bytes.length));
    this.waiters.push(use);
  }

  /**
   * One step of the reading: a chunk of input, or one of the phases after
   * the last (each long on a large trace). True after a phase, to end the
   * slice there and let the page breathe between phases.
   */
  private step(): boolean {
    const chunk = 1 << 16;
    if (this.at < this.bytes.length) {
      this.decoder.push(this.bytes.subarray(this.at, this.at + chunk));
      this.at += chunk;
      return false;
    }
    if (!this.finished) {
      this.decoder.finish();
      this.finished = true;
      return true;
    }
    if (!this.trace) {
      this.trace = this.builder.trace();
      return true;
    }
    const model = this.model = this.builder.withDelays(this.trace);
    // Each waiting view in a task of its own: none adds to another's time.
    for (const f of [this.onReady, ...this.waiters.splice(0)]) setTimeout(() => f(model), 0);
    return true;
  }
}

/** Events from which a trace opens on the Overview page rather than the timeline. */
const LARGE_TRACE = 200_000;

/** Decodes the embedded trace into columns, or shows why it cannot. */
function decode(name: string): { bytes: Uint8Array; cols: Columns } | undefined {
  const t0 = performance.now();
  try {
    const bytes = embeddedTrace();
    hook.base64Ms = performance.now() - t0;
    const cols = decodeColumns(bytes);
    hook.decodeMs = performance.now() - t0;
    return { bytes, cols };
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/^runtrace: /, "") : String(e);
    const notTrace = /not a runtrace trace|unsupported trace format|empty input|trace header/
      .test(msg);
    showError(
      notTrace ? `${name} is not a runtrace trace` : `${name} is a corrupt trace`,
      msg,
    );
    hook.ready = true;
    return undefined;
  }
}

function main(): void {
  const name = document.body.dataset.name ?? "trace";
  const decoded = decode(name);
  if (!decoded) return;
  const { bytes, cols } = decoded;
  hook.cols = cols;
  const t1 = performance.now();
  const layout = layoutTrace(cols);
  hook.layoutMs = performance.now() - t1;
  showBanner(cols, undefined);
  showSummary(cols, name);
  const colors = assignColors(cols.names);
  hook.colors = colors;
  const loader = new ModelLoader(bytes, ({ trace }) => {
    hook.trace = trace;
    hook.modelMs = performance.now();
    if (trace.problems.length > 0) showBanner(cols, trace);
    // The window's edges are not misuse: said in the summary, not in the banner.
    const edges = describeWindowEdges(trace.window);
    if (edges) $("#summary").textContent += ` · ${edges}`;
  });
  const details = $("#details");
  const timeline = new Timeline($("#timeline-host"), {
    cols,
    layout,
    colors,
    onSelect: (sel) =>
      loader.use((m) => {
        if (timeline.selection === sel) showDetails(details, m, sel, nav);
      }, (share) => details.innerHTML = reading("the details", share)),
  });
  hook.timeline = timeline;
  hook.firstDrawMs = performance.now();
  requestAnimationFrame(() => {
    hook.firstFrameMs = performance.now();
    loader.start();
  });
  const views = new Views(timeline, cols, layout, loader, colors);
  const nav = views.nav;
  showDetails(details, undefined, undefined, nav);
  setupSearch($("#search"), $("#search-status"), cols, timeline, () => views.show("timeline"));
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement?.tagName !== "INPUT") {
      e.preventDefault();
      ($("#search") as HTMLInputElement).focus();
    }
  });
  // A large trace opens on the overview: a timeline of a million slices says little at first.
  const initial = location.hash.slice(1);
  const large = cols.events > LARGE_TRACE;
  views.show(
    ["overview", "tasks", "regions", "logs", "timeline"].includes(initial)
      ? initial
      : large
      ? "overview"
      : "timeline",
  );
  hook.ready = true;
}

/** The page's views (tabs), and the focus view of one task on the timeline. */
class Views {
  private rendered = new Set<string>();
  private pages: Map<string, () => void>;
  private bar = $("#focus-bar");
  readonly nav: Nav = {
    jump: (sel) => this.jump(sel),
    focus: (index, sel) => this.focus(index, sel),
  };

  constructor(
    private timeline: Timeline,
    private cols: Columns,
    private layout: Layout,
    private loader: ModelLoader,
    colors: Map<string, string>,
  ) {
    // Each page is rendered once the model is read, saying how far the reading is meanwhile.
    const later = (root: HTMLElement, what: string, render: (m: PageModel) => void) => () =>
      loader.use(render, (share) => root.innerHTML = reading(what, share));
    const stats = (which: "tasks" | "regions") => {
      const root = $(`#view-${which}`);
      return later(root, `the ${which}`, (m) => renderStatsPage(root, m, which, colors, this.nav));
    };
    const logs = $("#view-logs");
    this.pages = new Map<string, () => void>([
      ["overview", () => this.overview(colors)],
      ["tasks", stats("tasks")],
      ["regions", stats("regions")],
      ["logs", later(logs, "the logs", (m) => renderLogsPage(logs, m.trace, this.nav))],
    ]);
    this.wireTabs();
    this.bar.addEventListener("click", (e) => {
      if ((e.target as HTMLElement).closest("button.unfocus")) this.unfocus();
    });
    // "Show everything" leaves the focus view for the whole trace.
    timeline.canvas.addEventListener("keydown", (e) => {
      if ((e.key === "0" || e.key === "Home") && hook.focus) {
        this.unfocus();
        timeline.showAll();
      }
    });
  }

  show(view: string): void {
    for (const b of document.querySelectorAll<HTMLButtonElement>("[role=tab]")) {
      const on = b.dataset.view === view;
      b.setAttribute("aria-selected", String(on));
      b.tabIndex = on ? 0 : -1;
    }
    for (const s of document.querySelectorAll<HTMLElement>(".view")) {
      s.hidden = s.id !== `view-${view}`;
    }
    if (!this.rendered.has(view) && this.pages.has(view)) {
      this.rendered.add(view);
      this.pages.get(view)!();
    }
    if (view === "timeline") this.timeline.requestDraw();
    if (location.hash !== `#${view}`) history.replaceState(null, "", `#${view}`);
  }

  private wireTabs(): void {
    const tabs = [...document.querySelectorAll<HTMLButtonElement>("[role=tab]")];
    for (const b of tabs) {
      b.addEventListener("click", () => this.show(b.dataset.view!));
      b.addEventListener("keydown", (e) => {
        const at = tabs.indexOf(b);
        const to = e.key === "ArrowRight" ? at + 1 : e.key === "ArrowLeft" ? at - 1 : -2;
        if (to === -2) return;
        const next = tabs[(to + tabs.length) % tabs.length];
        next.focus();
        this.show(next.dataset.view!);
      });
    }
  }

  /** Shows an item on the timeline; leaves the focus view if the item is not in it. */
  private jump(sel: Selection): void {
    this.show("timeline");
    if (hook.focus && !this.timeline.rectOf(sel)) this.unfocus();
    this.timeline.select(sel, true);
    this.timeline.canvas.focus();
  }

  /** The Overview page: the scatter at once, the responsiveness curves when the model is read. */
  private overview(colors: Map<string, string>): void {
    const curves = new Promise<ThreadResponsiveness[]>((done) =>
      this.loader.use((m) => done(responsivenessOf(m.trace)))
    );
    hook.overview = renderOverview(
      $("#view-overview"),
      this.cols,
      colors,
      curves,
      (i) => this.focus(i),
    );
  }

  /** Opens the focus view of task `index`, once the model is read. */
  private focus(index: number, sel?: Selection): void {
    this.loader.use((m) => this.focusWith(m, index, sel), (share) => {
      this.show("timeline");
      this.bar.hidden = false;
      this.bar.innerHTML = reading("the focus view", share);
    });
  }

  /** The focus view of task `index`: its rows, what overlapped it, and why it waited. */
  private focusWith(model: PageModel, index: number, sel?: Selection): void {
    const trace = model.trace;
    const f = focusTask(this.cols, model, index);
    hook.focus = f;
    this.show("timeline");
    this.timeline.setLayout(f.layout, f.bands);
    this.timeline.zoomTo(f.t0, f.t1);
    this.timeline.select(sel ?? { kind: "task", index });
    const t = trace.tasks[index];
    const d = model.delays.of(t);
    const why = d.blockedBy.length === 0
      ? "no event-loop stall by other work delayed it"
      : `delayed ${formatDuration(d.blocked)} by ${
        d.blockedBy.length === 1 ? "a stall" : `${d.blockedBy.length} stalls`
      } in ${stallCulprit(d.blockedBy[0].stall)}`;
    this.bar.hidden = false;
    this.bar.innerHTML = `Focus on <b>${escapeHtml(t.type || "(no type)")} #${t.id}</b> · ${
      formatDuration(d.end - d.start)
    } · ${escapeHtml(why)} <button class="unfocus">Show the whole trace</button>`;
    this.timeline.canvas.focus();
  }

  private unfocus(): void {
    hook.focus = undefined;
    this.bar.hidden = true;
    this.timeline.setLayout(this.layout);
    this.timeline.select(this.timeline.selection, true);
  }
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

try {
  // The page of `view --serve` holds no trace: it asks the server (remote_main.ts).
  if (document.body.dataset.serve) {
    remoteMain(hook as unknown as RemoteHook, showError).catch((e) =>
      showError("The viewer failed", String(e))
    );
  } else main();
} catch (e) {
  showError("The viewer failed", e instanceof Error ? `${e.message}` : String(e));
  hook.ready = true;
}
