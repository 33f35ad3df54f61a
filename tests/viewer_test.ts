import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { makeCappuccino } from "../examples/cappuccino.ts";
import { parseTrace } from "../read.ts";
import { summarizeRegionTypes, summarizeTaskTypes } from "../lib/read/analysis.ts";
import { formatDuration } from "../lib/read/duration.ts";
import { renderViewerHtml } from "../lib/viewer/html.ts";
import { serveHtml } from "../lib/viewer/command.ts";
import { PAGE_SCRIPT, PAGE_SOURCE_FILES, PAGE_SOURCE_HASH } from "../lib/viewer/page_bundle.ts";
import { inflateRaw } from "../lib/viewer/inflate.ts";
import { deflateRawSync } from "node:zlib";
import { PAGE_BUNDLE } from "../lib/build/bundle.ts";
import { sourceHash, sourceHashes } from "../lib/build/sources.ts";
import { decodeColumns } from "../lib/viewer/page/columns.ts";
import { IdIndex } from "../lib/viewer/page/id_index.ts";
import { sampleStart } from "../lib/viewer/page/timeline_paint.ts";
import { firstEndingAfter, firstStartingAt, layoutTrace } from "../lib/viewer/page/model.ts";
import { type Browser, findChromium, launchChromium, type Page, pngStats } from "./cdp.ts";
import { findExecutable, repoRoot, runFile, runtime, spawnServe, tempDir } from "./helpers.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import { syntheticTrace } from "../bench/viewer_bench.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

const dir = tempDir();

/** The slow-requests fixture: a service slow for three reasons (tests/fixtures/slow_requests.ts). */
const slowRequests = () =>
  new Uint8Array(readFileSync(join(repoRoot, "tests/fixtures/slow_requests.trace")));

/** The cappuccino trace, recorded with the real API once for the whole file. */
let cappuccino: Uint8Array | undefined;
async function cappuccinoTrace(): Promise<Uint8Array> {
  if (!cappuccino) {
    const path = join(dir, "cappuccino.trace");
    await trace.start(path);
    for (const id of ["42", "43", "44"]) await makeCappuccino(id);
    await trace.stop();
    cappuccino = new Uint8Array(readFileSync(path));
  }
  return cappuccino;
}

