/// <reference lib="dom" />
/**
 * The timeline: a canvas that shows a layout of model.ts with a time axis,
 * zoom and pan, selection, search highlighting and flows from a task to its
 * subtasks. This file holds the view's state and its operations; drawing is
 * in timeline_paint.ts and input handling in timeline_input.ts.
 *
 * @module
 */

import type { Columns } from "./columns.ts";
import { formatDuration } from "../../read/duration.ts";
import { firstEndingAfter, type Layout } from "./model.ts";
import {
  AXIS_H,
  type Band,
  COUNTER_H,
  formatValue,
  HEADER_H,
  isWindowed,
  KIND_OF,
  LOG_ROW_H,
  type Matches,
  placeOf,
  ROW_H,
  rowHeight,
  sampleStart,
  type Selection,
  spanOf,
  TimelinePainter,
} from "./timeline_paint.ts";
import { listenTimeline } from "./timeline_input.ts";

export { type Band, formatValue, type Matches, type Selection };

/** Colours and callbacks the timeline is built with. */
export interface TimelineOptions {
  cols: Columns;
  layout: Layout;
  /** Colour per task/region type and per log category. */
  colors: Map<string, string>;
  /** Called whenever the selection changes (also to `undefined`). */
  onSelect: (sel: Selection | undefined) => void;
}

/** The canvas timeline. */
export class Timeline {
  /** Visible time range, ns since the trace start. */
  t0 = 0;
  t1 = 1;
  /** Vertical scroll offset of the rows, CSS px. */
  scrollY = 0;
  selection: Selection | undefined;
  matches: Matches | undefined;
  /** Stalls and GCs drawn across every row (the focus view). */
  bands: Band[] = [];
  /** Duration of the last draw, ms, and number of draws: for tests and benchmarks. */
  lastDrawMs = 0;
  draws = 0;
  /** Canvas size, CSS px. */
  width = 300;
  height = 150;
  /** The pointer's x while it is over the canvas: zooming by key centres there. */
  mouseX: number | undefined;
  readonly canvas: HTMLCanvasElement;
  readonly opts: TimelineOptions;
  private ctx: CanvasRenderingContext2D;
  private painter: TimelinePainter;
  /** Y of each track's header and of each of its rows, relative to the content top. */
  private trackY: number[] = [];
  private rowY: number[][] = [];
  private contentH = 0;
  private pending = false;
  /** Colour per entry of `cols.names`. */
  private nameColor: string[];

  /** Builds the timeline inside `host`, showing the whole trace. */
  constructor(host: HTMLElement, opts: TimelineOptions) {
    this.opts = opts;
    const c = document.createElement("canvas");
    c.tabIndex = 0;
    c.id = "timeline-canvas";
    c.setAttribute("role", "application");
    c.setAttribute(
      "aria-label",
      "Timeline. W and S zoom, A and D pan, arrow keys pan and scroll, [ and ] select the " +
        "previous or next slice, Enter zooms to the selection, 0 shows everything, Escape clears.",
    );
    host.appendChild(c);
    this.canvas = c;
    this.ctx = c.getContext("2d", { alpha: false })!;
    this.painter = new TimelinePainter(this.ctx);
    this.nameColor = opts.cols.names.map((n) => opts.colors.get(n) ?? "#ccc");
    this.computeY();
    this.showAll();
    this.resize();
    new ResizeObserver(() => this.resize()).observe(host);
    listenTimeline(this);
  }

  /**
   * Shows another layout of the same columns (the focus view, or back to
   * the whole trace), with `bands` drawn across it; scrolls to the top.
   */
  setLayout(layout: Layout, bands: Band[] = []): void {
    this.opts.layout = layout;
    this.bands = bands;
    this.scrollY = 0;
    this.computeY();
    this.requestDraw();
  }

  /** Shows the whole trace. */
  showAll(): void {
    const { start, end } = this.opts.layout;
    const pad = Math.max(1000, (end - start) * 0.02);
    this.t0 = Math.max(0, start - pad);
    this.t1 = end + pad;
    this.requestDraw();
  }

  /** Shows the range [t0, t1] (ns). */
  zoomTo(t0: number, t1: number): void {
    if (!(t1 > t0)) t1 = t0 + 1000;
    this.t0 = t0;
    this.t1 = t1;
    this.requestDraw();
  }

  /** Zooms by `factor` (< 1 zooms in) around the pixel column `x`. */
  zoom(factor: number, x = this.width / 2): void {
    const span = this.t1 - this.t0;
    const at = this.t0 + span * (x / this.width);
    // Stop at 10ns per screen and at 100 times the trace, where zooming stops meaning anything.
    const maxSpan = Math.max(1e4, (this.opts.layout.end - this.opts.layout.start) * 100);
    const next = Math.min(maxSpan, Math.max(10, span * factor));
    this.t0 = at - next * (x / this.width);
    this.t1 = this.t0 + next;
    this.requestDraw();
  }

