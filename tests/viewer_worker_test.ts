/**
 * The viewer page's Web Worker: the model it packs comes back equal, the
 * reader posts columns, layout and model in that order (or one error), and
 * a trace too big to read on the page's main thread loads through the
 * worker from file:// in headless Chromium and Firefox, with the page's
 * long-task observer at work in Chromium. Behaviour only: the timings are
 * bench/viewer_bench.ts's business.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import * as trace from "../mod.ts";
import { parseTrace } from "../read.ts";
import { TraceDecoder } from "../lib/format/decoder.ts";
import { TraceBuilder } from "../lib/read/trace_model.ts";
import { renderViewerHtml } from "../lib/viewer/html.ts";
import { type PageModel, PageModelBuilder } from "../lib/viewer/page/delay.ts";
import { IdIndex } from "../lib/viewer/page/id_index.ts";
import { statsRows } from "../lib/viewer/page/stats_page.ts";
import { ModelUnpacker, packedBuffers, packModel } from "../lib/viewer/page/model_pack.ts";
import { type ReaderMessage, readTraceForPage } from "../lib/viewer/page/trace_reader.ts";
import { decodeColumns, decodeTaskColumns } from "../lib/viewer/page/columns.ts";
import { postedColumns, receivedColumns } from "../lib/viewer/page/posted_columns.ts";
import { deflateRawSync } from "node:zlib";
import { TraceWriter } from "../lib/format/encoder.ts";
import { Ev } from "../lib/format/constants.ts";
import { syntheticTrace } from "../bench/viewer_bench.ts";
import { type Browser, findChromium, launchChromium } from "./cdp.ts";
import { findExecutable, repoRoot, tempDir } from "./helpers.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;
const BROWSER = { timeout: 120_000 };
const dir = tempDir();

const fixture = (name: string) =>
  new Uint8Array(readFileSync(join(repoRoot, "tests/fixtures", name)));

function pageModel(bytes: Uint8Array): PageModel {
  const b = new PageModelBuilder(new TraceBuilder());
  const d = new TraceDecoder(b.add);
  d.push(bytes);
  d.finish();
  return b.result();
}

/** Unpacks in slices of 0 ms, so that every phase stops and resumes at least once. */
function unpackSlowly(m: PageModel): PageModel {
  const u = new ModelUnpacker(structuredClone(packModel(m)));
  for (let k = 0; k < 1e7; k++) {
    const out = u.step(0);
    if (out) return out;
  }
  throw new Error("the unpacker never finished");
}

/** A trace recorded with stacks, for the stack tables. */
async function stacksTrace(): Promise<Uint8Array> {
  const path = join(dir, "stacks.trace");
  await trace.start(path, { stacks: true, runtime: false });
  const [ctx, t] = trace.newTask("withStacks");
  trace.log(ctx, "cat", "a message ✓ with ünïcode");
  await trace.withRegion(ctx, "step", () => new Promise((r) => setTimeout(r, 2)));
  t.end();
  await trace.stop();
  return new Uint8Array(readFileSync(path));
}

