/// <reference lib="dom" />
/**
 * The timeline's input: wheel, drag, click and keys, turned into the view
 * operations of timeline.ts.
 *
 * @module
 */

import type { Timeline } from "./timeline.ts";
import { AXIS_H, ROW_H } from "./timeline_paint.ts";

/** What each key does; keys not listed are left to the page. */
const KEYS: Record<string, (t: Timeline) => void> = {
  w: (t) => t.zoom(0.8, t.mouseX ?? t.width / 2),
  s: (t) => t.zoom(1.25, t.mouseX ?? t.width / 2),
  a: (t) => t.pan(-0.1),
  d: (t) => t.pan(0.1),
  ArrowUp: (t) => t.scroll(-ROW_H * 2),
  ArrowDown: (t) => t.scroll(ROW_H * 2),
  PageUp: (t) => t.scroll(-(t.height - AXIS_H)),
  PageDown: (t) => t.scroll(t.height - AXIS_H),
  "0": (t) => t.showAll(),
  "[": (t) => t.step(-1),
  "]": (t) => t.step(1),
  Enter: (t) => t.zoomToSelection(),
  Escape: (t) => t.select(undefined),
};
for (const [alias, key] of [["+", "w"], ["=", "w"], ["-", "s"], ["ArrowLeft", "a"]] as const) {
  KEYS[alias] = KEYS[key];
}
KEYS.ArrowRight = KEYS.d;
KEYS.Home = KEYS["0"];

/**
 * Wires the canvas of `t`: the wheel zooms (shift scrolls the rows), a drag
 * pans and scrolls, a click selects, and keys as in {@linkcode KEYS}.
 *
 * @example
 * ```ts
 * import { listenTimeline } from "./timeline_input.ts";
 * import type { Timeline } from "./timeline.ts";
 * declare const timeline: Timeline;
 * listenTimeline(timeline);
 * ```
 */
export function listenTimeline(t: Timeline): void {
  const c = t.canvas;
  c.addEventListener("wheel", (e) => {
    e.preventDefault();
    const x = e.clientX - c.getBoundingClientRect().left;
    // Firefox reports lines (deltaMode 1) or pages (2) where Chromium reports pixels.
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? t.height : 1;
    const dx = e.deltaX * unit, dy = e.deltaY * unit;
    if (e.shiftKey) t.scroll(dy || dx);
    else if (Math.abs(dx) > Math.abs(dy)) t.pan(dx / t.width);
    else t.zoom(Math.exp(Math.max(-200, Math.min(200, dy)) * (e.ctrlKey ? 0.01 : 0.002)), x);
  }, { passive: false });
  listenDrag(t);
  c.addEventListener("pointerleave", () => t.mouseX = undefined);
  c.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const action = KEYS[e.key.length === 1 ? e.key.toLowerCase() : e.key];
    if (!action) return;
    action(t);
    e.preventDefault();
  });
}

/** A drag pans and scrolls; a press and release without moving selects what is under it. */
function listenDrag(t: Timeline): void {
  const c = t.canvas;
  let drag:
    | { x: number; y: number; t0: number; t1: number; sy: number; moved: boolean }
    | undefined;
  c.addEventListener("pointerdown", (e) => {
    c.focus();
    drag = { x: e.clientX, y: e.clientY, t0: t.t0, t1: t.t1, sy: t.scrollY, moved: false };
    c.setPointerCapture(e.pointerId);
  });
  c.addEventListener("pointermove", (e) => {
    const rect = c.getBoundingClientRect();
    t.mouseX = e.clientX - rect.left;
    if (!drag) {
      c.title = t.describeAt(e.clientX - rect.left, e.clientY - rect.top);
      return;
    }
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (!drag.moved) return;
    const d = dx / t.width * (drag.t1 - drag.t0);
    t.t0 = drag.t0 - d;
    t.t1 = drag.t1 - d;
    t.scrollY = drag.sy;
    t.scroll(-dy);
  });
  c.addEventListener("pointerup", (e) => {
    const d = drag;
    drag = undefined;
    if (!d || d.moved) return;
    const rect = c.getBoundingClientRect();
    t.select(t.hit(e.clientX - rect.left, e.clientY - rect.top));
  });
}
