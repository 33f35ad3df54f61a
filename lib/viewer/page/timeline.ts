/// <reference lib="dom" />
/**
 * The timeline: a canvas that draws the layout of model.ts with a time axis,
 * zoom and pan (wheel, drag, W/S/A/D), selection (click, `[` and `]`),
 * search highlighting and flows from a task to its subtasks.
 *
 * Drawing cost is bounded by pixels, not events: items narrower than a
 * couple of pixels are merged into density blocks, and the walk over a row
 * jumps past each merged pixel column with a binary search.
 *
 * @module
 */

import type { Columns } from "./columns.ts";
import { formatDuration } from "../../read/duration.ts";
import { tickStep } from "./ticks_and_html.ts";
import { firstEndingAfter, firstStartingAt, type Layout, type Row, type Track } from "./model.ts";

/**
 * What is selected: an index into the task, region or log columns, which is
 * also the index into `trace.tasks`, `trace.regions` or `trace.logs`.
 */
export interface Selection {
  kind: "task" | "region" | "log" | "gc" | "stall";
  index: number;
}

/** Items that match a search, one flag per item of each kind. */
export interface Matches {
  tasks: Uint8Array;
  regions: Uint8Array;
  logs: Uint8Array;
}

/** Colours and callbacks the timeline is built with. */
export interface TimelineOptions {
  cols: Columns;
  layout: Layout;
  /** Colour per task/region type and per log category. */
  colors: Map<string, string>;
  /** Called whenever the selection changes (also to `undefined`). */
  onSelect: (sel: Selection | undefined) => void;
}

const AXIS_H = 24;
const HEADER_H = 18;
const ROW_H = 18;
const LOG_ROW_H = 14;
const COUNTER_H = 28;
/** Items narrower than this many pixels are merged into density blocks. */
const MIN_SLICE_PX = 3;
const KIND_OF: Record<Track["kind"], Selection["kind"] | undefined> = {
  tasks: "task",
  regions: "region",
  logs: "log",
  gc: "gc",
  stalls: "stall",
  counter: undefined,
};

/**
 * A counter value in its unit: bytes for heap and memory counters, percent
 * for utilisation, else a plain number.
 */
export function formatValue(name: string, v: number): string {
  if (/util/.test(name)) return `${(v * 100).toFixed(0)}%`;
  if (/heap|memory|bytes/.test(name)) {
    const units = ["B", "KiB", "MiB", "GiB"];
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return `${v.toFixed(v >= 100 || u === 0 ? 0 : 1)} ${units[u]}`;
  }
  return Number(v.toPrecision(4)).toString();
}

