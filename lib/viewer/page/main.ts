/// <reference lib="dom" />
/**
 * The viewer page's entry point: reads the trace embedded in the page with
 * the same reader the CLI uses, in a Web Worker for a large trace (the same
 * script, started from a Blob URL: page_worker.ts), then builds the timeline
 * and the Tasks, Regions and Logs pages, and switches between them and a
 * task's focus view. The page only paints: the worker posts the timeline's
 * columns first and the full model after, as typed arrays. Anything that goes
 * wrong ends on an error panel that says what happened, never on a blank page.
 *
 * @module
 */

import type { Trace } from "../../read/trace_model.ts";
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
import { type PageModel, stallCulprit } from "./delay.ts";
import { type RemoteHook, remoteMain } from "./remote_main.ts";
import { InPageModel, type ModelSource, WorkerModel } from "./model_source.ts";
import { inPageWorker, servePageWorker, startPageWorker } from "./page_worker.ts";
import { fromBase64 } from "./trace_reader.ts";
import { receivedColumns } from "./posted_columns.ts";
import { inflateRaw } from "../inflate.ts";

/** What the page exposes for tests and benchmarks. */
interface ViewerHook {
  ready: boolean;
  error?: string;
  /** ms since navigation start when the first screen (timeline or overview) was drawn. */
  firstDrawMs?: number;
  /** ms since navigation start at the first animation frame after that draw. */
  firstFrameMs?: number;
  /** ms spent on base64, on decoding (base64 included) and on the layout (in the worker, if any). */
  base64Ms?: number;
  decodeMs?: number;
  layoutMs?: number;
  /** ms since navigation start when the full model (for details and pages) was built. */
  modelMs?: number;
  /** ms since navigation start when the timeline and every view were built (the layout is in). */
  timelineMs?: number;
  /** Whether a Web Worker read the trace (else the page did: a small trace, or no worker). */
  worker?: boolean;
  /** ms the worker spent building the model, once posted. */
  workerModelMs?: number;
  /**
   * When each step of the loading happened, ms since navigation start: the
   * page script started (`script`), asked its worker (`workerAsked`), the
   * worker started reading (`workerStart`), had the bytes (`workerBytes`),
   * the tasks of a large trace (`workerTasksDecoded`, posted at
   * `workerTasksPosted`, in the page at `tasksIn`) and the columns
   * (`workerDecoded`, posted at `workerPosted`, in the page at `columnsIn`);
   * the page drew the first screen (`firstDraw`), got the layout
   * (`layoutIn`) and the model (`modelIn`).
   */
  marks: Record<string, number>;
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

const IN_WORKER = inPageWorker();
/** The page script's own text, for its worker: `currentScript` is set only while it first runs. */
const OWN_SCRIPT = IN_WORKER ? "" : document.currentScript?.textContent ?? "";

const hook: ViewerHook = { ready: false, marks: {} };
const mark = (name: string, at = performance.now()) => hook.marks[name] = Math.round(at);
if (!IN_WORKER) mark("script");
// The page's own record of long main-thread tasks, for the benchmark and tests (where the
// browser has it: Chromium).
if (!IN_WORKER && globalThis.PerformanceObserver?.supportedEntryTypes?.includes("longtask")) {
  const long: [number, number][] = hook.longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) long.push([Math.round(e.startTime), Math.round(e.duration)]);
  }).observe({ type: "longtask", buffered: true });
}
if (!IN_WORKER) (globalThis as unknown as { runtraceViewer: ViewerHook }).runtraceViewer = hook;

const $ = <T extends HTMLElement>(sel: string): T => document.querySelector(sel) as T;

/**
 * The base64 text of the trace embedded in the page; `deflated` if it is of
 * the trace's raw DEFLATE (html.ts compresses a large trace).
 */
