/**
 * Viewer benchmark: generates a trace of about 1 million events, builds its
 * page, loads it in headless Chromium (a fresh browser per load) and reads
 * the page's own timings: the first screen drawn, the longest main-thread
 * task after it (the page's long-task observer), when the timeline and the
 * full model are ready, and the time of each zoom and pan step. Medians over
 * the loads. Results go to standard output as a
 * Markdown table (copied into bench/README.md).
 *
 *     deno run -A bench/viewer_bench.ts [--events N] [--loads K]
 *     bun bench/viewer_bench.ts
 *
 * Needs a `chromium` binary (or $CHROMIUM).
 *
 * @module
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { TraceWriter } from "../lib/format/encoder.ts";
import { Ev } from "../lib/format/constants.ts";
import { renderViewerHtml } from "../lib/viewer/html.ts";
import { findChromium, launchChromium } from "../tests/cdp.ts";

/** One event waiting to be encoded, in a thread's time order. */
interface Pending {
  time: number;
  seq: number;
  kind: number;
  a: number;
  b: number;
  c: number;
  d: number;
  msg?: string;
}

/** Deterministic pseudo-random numbers (mulberry32), so runs compare. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A synthetic trace of about `events` events: orders on four threads, each
 * a task with a log, two concurrent regions then a third, durations spread
 * log-normally from microseconds to tens of milliseconds.
 *
 * @example
 * ```ts
 * import { syntheticTrace } from "./viewer_bench.ts";
 * const bytes = syntheticTrace(10_000);
 * ```
 */
export function syntheticTrace(events: number): Uint8Array {
  const threads = 4;
  const tasks = Math.ceil(events / 9);
  const rand = rng(42);
  const lognormal = (median: number) => {
    const u = Math.max(1e-9, rand()), v = rand();
    return median * Math.exp(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v) * 0.9);
  };
  const perThread: Pending[][] = Array.from({ length: threads }, () => []);
  const nextRegion = new Array(threads).fill(0);
  let lane = 0, seq = 0;
  const types = ["checkout", "search", "render", "login"];
  const steps = [["fetchCart", "priceItems", "charge"], ["parse", "query", "rank"], [
    "loadTemplate",
    "fetchData",
    "renderHTML",
  ], ["lookupUser", "checkPassword", "issueToken"]];
  for (let i = 0; i < tasks; i++) {
    const th = i % threads;
    const list = perThread[th];
    const kind = i % types.length;
    const t0 = Math.round(i * 10_000 + rand() * 5_000);
    const id = i + 1;
    const push = (time: number, k: number, a = 0, b = 0, c = 0, d = 0, msg?: string) =>
      list.push({ time: Math.round(time), seq: seq++, kind: k, a, b, c, d, msg });
    push(t0, Ev.TASK_BEGIN, id, 0, 1 + kind);
    push(t0 + 100, Ev.LOG, id, 10, 0, 0, `order ${id} from user ${i % 997}`);
    const dA = lognormal(60_000), dB = lognormal(40_000), dC = lognormal(20_000);
    const rA = ++nextRegion[th], rB = ++nextRegion[th], rC = ++nextRegion[th];
    push(t0 + 200, Ev.REGION_BEGIN, id, 20 + kind * 3, rA, ++lane);
    push(t0 + 300, Ev.REGION_BEGIN, id, 21 + kind * 3, rB, ++lane);
    push(t0 + 200 + dA, Ev.REGION_END, rA);
    push(t0 + 300 + dB, Ev.REGION_END, rB);
    const c0 = t0 + 400 + Math.max(dA, dB);
    push(c0, Ev.REGION_BEGIN, id, 22 + kind * 3, rC, ++lane);
    push(c0 + dC, Ev.REGION_END, rC);
    push(c0 + dC + 100, Ev.TASK_END, id);
  }
  const w = new TraceWriter();
  w.header({
    timeOrigin: Date.now(),
    startTime: 0,
    resolutionNs: 1,
    runtime: "bench",
    runtimeVersion: "1",
    pid: 0,
  });
  for (let th = 0; th < threads; th++) w.threadName(th + 1, th === 0 ? "main" : `worker ${th}`);
  const strings = new Map<number, string>([[10, "order"]]);
  types.forEach((t, k) => strings.set(1 + k, t));
  steps.forEach((s, k) => s.forEach((n, j) => strings.set(20 + k * 3 + j, n)));
  for (const [id, s] of strings) w.defineString(id, s);
  const lastTime = new Array(threads).fill(0);
  const lastRegion = new Array(threads).fill(0);
  const pos = new Array(threads).fill(0);
  for (const list of perThread) list.sort((x, y) => x.time - y.time || x.seq - y.seq);
  // Interleave batches of 4096 events from each thread, as the drain worker would.
  for (let more = true; more;) {
    more = false;
    for (let th = 0; th < threads; th++) {
      const list = perThread[th];
      if (pos[th] >= list.length) continue;
      more = true;
      w.openBatch(th + 1, lastTime[th], lastRegion[th]);
      const end = Math.min(list.length, pos[th] + 4096);
      for (let k = pos[th]; k < end; k++) {
        const e = list[k];
        w.event(e.kind, e.time);
        const o = w.ev;
        switch (e.kind) {
          case Ev.TASK_BEGIN:
            o.uvarint(e.a);
            o.uvarint(e.b);
            o.uvarint(e.c);
            break;
          case Ev.TASK_END:
            o.uvarint(e.a);
            break;
          case Ev.LOG:
            o.uvarint(e.a);
            o.uvarint(e.b);
            o.uvarint(0);
            w.message(e.msg!);
            break;
          case Ev.REGION_BEGIN:
            o.uvarint(e.a);
            o.uvarint(e.b);
            o.svarint(e.c - w.lastRegion);
            o.uvarint(0);
            o.uvarint(e.d);
            w.lastRegion = e.c;
            break;
          case Ev.REGION_END:
            o.svarint(w.lastRegion - e.a);
            break;
        }
      }
      pos[th] = end;
      lastTime[th] = w.lastTime;
      lastRegion[th] = w.lastRegion;
      w.closeBatch();
    }
  }
  w.end(0);
  return w.out.buf.slice(0, w.out.pos);
}

