/// <reference lib="dom" />
/**
 * The Overview page, the first screen of a large trace: every task as a
 * point of its latency over time, a colour per task type, with the
 * event-loop stalls as bands and the slowest tasks marked and named, so
 * the tasks worth a look stand out where a timeline of a million slices is
 * a wall of grey. A click on a point opens that task's focus view. Below
 * it, once the model is built, each thread's responsiveness curve (Go's
 * minimum mutator utilisation) from lib/read/responsiveness.ts.
 *
 * The scatter needs only the columns, so it draws at once; its cost is
 * bounded by pixels: points that land on one pixel are drawn once.
 *
 * @module
 */

import type { Columns } from "./columns.ts";
import { formatDuration } from "../../read/duration.ts";
import type { ThreadResponsiveness } from "../../read/responsiveness.ts";
import { escapeHtml } from "./ticks_and_html.ts";

/** How many of the slowest tasks are marked. */
const MARKED = 8;
const PAD_L = 56, PAD_B = 22, PAD_T = 8, PAD_R = 12;

/** A marked task: its index and where its point is drawn, CSS px. */
export interface MarkedTask {
  index: number;
  x: number;
  y: number;
}

/** The scatter's geometry, to map points and clicks. */
interface Scale {
  width: number;
  height: number;
  t1: number;
  /** log10 of the smallest and largest duration shown, ns. */
  lo: number;
  hi: number;
}

function xOf(s: Scale, t: number): number {
  return PAD_L + t / s.t1 * (s.width - PAD_L - PAD_R);
}

function yOf(s: Scale, d: number): number {
  const v = Math.log10(Math.max(d, 1));
  const f = s.hi > s.lo ? (v - s.lo) / (s.hi - s.lo) : 0.5;
  return s.height - PAD_B - f * (s.height - PAD_B - PAD_T);
}

/** Duration of task `i`, ns, or -1 if the trace does not hold both its ends. */
function durationOf(cols: Columns, i: number): number {
  const s = cols.tasks.start[i], e = cols.tasks.end[i];
  return Number.isNaN(s) || Number.isNaN(e) ? -1 : Math.max(0, e - s);
}

/** Indices of the `n` slowest complete tasks, slowest first. */
function slowest(cols: Columns, n: number): number[] {
  const { start, end } = cols.tasks;
  const top: number[] = [], dur: number[] = [];
  // Most tasks are faster than the n-th slowest so far: one comparison each.
  let floor = -1;
  for (let i = 0; i < cols.tasks.n; i++) {
    const d = end[i] - start[i];
    if (!(d >= floor)) continue; // NaN (an end outside the trace) too
    if (top.length === n && d <= floor) continue;
    let at = top.length;
    while (at > 0 && dur[at - 1] < d) at--;
    top.splice(at, 0, i);
    dur.splice(at, 0, Math.max(0, d));
    if (top.length > n) {
      top.pop();
      dur.pop();
    }
    if (top.length === n) floor = dur[n - 1];
  }
  return top;
}

/** Sizes `canvas` to width × height CSS px at the device's pixel ratio; its context, in CSS px. */
function sized(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d")!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.font = "11px system-ui, sans-serif";
  return ctx;
}