function embeddedTrace(): { text: string; deflated: boolean } {
  const el = document.getElementById("runtrace-data");
  if (!el) throw new Error("the page holds no trace data (the runtrace-data element is missing)");
  return { text: el.textContent ?? "", deflated: el.dataset.encoding === "deflate-raw" };
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

/** Traces up to this size (bytes) are read in the page: a worker is not worth starting. */
const IN_PAGE_BYTES = 1 << 19;

/** A line saying how far the reading of the trace is, for a view waiting for it. */
const reading = (what: string, share: number) =>
  `<p class="hint reading">Reading the trace for ${what}… ${Math.round(share * 100)}%</p>`;

/** Events from which a trace opens on the Overview page rather than the timeline. */
const LARGE_TRACE = 200_000;

/** Shows why the trace cannot be read. */
function unreadable(name: string, e: unknown): void {
  const msg = (e instanceof Error ? e.message : String(e)).replace(/^runtrace: /, "");
  const notTrace = /not a runtrace trace|unsupported trace format|empty input|trace header/
    .test(msg);
  showError(
    notTrace ? `${name} is not a runtrace trace` : `${name} is a corrupt trace`,
    msg,
  );
  hook.ready = true;
}

/**
 * Reads the embedded trace: in a Web Worker, which posts the timeline's
 * columns (painted at once) and then the full model; in the page itself for
 * a small trace or where no worker can start.
 */
function main(): void {
  const name = document.body.dataset.name ?? "trace";
  let text: string, deflated: boolean;
  try {
    ({ text, deflated } = embeddedTrace());
  } catch (e) {
    return unreadable(name, e);
  }
  const inPage = () => {
    hook.worker = false;
    const t0 = performance.now();
    let bytes: Uint8Array, cols: Columns;
    try {
      // Inflated here only where no worker starts: inflate.ts is slow (100 ms per MB).
      bytes = deflated ? inflateRaw(fromBase64(text)) : fromBase64(text);
      hook.base64Ms = performance.now() - t0;
      cols = decodeColumns(bytes);
      hook.decodeMs = performance.now() - t0;
    } catch (e) {
      return unreadable(name, e);
    }
    const source = new InPageModel(bytes, (m) => modelReady(cols, m));
    const first = firstScreen(name, cols, source);
    const t1 = performance.now();
    const layout = layoutTrace(cols);
    hook.layoutMs = performance.now() - t1;
    show(cols, layout, source, first);
    requestAnimationFrame(() => source.start());
  };
  if ((!deflated && text.length * 0.75 <= IN_PAGE_BYTES) || !OWN_SCRIPT) return inPage();
  let model: WorkerModel | undefined, cols: Columns | undefined, first: FirstScreen | undefined;
  const input = deflated ? { deflated: text } : { base64: text };
  mark("workerAsked");
  const worker = startPageWorker(OWN_SCRIPT, input, (m) => {
    if (m.kind === "tasks" || m.kind === "columns") {
      mark(`${m.kind}In`);
      for (const [k, at] of Object.entries(m.marks)) {
        mark(`worker${k[0].toUpperCase()}${k.slice(1)}`, at - performance.timeOrigin);
      }
      const c = receivedColumns(m.cols);
      if (m.kind === "columns") {
        cols = hook.cols = c;
        Object.assign(hook, { base64Ms: m.base64Ms, decodeMs: m.decodeMs });
      }
      // The first screen from the tasks alone if they come first, else from the columns.
      if (!first) {
        model = new WorkerModel((pm) => modelReady(cols!, pm));
        first = firstScreen(name, c, model, m.kind === "tasks" ? m : undefined);
      }
    } else if (m.kind === "layout") {
      mark("layoutIn");
      hook.layoutMs = m.layoutMs;
      // The counter charts draw the columns' series, posted with the columns.
      let k = 0;
      for (const t of m.layout.tracks) if (t.kind === "counter") t.counter = cols!.counters[k++];
      show(cols!, m.layout, model!, first!);
    } else if (m.kind === "model") {
      mark("modelIn");
      hook.workerModelMs = m.modelMs;
      model!.arrived(m.packed, m.curves, m.stats, cols!.logs.message);
    } else if (m.stage === "columns") unreadable(name, m.message);
    else modelFailed(model!, m.message);
  }, (why, afterFirst) => {
    if (!afterFirst) inPage();
    else if (model) modelFailed(model, why);
  });
  if (!worker) return inPage();
  hook.worker = true;
}

/** The worker could not build the model: the timeline stays, the views say why. */
function modelFailed(model: WorkerModel, message: string): void {
  model.fail(message, (msg) => {
    const el = $("#banner");
    el.hidden = false;
    el.insertAdjacentHTML(
      "beforeend",
      `<p>The details and the Tasks, Regions and Logs pages could not be built: ${
        escapeHtml(msg)
      }</p>`,
    );
  });
}

/** The full model is read: problems and the window's edges join the banner and summary. */
function modelReady(cols: Columns, model: PageModel): void {
  const { trace } = model;
  hook.trace = trace;
  hook.modelMs = performance.now();
  if (trace.problems.length > 0) showBanner(cols, trace);
  // The window's edges are not misuse: said in the summary, not in the banner.
  const edges = describeWindowEdges(trace.window);
  if (edges) $("#summary").textContent += ` · ${edges}`;
}

/** How many regions and logs a trace has (columns of its tasks alone have none). */
interface Counts {
  regions: number;
  logs: number;
}

/** The first screen, drawn from the columns alone (the timeline waits for its layout). */
interface FirstScreen {
  colors: Map<string, string>;
  /** The view shown first. */
  initial: string;
  /** The Overview, if it is the first screen. */
  overview?: OverviewState;
  /** Opens a task's focus view (from the Overview), once the views exist. */
  open: (index: number) => void;
}

/**
 * Shows the summary and, for a large trace, the Overview: what needs only
 * the columns, painted as soon as they are read.
 */
function firstScreen(
  name: string,
  cols: Columns,
  loader: ModelSource,
  counts?: Counts,
): FirstScreen {
  hook.cols = cols;
  showBanner(cols, undefined, counts);
  showSummary(cols, name, counts);
  const colors = assignColors(cols.names);
  hook.colors = colors;
  // A large trace opens on the overview: a timeline of a million slices says little at first.
  const hash = location.hash.slice(1);
  const initial = ["overview", "tasks", "regions", "logs", "timeline"].includes(hash)
    ? hash
    : cols.events > LARGE_TRACE
    ? "overview"
    : "timeline";
  const first: FirstScreen = { colors, initial, open: () => {} };
  if (initial === "overview") {
    showView("overview");
    first.overview = hook.overview = renderOverview(
      $("#view-overview"),
      cols,
      colors,
      loader.curves(),
      (i) => first.open(i),
    );
    firstDrawn();
  }
  return first;
}

/** Notes the time of the first screen drawn, and of the frame after it. */
function firstDrawn(): void {
  hook.firstDrawMs = performance.now();
  mark("firstDraw", hook.firstDrawMs);
  requestAnimationFrame(() => hook.firstFrameMs = performance.now());
}

/** Shows `view`'s section and tab, and no other. */
function showView(view: string): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>("[role=tab]")) {
    const on = b.dataset.view === view;
    b.setAttribute("aria-selected", String(on));
    b.tabIndex = on ? 0 : -1;
  }
  for (const s of document.querySelectorAll<HTMLElement>(".view")) {
    s.hidden = s.id !== `view-${view}`;
  }
}

