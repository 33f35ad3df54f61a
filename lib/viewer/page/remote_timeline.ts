/// <reference lib="dom" />
/**
 * The served page's timeline: rows of the trace's index (the task track,
 * then each thread's region slots, stalls and GCs), drawn from tiles the
 * server answers for the current window. Slices at least a pixel wide are
 * drawn in their type's colour; the shorter ones, as the density of each
 * row. While a tile is on its way the last one is drawn at the new scale,
 * so zooming never blanks the canvas.
 *
 * @module
 */

import { formatDuration, formatTimestamp } from "../../read/duration.ts";
import { Kind, type RowInfo } from "../serve/index_layout.ts";
import { fetchTile, type PageMeta, type TileData } from "./remote_data.ts";
import { tickStep } from "./ticks_and_html.ts";

const ROW_H = 14;
const LABEL_W = 120;
const AXIS_H = 20;

/** Density colours per track, RGB. */
const SHADE: Record<RowInfo["track"], [number, number, number]> = {
  tasks: [26, 115, 232],
  regions: [95, 99, 104],
  stalls: [217, 48, 37],
  gc: [147, 52, 230],
};

/** A slice the user picked. */
export interface RemoteSelection {
  kind: number;
  type: string;
  start: number;
  duration: number;
  task: number;
  row: RowInfo;
}

/** Options of {@linkcode RemoteTimeline}. */
export interface RemoteTimelineOptions {
  meta: PageMeta;
  colors: Map<string, string>;
  onSelect: (sel: RemoteSelection | undefined) => void;
}

/** The rows in display order: the tasks, then per thread its regions, stalls and GCs. */
function orderRows(rows: RowInfo[]): RowInfo[] {
  const track = { tasks: 0, regions: 1, stalls: 2, gc: 3 };
  return [...rows].sort((a, b) =>
    a.thread - b.thread || track[a.track] - track[b.track] || a.slot - b.slot
  );
}

/**
 * The timeline of a served trace.
 *
 * @example
 * ```ts ignore
 * const tl = new RemoteTimeline(host, { meta, colors, onSelect: () => {} });
 * tl.zoomTo(0, meta.duration);
 * ```
 */
export class RemoteTimeline {
  /** The canvas, focusable for keys. */
  readonly canvas: HTMLCanvasElement = document.createElement("canvas");
  /** The window shown, ns. */
  t0 = 0;
  t1 = 1;
  /** The last tile received. */
  tile?: TileData;
  /** Tiles received, and ms from request to draw of the last one. */
  tiles = 0;
  lastTileMs = 0;
  /** The selected slice, outlined. */
  selection?: RemoteSelection;
  /** Type ids the search matched: their slices are outlined, the others faded. */
  matches?: ReadonlySet<number>;
  private rows: RowInfo[];
  private yOfRow: Int32Array;
  private scrollY = 0;
  private inFlight?: AbortController;
  private pending = false;
  private frame = 0;
  private waiters: (() => void)[] = [];
  /** The last tile's density image. */
  private density?: { tile: TileData; image: HTMLCanvasElement };

  constructor(private host: HTMLElement, private o: RemoteTimelineOptions) {
    this.rows = orderRows(o.meta.rows);
    this.yOfRow = new Int32Array(o.meta.rows.length);
    this.rows.forEach((r, i) => this.yOfRow[r.row] = AXIS_H + i * ROW_H);
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", "Timeline of the trace; keys W/S zoom, A/D pan, 0 all");
    host.append(this.canvas);
    this.t1 = Math.max(1, o.meta.duration);
    this.wire();
    new ResizeObserver(() => this.changed()).observe(host);
  }

  /** Shows [t0, t1] ns and fetches its tile. */
  zoomTo(t0: number, t1: number): void {
    const min = 1000;
    if (t1 - t0 < min) [t0, t1] = [(t0 + t1) / 2 - min / 2, (t0 + t1) / 2 + min / 2];
    this.t0 = t0;
    this.t1 = t1;
    this.changed();
  }