/** The axes: time along the bottom, duration (log) up the left. */
function drawAxes(ctx: CanvasRenderingContext2D, s: Scale): void {
  ctx.strokeStyle = "#dadce0";
  ctx.fillStyle = "#5f6368";
  ctx.lineWidth = 1;
  ctx.textBaseline = "middle";
  for (let p = Math.ceil(s.lo); p <= Math.floor(s.hi); p++) {
    const y = Math.round(yOf(s, 10 ** p)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(PAD_L, y);
    ctx.lineTo(s.width - PAD_R, y);
    ctx.stroke();
    ctx.fillText(formatDuration(10 ** p), 4, y);
  }
  ctx.textBaseline = "alphabetic";
  for (let k = 0; k <= 4; k++) {
    const t = s.t1 * k / 4;
    ctx.fillText(formatDuration(t), Math.min(xOf(s, t), s.width - 50), s.height - 6);
  }
}

/** Each CSS colour as the canvas stores its pixel (RGBA bytes read as one number). */
function pixelColors(css: string[]): Uint32Array {
  const probe = document.createElement("canvas");
  probe.width = probe.height = 1;
  const ctx = probe.getContext("2d", { willReadFrequently: true })!;
  const known = new Map<string, number>();
  return Uint32Array.from(css, (c) => {
    let v = known.get(c);
    if (v === undefined) {
      ctx.clearRect(0, 0, 1, 1);
      ctx.fillStyle = c;
      ctx.fillRect(0, 0, 1, 1);
      known.set(c, v = new Uint32Array(ctx.getImageData(0, 0, 1, 1).data.buffer)[0]);
    }
    return v;
  });
}

/**
 * Draws the scatter on `canvas` and returns the marked (slowest) tasks. One
 * function for the loop over every task: it is the hot path of a large trace.
 */
function drawScatter(
  canvas: HTMLCanvasElement,
  cols: Columns,
  colors: Map<string, string>,
): { scale: Scale; marked: MarkedTask[]; grid: Int32Array } {
  const width = Math.max(300, canvas.parentElement!.clientWidth - 4), height = 320;
  const ctx = sized(canvas, width, height);
  const { start, end, type } = cols.tasks;
  let dMin = Infinity, dMax = -Infinity;
  for (let i = 0; i < cols.tasks.n; i++) {
    const d = end[i] - start[i]; // NaN if an end is outside the trace: no comparison holds
    if (d < dMin) dMin = d;
    if (d > dMax) dMax = d;
  }
  let lo = Math.log10(Math.max(dMin, 1)), hi = Math.log10(Math.max(dMax, 1));
  if (!(hi >= lo)) [lo, hi] = [3, 9];
  const s: Scale = {
    width,
    height,
    t1: Math.max(1, cols.duration),
    lo: Math.floor(lo),
    hi: Math.ceil(hi + 0.01),
  };
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  // Stalls: bands over the whole height, where every task waited.
  ctx.fillStyle = "rgba(242, 153, 0, 0.22)";
  for (let i = 0; i < cols.stalls.n; i++) {
    const x0 = xOf(s, cols.stalls.start[i]), x1 = xOf(s, cols.stalls.end[i]);
    ctx.fillRect(x0, PAD_T, Math.max(1, x1 - x0), height - PAD_B - PAD_T);
  }
  drawAxes(ctx, s);
  // One point per pixel: the grid keeps the task drawn there (for clicks and colour). The
  // points go straight into the pixels: a fillRect each was most of a large trace's first paint.
  const gw = Math.ceil(width), gh = Math.ceil(height);
  const grid = new Int32Array(gw * gh).fill(-1);
  const rgba = pixelColors(cols.names.map((n) => colors.get(n) ?? "#80868b"));
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const px = new Uint32Array(img.data.buffer), pw = canvas.width, ph = canvas.height;
  const dpr = pw / width;
  // xOf and yOf, unrolled: this loop runs once per task, cold (not yet optimised).
  const kx = (width - PAD_L - PAD_R) / s.t1;
  const ky = (height - PAD_B - PAD_T) / (s.hi > s.lo ? s.hi - s.lo : 1), y0f = height - PAD_B;
  const yMid = s.hi > s.lo ? -1 : yOf(s, 1);
  const half = 1.5 * dpr;
  for (let i = 0; i < cols.tasks.n; i++) {
    const d = end[i] - start[i];
    if (!(d >= 0)) continue;
    const cx = PAD_L + start[i] * kx;
    const cy = yMid >= 0 ? yMid : y0f - (Math.log10(d > 1 ? d : 1) - s.lo) * ky;
    const x = Math.round(cx), y = Math.round(cy);
    if (x < 0 || y < 0 || x >= gw || y >= gh || grid[y * gw + x] >= 0) continue;
    grid[y * gw + x] = i;
    // A 3-px square centred on the point, in device pixels.
    const c = rgba[type[i]];
    const px0 = Math.max(0, Math.round(cx * dpr - half)),
      px1 = Math.min(pw, Math.round(cx * dpr + half));
    const py0 = Math.max(0, Math.round(cy * dpr - half)),
      py1 = Math.min(ph, Math.round(cy * dpr + half));
    for (let py = py0; py < py1; py++) {
      for (let q = py * pw + px0, e = py * pw + px1; q < e; q++) px[q] = c;
    }
  }
  ctx.putImageData(img, 0, 0);
  const marked = slowest(cols, MARKED).map((index) => ({
    index,
    x: xOf(s, cols.tasks.start[index]),
    y: yOf(s, durationOf(cols, index)),
  }));
  ctx.strokeStyle = "#d93025";
  ctx.fillStyle = "#202124";
  ctx.lineWidth = 1.5;
  marked.forEach((m, k) => {
    ctx.beginPath();
    ctx.arc(m.x, m.y, 5, 0, Math.PI * 2);
    ctx.stroke();
    // The three slowest are named; the others only ringed, so labels do not pile up.
    if (k < 3) {
      const i = m.index;
      const text = `${cols.names[cols.tasks.type[i]]} #${cols.tasks.id[i]} ${
        formatDuration(durationOf(cols, i))
      }`;
      const tx = m.x + 8 + ctx.measureText(text).width > width
        ? m.x - 8 - ctx.measureText(text).width
        : m.x + 8;
      ctx.fillText(text, tx, m.y + 4 + k * 12);
    }
  });
  return { scale: s, marked, grid };
}

/** A colour per thread's curve; the table's swatches name them. */
const HUES = ["#1a73e8", "#188038", "#e37400", "#a142f4", "#d93025", "#12b5cb"];

/** The responsiveness curves as a table: the least free share of any window of each size. */
function mmuTable(curves: ThreadResponsiveness[]): string {
  if (curves.length === 0) return "";
  const windows = [...new Set(curves.flatMap((c) => c.curve.map((p) => p.window)))].sort((a, b) =>
    a - b
  );
  return `<table class="stats mmu" id="mmu-table"><thead><tr><th scope="col">Thread</th>${
    windows.map((w) => `<th scope="col" class="num">${formatDuration(w)}</th>`).join("")
  }</tr></thead><tbody>${
    curves.map((c, k) =>
      `<tr data-thread="${c.thread}"><th scope="row"><span class="swatch" style="background:${
        HUES[k % HUES.length]
      }"></span>${c.thread}${c.name ? ` (${escapeHtml(c.name)})` : ""}</th>${
        windows.map((w) => {
          const p = c.curve.find((q) => q.window === w);
          return `<td class="num">${p ? `${Math.round(p.utilization * 100)}%` : "-"}</td>`;
        }).join("")
      }</tr>`
    ).join("")
  }</tbody></table>`;
}

