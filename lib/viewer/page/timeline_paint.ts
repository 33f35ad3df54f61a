/// <reference lib="dom" />
/**
 * The timeline's drawing: paints a {@linkcode Layout} on a canvas for the
 * visible time range. Input handling is in timeline_input.ts and the view
 * state (range, scroll, selection) in timeline.ts.
 *
 * Drawing cost is bounded by pixels, not events: items narrower than a
 * couple of pixels are merged into density blocks, and the walk over a row
 * jumps past each merged pixel column with a binary search. An item wider
 * than that is always drawn in its own colour, with its label where it fits.
 *
 * @module
 */

import type { Columns, CounterSeries } from "./columns.ts";
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

/** A time range drawn across every row (a stall or GC in the focus view), with its label. */
export interface Band {
  start: number;
  end: number;
  /** "stall" (orange) or "gc" (red). */
  kind: "stall" | "gc";
  label: string;
}

/** The view the painter draws: the timeline's state, read-only. */
export interface PaintState {
  /** Visible time range, ns. */
  t0: number;
  t1: number;
  /** Canvas size and row scroll, CSS px. */
  width: number;
  height: number;
  scrollY: number;
  selection: Selection | undefined;
  matches: Matches | undefined;
  cols: Columns;
  layout: Layout;
  /** Y of each track's header and of each of its rows, relative to the content top. */
  trackY: number[];
  rowY: number[][];
  /** Colour per entry of `cols.names`. */
  nameColor: string[];
  bands: Band[];
}

/** Heights, CSS px. */
export const AXIS_H = 24;
export const HEADER_H = 18;
export const ROW_H = 18;
export const LOG_ROW_H = 14;
export const COUNTER_H = 28;
/** Items narrower than this many pixels are merged into density blocks. */
const MIN_SLICE_PX = 3;
/** Slices at least this wide get a label (cut with an ellipsis where it does not fit). */
const MIN_LABEL_PX = 14;

/** The selection kind of each track kind's items. */
export const KIND_OF: Record<Track["kind"], Selection["kind"] | undefined> = {
  tasks: "task",
  regions: "region",
  logs: "log",
  gc: "gc",
  stalls: "stall",
  counter: undefined,
};

/**
 * Height of one row of a track, CSS px.
 *
 * @example
 * ```ts
 * import { rowHeight } from "./timeline_paint.ts";
 * rowHeight({ kind: "logs", label: "", thread: 1, rows: [] }); // 14
 * ```
 */
export function rowHeight(tr: Track): number {
  return tr.kind === "logs" ? LOG_ROW_H : tr.kind === "counter" ? COUNTER_H : ROW_H;
}

/**
 * Whether a counter's sample measures the window since the previous sample
 * (event-loop utilisation) rather than the instant it was taken (heap).
 *
 * @example
 * ```ts
 * import { isWindowed } from "./timeline_paint.ts";
 * isWindowed("eventloop.utilization"); // true
 * isWindowed("heap.used"); // false
 * ```
 */
export function isWindowed(name: string): boolean {
  return /util/.test(name);
}

/**
 * A counter value in its unit: bytes for heap and memory counters, percent
 * for utilisation, else a plain number.
 *
 * @example
 * ```ts
 * import { formatValue } from "./timeline_paint.ts";
 * formatValue("heap.used", 3 * 1024 * 1024); // "3.0 MiB"
 * ```
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

/**
 * Where sample `i` of a counter starts being drawn: at its time for an
 * instant sample, at the previous sample for a windowed one (the first
 * window is taken to be as long as the second).
 *
 * @example
 * ```ts
 * import { sampleStart } from "./timeline_paint.ts";
 * const c = { name: "eventloop.utilization", thread: 1, time: Float64Array.of(100, 200), value: Float64Array.of(0.5, 0.9), max: 0.9 };
 * sampleStart(c, 1); // 100: the 90 % describes 100 to 200
 * ```
 */
export function sampleStart(c: CounterSeries, i: number): number {
  if (!isWindowed(c.name)) return c.time[i];
  if (i > 0) return c.time[i - 1];
  return c.time.length > 1 ? Math.max(0, 2 * c.time[0] - c.time[1]) : 0;
}

/**
 * Paints the timeline; one per canvas, reused across frames.
 *
 * @example
 * ```ts
 * import { type PaintState, TimelinePainter } from "./timeline_paint.ts";
 * declare const canvas: HTMLCanvasElement, state: PaintState;
 * const painter = new TimelinePainter(canvas.getContext("2d")!);
 * painter.reset();
 * painter.paint(state);
 * ```
 */