  /** Resolves when the tile of the current window has been drawn. */
  settled(): Promise<void> {
    if (!this.inFlight && !this.pending && this.tile?.t0 === this.t0 && this.tile.t1 === this.t1) {
      return Promise.resolve();
    }
    return new Promise((done) => this.waiters.push(done));
  }

  /** Scrolls the rows so that `row` is in view. */
  reveal(row: number): void {
    const y = this.yOfRow[row] - AXIS_H;
    const h = this.canvas.clientHeight - AXIS_H;
    if (y < this.scrollY || y > this.scrollY + h - ROW_H) this.scrollY = Math.max(0, y - h / 3);
    this.draw();
  }

  private width(): number {
    return Math.max(50, this.host.clientWidth - LABEL_W);
  }

  private changed(): void {
    this.draw();
    if (this.inFlight) {
      this.pending = true;
      return;
    }
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.fetch());
  }

  private async fetch(): Promise<void> {
    const t0 = this.t0, t1 = this.t1, px = Math.round(this.width());
    const ask = performance.now();
    const ctl = this.inFlight = new AbortController();
    try {
      this.tile = await fetchTile(t0, t1, px, ctl.signal);
      this.tiles++;
      this.draw();
      this.lastTileMs = performance.now() - ask;
    } catch (e) {
      if ((e as Error).name !== "AbortError") console.warn(`runtrace: a tile failed: ${e}`);
    } finally {
      this.inFlight = undefined;
    }
    if (this.pending || this.t0 !== t0 || this.t1 !== t1) {
      this.pending = false;
      return this.fetch();
    }
    for (const w of this.waiters.splice(0)) w();
  }

  private xOf(t: number): number {
    return LABEL_W + (t - this.t0) / (this.t1 - this.t0) * this.width();
  }

  /** Draws the last tile at the current window. */
  /** Highlights the slices of these type ids (none: no highlight) and redraws. */
  setMatches(types: ReadonlySet<number> | undefined): void {
    this.matches = types;
    this.draw();
  }

  draw(): void {
    const c = this.canvas, dpr = globalThis.devicePixelRatio || 1;
    const w = this.host.clientWidth, h = this.host.clientHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${h}px`;
    }
    const g = c.getContext("2d")!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.save();
    g.beginPath();
    g.rect(0, AXIS_H, w, h - AXIS_H);
    g.clip();
    g.translate(0, -this.scrollY);
    this.drawRowBands(g, w);
    if (this.tile) {
      this.drawDensity(g, this.tile);
      this.drawSlices(g, this.tile);
    }
    g.restore();
    this.drawAxis(g, w);
    this.drawLabels(g, h);
  }

  private drawRowBands(g: CanvasRenderingContext2D, w: number): void {
    let prev = -1;
    for (const r of this.rows) {
      const y = this.yOfRow[r.row];
      if (r.thread !== prev || r.slot === 0) {
        g.fillStyle = "#dadce0";
        g.fillRect(0, y, w, 1);
      }
      prev = r.thread;
    }
  }

  /**
   * The tile's density as an image, a pixel per column and row, made once per
   * tile: one `drawImage` then scales it to the window (a `fillRect` per pixel
   * took seconds in a software-rendered canvas).
   */
  private densityImage(t: TileData): HTMLCanvasElement | undefined {
    if (this.density?.tile === t) return this.density.image;
    let max = 0;
    for (const d of t.density.values()) for (const v of d) if (v > max) max = v;
    if (max <= 0 || this.rows.length === 0) return undefined;
    const image = document.createElement("canvas");
    image.width = t.px;
    image.height = this.rows.length;
    const g = image.getContext("2d")!;
    const img = g.createImageData(t.px, this.rows.length);
    for (const [row, d] of t.density) {
      const [r, gr, b] = SHADE[this.o.meta.rows[row].track];
      const line = (this.yOfRow[row] - AXIS_H) / ROW_H * t.px * 4;
      for (let x = 0; x < t.px; x++) {
        if (d[x] <= 0) continue;
        const o = line + x * 4;
        img.data[o] = r;
        img.data[o + 1] = gr;
        img.data[o + 2] = b;
        img.data[o + 3] = Math.round(255 * (0.12 + 0.6 * Math.sqrt(d[x] / max)));
      }
    }
    g.putImageData(img, 0, 0);
    this.density = { tile: t, image };
    return image;
  }

  private drawDensity(g: CanvasRenderingContext2D, t: TileData): void {
    const image = this.densityImage(t);
    if (!image) return;
    g.imageSmoothingEnabled = false;
    const a = this.xOf(t.t0), b = this.xOf(t.t1);
    g.drawImage(image, 0, 0, image.width, image.height, a, AXIS_H, b - a, image.height * ROW_H);
  }

  private drawSlices(g: CanvasRenderingContext2D, t: TileData): void {
    const types = this.o.meta.types, colors = this.o.colors, rows = this.o.meta.rows;
    g.font = "10px system-ui, sans-serif";
    g.textBaseline = "middle";
    const right = this.canvas.clientWidth;
    for (let i = 0; i < t.count; i++) {
      const a = Math.max(LABEL_W, this.xOf(t.start[i]));
      const b = Math.min(right, this.xOf(t.start[i] + t.dur[i]));
      if (b < LABEL_W || a > right) continue;
      const y = this.yOfRow[t.row[i]];
      const name = types[t.type[i]];
      const kind = t.kind[i];
      g.fillStyle = kind === Kind.STALL
        ? "#d93025"
        : kind === Kind.GC
        ? "#9334e6"
        : colors.get(name) ?? "#1a73e8";
      const hit = this.matches?.has(t.type[i]);
      g.globalAlpha = hit === false ? 0.25 : 1;
      g.fillRect(a, y + 1, Math.max(1, b - a), ROW_H - 2);
      if (hit) {
        g.strokeStyle = "#e37400";
        g.lineWidth = 1.5;
        g.strokeRect(a, y + 1, Math.max(1, b - a), ROW_H - 2);
      }
      if (b - a > 40) {
        g.fillStyle = "#fff";
        const label = kind === Kind.STALL ? `stall ${name}` : name || rows[t.row[i]].track;
        g.fillText(label, a + 3, y + ROW_H / 2, b - a - 6);
      }
    }
    g.globalAlpha = 1;
    const s = this.selection;
    if (s) {
      g.strokeStyle = "#202124";
      g.lineWidth = 2;
      const a = this.xOf(s.start), b = this.xOf(s.start + s.duration);
      g.strokeRect(a, this.yOfRow[s.row.row] + 1, Math.max(2, b - a), ROW_H - 2);
    }
  }

  private drawAxis(g: CanvasRenderingContext2D, w: number): void {
    g.fillStyle = "#fff";
    g.fillRect(0, 0, w, AXIS_H);
    g.fillStyle = "#5f6368";
    g.font = "10px system-ui, sans-serif";
    g.textBaseline = "middle";
    const step = tickStep(this.t1 - this.t0, this.width(), 90);
    // The first tick says where the window is; the others how far from it (three digits of an
    // absolute time cannot tell ticks 2 µs apart at 100 ms).
    const first = Math.ceil(this.t0 / step) * step;
    for (let t = first; t <= this.t1; t += step) {
      const x = this.xOf(t);
      g.fillRect(x, AXIS_H - 5, 1, 5);
      const label = t === first ? formatTimestamp(t) : `+${formatDuration(t - first)}`;
      g.fillText(label, x + 2, AXIS_H / 2);
    }
    g.fillRect(0, AXIS_H - 1, w, 1);
  }

  private drawLabels(g: CanvasRenderingContext2D, h: number): void {
    g.fillStyle = "#f8f9fa";
    g.fillRect(0, AXIS_H, LABEL_W, h - AXIS_H);
    g.fillStyle = "#202124";
    g.font = "11px system-ui, sans-serif";
    const names = new Map(this.o.meta.threads.map((t) => [t.id, t.name]));
    let prev = "";
    for (const r of this.rows) {
      const y = this.yOfRow[r.row] - this.scrollY;
      if (y < AXIS_H || y > h) continue;
      const group = r.thread === 0
        ? "tasks"
        : `${names.get(r.thread) ?? `thread ${r.thread}`} ${r.track}`;
      if (group === prev && r.slot !== 0) continue;
      prev = group;
      g.fillText(group, 4, y + ROW_H / 2, LABEL_W - 8);
    }
  }

  /** The slice under (x, y) in CSS px of the canvas, if any. */
  hit(x: number, y: number): RemoteSelection | undefined {
    const t = this.tile;
    if (!t || x < LABEL_W) return undefined;
    const yy = y + this.scrollY;
    const slop = 2 * (this.t1 - this.t0) / this.width();
    const at = this.t0 + (x - LABEL_W) / this.width() * (this.t1 - this.t0);
    let best = -1;
    for (let i = 0; i < t.count; i++) {
      const top = this.yOfRow[t.row[i]];
      if (yy < top || yy >= top + ROW_H) continue;
      if (t.start[i] - slop > at || t.start[i] + t.dur[i] + slop < at) continue;
      if (best < 0 || t.dur[i] < t.dur[best]) best = i;
    }
    if (best < 0) return undefined;
    return {
      kind: t.kind[best],
      type: this.o.meta.types[t.type[best]],
      start: t.start[best],
      duration: t.dur[best],
      task: t.task[best],
      row: this.o.meta.rows[t.row[best]],
    };
  }

  /** Zooms by `factor` (< 1 in) around time `at`. */
  zoom(factor: number, at = (this.t0 + this.t1) / 2): void {
    this.zoomTo(at - (at - this.t0) * factor, at + (this.t1 - at) * factor);
  }

  private pan(share: number): void {
    const d = (this.t1 - this.t0) * share;
    this.zoomTo(this.t0 + d, this.t1 + d);
  }

  private timeAt(x: number): number {
    return this.t0 + (x - LABEL_W) / this.width() * (this.t1 - this.t0);
  }

  private wire(): void {
    const c = this.canvas;
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      if (e.shiftKey) return this.scroll(e.deltaY);
      this.zoom(Math.exp(e.deltaY * 0.002), this.timeAt(e.offsetX));
    }, { passive: false });
    c.addEventListener("keydown", (e) => {
      const k = e.key.toLowerCase();
      if (k === "w" || k === "+") this.zoom(0.5);
      else if (k === "s" || k === "-") this.zoom(2);
      else if (k === "a" || k === "arrowleft") this.pan(-0.25);
      else if (k === "d" || k === "arrowright") this.pan(0.25);
      else if (k === "0" || k === "home") this.zoomTo(0, Math.max(1, this.o.meta.duration));
      else if (k === "arrowdown") this.scroll(ROW_H * 3);
      else if (k === "arrowup") this.scroll(-ROW_H * 3);
      else return;
      e.preventDefault();
    });
    let drag: { x: number; t0: number; t1: number; moved: boolean } | undefined;
    c.addEventListener("pointerdown", (e) => {
      c.focus();
      drag = { x: e.offsetX, t0: this.t0, t1: this.t1, moved: false };
    });
    c.addEventListener("pointermove", (e) => {
      if (!drag || (e.buttons & 1) === 0) {
        // Hovering names the slice under the pointer.
        const h = this.hit(e.offsetX, e.offsetY);
        c.title = h
          ? `${h.type || ["task", "region", "stall", "GC"][h.kind]} · ${formatDuration(h.duration)}`
          : "";
        return;
      }
      const dx = e.offsetX - drag.x;
      if (Math.abs(dx) < 3 && !drag.moved) return;
      drag.moved = true;
      const d = dx / this.width() * (drag.t1 - drag.t0);
      this.zoomTo(drag.t0 - d, drag.t1 - d);
    });
    c.addEventListener("pointerup", (e) => {
      if (drag && !drag.moved) {
        this.selection = this.hit(e.offsetX, e.offsetY);
        this.draw();
        this.o.onSelect(this.selection);
      }
      drag = undefined;
    });
  }

  private scroll(dy: number): void {
    const max = Math.max(0, this.rows.length * ROW_H - (this.canvas.clientHeight - AXIS_H));
    this.scrollY = Math.max(0, Math.min(max, this.scrollY + dy));
    this.draw();
  }
}