describe("the viewer page's worker, without a browser", { skip }, () => {
  test("a packed model unpacks to the same model, sharing its records as the original does", async () => {
    const traces: [string, Uint8Array][] = [
      ["cappuccino", fixture("cappuccino.trace")],
      ["slow_requests", fixture("slow_requests.trace")],
      ["workload", fixture("workload.trace")],
      ["stacks", await stacksTrace()],
      ["synthetic", syntheticTrace(5_000)],
    ];
    for (const [name, bytes] of traces) {
      const model = pageModel(bytes);
      const back = unpackSlowly(model);
      const { task: _a, ...want } = model.trace;
      const { task: _b, ...got } = back.trace;
      assert.deepEqual(got, want, name);
      assert.deepEqual(back.delays.all(), model.delays.all(), name);
      assert.deepEqual(back.delays.causes(), model.delays.causes(), name);
      for (const t of back.trace.tasks.slice(0, 50)) {
        assert.equal(back.trace.task(t.id), t, name);
        for (const r of t.regions) {
          assert.ok(back.trace.regions.includes(r), `${name}: shared region`);
        }
        assert.deepEqual(back.delays.of(t), model.delays.of(model.trace.task(t.id)!), name);
      }
    }
    const slow = pageModel(fixture("slow_requests.trace"));
    assert.ok(slow.delays.causes().length > 0, "the fixture has stalls");
    const stacks = pageModel(await stacksTrace());
    assert.ok(stacks.trace.tasks.some((t) => t.stack), "the stacks trace has stacks");
  });

  test("the packed model is typed arrays and a few small objects, every buffer listed to transfer", () => {
    const model = pageModel(syntheticTrace(20_000));
    const packed = packModel(model);
    const buffers = packedBuffers(packed);
    assert.ok(buffers.length >= 20);
    // What is not a typed array is small: the strings and stacks tables, the causes, the header.
    const { tasks: _t, regions: _r, logs, counters: _c, delays, ...small } = packed;
    assert.ok(JSON.stringify(small).length < 10_000);
    assert.equal(typeof logs.text, "string");
    assert.ok(delays.causes.length < 100);
  });

  test("the reader posts the columns, then the layout, then the model and the pages' rows; a non-trace one error", () => {
    const posted: ReaderMessage[] = [];
    const bytes = syntheticTrace(5_000);
    readTraceForPage({ bytes }, (m, transfer) => {
      // What is listed to transfer can be: distinct, and not shared with what is kept.
      assert.equal(new Set(transfer).size, transfer.length);
      posted.push(structuredClone(m, { transfer }));
    });
    assert.deepEqual(posted.map((m) => m.kind), ["columns", "layout", "model"]);
    const [c, l] = posted as [
      Extract<ReaderMessage, { kind: "columns" }>,
      Extract<ReaderMessage, { kind: "layout" }>,
    ];
    assert.ok(c.cols.tasks.n > 0 && c.cols.tasks.start instanceof Float64Array);
    const index = IdIndex.revive(c.cols.taskIndex);
    for (let i = 0; i < c.cols.tasks.n; i += 97) assert.equal(index.get(c.cols.tasks.id[i]), i);
    assert.ok(l.layout.tracks.length > 0);
    // The Tasks and Regions pages' rows come made, as the page would make them.
    const m = posted[2] as Extract<ReaderMessage, { kind: "model" }>;
    for (const which of ["tasks", "regions"] as const) {
      const want = statsRows(parseTrace(bytes), which);
      assert.deepEqual(m.stats[which].rows, want.rows, which);
      assert.deepEqual(m.stats[which].duration, want.duration, which);
    }

    // The model comes without the logs' text: the columns' messages make it whole.
    const u = new ModelUnpacker(m.packed, receivedColumns(c.cols).logs.message);
    let unpacked;
    while (!(unpacked = u.step(1000)));
    assert.deepEqual(
      unpacked.trace.logs.map((l) => l.message),
      parseTrace(bytes).logs.map((l) => l.message),
    );

    // The marks are on the clock of 1970, in order.
    const w = c.marks;
    assert.ok(
      w.start > 1e12 && w.start <= w.bytes && w.bytes <= w.decoded && w.decoded <= w.posted,
    );

    const errors: ReaderMessage[] = [];
    readTraceForPage({ base64: btoa('{"not":"a trace"}') }, (m) => errors.push(m));
    assert.equal(errors.length, 1);
    assert.equal(errors[0].kind, "error");
    assert.match((errors[0] as { message: string }).message, /not a runtrace trace/);
  });
});