/**
 * Builds the timeline and the views once the layout is there; views that
 * need the full model get it from `loader`.
 */
function show(cols: Columns, layout: Layout, loader: ModelSource, first: FirstScreen): void {
  const { colors } = first;
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
  const views = new Views(timeline, cols, layout, loader, colors, first.overview !== undefined);
  first.open = (i) => views.nav.focus(i);
  const nav = views.nav;
  showDetails(details, undefined, undefined, nav);
  setupSearch($("#search"), $("#search-status"), cols, timeline, () => views.show("timeline"));
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && document.activeElement?.tagName !== "INPUT") {
      e.preventDefault();
      ($("#search") as HTMLInputElement).focus();
    }
  });
  views.show(first.initial);
  if (!first.overview) firstDrawn();
  hook.timelineMs = performance.now();
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
    private loader: ModelSource,
    colors: Map<string, string>,
    overviewShown: boolean,
  ) {
    if (overviewShown) this.rendered.add("overview");
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
    showView(view);
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
    hook.overview = renderOverview(
      $("#view-overview"),
      this.cols,
      colors,
      this.loader.curves(),
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

function showBanner(
  cols: Columns,
  trace: Trace | undefined,
  counts: Counts = { regions: cols.regions.n, logs: cols.logs.n },
): void {
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
  if (cols.tasks.n + counts.regions + counts.logs === 0) {
    notes.push("The trace holds no tasks, regions or logs.");
  }
  const el = $("#banner");
  if (notes.length === 0) return;
  el.hidden = false;
  el.innerHTML = notes.map((n) => `<p>${escapeHtml(n)}</p>`).join("");
}

function showSummary(
  cols: Columns,
  name: string,
  counts: Counts = { regions: cols.regions.n, logs: cols.logs.n },
): void {
  const h = cols.header;
  $("#summary").textContent = `${name} · ${cols.events} events · ${
    formatDuration(cols.duration)
  } · ${cols.tasks.n} tasks · ${counts.regions} regions · ${counts.logs} logs · ${h.runtime} ${h.runtimeVersion}`;
}

if (IN_WORKER) servePageWorker();
else {
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
}