describe("runtrace view without a browser", { skip }, () => {
  test("the committed page bundle was built from the current sources", async () => {
    if (PAGE_SOURCE_HASH === await sourceHash(PAGE_BUNDLE.entry)) return;
    const now = await sourceHashes(PAGE_BUNDLE.entry);
    const changed = [...new Set([...Object.keys(now), ...Object.keys(PAGE_SOURCE_FILES)])]
      .filter((f) => now[f] !== PAGE_SOURCE_FILES[f]).sort();
    assert.fail(
      `lib/viewer/page_bundle.ts is stale (changed since it was built: ${changed.join(", ")}): ` +
        "run `deno run -A lib/viewer/build.ts` and commit it",
    );
  });

  test("the page's columns match the reader's model item for item, and the layout places each once", async () => {
    const path = join(dir, "mixed.trace");
    await trace.start(path);
    const [ctx, parent] = trace.newTask("request");
    trace.log(ctx, "http", "GET /a");
    trace.log("boot", "background log");
    await Promise.all([1, 2, 3].map((n) =>
      trace.withRegion(ctx, `fetch${n}`, async () => {
        const [sub, child] = trace.newTask("subquery");
        const r = trace.startRegion(sub, "decode");
        await new Promise((res) => setTimeout(res, n));
        r.end();
        child.end();
      })
    ));
    trace.newTask(ctx, "neverEnds");
    trace.startRegion(ctx, "openRegion");
    parent.end();
    await trace.stop();
    const bytes = new Uint8Array(readFileSync(path));
    const model = parseTrace(bytes);
    const cols = decodeColumns(bytes);
    const num = (v: number | undefined) => v ?? NaN;
    assert.equal(cols.tasks.n, model.tasks.length);
    model.tasks.forEach((t, i) => {
      assert.deepEqual(
        [cols.tasks.id[i], cols.names[cols.tasks.type[i]], cols.tasks.start[i], cols.tasks.end[i]],
        [t.id, t.type, num(t.start), num(t.end)],
        `task ${i}`,
      );
    });
    assert.equal(cols.regions.n, model.regions.length);
    model.regions.forEach((r, i) => {
      assert.deepEqual(
        [cols.regions.id[i], cols.names[cols.regions.type[i]], cols.regions.start[i]],
        [r.id, r.type, r.start],
        `region ${i}`,
      );
      assert.deepEqual(
        [cols.regions.end[i], cols.regions.thread[i], cols.regions.lane[i], cols.regions.task[i]],
        [num(r.end), r.thread, r.lane, r.task],
        `region ${i}`,
      );
    });
    assert.deepEqual(
      Array.from({ length: cols.logs.n }, (_, i) => [cols.logs.time[i], cols.logs.message[i]]),
      model.logs.map((l) => [l.time, l.message]),
    );
    assert.deepEqual(
      Array.from({ length: cols.gcs.n }, (_, i) => [cols.gcs.start[i], cols.gcs.end[i]]),
      model.gcs.map((g) => [g.start, g.end]),
    );
    assert.deepEqual(
      Array.from({ length: cols.stalls.n }, (_, i) => [cols.stalls.start[i], cols.stalls.end[i]]),
      model.stalls.map((st) => [st.start, st.end]),
    );
    assert.equal(
      cols.counters.reduce((n, c) => n + c.time.length, 0),
      model.counters.length,
    );
    const layout = layoutTrace(cols);
    assert.equal(
      layout.tracks.filter((t) => t.kind === "counter").length,
      new Set(model.counters.map((c) => `${c.thread}:${c.name}`)).size,
    );
    const seen = { tasks: 0, regions: 0, logs: 0, gc: 0, stalls: 0, counter: 0 };
    for (const tr of layout.tracks) {
      for (const row of tr.rows) {
        seen[tr.kind] += row.items.length;
        for (let k = 1; k < row.starts.length; k++) {
          assert.ok(row.starts[k] >= row.ends[k - 1], `${tr.label}: items overlap in a row`);
        }
      }
    }
    assert.deepEqual(seen, {
      tasks: cols.tasks.n,
      regions: cols.regions.n,
      logs: cols.logs.n,
      gc: cols.gcs.n,
      stalls: cols.stalls.n,
      counter: 0,
    });
  });

  test("the layout of each fixture places every item once, nothing overlapping in a row, a task's chains in adjacent rows", () => {
    for (const name of ["workload.trace", "slow_requests.trace", "cappuccino.trace"]) {
      const cols = decodeColumns(
        new Uint8Array(readFileSync(join(repoRoot, "tests/fixtures", name))),
      );
      const layout = layoutTrace(cols);
      let regions = 0;
      for (const tr of layout.tracks) {
        for (const row of tr.rows) {
          if (tr.kind === "regions") regions += row.items.length;
          for (let k = 1; k < row.starts.length; k++) {
            assert.ok(row.starts[k] >= row.ends[k - 1], `${name}, ${tr.label}: items overlap`);
          }
        }
      }
      assert.equal(regions, cols.regions.n, name);
      // Each task's regions of one thread span as many rows as they use: no gaps of others'.
      const rows = new Map<string, Set<number>>();
      for (let i = 0; i < cols.regions.n; i++) {
        if (cols.regions.task[i] === 0) continue;
        const key = `${cols.regions.task[i]}:${layout.regionPlace[2 * i]}`;
        if (!rows.has(key)) rows.set(key, new Set());
        rows.get(key)!.add(layout.regionPlace[2 * i + 1]);
      }
      for (const [key, set] of rows) {
        const r = [...set].sort((a, b) => a - b);
        assert.equal(
          r[r.length - 1] - r[0],
          r.length - 1,
          `${name}: task:track ${key} in rows ${r}`,
        );
      }
    }
  });

  test("the page's inflater reads what zlib deflates: the page script, text, noise, stored blocks", () => {
    const enc = new TextEncoder();
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const inputs = [new Uint8Array(), enc.encode("hi hi hi hi"), enc.encode(PAGE_SCRIPT)];
    for (let k = 0; k < 8; k++) {
      inputs.push(
        Uint8Array.from(
          { length: Math.floor(rand() * 70_000) },
          () => rand() < 0.5 ? Math.floor(rand() * 4) : Math.floor(rand() * 256),
        ),
      );
    }
    for (const input of inputs) {
      for (const level of [0, 1, 9]) {
        const packed = new Uint8Array(deflateRawSync(input, { level }));
        assert.deepEqual(inflateRaw(packed), input, `${input.length} bytes at level ${level}`);
      }
    }
    assert.throws(() => inflateRaw(new Uint8Array([0xff, 0xff])), /inflate/);
    const html = renderViewerHtml(new Uint8Array(), { name: "x" });
    assert.ok(!html.includes(PAGE_SCRIPT.slice(0, 200)), "the script is embedded compressed");
  });

  test("a utilisation sample is drawn over the window before it; a heap sample from its time on", () => {
    const series = (name: string) => ({
      name,
      thread: 1,
      time: Float64Array.of(100, 200, 300),
      value: Float64Array.of(0.1, 0.9, 0.2),
      max: 0.9,
    });
    const util = series("eventloop.utilization"), heap = series("heap.used");
    assert.deepEqual([0, 1, 2].map((i) => sampleStart(util, i)), [0, 100, 200]);
    assert.deepEqual([0, 1, 2].map((i) => sampleStart(heap, i)), [100, 200, 300]);
  });

  test("the id index maps dense, huge and odd ids", () => {
    const ix = new IdIndex();
    const ids = [0, 1, 1023, 1024, 5000, 2 ** 24 - 1, 2 ** 24, 2 ** 40, -3];
    ids.forEach((id, k) => ix.set(id, k));
    ids.forEach((id, k) => assert.equal(ix.get(id), k, `id ${id}`));
    assert.equal(ix.get(7), -1);
    assert.equal(ix.get(2 ** 30), -1);
    ix.set(5000, -1);
    assert.equal(ix.get(5000), -1);
  });

  test("the row searches the drawing relies on agree with a linear scan", () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let round = 0; round < 50; round++) {
      const n = Math.floor(rand() * 200);
      const starts = new Float64Array(n), ends = new Float64Array(n);
      let t = 0;
      for (let i = 0; i < n; i++) {
        t += Math.floor(rand() * 5);
        starts[i] = t;
        t += Math.floor(rand() * 5);
        ends[i] = t;
      }
      const row = { starts, ends, items: new Int32Array(n), depth: 0 };
      for (let q = 0; q < 40; q++) {
        const at = rand() * (t + 4) - 2;
        const from = Math.floor(rand() * (n + 1));
        let want = from;
        while (want < n && starts[want] < at) want++;
        assert.equal(firstStartingAt(row, at, from), want, `start ${at} from ${from}`);
        let end = 0;
        while (end < n && ends[end] < at) end++;
        assert.equal(firstEndingAfter(row, at), end, `end ${at}`);
      }
    }
  });

  test("the page embeds the binary trace as base64 and loads nothing from the network", async () => {
    const bytes = await cappuccinoTrace();
    const html = renderViewerHtml(bytes, { name: "cap<>.trace" });
    const m = html.match(/<script id="runtrace-data" type="application\/octet-stream">([^<]*)</);
    assert.ok(m, "no embedded trace");
    assert.deepEqual(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)), bytes);
    assert.doesNotMatch(html, /<(link|img|iframe)\b|\bsrc=["']?https?:/i);
    assert.match(html, /default-src 'none'/, "a CSP that forbids network requests");
    assert.ok(html.includes("cap&#60;&#62;.trace"), "the name is escaped");
    // The page is about the size of the trace plus a fixed ~50 KB of code.
    assert.ok(html.length < bytes.length * 1.4 + 80_000, `page of ${html.length} bytes`);
  });

  test("a trace over 512 KiB is embedded DEFLATE-compressed, and inflates to its exact bytes", () => {
    const bytes = syntheticTrace(100_000);
    assert.ok(bytes.length > 1 << 19);
    const html = renderViewerHtml(bytes, { name: "big.trace" });
    const m = html.match(
      /<script id="runtrace-data" type="application\/octet-stream" data-encoding="deflate-raw">([^<]*)</,
    );
    assert.ok(m, "no compressed trace");
    assert.deepEqual(inflateRaw(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0))), bytes);
    assert.ok(html.length < bytes.length, `page of ${html.length} bytes`);
  });

  test("the view command writes the page, and says when the input is not a trace", async () => {
    const trace = join(dir, "cap.trace");
    writeFileSync(trace, await cappuccinoTrace());
    const cmd = join(repoRoot, "lib/viewer/command.ts");
    const ok = runFile(cmd, { args: [trace, "-o", join(dir, "out.html")] });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /wrote .*out\.html/);
    assert.match(readFileSync(join(dir, "out.html"), "utf8"), /^<!DOCTYPE html>/);

    const junk = join(dir, "notes.txt");
    writeFileSync(junk, "hello, not a trace\n");
    const bad = runFile(cmd, { args: [junk, "-o", join(dir, "bad.html")] });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assert.match(bad.stderr, /notes\.txt: not a runtrace trace/);
    assert.match(readFileSync(join(dir, "bad.html"), "utf8"), /runtrace-data/);

    const missing = runFile(cmd, { args: [join(dir, "nope.trace")] });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^runtrace view: cannot read .*nope\.trace: no such file\n$/);

    const cut = join(dir, "cut.trace");
    const whole = readFileSync(trace);
    writeFileSync(cut, whole.subarray(0, whole.length - 3));
    const truncated = runFile(cmd, { args: [cut, "-o", join(dir, "cut.html")] });
    assert.equal(truncated.status, 3, truncated.stderr);
    assert.match(truncated.stderr, /warning: .*cut\.trace is truncated/);

    const flag = runFile(cmd, { args: [trace, "--frobnicate"] });
    assert.equal(flag.status, 2);
    assert.match(flag.stderr, /unknown flag --frobnicate/);
  });

  test("view --serve prints the URL, serves the page, and stops on SIGINT", async () => {
    const file = join(dir, "serve.trace");
    writeFileSync(file, await cappuccinoTrace());
    const { child, url, out, exited } = await spawnServe([file, "--serve", "--port", "0"]);
    try {
      const res = await fetch(url);
      assert.equal(res.status, 200);
      // The served page holds no trace: it asks the server, which reads the trace's index.
      assert.match(await res.text(), /<body data-name="serve.trace" data-serve="1">/);
      const meta = await (await fetch(url + "api/meta")).json();
      assert.deepEqual(
        meta.summary.taskTypes.map((t: { type: string }) => t.type),
        summarizeTaskTypes(parseTrace(await cappuccinoTrace())).map((t) => t.type),
      );
      child.kill("SIGINT");
      const code = await exited;
      // Deno's child_process reports the signal sent rather than the exit code, so
      // the command's own last line is what shows the signal was handled.
      assert.match(out(), /runtrace view: stopped\n$/);
      if (runtime === "bun") assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  test("--serve serves the page on 127.0.0.1 only", async () => {
    const stop = new AbortController();
    const { url, closed } = await serveHtml("<p>viewer</p>", 0, stop.signal);
    try {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/html/);
      assert.equal(await res.text(), "<p>viewer</p>");
      const nf = await fetch(url + "other");
      assert.equal(nf.status, 404);
      await nf.body?.cancel();
    } finally {
      stop.abort();
      await closed;
    }
  });
});