/** The curves as a plot: window size (log) along, least free share up. */
function drawMmu(canvas: HTMLCanvasElement, curves: ThreadResponsiveness[]): void {
  const width = Math.min(640, Math.max(300, canvas.parentElement!.clientWidth - 4)), height = 200;
  const ctx = sized(canvas, width, height);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  const lo = 6, hi = 10; // 1 ms to 10 s
  const x = (w: number) => PAD_L + (Math.log10(w) - lo) / (hi - lo) * (width - PAD_L - PAD_R);
  const y = (u: number) => height - PAD_B - u * (height - PAD_B - PAD_T);
  ctx.strokeStyle = "#dadce0";
  ctx.fillStyle = "#5f6368";
  for (const u of [0, 0.5, 1]) {
    ctx.beginPath();
    ctx.moveTo(PAD_L, y(u) + 0.5);
    ctx.lineTo(width - PAD_R, y(u) + 0.5);
    ctx.stroke();
    ctx.fillText(`${u * 100}%`, 8, y(u) + 4);
  }
  for (let p = lo; p <= hi; p++) {
    const label = formatDuration(10 ** p);
    ctx.fillText(
      label,
      Math.min(x(10 ** p) - 12, width - ctx.measureText(label).width - 2),
      height - 6,
    );
  }
  curves.forEach((c, k) => {
    ctx.strokeStyle = HUES[k % HUES.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    c.curve.forEach((p, j) =>
      j === 0
        ? ctx.moveTo(x(p.window), y(p.utilization))
        : ctx.lineTo(x(p.window), y(p.utilization))
    );
    ctx.stroke();
  });
}

/** What the Overview page exposes for tests. */
export interface OverviewState {
  marked: MarkedTask[];
  /** The task drawn nearest to (x, y), CSS px on the scatter, if within a few pixels. */
  taskAt(x: number, y: number): number | undefined;
}

/**
 * Renders the Overview page into `root`: the scatter now, the
 * responsiveness curves when `curves` resolves. `open` is called with a
 * task's index when its point is clicked.
 *
 * @example
 * ```ts
 * import { renderOverview } from "./overview.ts";
 * import type { Columns } from "./columns.ts";
 * declare const cols: Columns;
 * renderOverview(document.querySelector("#view-overview")!, cols, new Map(), Promise.resolve([]), console.log);
 * ```
 */
export function renderOverview(
  root: HTMLElement,
  cols: Columns,
  colors: Map<string, string>,
  curves: Promise<ThreadResponsiveness[]>,
  open: (task: number) => void,
): OverviewState {
  const types = [...new Set(Array.from(cols.tasks.type))].map((t) => cols.names[t]);
  root.innerHTML =
    `<h2>Task latency over time</h2><p class="hint">Each task is a point at its start and its duration (log scale); orange bands are event-loop stalls; the slowest tasks are ringed. Click a point to open the task.</p><div class="legend">${
      types.map((t) =>
        `<span><span class="swatch" style="background:${colors.get(t) ?? "#80868b"}"></span>${
          escapeHtml(t || "(no type)")
        }</span>`
      ).join(" ")
    }</div><div class="plot"><canvas id="overview-scatter" tabindex="0" aria-label="Task latency over time"></canvas></div><ol id="overview-slowest" class="slowest"></ol><h2>Event-loop responsiveness</h2><p class="hint">For each window size, the smallest share of any window of that size in which the thread's loop was free (Go's minimum mutator utilisation): 0% at 100ms means the loop answered nothing for 100ms at least once.</p><div class="plot"><canvas id="overview-mmu" aria-label="Responsiveness curves"></canvas></div><div id="overview-mmu-table"><p class="hint">Reading the trace…</p></div>`;
  const canvas = root.querySelector<HTMLCanvasElement>("#overview-scatter")!;
  const { scale, marked, grid } = drawScatter(canvas, cols, colors);
  root.querySelector("#overview-slowest")!.innerHTML = marked.map((m) =>
    `<li><button class="link" data-focus="${m.index}">${
      escapeHtml(cols.names[cols.tasks.type[m.index]] || "(no type)")
    } #${cols.tasks.id[m.index]}</button> ${formatDuration(durationOf(cols, m.index))}</li>`
  ).join("");
  const taskAt = (x: number, y: number) => {
    let best: number | undefined, bestD = 7 * 7;
    for (let dy = -6; dy <= 6; dy++) {
      for (let dx = -6; dx <= 6; dx++) {
        const gx = Math.round(x) + dx, gy = Math.round(y) + dy;
        if (gx < 0 || gy < 0 || gx >= Math.ceil(scale.width) || gy >= Math.ceil(scale.height)) {
          continue;
        }
        const i = grid[gy * Math.ceil(scale.width) + gx];
        if (i >= 0 && dx * dx + dy * dy < bestD) [best, bestD] = [i, dx * dx + dy * dy];
      }
    }
    return best;
  };
  canvas.addEventListener("click", (e) => {
    const r = canvas.getBoundingClientRect();
    const i = taskAt(e.clientX - r.left, e.clientY - r.top);
    if (i !== undefined) open(i);
  });
  canvas.addEventListener("pointermove", (e) => {
    const r = canvas.getBoundingClientRect();
    const i = taskAt(e.clientX - r.left, e.clientY - r.top);
    canvas.title = i === undefined
      ? ""
      : `${cols.names[cols.tasks.type[i]]} #${cols.tasks.id[i]}: ${
        formatDuration(durationOf(cols, i))
      }`;
  });
  root.querySelector("#overview-slowest")!.addEventListener("click", (e) => {
    const b = (e.target as HTMLElement).closest<HTMLElement>("[data-focus]");
    if (b) open(Number(b.dataset.focus));
  });
  curves.then((c) => {
    drawMmu(root.querySelector<HTMLCanvasElement>("#overview-mmu")!, c);
    root.querySelector("#overview-mmu-table")!.innerHTML = mmuTable(c);
  });
  return { marked, taskAt };
}
