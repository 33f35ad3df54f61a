/**
 * `runtrace view --serve` end to end: the command indexes a generated trace,
 * serves the page and its queries; headless Chromium (when installed) opens
 * it, shows the Overview at once, draws the timeline from tiles, zooms, and
 * opens a task's focus data, with no error in the page's console. The
 * trace is 1 M events by default, to keep CI quick
 * (`RUNTRACE_SERVE_TEST_EVENTS=5000000` for the several millions).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import process from "node:process";
import { join } from "node:path";
import { generateTrace } from "../bench/gen_trace.ts";
import { type Browser, findChromium, launchChromium, type Page } from "./cdp.ts";
import { repoRoot, runFile, runtime, tempDir } from "./helpers.ts";
import { renderViewerHtml } from "../lib/viewer/html.ts";
import { PAGE_EVENTS } from "../lib/viewer/command.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";

const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;
const EVENTS = Number(process.env.RUNTRACE_SERVE_TEST_EVENTS ?? 1_000_000);
const dir = tempDir();

/** Starts `view --serve FILE` and resolves with the URL it prints. */
function serve(file: string): Promise<{ child: ChildProcess; url: string; out: () => string }> {
  const cmd = join(repoRoot, "lib/viewer/command.ts");
  const args = runtime === "deno" ? ["run", "-A", cmd] : [cmd];
  const child = spawn(process.execPath, [...args, file, "--serve", "--port", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let out = "";
  child.stderr!.on("data", (d) => out += String(d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 240_000);
    child.stdout!.on("data", (d) => {
      out += String(d);
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[0], out: () => out });
      }
    });
    child.on("close", () => reject(new Error(`view --serve exited: ${out}`)));
  });
}

describe("runtrace view --serve, small cases", { skip }, () => {
  test("a page too big to be self-contained says so, and what to do instead", () => {
    const html = renderViewerHtml(new Uint8Array(0), { name: "t", note: "use --serve" });
    assert.match(html, /<div id="banner" role="status"><p>use --serve<\/p><\/div>/);
    assert.ok(PAGE_EVENTS >= 1_000_000);
  });

  test("--serve needs a file, not standard input", () => {
    const r = runFile(join(repoRoot, "lib/viewer/command.ts"), { args: ["-", "--serve"] });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--serve reads the trace through an index, so it needs a trace file/);
  });

  test("--serve on a file that is not a trace says so and exits 1", () => {
    const bad = join(dir, "not-a-trace.txt");
    writeFileSync(bad, "hello, world\n".repeat(10));
    const r = runFile(join(repoRoot, "lib/viewer/command.ts"), { args: [bad, "--serve"] });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not a runtrace trace/);
  });
});