const chromium = findChromium();
/**
 * A browser starts, renders and screenshots in seconds, more on a loaded
 * machine: more than Bun's default of 5 s per test (which bunfig.toml cannot change).
 */
const BROWSER = { timeout: 120_000 };

if (!chromium) {
  test("runtrace view in headless Chromium", {
    skip: "no chromium binary found (install Debian's chromium package, or set $CHROMIUM)",
  }, () => {});
} else {
  describe("runtrace view in headless Chromium", { skip }, () => {
    let browser: Browser | undefined;
    before(async () => {
      browser = await launchChromium(chromium);
    }, BROWSER);
    after(async () => {
      await browser?.close();
    });

    async function open(bytes: Uint8Array, name: string): Promise<Page> {
      const file = join(dir, `${name}.html`);
      writeFileSync(file, renderViewerHtml(bytes, { name }));
      const page = await browser!.newPage(1280, 800);
      await page.goto(`file://${file}`);
      await page.waitFor("window.runtraceViewer && window.runtraceViewer.ready");
      return page;
    }

    test(
      "the cappuccino trace: task table, histogram bucket, instance, details, zoom, screenshot",
      BROWSER,
      async () => {
        const bytes = await cappuccinoTrace();
        const model = parseTrace(bytes);
        const [expected] = summarizeTaskTypes(model);
        const page = await open(bytes, "cappuccino.trace");
        assert.equal(await page.evaluate("runtraceViewer.error ?? null"), null);

        // The timeline drew, and the screenshot shows something.
        assert.ok(await page.evaluate<number>("runtraceViewer.timeline.draws") >= 1);
        const shot = pngStats(await page.screenshot());
        assert.equal(shot.width, 1280);
        assert.ok(
          shot.colors > 20 && shot.nonWhite > 0.03,
          `blank-looking screenshot ${JSON.stringify(shot)}`,
        );

        // The Tasks page shows the analysis model's numbers.
        await page.clickSelector('[role=tab][data-view="tasks"]');
        const row = await page.evaluate<Record<string, string>>(`(() => {
        const tr = document.querySelector('#tasks-table tr[data-type-name="makeCappuccino"]');
        if (!tr) return null;
        const get = (c) => tr.querySelector('.' + c).textContent;
        return { count: get("count"), complete: get("complete"), p50: get("p50"), p90: get("p90"),
          p99: get("p99"), max: get("max") };
      })()`);
        assert.ok(row, "no makeCappuccino row in the task table");
        assert.deepEqual(row, {
          count: "3",
          complete: "3",
          p50: formatDuration(expected.latency!.p50),
          p90: formatDuration(expected.latency!.p90),
          p99: formatDuration(expected.latency!.p99),
          max: formatDuration(expected.latency!.max),
        });

        // Click the fullest bucket: its instances are listed.
        const fullest = expected.latency!.histogram.reduce((a, b) => b.count > a.count ? b : a);
        const bi = expected.latency!.histogram.indexOf(fullest);
        await page.clickSelector(`#tasks-table button.bucket[data-bucket="${bi}"]`);
        const listed = await page.evaluate<{ title: string; rows: number }>(`({
        title: document.querySelector("#tasks-instances h3")?.textContent ?? "",
        rows: document.querySelectorAll("#tasks-instances tbody tr").length,
      })`);
        assert.match(listed.title, /^makeCappuccino: \d+ tasks? from /);
        assert.equal(listed.rows, fullest.count);

        // Click an instance: the timeline opens with it selected and its details shown.
        const id = await page.evaluate<string>(
          `document.querySelector("#tasks-instances tbody button.link").textContent`,
        );
        await page.clickSelector("#tasks-instances tbody button.link");
        const task = model.tasks.find((t) => `#${t.id}` === id)!;
        const details = await page.evaluate<string>(`document.querySelector("#details").innerText`);
        assert.equal(await page.evaluate(`document.querySelector("#view-timeline").hidden`), false);
        assert.match(details, new RegExp(`Task makeCappuccino #${task.id}`));
        assert.ok(details.includes(formatDuration(task.end! - task.start!)), details);
        assert.ok(details.includes(`orderID`) && details.includes(task.logs[0].message), details);
        assert.match(details, /steamMilk/);

        // Click a region on the canvas: the details panel follows.
        const regionIndex = model.regions.findIndex((r) => r.type === "mixMilkCoffee");
        await page.key("0"); // the whole trace, so the region is on screen
        // Under load the view may still be settling when the first click lands:
        // take the region's place again and click again, a few times at most.
        let regionDetails = "";
        let rect = { x: 0, y: 0, w: 0, h: 0 };
        for (
          let attempt = 0;
          attempt < 5 && !/Region mixMilkCoffee/.test(regionDetails);
          attempt++
        ) {
          if (attempt > 0) await new Promise((r) => setTimeout(r, 100));
          rect = await page.evaluate<{ x: number; y: number; w: number; h: number }>(`(() => {
          runtraceViewer.timeline.draw();
          const r = runtraceViewer.timeline.rectOf({ kind: "region", index: ${regionIndex} });
          const c = runtraceViewer.timeline.canvas.getBoundingClientRect();
          return { x: r.x + c.left, y: r.y + c.top, w: r.w, h: r.h };
        })()`);
          await page.click(rect.x + Math.min(rect.w / 2, 20), rect.y + rect.h / 2);
          regionDetails = await page.evaluate<string>(
            `document.querySelector("#details").innerText`,
          );
        }
        assert.match(regionDetails, /Region mixMilkCoffee/);
        // Hovering it named it in the tooltip, with its duration.
        assert.match(
          await page.evaluate<string>("runtraceViewer.timeline.canvas.title"),
          /^region mixMilkCoffee: \d/,
        );

        // Zoom in with W and the wheel; pan with D: the visible span changes and is redrawn.
        const span = () =>
          page.evaluate<number>("runtraceViewer.timeline.t1 - runtraceViewer.timeline.t0");
        const before = await span();
        const draws = await page.evaluate<number>("runtraceViewer.timeline.draws");
        await page.evaluate("runtraceViewer.timeline.canvas.focus()");
        await page.key("w");
        await page.key("w");
        await page.waitFor(`runtraceViewer.timeline.draws > ${draws}`);
        const zoomed = await span();
        assert.ok(zoomed < before * 0.7, `W zoomed from ${before} to ${zoomed}`);
        await page.wheel(rect.x, rect.y, -300);
        await page.waitFor(`runtraceViewer.timeline.t1 - runtraceViewer.timeline.t0 < ${zoomed}`);
        const t0 = await page.evaluate<number>("runtraceViewer.timeline.t0");
        await page.key("d");
        await page.waitFor(`runtraceViewer.timeline.t0 > ${t0}`);
        const after = pngStats(await page.screenshot());
        assert.ok(after.colors > 10 && after.nonWhite > 0.02, JSON.stringify(after));

        // The Logs page filters by text.
        await page.clickSelector('[role=tab][data-view="logs"]');
        await page.evaluate(`(() => {
        const i = document.querySelector("#log-text");
        i.value = "43";
        i.dispatchEvent(new Event("input"));
      })()`);
        assert.equal(
          await page.evaluate(`document.querySelector("#log-count").textContent`),
          "1 of 3 logs",
        );

        // The Regions page has a row per region type.
        await page.clickSelector('[role=tab][data-view="regions"]');
        const types = await page.evaluate<string[]>(
          `[...document.querySelectorAll("#regions-table tbody tr")].map((r) => r.dataset.typeName)`,
        );
        assert.deepEqual(types.sort(), ["extractCoffee", "mixMilkCoffee", "steamMilk"]);
      },
    );

    test("the keyboard alone selects slices and zooms", BROWSER, async () => {
      const page = await open(await cappuccinoTrace(), "keys.trace");
      await page.evaluate("runtraceViewer.timeline.canvas.focus()");
      await page.key("]");
      await page.waitFor(`document.querySelector("#details h2")`);
      const first = await page.evaluate<string>(
        `document.querySelector("#details h2").textContent`,
      );
      await page.key("]");
      await page.waitFor(
        `document.querySelector("#details h2").textContent !== ${JSON.stringify(first)}`,
      );
      const span = await page.evaluate<number>(
        "runtraceViewer.timeline.t1 - runtraceViewer.timeline.t0",
      );
      await page.key("Enter");
      await page.waitFor(`runtraceViewer.timeline.t1 - runtraceViewer.timeline.t0 < ${span}`);
    });

    test("stacks recorded with stacks: true show in the details panel", BROWSER, async () => {
      const path = join(dir, "stacks.trace");
      await trace.start(path, { stacks: true, runtime: false });
      const [ctx, task] = trace.newTask("withStacks");
      trace.startRegion(ctx, "stacked").end();
      task.end();
      await trace.stop();
      const bytes = new Uint8Array(readFileSync(path));
      const page = await open(bytes, "stacks.trace");
      await page.evaluate(`runtraceViewer.timeline.select({ kind: "region", index: 0 }, true)`);
      const details = await page.evaluate<string>(`document.querySelector("#details").innerText`);
      assert.match(details, /Started at\s+\S.*viewer_test\.ts:\d+:\d+/);
      await page.evaluate(`runtraceViewer.timeline.select({ kind: "task", index: 0 }, true)`);
      const taskDetails = await page.evaluate<string>(
        `document.querySelector("#details").innerText`,
      );
      assert.match(taskDetails, /Created at\s+\S.*viewer_test\.ts:\d+:\d+/);
    });

    test(
      "runtime events: counter charts, and a stall's details name the region that ran",
      BROWSER,
      async () => {
        const path = join(dir, "stall.trace");
        await trace.start(path);
        const [ctx, task] = trace.newTask("job");
        await new Promise((r) => setTimeout(r, 150));
        trace.withRegion(ctx, "spin", () => {
          const end = performance.now() + 250;
          while (performance.now() < end) { /* hold the event loop */ }
        });
        await new Promise((r) => setTimeout(r, 150));
        task.end();
        await trace.stop();
        const bytes = new Uint8Array(readFileSync(path));
        const model = parseTrace(bytes);
        const page = await open(bytes, "stall.trace");
        const labels = await page.evaluate<string[]>(
          "runtraceViewer.timeline.opts.layout.tracks.map((t) => t.label)",
        );
        for (const name of new Set(model.counters.map((c) => c.name))) {
          assert.ok(labels.some((l) => l.startsWith(name)), `no chart for ${name}: ${labels}`);
        }
        if (model.stalls.length > 0) {
          assert.ok(labels.some((l) => l.endsWith("event-loop stalls")), `${labels}`);
          const i = model.stalls.findIndex((st) => st.regionType === "spin");
          await page.evaluate(
            `runtraceViewer.timeline.select({ kind: "stall", index: ${Math.max(0, i)} }, true)`,
          );
          const details = await page.evaluate<string>(
            `document.querySelector("#details").innerText`,
          );
          assert.match(details, /Event-loop stall/);
          if (i >= 0) assert.match(details, /Running region\s+spin/);
        }
        const shot = pngStats(await page.screenshot());
        assert.ok(shot.colors > 20, JSON.stringify(shot));
      },
    );

    /** The colour of the timeline's pixel at CSS (x, y) relative to the canvas, "#rrggbb". */
    function pixel(page: Page, x: number, y: number): Promise<string> {
      return page.evaluate<string>(`(() => {
        const t = runtraceViewer.timeline;
        t.draw();
        const dpr = devicePixelRatio || 1;
        const d = t.canvas.getContext("2d")
          .getImageData(Math.round(${x} * dpr), Math.round(${y} * dpr), 1, 1).data;
        return "#" + [d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, "0")).join("");
      })()`);
    }

    /** Where an item is drawn now (after a draw), in CSS px relative to the canvas. */
    function rectOf(page: Page, kind: string, index: number) {
      return page.evaluate<{ x: number; y: number; w: number; h: number } | null>(
        `(runtraceViewer.timeline.draw(), runtraceViewer.timeline.rectOf({ kind: "${kind}", index: ${index} }) ?? null)`,
      );
    }

    /** Asserts that region `index` of type `type` is painted in its type's colour, not grey. */
    async function assertDrawnInColour(page: Page, index: number, type: string): Promise<void> {
      const r = await rectOf(page, "region", index);
      assert.ok(r, `region ${index} (${type}) has no place`);
      const width = await page.evaluate<number>("runtraceViewer.timeline.width");
      const x = Math.max(0, r.x) + (Math.min(r.x + r.w, width) - Math.max(0, r.x)) * 0.75;
      assert.ok(r.w >= 3 && x > 0 && x < width, `region ${type} is ${r.w}px wide at ${r.x}`);
      const want = await page.evaluate<string>(
        `runtraceViewer.colors.get(${JSON.stringify(type)})`,
      );
      // Below the label's glyphs, above the slice's lower edge.
      assert.equal(
        await pixel(page, x, r.y + r.h - 3),
        want,
        `${type} drawn at ${JSON.stringify(r)}`,
      );
    }

    test(
      "a long region that starts in the pixel column of tiny ones is drawn in its colour, and outlined when selected",
      BROWSER,
      async () => {
        const path = join(dir, "long.trace");
        await trace.start(path, { runtime: false });
        const [ctx, task] = trace.newTask("draw");
        for (let i = 0; i < 20; i++) trace.startRegion(ctx, "tiny").end();
        const long = trace.startRegion(ctx, "long");
        await new Promise((r) => setTimeout(r, 120));
        long.end();
        task.end();
        await trace.stop();
        const bytes = new Uint8Array(readFileSync(path));
        const model = parseTrace(bytes);
        const li = model.regions.findIndex((r) => r.type === "long");
        const tiny = model.regions.findLast((r) => r.type === "tiny")!;
        const page = await open(bytes, "long.trace");
        const k = await page.evaluate<number>(
          "runtraceViewer.timeline.width / (runtraceViewer.timeline.t1 - runtraceViewer.timeline.t0)",
        );
        assert.ok(
          (model.regions[li].start - tiny.start) * k < 1,
          "a tiny region shares its first pixel",
        );
        await assertDrawnInColour(page, li, "long");
        await page.evaluate(`runtraceViewer.timeline.select({ kind: "region", index: ${li} })`);
        const r = (await rectOf(page, "region", li))!;
        assert.equal(
          await pixel(page, r.x + r.w / 2, r.y + 2),
          "#000000",
          "the selection's outline",
        );
        assert.doesNotMatch(
          await page.evaluate<string>(`document.querySelector("#details").innerText`),
          /lane/i,
          "no internal lane id in the details",
        );
      },
    );

    test(
      "one click on a task type's p99 opens the focus view of that instance, naming the stall that delayed it",
      BROWSER,
      async () => {
        const path = join(dir, "victims.trace");
        const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
        await trace.start(path);
        const waiting = Array.from({ length: 6 }, async () => {
          const [ctx, t] = trace.newTask("request");
          await trace.withRegion(ctx, "db.query", () => sleep(40));
          t.end();
        });
        await sleep(5);
        const [rctx, report] = trace.newTask("report");
        trace.withRegion(rctx, "report.build", () => {
          const end = performance.now() + 200;
          while (performance.now() < end) { /* hold the event loop */ }
        });
        report.end();
        await Promise.all(waiting);
        for (let i = 0; i < 30; i++) {
          const [ctx, t] = trace.newTask("request");
          await trace.withRegion(ctx, "db.query", () => sleep(1));
          t.end();
        }
        await trace.stop();
        const bytes = new Uint8Array(readFileSync(path));
        const model = parseTrace(bytes);
        const culprit = model.regions.findIndex((r) => r.type === "report.build");
        assert.ok(
          model.stalls.some((s) => s.regionType === "report.build"),
          "the recorder saw the stall",
        );
        const page = await open(bytes, "victims.trace");
        await page.clickSelector('[role=tab][data-view="tasks"]');
        await page.clickSelector('#tasks-table tr[data-type-name="request"] td.p99 button');
        await page.waitFor("runtraceViewer.focus");
        const focus = await page.evaluate<{ task: number; culprits: number[] }>(
          "({ task: runtraceViewer.focus.task, culprits: runtraceViewer.focus.culprits })",
        );
        // The instance at rank p99 is the one whose duration the cell shows.
        const t = model.tasks[focus.task];
        const p99 = summarizeTaskTypes(model).find((r) => r.type === "request")!.latency!.p99;
        assert.equal(t.type, "request");
        assert.equal(t.end! - t.start!, p99);
        assert.equal(await page.evaluate(`document.querySelector("#view-timeline").hidden`), false);
        const bar = await page.evaluate<string>(`document.querySelector("#focus-bar").innerText`);
        assert.match(
          bar,
          new RegExp(`request #${t.id}.*delayed .* by a stall in report\\.build \\(report #`),
        );
        const details = await page.evaluate<string>(`document.querySelector("#details").innerText`);
        assert.match(details, /Delayed by\s+a [\d.]+ms stall: report\.build in report #\d+/);
        // The culprit is on screen, in its colour, at the focus view's first zoom.
        assert.deepEqual(focus.culprits, [culprit]);
        await assertDrawnInColour(page, culprit, "report.build");
        // Searching "stall" walks to the stall.
        await page.evaluate(`(() => {
        const i = document.querySelector("#search");
        i.value = "stall";
        i.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
      })()`);
        assert.equal(
          await page.evaluate(`runtraceViewer.timeline.selection.kind`),
          "stall",
        );
        // "0" leaves the focus view for the whole trace.
        await page.evaluate("runtraceViewer.timeline.canvas.focus()");
        await page.key("0");
        await page.waitFor("!runtraceViewer.focus");
        assert.equal(await page.evaluate(`document.querySelector("#focus-bar").hidden`), true);
      },
    );

    test(
      "the slow-requests fixture: log-scale histogram with counts, sorting, CSV, stall overlap, and a victim's focus view",
      BROWSER,
      async () => {
        const bytes = slowRequests();
        const model = parseTrace(bytes);
        const page = await open(bytes, "slow_requests.trace");
        await page.clickSelector('[role=tab][data-view="tasks"]');
        const sel = '#tasks-table tr[data-type-name="http.request"]';
        // Every non-empty bucket shows its count, and a tail bucket of 13 is a bar, not a sliver.
        const bars = await page.evaluate<{ n: string; h: number }[]>(
          `[...document.querySelectorAll('${sel} button.bucket')].map((b) => ({
          n: b.querySelector("small").textContent, h: b.querySelector("span").offsetHeight }))`,
        );
        const counts = summarizeTaskTypes(model).find((r) => r.type === "http.request")!.latency!
          .histogram.map((b) => b.count);
        assert.deepEqual(bars.map((b) => b.n), counts.map((n) => n === 0 ? "" : String(n)));
        const tail = bars[counts.indexOf(13)];
        assert.ok(tail.h >= 10, `the bucket of 13 is ${tail.h}px high`);
        // Numeric headers are aligned like their cells.
        assert.equal(
          await page.evaluate(
            `getComputedStyle(document.querySelector("#tasks-table thead th.num")).textAlign`,
          ),
          "right",
        );
        // Sorting by p99, slowest first, then back.
        await page.clickSelector('#tasks-table button.sort[data-key="p99"]');
        const order = await page.evaluate<string[]>(
          `[...document.querySelectorAll("#tasks-table tbody tr")].map((r) => r.dataset.typeName)`,
        );
        assert.deepEqual(order, ["report.daily", "thumbnail", "http.request"]);
        // Copy as CSV: the clipboard, or the text box when the browser refuses it.
        await page.clickSelector("#tasks-csv-copy");
        await page.waitFor(`document.querySelector("#tasks-csv").value`);
        const csv = await page.evaluate<string>(`document.querySelector("#tasks-csv").value`);
        assert.match(csv, /^type,count,complete,p50_ns,p90_ns,p99_ns,max_ns\n/);
        assert.match(csv, /\nhttp\.request,1960,1960,\d+,\d+,\d+,\d+\n/);
        // The slowest bucket lists the stall's victims with their overlap and its culprit.
        await page.clickSelector(`${sel} button.bucket[data-bucket="${counts.length - 1}"]`);
        const rows = await page.evaluate<{ text: string; focus: string }[]>(
          `[...document.querySelectorAll("#tasks-instances tbody tr")].map((r) => ({
          text: r.innerText, focus: r.querySelector("[data-focus]").dataset.focus }))`,
        );
        const victims = rows.filter((r) =>
          /156ms\s+report\.build \(report\.daily #701\)/.test(r.text)
        );
        assert.ok(victims.length >= 8, rows.map((r) => r.text).join("\n"));
        await page.clickSelector(`#tasks-instances button[data-focus="${victims[0].focus}"]`);
        await page.waitFor("runtraceViewer.focus");
        const shown = model.tasks[await page.evaluate<number>("runtraceViewer.focus.task")];
        assert.equal(`#${shown.id}`, victims[0].text.match(/^#\d+/)![0]);
        assert.match(
          await page.evaluate<string>(`document.querySelector("#focus-bar").innerText`),
          /delayed 156ms by a stall in report\.build \(report\.daily #701\)/,
        );
        const culprit = model.regions.findIndex((r) => r.type === "report.build");
        await assertDrawnInColour(page, culprit, "report.build");
        // The request's own regions sit in adjacent rows of one track.
        const rowsOf = await page.evaluate<number[]>(`(() => {
        const l = runtraceViewer.timeline.opts.layout;
        const out = [];
        for (let i = 0; i < runtraceViewer.cols.regions.n; i++) {
          if (runtraceViewer.cols.regions.task[i] === ${shown.id}) out.push(l.regionPlace[2 * i + 1]);
        }
        return out;
      })()`);
        const distinct = [...new Set(rowsOf)].sort((a, b) => a - b);
        assert.ok(distinct.length > 0);
        assert.equal(
          distinct[distinct.length - 1] - distinct[0],
          distinct.length - 1,
          `${distinct}`,
        );
      },
    );

    test(
      "a region type's p99 opens its task's focus view with that region selected",
      BROWSER,
      async () => {
        const bytes = slowRequests();
        const model = parseTrace(bytes);
        const page = await open(bytes, "regions.trace");
        await page.clickSelector('[role=tab][data-view="regions"]');
        await page.clickSelector('#regions-table tr[data-type-name="db.query"] td.p99 button');
        await page.waitFor("runtraceViewer.focus");
        const sel = await page.evaluate<{ kind: string; index: number }>(
          "runtraceViewer.timeline.selection",
        );
        assert.equal(sel.kind, "region");
        const r = model.regions[sel.index];
        assert.equal(r.type, "db.query");
        const p99 = summarizeRegionTypes(model).find((x) => x.type === "db.query")!.latency!.p99;
        assert.equal(r.end! - r.start, p99);
        assert.equal(
          model.tasks[await page.evaluate<number>("runtraceViewer.focus.task")].id,
          r.task,
        );
        assert.match(
          await page.evaluate<string>(`document.querySelector("#details").innerText`),
          /Region db\.query/,
        );
      },
    );

    test(
      "the Overview page: latency over time with the slowest tasks marked, a click opens one; responsiveness curves",
      BROWSER,
      async () => {
        const bytes = slowRequests();
        const model = parseTrace(bytes);
        const file = join(dir, "overview.html");
        writeFileSync(file, renderViewerHtml(bytes, { name: "slow_requests.trace" }));
        const page = await browser!.newPage(1280, 800);
        await page.goto(`file://${file}#overview`);
        await page.waitFor(
          "window.runtraceViewer && runtraceViewer.ready && runtraceViewer.overview",
        );
        const marked = await page.evaluate<{ index: number; x: number; y: number }[]>(
          "runtraceViewer.overview.marked",
        );
        const slowest = model.tasks.filter((t) => t.end !== undefined && t.start !== undefined)
          .sort((a, b) => (b.end! - b.start!) - (a.end! - a.start!))[0];
        assert.equal(model.tasks[marked[0].index].id, slowest.id);
        const shot = pngStats(await page.screenshot());
        assert.ok(shot.colors > 20, JSON.stringify(shot));
        // The responsiveness table: the main thread's loop was not free once in some 100 ms.
        await page.waitFor(`document.querySelector("#mmu-table")`);
        const cells = await page.evaluate<string[]>(
          `[...document.querySelectorAll('#mmu-table tr[data-thread="1"] td')].map((td) => td.textContent)`,
        );
        const heads = await page.evaluate<string[]>(
          `[...document.querySelectorAll("#mmu-table thead th.num")].map((th) => th.textContent)`,
        );
        assert.equal(cells[heads.indexOf("100ms")], "0%", `${heads}\n${cells}`);
        // A click on the slowest task's point opens its focus view.
        const at = await page.evaluate<{ x: number; y: number }>(`(() => {
        const r = document.querySelector("#overview-scatter").getBoundingClientRect();
        return { x: r.left, y: r.top };
      })()`);
        await page.click(at.x + marked[0].x, at.y + marked[0].y);
        await page.waitFor("runtraceViewer.focus");
        const focused = await page.evaluate<number>("runtraceViewer.focus.task");
        assert.equal(model.tasks[focused].id, slowest.id);
        assert.equal(await page.evaluate(`document.querySelector("#view-timeline").hidden`), false);
      },
    );

    test(
      "concurrent startRegion code across awaits shows no problems banner",
      BROWSER,
      async () => {
        const path = join(dir, "concurrent.trace");
        await trace.start(path, { runtime: false });
        await Promise.all(Array.from({ length: 8 }, async (_, i) => {
          const [ctx, t] = trace.newTask("job");
          const r = trace.startRegion(ctx, "step");
          try {
            await new Promise((res) => setTimeout(res, 1 + (i % 3)));
          } finally {
            r.end();
          }
          t.end();
        }));
        await trace.stop();
        const page = await open(new Uint8Array(readFileSync(path)), "concurrent.trace");
        await page.waitFor("runtraceViewer.trace");
        assert.equal(await page.evaluate(`document.querySelector("#banner").hidden`), true);
      },
    );

    test("a file that is not a trace gets an error page that says so", BROWSER, async () => {
      const page = await open(new TextEncoder().encode('{"traceEvents": []}'), "trace.json");
      const error = await page.evaluate<string>(`document.querySelector("#error").innerText`);
      assert.match(error, /trace\.json is not a runtrace trace/);
      assert.equal(await page.evaluate(`document.querySelector("#error").hidden`), false);
      const shot = pngStats(await page.screenshot());
      assert.ok(shot.nonWhite > 0.01, "the error is visible");
      const whole = await cappuccinoTrace();
      const damaged = new Uint8Array(whole.length + 5);
      damaged.set(whole);
      damaged.set([2, 3, 0xff, 0xff, 0xff], whole.length); // a batch after the END batch
      const corrupt = await open(damaged, "damaged.trace");
      assert.match(
        await corrupt.evaluate<string>(`document.querySelector("#error").innerText`),
        /damaged\.trace is a corrupt trace[^]*data after the end of the trace/,
      );
      const empty = await open(new Uint8Array(), "empty.trace");
      assert.match(
        await empty.evaluate<string>(`document.querySelector("#error").innerText`),
        /empty\.trace is not a runtrace trace/,
      );
    });

    test("a truncated trace is shown with a warning", BROWSER, async () => {
      const bytes = await cappuccinoTrace();
      const page = await open(bytes.subarray(0, bytes.length - 3), "cut.trace");
      assert.equal(await page.evaluate("runtraceViewer.error ?? null"), null);
      assert.match(
        await page.evaluate<string>(`document.querySelector("#banner").innerText`),
        /cut short/,
      );
    });
  });
}

const firefox = process.env.FIREFOX ?? findExecutable("firefox-esr") ?? findExecutable("firefox");

/** A headless Firefox screenshot of an HTML file (Firefox renders without a driver). */
function firefoxScreenshot(htmlFile: string, pngFile: string): Promise<Uint8Array> {
  const profile = tempDir();
  return new Promise((resolve, reject) => {
    const child = spawn(firefox!, [
      "--headless",
      "--no-remote",
      "--profile",
      profile,
      "--window-size=1280,700",
      "--screenshot",
      pngFile,
      `file://${htmlFile}`,
    ], { stdio: "ignore", env: { ...process.env, HOME: profile } });
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", reject);
    child.on("exit", () => {
      clearTimeout(timer);
      try {
        resolve(new Uint8Array(readFileSync(pngFile)));
      } catch (e) {
        reject(e);
      }
    });
  });
}

describe("runtrace view in Firefox", {
  skip: firefox ? skip : "no firefox binary found (install Debian's firefox-esr, or set $FIREFOX)",
}, () => {
  test(
    "renders the cappuccino trace, and an error page for a file that is not a trace",
    BROWSER,
    async () => {
      const page = join(dir, "firefox.html");
      writeFileSync(page, renderViewerHtml(await cappuccinoTrace(), { name: "cappuccino.trace" }));
      const shot = pngStats(await firefoxScreenshot(page, join(dir, "firefox.png")));
      assert.ok(
        shot.colors > 20 && shot.nonWhite > 0.03,
        `blank-looking page ${JSON.stringify(shot)}`,
      );

      const bad = join(dir, "firefox-bad.html");
      writeFileSync(
        bad,
        renderViewerHtml(new TextEncoder().encode('{"not":"a trace"}'), { name: "x.json" }),
      );
      const error = pngStats(await firefoxScreenshot(bad, join(dir, "firefox-bad.png")));
      assert.ok(error.nonWhite < shot.nonWhite, "the error page looks like a timeline");
    },
  );
});