describe("the columns as the worker posts them", () => {
  test("come back equal to the worker's, log messages included, and the worker keeps its own", () => {
    const cols = decodeColumns(syntheticTrace(20_000));
    const kept = structuredClone(cols);
    const { cols: posted, transfer } = postedColumns(cols);
    assert.equal(typeof posted.logs.text, "string");
    const back = receivedColumns(structuredClone(posted, { transfer }));
    // Moving the posted buffers left the worker's columns whole.
    assert.deepEqual(structuredClone(cols), kept);
    const index = back.taskIndex;
    assert.equal(Object.getPrototypeOf(index), IdIndex.prototype);
    assert.deepEqual({ ...back, taskIndex: undefined }, { ...kept, taskIndex: undefined });
    for (let i = 0; i < back.tasks.n; i += 31) assert.equal(index.get(back.tasks.id[i]), i);
  });

  test("log messages that are not ASCII, or empty, come out as the reader's model has them", () => {
    const messages = ["plain", "café ☕", "", "\u{1F600} and more", "ascii again"];
    const w = new TraceWriter();
    w.header({
      timeOrigin: 0,
      startTime: 0,
      resolutionNs: 1,
      runtime: "test",
      runtimeVersion: "1",
      pid: 0,
    });
    w.defineString(1, "note");
    w.openBatch(1, 0, 0);
    messages.forEach((m, i) => {
      w.event(Ev.LOG, 1000 * (i + 1));
      w.ev.uvarint(0);
      w.ev.uvarint(1);
      w.ev.uvarint(0);
      w.message(m);
    });
    w.closeBatch();
    w.end(0);
    const bytes = w.out.buf.slice(0, w.out.pos);
    const model = parseTrace(bytes).logs.map((l) => l.message);
    assert.deepEqual(model, messages);
    assert.deepEqual(decodeColumns(bytes).logs.message, messages);
    const ascii = decodeColumns(syntheticTrace(2_000));
    assert.deepEqual(
      ascii.logs.message,
      parseTrace(syntheticTrace(2_000)).logs.map((l) => l.message),
    );
  });

  test("the tasks-only pass reads the same tasks, names and stalls as the whole, and counts the rest", () => {
    for (
      const bytes of [
        syntheticTrace(20_000),
        readFileSync(join(repoRoot, "tests/fixtures/slow_requests.trace")),
      ]
    ) {
      const full = decodeColumns(bytes);
      const scan = decodeTaskColumns(bytes);
      assert.deepEqual(scan.cols.tasks, full.tasks);
      assert.deepEqual(scan.cols.names, full.names);
      assert.deepEqual(scan.cols.stalls, full.stalls);
      assert.deepEqual(scan.cols.gcs, full.gcs);
      assert.equal(scan.cols.events, full.events);
      assert.deepEqual([scan.regions, scan.logs], [full.regions.n, full.logs.n]);
      assert.deepEqual([scan.cols.regions.n, scan.cols.logs.n], [0, 0]);
    }
  });

  test("for a trace over 2 MiB the reader posts its tasks first", () => {
    const bytes = syntheticTrace(230_000);
    assert.ok(bytes.length > 2 << 20);
    const posted: ReaderMessage[] = [];
    readTraceForPage({ bytes }, (m, transfer) => posted.push(structuredClone(m, { transfer })));
    assert.deepEqual(posted.map((m) => m.kind), ["tasks", "columns", "layout", "model"]);
    const [t, c] = posted as [
      Extract<ReaderMessage, { kind: "tasks" }>,
      Extract<ReaderMessage, { kind: "columns" }>,
    ];
    assert.deepEqual(t.cols.tasks, c.cols.tasks);
    assert.deepEqual([t.regions, t.logs], [c.cols.regions.n, c.cols.logs.n]);
    assert.ok(t.marks.tasksPosted <= c.marks.decoded);
  });

  test("the reader inflates a trace embedded DEFLATE-compressed, and says when that data is bad", async () => {
    const bytes = syntheticTrace(5_000);
    const want = decodeColumns(bytes);
    const deflated = btoa(String.fromCharCode(...deflateRawSync(bytes)));
    const posted = await new Promise<ReaderMessage>((done) =>
      readTraceForPage({ deflated }, (m) => m.kind !== "layout" && m.kind !== "model" && done(m))
    );
    assert.equal(posted.kind, "columns");
    const cols = (posted as Extract<ReaderMessage, { kind: "columns" }>).cols;
    assert.equal(cols.events, want.events);
    assert.deepEqual(receivedColumns(cols).logs.message, want.logs.message);
    const bad = await new Promise<ReaderMessage>((done) =>
      readTraceForPage({ deflated: btoa("not deflate at all") }, done)
    );
    assert.equal(bad.kind, "error");
    assert.match((bad as { message: string }).message, /the page's trace data/);
  });
});

/** A trace big enough (over 512 KiB) that the page reads it in its worker. */
const big = () => syntheticTrace(100_000);

const chromium = skip ? undefined : findChromium();

describe("the viewer page's worker in headless Chromium", {
  skip: skip ||
    (chromium ? false : "no chromium binary found (install chromium, or set $CHROMIUM)"),
}, () => {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchChromium(chromium!);
  }, BROWSER);
  after(async () => {
    await browser?.close();
  });

  test(
    "a large trace loads through the worker from file://; views get the model; long tasks are recorded",
    BROWSER,
    async () => {
      const bytes = big();
      const model = parseTrace(bytes);
      const file = join(dir, "big.html");
      writeFileSync(file, renderViewerHtml(bytes, { name: "big.trace" }));
      const page = await browser!.newPage(1280, 800);
      await page.goto(`file://${file}`, 60_000);
      await page.waitFor("window.runtraceViewer && window.runtraceViewer.ready", 60_000);
      assert.equal(await page.evaluate("runtraceViewer.error ?? null"), null);
      assert.equal(await page.evaluate("runtraceViewer.worker"), true);
      assert.equal(await page.evaluate("runtraceViewer.cols.tasks.n"), model.tasks.length);
      assert.ok(await page.evaluate<number>("runtraceViewer.timeline.draws") >= 1);

      // The model arrives from the worker and is the reader's.
      await page.waitFor("runtraceViewer.trace", 60_000);
      assert.equal(await page.evaluate("runtraceViewer.trace.tasks.length"), model.tasks.length);
      assert.equal(
        await page.evaluate("runtraceViewer.trace.regions.length"),
        model.regions.length,
      );

      // A view that needs it: the Tasks page, one row per task type; a task's details.
      await page.clickSelector('[role=tab][data-view="tasks"]');
      const rows = await page.waitFor<number>(
        `document.querySelectorAll("#tasks-table tr[data-type-name]").length || undefined`,
      );
      assert.equal(rows, new Set(model.tasks.map((t) => t.type)).size);
      await page.clickSelector('[role=tab][data-view="timeline"]');
      await page.evaluate(`runtraceViewer.timeline.select({ kind: "task", index: 0 })`);
      const details = await page.waitFor<string>(
        `(() => { const t = document.querySelector("#details").textContent;
        return t.includes("#${model.tasks[0].id}") ? t : undefined; })()`,
      );
      assert.match(details, new RegExp(model.tasks[0].type));

      // The page's long-task observer sees a task of 150 ms.
      assert.equal(await page.evaluate("Array.isArray(runtraceViewer.longTasks)"), true);
      const at = await page.evaluate<number>(`(() => {
      const at = performance.now();
      setTimeout(() => { const until = performance.now() + 150; while (performance.now() < until); }, 0);
      return at;
    })()`);
      const seen = await page.waitFor<number>(
        `runtraceViewer.longTasks.filter(([s, d]) => s >= ${
          Math.floor(at)
        } && d >= 140).length || undefined`,
      );
      assert.ok(seen >= 1);
      assert.equal(await page.evaluate("runtraceViewer.error ?? null"), null);
      await page.close();
    },
  );

  test(
    "a trace over 2 MiB opens on the Overview from its tasks alone, before the rest is read",
    BROWSER,
    async () => {
      const bytes = syntheticTrace(230_000);
      const model = parseTrace(bytes);
      const file = join(dir, "bigger.html");
      writeFileSync(file, renderViewerHtml(bytes, { name: "bigger.trace" }));
      const page = await browser!.newPage(1280, 800);
      await page.goto(`file://${file}`, 60_000);
      await page.waitFor("window.runtraceViewer && window.runtraceViewer.ready", 90_000);
      assert.equal(await page.evaluate("runtraceViewer.error ?? null"), null);
      const marks = await page.evaluate<Record<string, number>>("runtraceViewer.marks");
      assert.ok(
        marks.tasksIn <= marks.firstDraw && marks.firstDraw <= marks.columnsIn,
        JSON.stringify(marks),
      );
      assert.equal(await page.evaluate("location.hash"), "#overview");
      // The summary counts what the tasks-only pass did not read; the views get the whole columns.
      const summary = await page.evaluate<string>(`document.querySelector("#summary").textContent`);
      assert.match(
        summary,
        new RegExp(`${model.regions.length} regions · ${model.logs.length} logs`),
      );
      assert.equal(await page.evaluate("runtraceViewer.cols.regions.n"), model.regions.length);
      await page.waitFor("runtraceViewer.trace", 90_000);
      assert.equal(await page.evaluate("runtraceViewer.trace.tasks.length"), model.tasks.length);
      await page.close();
    },
  );
});