/** Summary of a list of timings, ms. */
function summary(xs: number[]): { median: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: at(0.5), p95: at(0.95), max: s[s.length - 1] };
}

async function main(): Promise<void> {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? Number(process.argv[i + 1]) : def;
  };
  const events = arg("--events", 1_000_000);
  const loads = arg("--loads", 5);
  const exe = findChromium();
  if (!exe) {
    console.error(
      "viewer_bench: no chromium binary found (apt-get install chromium, or set $CHROMIUM)",
    );
    process.exit(1);
  }
  const out = join(import.meta.dirname ?? ".", "out");
  mkdirSync(out, { recursive: true });
  let t = performance.now();
  const bytes = syntheticTrace(events);
  const genMs = performance.now() - t;
  t = performance.now();
  const html = renderViewerHtml(bytes, { name: `synthetic-${events}.trace` });
  const htmlMs = performance.now() - t;
  const file = join(out, `viewer-${events}.html`);
  writeFileSync(join(out, `viewer-${events}.trace`), bytes);
  writeFileSync(file, html);
  console.error(
    `generated ${bytes.length} bytes in ${genMs.toFixed(0)}ms; page ${html.length} bytes in ${
      htmlMs.toFixed(0)
    }ms`,
  );

  const rows: string[] = [];
  // A fresh browser per load: each load is cold, and a second tab would be a background
  // tab whose animation frames do not run.
  let browser = await launchChromium(exe);
  try {
    const runs: Record<string, number[]> = {};
    const note = (key: string, v: number) => (runs[key] ??= []).push(v);
    let eventsSeen = 0, worker = false;
    for (let k = 0; k < loads; k++) {
      if (k > 0) {
        await browser.close();
        browser = await launchChromium(exe);
      }
      const page = await browser.newPage(1600, 900);
      await page.goto(`file://${file}`, 120_000);
      await page.waitFor("window.runtraceViewer && window.runtraceViewer.firstFrameMs", 120_000);
      await page.waitFor("runtraceViewer.ready && runtraceViewer.modelMs", 120_000);
      // Long-task entries reach the page's observer a little after the task.
      await new Promise((r) => setTimeout(r, 500));
      const r = await page.evaluate<Record<string, number>>(
        `({ first: runtraceViewer.firstDrawMs, frame: runtraceViewer.firstFrameMs,
            decode: runtraceViewer.decodeMs, layout: runtraceViewer.layoutMs,
            timeline: runtraceViewer.timelineMs, model: runtraceViewer.modelMs,
            workerModel: runtraceViewer.workerModelMs ?? NaN, worker: runtraceViewer.worker ? 1 : 0,
            events: runtraceViewer.cols.events, error: runtraceViewer.error,
            // The page's own record of long main-thread tasks: the longest after the first frame.
            longest: Math.max(0, ...(runtraceViewer.longTasks ?? [])
              .filter(([start]) => start >= runtraceViewer.firstFrameMs).map(([, d]) => d)),
            over100: (runtraceViewer.longTasks ?? [])
              .filter(([start, d]) => start >= runtraceViewer.firstFrameMs && d > 100).length })`,
      );
      if (r.error) throw new Error(`page error: ${r.error}`);
      // The page's own marks (ms since navigation start) and its long tasks, for the timeline.
      const detail = await page.evaluate<{ marks: Record<string, number>; long: number[][] }>(
        `({ marks: runtraceViewer.marks ?? {}, long: runtraceViewer.longTasks ?? [] })`,
      );
      for (const [k, v] of Object.entries(detail.marks)) note(`mark:${k}`, v);
      for (const key of Object.keys(r)) if (typeof r[key] === "number") note(key, r[key]);
      eventsSeen = r.events;
      worker = r.worker === 1;
      console.error(`load ${k + 1}: ${JSON.stringify(r)}`);
      console.error(
        `  marks: ${
          Object.entries(detail.marks).sort((a, b) => a[1] - b[1]).map(([k, v]) => `${k} ${v}`)
            .join(", ")
        }\n  long tasks [start, ms]: ${JSON.stringify(detail.long)}`,
      );
      if (k === loads - 1) {
        // Zoom and pan steps: the page's own draw, then a 1-pixel read-back that
        // waits for the canvas to be rasterised.
        const steps = await page.evaluate<Record<string, number[]>>(`(() => {
          const tl = runtraceViewer.timeline;
          const ctx = tl.canvas.getContext("2d");
          const step = (f) => {
            const t0 = performance.now();
            f();
            tl.draw();
            const js = performance.now() - t0;
            ctx.getImageData(0, 0, 1, 1);
            return [js, performance.now() - t0];
          };
          const out = { zoomJs: [], zoomAll: [], panJs: [], panAll: [], outJs: [], outAll: [] };
          tl.showAll();
          tl.draw();
          for (let i = 0; i < 50; i++) {
            const [a, b] = step(() => tl.zoom(0.8));
            out.zoomJs.push(a); out.zoomAll.push(b);
            if (i % 10 === 9) for (let j = 0; j < 10; j++) {
              const [c, d] = step(() => tl.pan(j < 5 ? 0.1 : -0.1));
              out.panJs.push(c); out.panAll.push(d);
            }
          }
          for (let i = 0; i < 50; i++) {
            const [a, b] = step(() => tl.zoom(1.25));
            out.outJs.push(a); out.outAll.push(b);
          }
          return out;
        })()`);
        const z = summary([...steps.zoomAll, ...steps.outAll]);
        const zj = summary([...steps.zoomJs, ...steps.outJs]);
        const p = summary(steps.panAll);
        const pj = summary(steps.panJs);
        rows.push(
          `| zoom step (W/S), draw | ${zj.median.toFixed(1)} | ${zj.p95.toFixed(1)} | ${
            zj.max.toFixed(1)
          } |`,
          `| zoom step, draw + raster read-back | ${z.median.toFixed(1)} | ${z.p95.toFixed(1)} | ${
            z.max.toFixed(1)
          } |`,
          `| pan step (A/D), draw | ${pj.median.toFixed(1)} | ${pj.p95.toFixed(1)} | ${
            pj.max.toFixed(1)
          } |`,
          `| pan step, draw + raster read-back | ${p.median.toFixed(1)} | ${p.p95.toFixed(1)} | ${
            p.max.toFixed(1)
          } |`,
        );
      }
    }
    console.log(`Trace: ${eventsSeen} events, ${bytes.length} bytes; page ${html.length} bytes.`);
    console.log(
      `Page loads: ${loads}; read in ${
        worker ? "the page's Web Worker" : "the page"
      }; figures in ms (median, p95 over steps, max).\n`,
    );
    console.log("| measure | median | p95 | max |\n|---|---:|---:|---:|");
    const line = (what: string, key: string) => {
      const x = summary(runs[key]);
      console.log(`| ${what} | ${x.median.toFixed(0)} | | ${x.max.toFixed(0)} |`);
    };
    line("first screen drawn (Overview), from navigation start", "first");
    line("first frame after it", "frame");
    line("in the worker: base64, inflate, (tasks first,) decode into columns", "decode");
    line("timeline and views ready (layout in)", "timeline");
    line("in the worker: lane layout", "layout");
    line("in the worker: full model built", "workerModel");
    line("full model (details, pages) ready on the page", "model");
    line("longest main-thread task after the first frame", "longest");
    line("main-thread tasks over 100 ms after the first frame", "over100");
    for (const r of rows) console.log(r);
    // The load's steps in order (medians): where the time to the first screen goes.
    const marks = Object.keys(runs).filter((k) => k.startsWith("mark:"))
      .map((k) => [k.slice(5), summary(runs[k]).median] as const).sort((a, b) => a[1] - b[1]);
    if (marks.length > 0) {
      console.log(
        `\nSteps of a load (the page's marks, ms since navigation start, medians): ${
          marks.map(([k, v]) => `${k} ${v.toFixed(0)}`).join(" · ")
        }`,
      );
    }
  } finally {
    await browser.close();
  }
}

if (import.meta.main) await main();