  /** Pans by `fraction` of the visible span (positive moves later in time). */
  pan(fraction: number): void {
    const d = (this.t1 - this.t0) * fraction;
    this.t0 += d;
    this.t1 += d;
    this.requestDraw();
  }

  /** Scrolls the rows by `dy` pixels. */
  scroll(dy: number): void {
    const max = Math.max(0, this.contentH - (this.height - AXIS_H));
    this.scrollY = Math.min(max, Math.max(0, this.scrollY + dy));
    this.requestDraw();
  }

  /** Sets the search highlights (undefined clears them). */
  setMatches(m: Matches | undefined): void {
    this.matches = m;
    this.requestDraw();
  }

  /**
   * Selects an item. With `reveal`, zooms and scrolls so it is in view,
   * keeping the zoom if it already fits.
   */
  select(sel: Selection | undefined, reveal = false): void {
    this.selection = sel;
    if (sel && reveal) {
      const [s, e] = this.span(sel);
      const len = Math.max(e - s, 1000);
      if (
        e - s > (this.t1 - this.t0) * 0.9 || e < this.t0 || s > this.t1 ||
        len < (this.t1 - this.t0) / 2000
      ) {
        this.zoomTo(s - len * 0.25, s + len * 1.25);
      }
      const y = this.itemY(sel);
      if (y !== undefined) {
        const view = this.height - AXIS_H;
        if (y < this.scrollY || y + ROW_H > this.scrollY + view) {
          this.scroll(y - view / 3 - this.scrollY);
        }
      }
    }
    this.opts.onSelect(sel);
    this.requestDraw();
  }

  /** Zooms to the selection with a margin of a tenth of its length each side. */
  zoomToSelection(): void {
    if (!this.selection) return;
    const [s, t] = this.span(this.selection);
    const len = Math.max(t - s, 1000);
    this.zoomTo(s - len * 0.1, t + len * 0.1);
  }

  /**
   * Where an item is drawn, in CSS px relative to the canvas (undefined if
   * it has no place); for tests and for scripts that drive the page.
   */
  rectOf(sel: Selection): { x: number; y: number; w: number; h: number } | undefined {
    const y = this.itemY(sel);
    if (y === undefined) return undefined;
    const [s, e] = this.span(sel);
    const x0 = this.x(s), x1 = this.x(e);
    return {
      x: x0,
      y: y + AXIS_H - this.scrollY,
      w: x1 - x0,
      h: sel.kind === "log" ? LOG_ROW_H : ROW_H,
    };
  }

  /** Start and end of an item, ns. */
  span(sel: Selection): [number, number] {
    return spanOf(this.opts.cols, this.opts.layout, sel);
  }