const firefox = skip
  ? undefined
  : process.env.FIREFOX ?? findExecutable("firefox-esr") ?? findExecutable("firefox");

/**
 * Loads `htmlFile` in headless Firefox and returns the first line the page
 * prints starting with `marker` (the profile lets a page's `dump` reach
 * standard output).
 */
function firefoxLine(htmlFile: string, marker: string): Promise<string> {
  const profile = tempDir();
  writeFileSync(
    join(profile, "user.js"),
    'user_pref("browser.dom.window.dump.enabled", true);\n',
  );
  return new Promise((resolve, reject) => {
    const child = spawn(firefox!, [
      "--headless",
      "--no-remote",
      "--profile",
      profile,
      `file://${htmlFile}`,
    ], { stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, HOME: profile } });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.stdout!.on("data", (d: Uint8Array) => {
      out += new TextDecoder().decode(d);
      const line = out.split("\n").find((l) => l.startsWith(marker));
      if (line) {
        clearTimeout(timer);
        child.kill("SIGKILL");
        resolve(line.slice(marker.length));
      }
    });
    child.on("error", reject);
    child.on("exit", () => {
      clearTimeout(timer);
      reject(new Error(`Firefox exited without printing ${marker}: ${out.slice(-2000)}`));
    });
  });
}