/** Height of one row of a track. */
function rowHeight(tr: Track): number {
  return tr.kind === "logs" ? LOG_ROW_H : tr.kind === "counter" ? COUNTER_H : ROW_H;
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
  /** Duration of the last draw, ms, and number of draws: for tests and benchmarks. */
  lastDrawMs = 0;
  draws = 0;
  readonly canvas: HTMLCanvasElement;
  private ctx: CanvasRenderingContext2D;
  private opts: TimelineOptions;
  private width = 300;
  private height = 150;
  /** Y of each track's header and of each of its rows, relative to the content top. */
  private trackY: number[] = [];
  private rowY: number[][] = [];
  private contentH = 0;
  private pending = false;
  private charW = 6.5;
  private mouseX: number | undefined;
  /** Colour per entry of `cols.names`. */
  private nameColor: string[];
  /** Drawing queued by the row walks, flushed once per frame. */
  private fills = new Map<string, number[]>();
  private markers = new Map<string, number[]>();
  private labels: (string | number)[] = [];
  /** Outline of the selected item, and thin outlines of the selected task's regions. */
  private outline: [number, number, number, number] | undefined;
  private related: number[] = [];

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
    this.nameColor = opts.cols.names.map((n) => opts.colors.get(n) ?? "#ccc");
    this.computeY();
    this.showAll();
    this.resize();
    new ResizeObserver(() => this.resize()).observe(host);
    this.listen();
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
    const { cols, layout } = this.opts;
    const orEnd = (t: number) => Number.isNaN(t) ? layout.end : t;
    if (sel.kind === "task") {
      const s = cols.tasks.start[sel.index];
      return [Number.isNaN(s) ? 0 : s, orEnd(cols.tasks.end[sel.index])];
    }
    if (sel.kind === "region") {
      return [cols.regions.start[sel.index], orEnd(cols.regions.end[sel.index])];
    }
    if (sel.kind === "gc") return [cols.gcs.start[sel.index], cols.gcs.end[sel.index]];
    if (sel.kind === "stall") return [cols.stalls.start[sel.index], cols.stalls.end[sel.index]];
    const t = cols.logs.time[sel.index];
    return [t, t];
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

  private resize(): void {
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
    this.ctx.font = "11px system-ui, sans-serif";
    this.charW = this.ctx.measureText("abcdefghijklmnopqrstuvwxyz").width / 26 || 6.5;
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

  /** Track and row of an item. */
  private place(sel: Selection): [number, number] | undefined {
    const { layout } = this.opts;
    const p = sel.kind === "task"
      ? layout.taskPlace
      : sel.kind === "region"
      ? layout.regionPlace
      : sel.kind === "log"
      ? layout.logPlace
      : sel.kind === "gc"
      ? layout.gcPlace
      : layout.stallPlace;
    if (!(sel.index >= 0 && 2 * sel.index < p.length)) return undefined;
    return [p[2 * sel.index], p[2 * sel.index + 1]];
  }

  private itemY(sel: Selection): number | undefined {
    const p = this.place(sel);
    return p ? this.rowY[p[0]][p[1]] : undefined;
  }

  /** Draws everything now. */
  draw(): void {
    const began = performance.now();
    const ctx = this.ctx;
    const { layout } = this.opts;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, this.width, this.height);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const top = AXIS_H - this.scrollY;
    for (let ti = 0; ti < layout.tracks.length; ti++) {
      const tr = layout.tracks[ti];
      const hy = top + this.trackY[ti];
      const rowH = rowHeight(tr);
      const last = this.rowY[ti].length ? this.rowY[ti][this.rowY[ti].length - 1] + rowH : 0;
      if (top + last < AXIS_H || hy > this.height) continue;
      ctx.fillStyle = "#f1f3f4";
      ctx.fillRect(0, hy, this.width, HEADER_H);
      ctx.fillStyle = "#202124";
      ctx.fillText(
        `${tr.label}${
          tr.kind === "regions" ? ` · ${tr.rows.length} row${tr.rows.length === 1 ? "" : "s"}` : ""
        }${tr.counter ? ` · max ${formatValue(tr.counter.name, tr.counter.max)}` : ""}`,
        6,
        hy + HEADER_H / 2,
      );
      if (tr.counter) {
        this.drawCounter(tr, top + this.rowY[ti][0]);
        continue;
      }
      for (let r = 0; r < tr.rows.length; r++) {
        const y = top + this.rowY[ti][r];
        if (y + rowH < AXIS_H || y > this.height) continue;
        if (tr.kind === "logs") this.drawLogRow(tr.rows[r], y, ti);
        else this.drawSliceRow(tr, tr.rows[r], y);
      }
    }
    this.flush();
    this.drawFlows(top);
    this.drawAxis();
    this.lastDrawMs = performance.now() - began;
    this.draws++;
  }

  private x(t: number): number {
    return (t - this.t0) * (this.width / (this.t1 - this.t0));
  }

  private drawSliceRow(tr: Track, row: Row, y: number): void {
    const k = this.width / (this.t1 - this.t0);
    const t0 = this.t0, t1 = this.t1;
    const n = row.starts.length;
    const isTask = tr.kind === "tasks";
    const { cols } = this.opts;
    const colors = this.nameColor;
    const gcs = cols.gcs;
    const typed = isTask || tr.kind === "regions";
    const typeOf = isTask ? cols.tasks.type : cols.regions.type;
    const colorOf = typed
      ? (item: number) => colors[typeOf[item]]
      : tr.kind === "gc"
      ? (item: number) => gcs.inferred[item] ? "#f4b6b0" : "#d93025"
      : () => "#f29900";
    const nameOf = typed
      ? (item: number) => cols.names[typeOf[item]]
      : tr.kind === "gc"
      ? (item: number) => gcs.inferred[item] ? "GC (inferred)" : "GC"
      : () => "stall";
    const match = this.matches && typed
      ? (isTask ? this.matches.tasks : this.matches.regions)
      : undefined;
    const sel = this.selection;
    const selIndex = sel && sel.kind === KIND_OF[tr.kind] ? sel.index : -1;
    const selTask = tr.kind === "regions" && sel && sel.kind === "task"
      ? cols.tasks.id[sel.index]
      : -1;
    const h = ROW_H - 2;
    let i = firstEndingAfter(row, t0);
    while (i < n && row.starts[i] <= t1) {
      let x0 = (row.starts[i] - t0) * k;
      let x1 = (row.ends[i] - t0) * k;
      if (x1 - x0 >= MIN_SLICE_PX) {
        const item = row.items[i];
        if (x0 < -2) x0 = -2;
        if (x1 > this.width + 2) x1 = this.width + 2;
        const dim = match !== undefined && !match[item];
        this.rect(
          dim ? `${colorOf(item)}|0.25` : colorOf(item),
          x0,
          y + 1,
          x1 - x0 - 0.5,
          h,
        );
        if (x1 - x0 > 24) {
          const name = nameOf(item);
          const fit = Math.floor((x1 - x0 - 6) / this.charW);
          this.labels.push(
            fit >= name.length ? name : name.slice(0, Math.max(1, fit - 1)) + "…",
            Math.max(x0, 0) + 3,
            y + 1 + h / 2,
          );
        }
        if (item === selIndex) this.outline = [x0 + 1, y + 2, Math.max(1, x1 - x0 - 2), h - 2];
        else if (selTask >= 0 && cols.regions.task[item] === selTask) {
          this.related.push(x0 + 0.5, y + 1.5, Math.max(1, x1 - x0 - 1.5), h - 1);
        }
        i++;
        continue;
      }
      // A density block: every item that starts in this pixel column, then the next
      // columns while their items stay too small to draw on their own.
      const bx0 = x0;
      let bx1 = Math.max(x1, x0 + 1);
      let count = 0;
      let any = false;
      do {
        const edge = t0 + Math.floor(bx1 + 1) / k;
        const j = Math.max(i + 1, firstStartingAt(row, edge, i + 1));
        count += j - i;
        if (match && !any) {
          for (let m = i; m < j && m < i + 64; m++) if (match[row.items[m]]) any = true;
        }
        const ex = (row.ends[j - 1] - t0) * k;
        if (ex > bx1) bx1 = ex;
        i = j;
        if (i >= n) break;
        x0 = (row.starts[i] - t0) * k;
        x1 = (row.ends[i] - t0) * k;
      } while (x1 - x0 < MIN_SLICE_PX && x0 < bx1 + 1 && x0 <= this.width);
      // Alpha in four steps of density, so blocks share a few fill batches.
      const alpha = match && !any
        ? 0.2
        : Math.min(1, 0.45 + Math.round(count / Math.max(1, bx1 - bx0) / 4 * 4) / 4);
      this.rect(`${any ? "#e37400" : "#80868b"}|${alpha}`, bx0, y + 1, Math.max(1, bx1 - bx0), h);
    }
  }

  /** Queues a rectangle to fill with `style` ("colour" or "colour|alpha"). */
  private rect(style: string, x: number, y: number, w: number, h: number): void {
    const list = this.fills.get(style);
    if (list) list.push(x, y, w, h);
    else this.fills.set(style, [x, y, w, h]);
  }

  /** Queues a log marker, a small triangle pointing at time x. */
  private marker(style: string, x: number, y: number): void {
    const list = this.markers.get(style);
    if (list) list.push(x, y);
    else this.markers.set(style, [x, y]);
  }

  /** Fills everything queued, grouped by colour so the fill style changes rarely. */
  private flush(): void {
    const ctx = this.ctx;
    for (const [style, r] of this.fills) {
      const bar = style.indexOf("|");
      ctx.globalAlpha = bar < 0 ? 1 : Number(style.slice(bar + 1));
      ctx.fillStyle = bar < 0 ? style : style.slice(0, bar);
      // fillRect per slice: one path of thousands of rectangles rasterises far slower.
      for (let k = 0; k < r.length; k += 4) ctx.fillRect(r[k], r[k + 1], r[k + 2], r[k + 3]);
    }
    for (const [style, m] of this.markers) {
      const bar = style.indexOf("|");
      ctx.globalAlpha = bar < 0 ? 1 : Number(style.slice(bar + 1));
      ctx.fillStyle = bar < 0 ? style : style.slice(0, bar);
      ctx.beginPath();
      for (let k = 0; k < m.length; k += 2) {
        const x = m[k], y = m[k + 1];
        ctx.moveTo(x, y + 2);
        ctx.lineTo(x + 4, y + LOG_ROW_H - 2);
        ctx.lineTo(x - 4, y + LOG_ROW_H - 2);
        ctx.closePath();
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    ctx.fillStyle = "#202124";
    const l = this.labels;
    for (let k = 0; k < l.length; k += 3) {
      ctx.fillText(l[k] as string, l[k + 1] as number, l[k + 2] as number);
    }
    if (this.related.length > 0) {
      ctx.strokeStyle = "#1a73e8";
      ctx.lineWidth = 1;
      const r = this.related;
      for (let k = 0; k < r.length; k += 4) ctx.strokeRect(r[k], r[k + 1], r[k + 2], r[k + 3]);
      r.length = 0;
    }
    if (this.outline) {
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 2;
      const [x, y, w, h] = this.outline;
      ctx.strokeRect(x, y, w, h);
    }
    this.fills.clear();
    this.markers.clear();
    this.labels.length = 0;
    this.outline = undefined;
  }

  /** A counter as a step chart: each sample holds until the next one. */
  private drawCounter(tr: Track, y: number): void {
    const c = tr.counter!;
    const n = c.time.length;
    if (n === 0 || y + COUNTER_H < AXIS_H || y > this.height) return;
    const ctx = this.ctx;
    const k = this.width / (this.t1 - this.t0);
    const t0 = this.t0, t1 = this.t1;
    const scale = c.max > 0 ? (COUNTER_H - 6) / c.max : 0;
    const base = y + COUNTER_H - 2;
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c.time[mid] < t0) lo = mid + 1;
      else hi = mid;
    }
    let i = lo > 0 ? lo - 1 : 0;
    const x0 = Math.max(-1, (c.time[i] - t0) * k);
    let prev = base - c.value[i] * scale;
    ctx.beginPath();
    ctx.moveTo(x0, base);
    ctx.lineTo(x0, prev);
    i++;
    // Samples that share a pixel column show their largest value.
    while (i < n && c.time[i] <= t1) {
      const x = (c.time[i] - t0) * k;
      const edge = Math.floor(x) + 1;
      let v = c.value[i];
      let j = i + 1;
      while (j < n && (c.time[j] - t0) * k < edge) {
        if (c.value[j] > v) v = c.value[j];
        j++;
      }
      ctx.lineTo(x, prev);
      prev = base - v * scale;
      ctx.lineTo(x, prev);
      i = j;
    }
    const xe = i < n ? this.width + 1 : Math.min(this.width + 1, (c.time[n - 1] - t0) * k + 1);
    ctx.lineTo(xe, prev);
    ctx.lineTo(xe, base);
    ctx.closePath();
    const color = /util/.test(c.name)
      ? "#188038"
      : /heap|memory/.test(c.name)
      ? "#1a73e8"
      : "#5f6368";
    ctx.globalAlpha = 0.3;
    ctx.fillStyle = color;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.strokeStyle = color;
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  private drawLogRow(row: Row, y: number, trackIndex: number): void {
    const k = this.width / (this.t1 - this.t0);
    const t0 = this.t0, t1 = this.t1;
    const n = row.starts.length;
    const match = this.matches?.logs;
    const cats = this.opts.cols.logs.category;
    // Markers closer than this merge into a bar: overlapping triangles are slow to fill.
    const gap = 6 / k;
    let i = firstStartingAt(row, t0 - gap, 0);
    while (i < n && row.starts[i] <= t1 + gap) {
      const x = (row.starts[i] - t0) * k;
      let j = firstStartingAt(row, row.starts[i] + gap, i + 1);
      if (j - i === 1) {
        const item = row.items[i];
        const color = this.nameColor[cats[item]];
        this.marker(match && !match[item] ? `${color}|0.25` : color, x, y);
        i = j;
        continue;
      }
      let any = false;
      for (;;) {
        if (match && !any) {
          for (let m = i; m < j && m < i + 64; m++) if (match[row.items[m]]) any = true;
        }
        if (j >= n || row.starts[j] > row.starts[j - 1] + gap || row.starts[j] > t1 + gap) break;
        j = firstStartingAt(row, row.starts[j] + gap, j + 1);
      }
      const x1 = (row.starts[j - 1] - t0) * k;
      const style = match ? (any ? "#e37400" : "#5f6368|0.25") : "#5f6368|0.8";
      this.rect(style, x - 3, y + 3, x1 - x + 6, LOG_ROW_H - 6);
      i = j;
    }
    const sel = this.selection;
    if (sel && sel.kind === "log") {
      const p = this.place(sel);
      if (p && p[0] === trackIndex) {
        const x = (this.opts.cols.logs.time[sel.index] - t0) * k;
        this.outline = [x - 5, y + 1, 10, LOG_ROW_H - 2];
      }
    }
  }

  private drawFlows(top: number): void {
    const sel = this.selection;
    if (!sel || sel.kind !== "task") return;
    const { cols } = this.opts;
    const tasks = cols.tasks;
    const ctx = this.ctx;
    const arrow = (from: number, to: number) => {
      const a = this.place({ kind: "task", index: from });
      const b = this.place({ kind: "task", index: to });
      if (!a || !b) return;
      const s = tasks.start[to];
      const x = this.x(Number.isNaN(s) ? 0 : s);
      const ya = top + this.rowY[a[0]][a[1]] + ROW_H / 2;
      const yb = top + this.rowY[b[0]][b[1]] + (b[1] > a[1] ? 1 : ROW_H - 1);
      ctx.strokeStyle = "#1a73e8";
      ctx.fillStyle = "#1a73e8";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(x, ya);
      ctx.lineTo(x, yb);
      ctx.stroke();
      const dir = yb > ya ? 1 : -1;
      ctx.beginPath();
      ctx.moveTo(x, yb);
      ctx.lineTo(x - 4, yb - 6 * dir);
      ctx.lineTo(x + 4, yb - 6 * dir);
      ctx.fill();
    };
    const parentId = tasks.parent[sel.index];
    const parent = parentId === 0 ? -1 : cols.taskIndex.get(parentId);
    if (parent >= 0) arrow(parent, sel.index);
    const end = Math.min(tasks.childStart[sel.index + 1], tasks.childStart[sel.index] + 1000);
    for (let k = tasks.childStart[sel.index]; k < end; k++) arrow(sel.index, tasks.children[k]);
  }

  private drawAxis(): void {
    const ctx = this.ctx;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, this.width, AXIS_H);
    ctx.strokeStyle = "#dadce0";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, AXIS_H - 0.5);
    ctx.lineTo(this.width, AXIS_H - 0.5);
    ctx.stroke();
    const span = this.t1 - this.t0;
    const step = tickStep(span, this.width, 90);
    const label = `${formatDuration(span)} shown`;
    const w = label.length * this.charW + 10;
    ctx.fillStyle = "#3c4043";
    ctx.textBaseline = "middle";
    for (let t = Math.ceil(this.t0 / step) * step; t <= this.t1; t += step) {
      if (this.x(t) > this.width - w - 60) break;
      const x = Math.round(this.x(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H - 6);
      ctx.lineTo(x, AXIS_H);
      ctx.stroke();
      ctx.fillText(formatDuration(t), x + 3, AXIS_H / 2 - 2);
    }
    ctx.fillStyle = "rgba(255,255,255,0.9)";
    ctx.fillRect(this.width - w, 0, w, AXIS_H - 1);
    ctx.fillStyle = "#5f6368";
    ctx.fillText(label, this.width - w + 5, AXIS_H / 2 - 2);
  }

  /** A one-line description of what is under the point, for the hover tooltip. */
  describeAt(px: number, py: number): string {
    const { cols, layout } = this.opts;
    const y = py - AXIS_H + this.scrollY;
    if (py < AXIS_H) return "";
    for (let ti = 0; ti < layout.tracks.length; ti++) {
      const c = layout.tracks[ti].counter;
      const y0 = this.rowY[ti][0];
      if (!c || y0 === undefined || y < y0 || y >= y0 + COUNTER_H) continue;
      // The sample in force at the pointer's time: the last one at or before it.
      const t = this.t0 + px * (this.t1 - this.t0) / this.width;
      let lo = 0, hi = c.time.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (c.time[mid] <= t) lo = mid + 1;
        else hi = mid;
      }
      return lo === 0
        ? c.name
        : `${c.name} ${formatValue(c.name, c.value[lo - 1])} at ${formatDuration(c.time[lo - 1])}`;
    }
    const sel = this.hit(px, py);
    if (!sel) return "";
    const [s, e] = this.span(sel);
    const i = sel.index;
    const what = sel.kind === "task"
      ? `task ${cols.names[cols.tasks.type[i]]} #${cols.tasks.id[i]}`
      : sel.kind === "region"
      ? `region ${cols.names[cols.regions.type[i]]}`
      : sel.kind === "gc"
      ? cols.gcs.inferred[i] ? "GC (inferred)" : "GC"
      : sel.kind === "stall"
      ? "event-loop stall"
      : `log ${cols.names[cols.logs.category[i]]}: ${cols.logs.message[i].slice(0, 200)}`;
    return sel.kind === "log"
      ? `${what} at ${formatDuration(s)}`
      : `${what}: ${formatDuration(e - s)}`;
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
    const place = this.place(sel);
    if (!place) return;
    const row = layout.tracks[place[0]].rows[place[1]];
    const at = row.items.indexOf(sel.index);
    const next = at + dir;
    if (at < 0 || next < 0 || next >= row.items.length) return;
    this.select({ kind: sel.kind, index: row.items[next] }, true);
  }

  private listen(): void {
    const c = this.canvas;
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const rect = c.getBoundingClientRect();
      const x = e.clientX - rect.left;
      // Firefox reports lines (deltaMode 1) or pages (2) where Chromium reports pixels.
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.height : 1;
      const dx = e.deltaX * unit, dy = e.deltaY * unit;
      if (e.shiftKey) this.scroll(dy || dx);
      else if (Math.abs(dx) > Math.abs(dy)) this.pan(dx / this.width);
      else this.zoom(Math.exp(Math.max(-200, Math.min(200, dy)) * (e.ctrlKey ? 0.01 : 0.002)), x);
    }, { passive: false });
    let drag:
      | { x: number; y: number; t0: number; t1: number; sy: number; moved: boolean }
      | undefined;
    c.addEventListener("pointerdown", (e) => {
      c.focus();
      drag = {
        x: e.clientX,
        y: e.clientY,
        t0: this.t0,
        t1: this.t1,
        sy: this.scrollY,
        moved: false,
      };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener("pointermove", (e) => {
      const rect = c.getBoundingClientRect();
      this.mouseX = e.clientX - rect.left;
      if (!drag) {
        c.title = this.describeAt(e.clientX - rect.left, e.clientY - rect.top);
        return;
      }
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (!drag.moved) return;
      const d = dx / this.width * (drag.t1 - drag.t0);
      this.t0 = drag.t0 - d;
      this.t1 = drag.t1 - d;
      this.scrollY = drag.sy;
      this.scroll(-dy);
    });
    c.addEventListener("pointerup", (e) => {
      const d = drag;
      drag = undefined;
      if (!d || d.moved) return;
      const rect = c.getBoundingClientRect();
      this.select(this.hit(e.clientX - rect.left, e.clientY - rect.top));
    });
    c.addEventListener("pointerleave", () => this.mouseX = undefined);
    c.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const at = this.mouseX ?? this.width / 2;
      let handled = true;
      switch (e.key) {
        case "w":
        case "W":
        case "+":
        case "=":
          this.zoom(0.8, at);
          break;
        case "s":
        case "S":
        case "-":
          this.zoom(1.25, at);
          break;
        case "a":
        case "A":
        case "ArrowLeft":
          this.pan(-0.1);
          break;
        case "d":
        case "D":
        case "ArrowRight":
          this.pan(0.1);
          break;
        case "ArrowUp":
          this.scroll(-ROW_H * 2);
          break;
        case "ArrowDown":
          this.scroll(ROW_H * 2);
          break;
        case "PageUp":
          this.scroll(-(this.height - AXIS_H));
          break;
        case "PageDown":
          this.scroll(this.height - AXIS_H);
          break;
        case "0":
        case "Home":
          this.showAll();
          break;
        case "[":
          this.step(-1);
          break;
        case "]":
          this.step(1);
          break;
        case "Enter":
          if (this.selection) {
            const [s, t] = this.span(this.selection);
            const len = Math.max(t - s, 1000);
            this.zoomTo(s - len * 0.1, t + len * 0.1);
          }
          break;
        case "Escape":
          this.select(undefined);
          break;
        default:
          handled = false;
      }
      if (handled) e.preventDefault();
    });
  }
}