describe("runtrace view --serve", { skip }, () => {
  const file = join(dir, "served.trace");
  let server: Awaited<ReturnType<typeof serve>> | undefined;

  before(async () => {
    generateTrace(file, EVENTS);
    server = await serve(file);
  });

  after(() => {
    server?.child.kill("SIGINT");
  });

  test("indexes the trace beside it and answers the page's queries", async () => {
    assert.ok(existsSync(file + ".idx"), server!.out());
    assert.match(server!.out(), /indexed \d+ events/);
    const page = await (await fetch(server!.url)).text();
    assert.match(page, /data-serve="1"/);
    assert.doesNotMatch(page, /id="runtrace-data"/);
    const meta = await (await fetch(server!.url + "api/meta")).json();
    assert.equal(meta.events, EVENTS);
    assert.equal(meta.summary.taskTypes[0].type, "handleRequest");
    // Ten events a task, 64 in flight: the last ones begun have not ended.
    const count = meta.summary.taskTypes[0].count;
    assert.ok(count >= EVENTS / 10 && count <= EVENTS / 10 + 64, `${count} tasks`);
    const tile = await fetch(`${server!.url}api/tile?t0=0&t1=${meta.duration}&px=800`);
    assert.equal(tile.status, 200);
    const bytes = new Uint8Array(await tile.arrayBuffer());
    const v = new DataView(bytes.buffer);
    assert.equal(v.getUint32(8, true), 800);
    assert.ok(v.getUint32(4, true) > 0, "density rows");
    const t = meta.summary.slowest[0];
    const focus = await (await fetch(
      `${server!.url}api/task?id=${t.id}&start=${t.start}&dur=${t.duration}`,
    )).json();
    assert.deepEqual(focus.regions.map((r: { type: string }) => r.type), [
      "auth",
      "dbQuery",
      "dbQuery",
    ]);
    assert.equal((await fetch(`${server!.url}api/tile?t0=5&t1=1`)).status, 400);
    assert.equal((await fetch(`${server!.url}api/task?id=999999999`)).status, 404);
  });

  const exe = findChromium();
  test("in Chromium: the Overview, the timeline's tiles, a zoom and a task's focus data", {
    skip: exe ? false : "no chromium binary (install Debian's chromium or set $CHROMIUM)",
  }, async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium(exe!);
      const page: Page = await browser.newPage(1280, 800);
      await page.send("Page.addScriptToEvaluateOnNewDocument", {
        source: `window.__errors = [];
          addEventListener("error", (e) => window.__errors.push(String(e.message)));
          addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));
          const ce = console.error, cw = console.warn;
          console.error = (...a) => { window.__errors.push(a.join(" ")); ce(...a); };
          console.warn = (...a) => { window.__errors.push(a.join(" ")); cw(...a); };`,
      });
      await page.goto(server!.url);
      await page.waitFor("runtraceViewer.ready", 30_000);
      assert.equal(await page.evaluate("runtraceViewer.error ?? null"), null);
      // The first screen: the types, the slowest tasks, the stalls, not grey blocks.
      const overview = await page.evaluate<string>(
        "document.querySelector('#view-overview:not([hidden])')?.textContent ?? ''",
      );
      assert.match(overview, /handleRequest/);
      assert.match(overview, /Slowest tasks/);
      assert.match(overview, /Event-loop stalls/);
      // The timeline draws from tiles.
      await page.clickSelector('[data-view="timeline"]');
      await page.waitFor("runtraceViewer.firstTileMs", 30_000);
      const before = await page.evaluate<{ tiles: number; t0: number; t1: number; count: number }>(
        `(() => { const t = runtraceViewer.remote.timeline;
          return { tiles: t.tiles, t0: t.t0, t1: t.t1, count: t.tile.count + t.tile.density.size }; })()`,
      );
      assert.ok(before.count > 0, "the first tile holds slices or density");
      // A zoom: the wheel over the canvas, then the tile of the new window.
      await page.wheel(700, 300, -1500);
      await page.waitFor(
        `runtraceViewer.remote.timeline.tiles > ${before.tiles} &&
         runtraceViewer.remote.timeline.t1 - runtraceViewer.remote.timeline.t0 < ${
          before.t1 - before.t0
        }`,
      );
      await page.evaluate("runtraceViewer.remote.timeline.settled()");
      const zoomed = await page.evaluate<{ count: number; min: number }>(
        `({ count: runtraceViewer.remote.timeline.tile.count,
            min: runtraceViewer.remote.timeline.tile.minLevel })`,
      );
      assert.ok(zoomed.count > 0, "slices drawn after the zoom");
      // A task's focus data, from the Overview's slowest task.
      await page.clickSelector('[data-view="overview"]');
      await page.clickSelector('button[data-list="slowest"][data-i="0"]');
      await page.waitFor("runtraceViewer.remote.focus");
      const details = await page.evaluate<string>("document.querySelector('#details').textContent");
      assert.match(details, /handleRequest/);
      assert.match(details, /Regions \(3\)/);
      assert.match(details, /Logs \(2\)/);
      assert.equal(
        await page.evaluate("document.querySelector('#focus-bar').hidden"),
        false,
      );
      // The timeline shows the task: zoomed to it, and it is selected.
      const shown = await page.evaluate<{ task: number; focus: number; inView: boolean }>(
        `(() => { const r = runtraceViewer.remote, t = r.timeline, f = r.focus.task;
          return { task: t.selection?.task, focus: f.id, inView: t.t0 <= f.start && t.t1 >= f.end }; })()`,
      );
      assert.equal(shown.task, shown.focus);
      assert.ok(shown.inView);
      assert.deepEqual(await page.evaluate("window.__errors"), []);
    } finally {
      await browser?.close();
    }
  });
});