describe("the viewer page's worker in Firefox", {
  skip: skip ||
    (firefox ? false : "no firefox binary found (install firefox-esr, or set $FIREFOX)"),
}, () => {
  /** Loads the page of `bytes` in Firefox; a probe beside its script reports the outcome. */
  const loadInFirefox = async (bytes: Uint8Array, name: string) => {
    // The page's policy allows inline scripts: the probe prints once the model is in.
    const probe = `<script>const t = setInterval(() => { const v = window.runtraceViewer;
      if (!v || !(v.error || (v.ready && v.trace))) return;
      clearInterval(t);
      dump("RUNTRACE-PROBE " + JSON.stringify({ worker: v.worker, error: v.error ?? null,
        tasks: v.trace ? v.trace.tasks.length : -1, cols: v.cols ? v.cols.tasks.n : -1,
        regions: v.cols ? v.cols.regions.n : -1, marks: v.marks,
        draws: v.timeline ? v.timeline.draws : 0 }) + "\\n");
    }, 100);</script>`;
    const file = join(dir, `${name}.html`);
    writeFileSync(file, renderViewerHtml(bytes, { name }).replace("</body>", `${probe}</body>`));
    return JSON.parse(await firefoxLine(file, "RUNTRACE-PROBE "));
  };

  test(
    "a large trace loads through the worker from file://, and the model arrives",
    BROWSER,
    async () => {
      const bytes = big();
      const model = parseTrace(bytes);
      const got = await loadInFirefox(bytes, "big-firefox");
      assert.equal(got.error, null);
      assert.equal(got.worker, true);
      assert.equal(got.cols, model.tasks.length);
      assert.equal(got.tasks, model.tasks.length);
      assert.ok(got.draws >= 1);
    },
  );

  test(
    "a trace over 2 MiB opens on the Overview from its tasks, then gets its regions and model",
    BROWSER,
    async () => {
      const bytes = syntheticTrace(230_000);
      const model = parseTrace(bytes);
      const got = await loadInFirefox(bytes, "bigger-firefox");
      assert.equal(got.error, null);
      assert.equal(got.worker, true);
      assert.ok(got.marks.tasksIn <= got.marks.firstDraw, JSON.stringify(got.marks));
      assert.equal(got.regions, model.regions.length);
      assert.equal(got.tasks, model.tasks.length);
    },
  );
});