  /** Redraws on the next animation frame (once, however often it is asked). */
  requestDraw(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  /** Draws everything now. */
  draw(): void {
    const began = performance.now();
    const { cols, layout } = this.opts;
    this.painter.paint({
      t0: this.t0,
      t1: this.t1,
      width: this.width,
      height: this.height,
      scrollY: this.scrollY,
      selection: this.selection,
      matches: this.matches,
      cols,
      layout,
      trackY: this.trackY,
      rowY: this.rowY,
      nameColor: this.nameColor,
      bands: this.bands,
    });
    this.lastDrawMs = performance.now() - began;
    this.draws++;
  }

  /** Fits the canvas to its host, for the device's pixel ratio. */
  resize(): void {
    const host = this.canvas.parentElement!;
    const w = Math.max(100, host.clientWidth);
    const h = Math.max(100, host.clientHeight);
    const dpr = globalThis.devicePixelRatio || 1;
    this.width = w;
    this.height = h;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.painter.reset();
    this.scroll(0);
    this.draw();
  }

  private computeY(): void {
    let y = 0;
    this.trackY = [];
    this.rowY = [];
    for (const tr of this.opts.layout.tracks) {
      this.trackY.push(y);
      y += HEADER_H;
      const ys: number[] = [];
      const h = rowHeight(tr);
      // A counter track is drawn as one chart-high row.
      for (let r = 0; r < (tr.kind === "counter" ? 1 : tr.rows.length); r++) {
        ys.push(y);
        y += h;
      }
      this.rowY.push(ys);
      y += 4;
    }
    this.contentH = y;
  }

  private itemY(sel: Selection): number | undefined {
    const p = placeOf(this.opts.layout, sel);
    return p ? this.rowY[p[0]][p[1]] : undefined;
  }

  private x(t: number): number {
    return (t - this.t0) * (this.width / (this.t1 - this.t0));
  }

  /** A one-line description of what is under the point, for the hover tooltip. */
  describeAt(px: number, py: number): string {
    if (py < AXIS_H) return "";
    const counter = this.describeCounterAt(px, py);
    if (counter !== undefined) return counter;
    const sel = this.hit(px, py);
    if (!sel) return "";
    const { cols } = this.opts;
    const [s, e] = this.span(sel);
    const i = sel.index;
    // What the trace's window cut is said so, not measured as if whole.
    const cut = (start: number, end: number) =>
      Number.isNaN(start)
        ? ` (at least: began before the trace)`
        : Number.isNaN(end)
        ? ` (at least: still running at the end)`
        : "";
    switch (sel.kind) {
      case "task":
        return `task ${cols.names[cols.tasks.type[i]]} #${cols.tasks.id[i]}: ${
          formatDuration(e - s)
        }${cut(cols.tasks.start[i], cols.tasks.end[i])}`;
      case "region":
        return `region ${cols.names[cols.regions.type[i]]}: ${formatDuration(e - s)}${
          cut(0, cols.regions.end[i])
        }`;
      case "gc":
        return `${cols.gcs.inferred[i] ? "GC (inferred)" : "GC"}: ${formatDuration(e - s)}`;
      case "stall":
        return `event-loop stall: ${formatDuration(e - s)}`;
      default:
        return `log ${cols.names[cols.logs.category[i]]}: ${
          cols.logs.message[i].slice(0, 200)
        } at ${formatDuration(s)}`;
    }
  }

  /** The counter sample under the point, if the point is on a chart. */
  private describeCounterAt(px: number, py: number): string | undefined {
    const y = py - AXIS_H + this.scrollY;
    const tracks = this.opts.layout.tracks;
    for (let ti = 0; ti < tracks.length; ti++) {
      const c = tracks[ti].counter;
      const y0 = this.rowY[ti][0];
      if (!c || y0 === undefined || y < y0 || y >= y0 + COUNTER_H) continue;
      const t = this.t0 + px * (this.t1 - this.t0) / this.width;
      // The sample whose span holds t: the last starting at or before it.
      let lo = 0, hi = c.time.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (sampleStart(c, mid) <= t) lo = mid + 1;
        else hi = mid;
      }
      if (lo === 0) return c.name;
      const v = formatValue(c.name, c.value[lo - 1]);
      return isWindowed(c.name)
        ? `${c.name} ${v} from ${formatDuration(sampleStart(c, lo - 1))} to ${
          formatDuration(c.time[lo - 1])
        }`
        : `${c.name} ${v} at ${formatDuration(c.time[lo - 1])}`;
    }
    return undefined;
  }

  /** The item under the point (CSS px in the canvas), if any. */
  hit(px: number, py: number): Selection | undefined {
    const { layout } = this.opts;
    const y = py - AXIS_H + this.scrollY;
    if (py < AXIS_H) return undefined;
    for (let ti = 0; ti < layout.tracks.length; ti++) {
      const tr = layout.tracks[ti];
      if (tr.kind === "counter") continue;
      const rowH = rowHeight(tr);
      const ys = this.rowY[ti];
      for (let r = 0; r < ys.length; r++) {
        if (y < ys[r] || y >= ys[r] + rowH) continue;
        const row = tr.rows[r];
        const k = this.width / (this.t1 - this.t0);
        const t = this.t0 + px / k;
        const tol = 4 / k;
        let best = -1, bestD = Infinity;
        const i0 = firstEndingAfter(row, t - tol);
        for (let i = i0; i < row.starts.length && row.starts[i] <= t + tol; i++) {
          const d = t < row.starts[i] ? row.starts[i] - t : t > row.ends[i] ? t - row.ends[i] : 0;
          if (d < bestD) {
            bestD = d;
            best = i;
          }
          if (d === 0) break;
        }
        const kind = KIND_OF[tr.kind];
        return best >= 0 && kind ? { kind, index: row.items[best] } : undefined;
      }
    }
    return undefined;
  }

  /** Selects the previous (-1) or next (+1) item in the selection's row, or the first visible. */
  step(dir: -1 | 1): void {
    const { layout } = this.opts;
    const sel = this.selection;
    if (!sel) {
      for (const tr of layout.tracks) {
        for (const row of tr.rows) {
          const i = firstEndingAfter(row, this.t0);
          if (i < row.starts.length && row.starts[i] <= this.t1) {
            this.select({ kind: KIND_OF[tr.kind]!, index: row.items[i] }, true);
            return;
          }
        }
      }
      return;
    }
    const place = placeOf(layout, sel);
    if (!place) return;
    const row = layout.tracks[place[0]].rows[place[1]];
    const at = row.items.indexOf(sel.index);
    const next = at + dir;
    if (at < 0 || next < 0 || next >= row.items.length) return;
    this.select({ kind: sel.kind, index: row.items[next] }, true);
  }
}