export class TimelinePainter {
  /** Drawing queued by the row walks, flushed once per frame. */
  private fills = new Map<string, number[]>();
  private markers = new Map<string, number[]>();
  private labels: (string | number)[] = [];
  /** Thin outlines of the selected task's regions. */
  private related: number[] = [];
  /** Text widths, px, by string: labels repeat from frame to frame. */
  private widths = new Map<string, number>();
  private s!: PaintState;

  constructor(private ctx: CanvasRenderingContext2D) {}

  /** Sets the font after the canvas was resized (a resize resets the context). */
  reset(): void {
    this.ctx.font = "11px system-ui, sans-serif";
    this.widths.clear();
  }

  /** Draws everything for state `s`. */
  paint(s: PaintState): void {
    this.s = s;
    const ctx = this.ctx;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, s.width, s.height);
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const top = AXIS_H - s.scrollY;
    this.bands(false);
    for (let ti = 0; ti < s.layout.tracks.length; ti++) this.track(ti, top);
    this.flush();
    this.bands(true);
    this.flows(top);
    this.outlineSelection(top);
    this.axis();
  }

  private x(t: number): number {
    return (t - this.s.t0) * (this.s.width / (this.s.t1 - this.s.t0));
  }

  private track(ti: number, top: number): void {
    const s = this.s, ctx = this.ctx;
    const tr = s.layout.tracks[ti];
    const hy = top + s.trackY[ti];
    const rowH = rowHeight(tr);
    const ys = s.rowY[ti];
    const last = ys.length ? ys[ys.length - 1] + rowH : 0;
    if (top + last < AXIS_H || hy > s.height) return;
    ctx.fillStyle = "#f1f3f4";
    ctx.fillRect(0, hy, s.width, HEADER_H);
    ctx.fillStyle = "#202124";
    const rows = tr.kind === "regions"
      ? ` · ${tr.rows.length} row${tr.rows.length === 1 ? "" : "s"}`
      : "";
    const max = tr.counter ? ` · max ${formatValue(tr.counter.name, tr.counter.max)}` : "";
    ctx.fillText(`${tr.label}${rows}${max}`, 6, hy + HEADER_H / 2);
    if (tr.counter) {
      this.counter(tr.counter, top + ys[0]);
      return;
    }
    for (let r = 0; r < tr.rows.length; r++) {
      const y = top + ys[r];
      if (y + rowH < AXIS_H || y > s.height) continue;
      if (tr.kind === "logs") this.logRow(tr.rows[r], y);
      else this.sliceRow(tr, tr.rows[r], y);
    }
  }

  /** Colour and name of an item of a slice track. */
  private styleOf(tr: Track): { color: (i: number) => string; name: (i: number) => string } {
    const { cols, nameColor } = this.s;
    if (tr.kind === "tasks" || tr.kind === "regions") {
      const typeOf = tr.kind === "tasks" ? cols.tasks.type : cols.regions.type;
      return { color: (i) => nameColor[typeOf[i]], name: (i) => cols.names[typeOf[i]] };
    }
    if (tr.kind === "gc") {
      const inferred = cols.gcs.inferred;
      return {
        color: (i) => inferred[i] ? "#f4b6b0" : "#d93025",
        name: (i) => inferred[i] ? "GC (inferred)" : "GC",
      };
    }
    return { color: () => "#f29900", name: () => "stall" };
  }

  /**
   * Draws one row of slices. A hot loop: one function so the walk over a
   * million items stays a tight loop.
   */
  private sliceRow(tr: Track, row: Row, y: number): void {
    const s = this.s;
    const k = s.width / (s.t1 - s.t0);
    const t0 = s.t0, t1 = s.t1;
    const n = row.starts.length;
    const { color, name } = this.styleOf(tr);
    const isTask = tr.kind === "tasks";
    const match = s.matches && (isTask || tr.kind === "regions")
      ? (isTask ? s.matches.tasks : s.matches.regions)
      : undefined;
    const sel = s.selection;
    const selTask = tr.kind === "regions" && sel && sel.kind === "task"
      ? s.cols.tasks.id[sel.index]
      : -1;
    const h = ROW_H - 2;
    let i = firstEndingAfter(row, t0);
    while (i < n && row.starts[i] <= t1) {
      let x0 = (row.starts[i] - t0) * k;
      let x1 = (row.ends[i] - t0) * k;
      if (x1 - x0 >= MIN_SLICE_PX) {
        const item = row.items[i];
        if (x0 < -2) x0 = -2;
        if (x1 > s.width + 2) x1 = s.width + 2;
        const dim = match !== undefined && !match[item];
        this.rect(dim ? `${color(item)}|0.25` : color(item), x0, y + 1, x1 - x0 - 0.5, h);
        const room = Math.min(x1, s.width) - Math.max(x0, 0);
        if (room >= MIN_LABEL_PX) {
          const label = this.fit(name(item), room - 6);
          if (label) this.labels.push(label, Math.max(x0, 0) + 3, y + 1 + h / 2);
        }
        if (selTask >= 0 && s.cols.regions.task[item] === selTask) {
          this.related.push(x0 + 0.5, y + 1.5, Math.max(1, x1 - x0 - 1.5), h - 1);
        }
        i++;
        continue;
      }
      // A density block: every item that starts in this pixel column, then the next
      // columns while their items stay too small to draw on their own. Items in a row
      // do not overlap, so only the last item starting in a column can be wide: that
      // one is left out of the block and drawn as a slice of its own.
      const bx0 = x0;
      let bx1 = Math.max(x1, x0 + 1);
      let count = 0;
      let any = false;
      do {
        const edge = t0 + Math.floor(bx1 + 1) / k;
        let j = Math.max(i + 1, firstStartingAt(row, edge, i + 1));
        const wide = j - 1 > i && (row.ends[j - 1] - row.starts[j - 1]) * k >= MIN_SLICE_PX;
        if (wide) j--;
        count += j - i;
        if (match && !any) {
          for (let m = i; m < j && m < i + 64; m++) if (match[row.items[m]]) any = true;
        }
        const ex = (row.ends[j - 1] - t0) * k;
        if (ex > bx1) bx1 = ex;
        i = j;
        if (i >= n || wide) break;
        x0 = (row.starts[i] - t0) * k;
        x1 = (row.ends[i] - t0) * k;
      } while (x1 - x0 < MIN_SLICE_PX && x0 < bx1 + 1 && x0 <= s.width);
      // Alpha in four steps of density, so blocks share a few fill batches.
      const alpha = match && !any
        ? 0.2
        : Math.min(1, 0.45 + Math.round(count / Math.max(1, bx1 - bx0) / 4 * 4) / 4);
      this.rect(`${any ? "#e37400" : "#80868b"}|${alpha}`, bx0, y + 1, Math.max(1, bx1 - bx0), h);
    }
  }

  /** Width of `text` in the current font, px. */
  private textWidth(text: string): number {
    let w = this.widths.get(text);
    if (w === undefined) {
      w = this.ctx.measureText(text).width;
      if (this.widths.size > 4096) this.widths.clear();
      this.widths.set(text, w);
    }
    return w;
  }

  /** `text` if it fits in `room` px, else its longest prefix that fits with "…", or "". */
  private fit(text: string, room: number): string {
    if (this.textWidth(text) <= room) return text;
    let lo = 0, hi = text.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.textWidth(text.slice(0, mid) + "…") <= room) lo = mid;
      else hi = mid - 1;
    }
    return lo === 0 ? "" : text.slice(0, lo) + "…";
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

  private setStyle(style: string): void {
    const bar = style.indexOf("|");
    this.ctx.globalAlpha = bar < 0 ? 1 : Number(style.slice(bar + 1));
    this.ctx.fillStyle = bar < 0 ? style : style.slice(0, bar);
  }

  /** Fills everything queued, grouped by colour so the fill style changes rarely. */
  private flush(): void {
    const ctx = this.ctx;
    for (const [style, r] of this.fills) {
      this.setStyle(style);
      // fillRect per slice: one path of thousands of rectangles rasterises far slower.
      for (let k = 0; k < r.length; k += 4) ctx.fillRect(r[k], r[k + 1], r[k + 2], r[k + 3]);
    }
    for (const [style, m] of this.markers) {
      this.setStyle(style);
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
    }
    this.fills.clear();
    this.markers.clear();
    this.labels.length = 0;
    this.related.length = 0;
  }

  /**
   * The selected item's outline, drawn from its place and span rather than
   * during the row walk, so an item inside a density block is outlined too.
   */
  private outlineSelection(top: number): void {
    const s = this.s;
    const sel = s.selection;
    if (!sel) return;
    const p = placeOf(s.layout, sel);
    if (!p) return;
    const y = top + s.rowY[p[0]][p[1]];
    const [a, b] = spanOf(s.cols, s.layout, sel);
    const ctx = this.ctx;
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2;
    if (sel.kind === "log") {
      ctx.strokeRect(this.x(a) - 5, y + 1, 10, LOG_ROW_H - 2);
      return;
    }
    const x0 = Math.max(-2, this.x(a)), x1 = Math.min(s.width + 2, this.x(b));
    const w = Math.max(3, x1 - x0);
    ctx.strokeRect(x0 + (x1 - x0 < 3 ? (x1 - x0 - 3) / 2 : 0) + 1, y + 2, w - 2, ROW_H - 4);
  }

  /** A counter as a step chart, each sample over the time it describes. */
  private counter(c: CounterSeries, y: number): void {
    const s = this.s;
    const n = c.time.length;
    if (n === 0 || y + COUNTER_H < AXIS_H || y > s.height) return;
    const ctx = this.ctx;
    const k = s.width / (s.t1 - s.t0);
    const t0 = s.t0, t1 = s.t1;
    const scale = c.max > 0 ? (COUNTER_H - 6) / c.max : 0;
    const base = y + COUNTER_H - 2;
    const windowed = isWindowed(c.name);
    // The first sample drawn: the one whose span reaches t0.
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c.time[mid] < t0) lo = mid + 1;
      else hi = mid;
    }
    let i = Math.min(n - 1, windowed ? lo : Math.max(0, lo - 1));
    const x0 = Math.max(-1, (sampleStart(c, i) - t0) * k);
    let prev = base - c.value[i] * scale;
    ctx.beginPath();
    ctx.moveTo(x0, base);
    ctx.lineTo(x0, prev);
    i++;
    // Samples that start in one pixel column show their largest value.
    while (i < n && sampleStart(c, i) <= t1) {
      const x = (sampleStart(c, i) - t0) * k;
      const edge = Math.floor(x) + 1;
      let v = c.value[i];
      let j = i + 1;
      while (j < n && (sampleStart(c, j) - t0) * k < edge) {
        if (c.value[j] > v) v = c.value[j];
        j++;
      }
      ctx.lineTo(x, prev);
      prev = base - v * scale;
      ctx.lineTo(x, prev);
      i = j;
    }
    const lastEnd = (c.time[n - 1] - t0) * k + (windowed ? 0 : 1);
    const xe = i < n ? s.width + 1 : Math.min(s.width + 1, lastEnd);
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

  private logRow(row: Row, y: number): void {
    const s = this.s;
    const k = s.width / (s.t1 - s.t0);
    const t0 = s.t0, t1 = s.t1;
    const n = row.starts.length;
    const match = s.matches?.logs;
    const cats = s.cols.logs.category;
    // Markers closer than this merge into a bar: overlapping triangles are slow to fill.
    const gap = 6 / k;
    let i = firstStartingAt(row, t0 - gap, 0);
    while (i < n && row.starts[i] <= t1 + gap) {
      const x = (row.starts[i] - t0) * k;
      let j = firstStartingAt(row, row.starts[i] + gap, i + 1);
      if (j - i === 1) {
        const item = row.items[i];
        const color = s.nameColor[cats[item]];
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
  }

  /**
   * Stalls and GCs drawn across every row (the focus view): a tint behind
   * the slices (which keep their colours), then over them its edges and its
   * label.
   */
  private bands(over: boolean): void {
    const s = this.s, ctx = this.ctx;
    let labelRow = 0;
    for (const b of s.bands) {
      const x0 = Math.max(-1, this.x(b.start)), x1 = Math.min(s.width + 1, this.x(b.end));
      if (x1 < 0 || x0 > s.width) continue;
      const color = b.kind === "stall" ? "#f29900" : "#d93025";
      if (!over) {
        ctx.globalAlpha = 0.16;
        ctx.fillStyle = color;
        ctx.fillRect(x0, AXIS_H, Math.max(1, x1 - x0), s.height - AXIS_H);
        ctx.globalAlpha = 1;
        continue;
      }
      ctx.fillStyle = color;
      ctx.fillRect(x0, AXIS_H, 1, s.height - AXIS_H);
      ctx.fillRect(Math.max(x0, x1 - 1), AXIS_H, 1, s.height - AXIS_H);
      const text = this.fit(b.label, Math.max(60, s.width - Math.max(0, x0) - 8));
      const w = this.textWidth(text) + 8;
      const ly = AXIS_H + 2 + (labelRow++ % 3) * 15;
      ctx.fillStyle = "rgba(255,255,255,0.92)";
      ctx.fillRect(Math.max(0, x0) + 2, ly, w, 14);
      ctx.fillStyle = b.kind === "stall" ? "#b06000" : "#a50e0e";
      ctx.fillText(text, Math.max(0, x0) + 6, ly + 7);
    }
  }

  private flows(top: number): void {
    const s = this.s;
    const sel = s.selection;
    if (!sel || sel.kind !== "task") return;
    const tasks = s.cols.tasks;
    const ctx = this.ctx;
    const arrow = (from: number, to: number) => {
      const a = placeOf(s.layout, { kind: "task", index: from });
      const b = placeOf(s.layout, { kind: "task", index: to });
      if (!a || !b) return;
      const st = tasks.start[to];
      const x = this.x(Number.isNaN(st) ? 0 : st);
      const ya = top + s.rowY[a[0]][a[1]] + ROW_H / 2;
      const yb = top + s.rowY[b[0]][b[1]] + (b[1] > a[1] ? 1 : ROW_H - 1);
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
    const parent = parentId === 0 ? -1 : s.cols.taskIndex.get(parentId);
    if (parent >= 0) arrow(parent, sel.index);
    const end = Math.min(tasks.childStart[sel.index + 1], tasks.childStart[sel.index] + 1000);
    for (let k = tasks.childStart[sel.index]; k < end; k++) arrow(sel.index, tasks.children[k]);
  }

  private axis(): void {
    const s = this.s, ctx = this.ctx;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, s.width, AXIS_H);
    ctx.strokeStyle = "#dadce0";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, AXIS_H - 0.5);
    ctx.lineTo(s.width, AXIS_H - 0.5);
    ctx.stroke();
    const span = s.t1 - s.t0;
    const step = tickStep(span, s.width, 90);
    const label = `${formatDuration(span)} shown`;
    const w = this.textWidth(label) + 10;
    ctx.fillStyle = "#3c4043";
    ctx.textBaseline = "middle";
    for (let t = Math.ceil(s.t0 / step) * step; t <= s.t1; t += step) {
      if (this.x(t) > s.width - w - 60) break;
      const x = Math.round(this.x(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, AXIS_H - 6);
      ctx.lineTo(x, AXIS_H);
      ctx.stroke();
      ctx.fillText(formatDuration(t), x + 3, AXIS_H / 2 - 2);
    }
    ctx.fillStyle = "rgba(255,255,255,0.9)";
    ctx.fillRect(s.width - w, 0, w, AXIS_H - 1);
    ctx.fillStyle = "#5f6368";
    ctx.fillText(label, s.width - w + 5, AXIS_H / 2 - 2);
  }
}

/**
 * Track and row of an item in `layout`, or undefined if the layout does
 * not show it.
 *
 * @example
 * ```ts
 * import { placeOf } from "./timeline_paint.ts";
 * import type { Layout } from "./model.ts";
 * declare const layout: Layout;
 * const p = placeOf(layout, { kind: "task", index: 0 }); // [track, row]
 * ```
 */
export function placeOf(layout: Layout, sel: Selection): [number, number] | undefined {
  const p = sel.kind === "task"
    ? layout.taskPlace
    : sel.kind === "region"
    ? layout.regionPlace
    : sel.kind === "log"
    ? layout.logPlace
    : sel.kind === "gc"
    ? layout.gcPlace
    : layout.stallPlace;
  if (!(sel.index >= 0 && 2 * sel.index < p.length) || p[2 * sel.index] < 0) return undefined;
  return [p[2 * sel.index], p[2 * sel.index + 1]];
}

/**
 * Start and end of an item, ns; an item cut by the end of the trace ends
 * there, one cut by its start begins at 0.
 *
 * @example
 * ```ts
 * import { spanOf } from "./timeline_paint.ts";
 * import type { Columns } from "./columns.ts";
 * import type { Layout } from "./model.ts";
 * declare const cols: Columns, layout: Layout;
 * const [start, end] = spanOf(cols, layout, { kind: "region", index: 3 });
 * ```
 */
export function spanOf(cols: Columns, layout: Layout, sel: Selection): [number, number] {
  const end = Math.max(layout.end, cols.duration);
  const orEnd = (t: number) => Number.isNaN(t) ? end : t;
  const i = sel.index;
  switch (sel.kind) {
    case "task": {
      const s = cols.tasks.start[i];
      return [Number.isNaN(s) ? 0 : s, orEnd(cols.tasks.end[i])];
    }
    case "region":
      return [cols.regions.start[i], orEnd(cols.regions.end[i])];
    case "gc":
      return [cols.gcs.start[i], cols.gcs.end[i]];
    case "stall":
      return [cols.stalls.start[i], cols.stalls.end[i]];
    default:
      return [cols.logs.time[i], cols.logs.time[i]];
  }
}
