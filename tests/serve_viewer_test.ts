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
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import process from "node:process";
import { join } from "node:path";
import { generateTrace } from "../bench/gen_trace.ts";
import { craftTrace } from "./craft_trace.ts";
import { type Browser, findChromium, launchChromium, type Page } from "./cdp.ts";
import { repoRoot, runFile, runtime, tempDir } from "./helpers.ts";
import { renderViewerHtml } from "../lib/viewer/html.ts";
import { PAGE_EVENTS } from "../lib/viewer/command.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";

const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;
const EVENTS = Number(process.env.RUNTRACE_SERVE_TEST_EVENTS ?? 1_000_000);
/** A log message written once, near the end of the generated trace: what the search must find. */
const RARE = "rare-needle-0451";
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

const exe = findChromium();

/**
 * A test in headless Chromium (skipped without it) on the served page at
 * `url()`, once it is ready; no error in the page's console afterwards.
 */
function inChromium(name: string, url: () => string, body: (page: Page) => Promise<void>): void {
  test(`in Chromium: ${name}`, {
    skip: exe ? false : "no chromium binary (install Debian's chromium or set $CHROMIUM)",
  }, async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchChromium(exe!);
      const page = await openPage(browser, url());
      await page.waitFor("runtraceViewer.ready", 30_000);
      assert.equal(await page.evaluate("runtraceViewer.error ?? null"), null);
      await body(page);
      assert.deepEqual(await page.evaluate("window.__errors"), []);
    } finally {
      await browser?.close();
    }
  });
}

/** A page of `url` that records errors and console errors and warnings in `window.__errors`. */
async function openPage(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage(1280, 800);
  await page.send("Page.addScriptToEvaluateOnNewDocument", {
    source: `window.__errors = [];
      addEventListener("error", (e) => window.__errors.push(String(e.message)));
      addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));
      const ce = console.error, cw = console.warn;
      console.error = (...a) => { window.__errors.push(a.join(" ")); ce(...a); };
      console.warn = (...a) => { window.__errors.push(a.join(" ")); cw(...a); };`,
  });
  await page.goto(url);
  return page;
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
    generateTrace(file, EVENTS, { rare: RARE });
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

  test("the logs in time order, a step at a time; a rare text near the end is found", async () => {
    // 1 MiB steps: the scan goes on over many steps, each an answer of its own.
    let from = "", steps = 0, progress = 0;
    const found: { message: string; time: number }[] = [];
    for (;;) {
      const q = new URLSearchParams({
        text: RARE.toUpperCase(),
        from,
        limit: "20",
        step: "1048576",
      });
      const page = await (await fetch(`${server!.url}api/logs?${q}`)).json();
      assert.ok(page.progress >= progress, "progress only grows");
      progress = page.progress;
      found.push(...page.rows);
      steps++;
      if (page.done) break;
      from = page.next;
    }
    assert.deepEqual(found.map((l) => l.message), [RARE]);
    assert.ok(steps > 2, `${steps} steps`);
    assert.equal(progress, 1);
    const meta = await (await fetch(server!.url + "api/meta")).json();
    assert.ok(found[0].time > meta.duration * 0.9, "near the end");
    // Paging the whole list: in time order, the cursor going on where the last page stopped.
    let times: number[] = [];
    from = "";
    for (let i = 0; i < 3; i++) {
      const page = await (await fetch(`${server!.url}api/logs?from=${from}&limit=500`)).json();
      times = times.concat(page.rows.map((l: { time: number }) => l.time));
      from = page.next;
    }
    assert.equal(times.length, 1500);
    assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]));
  });

  inChromium(
    "the search box goes through the whole trace for a rare log, showing its progress",
    () => server!.url,
    async (page) => {
      await page.evaluate(`(() => { const i = document.querySelector('#search');
        i.value = ${JSON.stringify(RARE)}; i.dispatchEvent(new Event('input')); })()`);
      await page.waitFor("document.querySelector('#details .search-logs')", 60_000);
      const rows = await page.evaluate<string[]>(
        "[...document.querySelectorAll('#details .search-logs tr')].map((r) => r.textContent)",
      );
      assert.equal(rows.length, 1);
      assert.match(rows[0], new RegExp(RARE));
      await page.waitFor("!document.querySelector('#details .search-progress')", 60_000);
      assert.match(
        await page.evaluate<string>("document.querySelector('#search-status').textContent"),
        /^1 found/,
      );
      // The Logs page filtered by the text goes through the whole trace too, in bounded steps.
      await page.clickSelector("#details button[data-search-logs]");
      await page.waitFor(
        "/^1 of \\d+ logs$/.test(document.querySelector('#log-count').textContent)",
        60_000,
      );
      assert.match(
        await page.evaluate<string>("document.querySelector('#log-rows').textContent"),
        new RegExp(RARE),
      );
      assert.equal(await page.evaluate("document.querySelector('#log-stop').hidden"), true);
      // A text no log holds: the whole trace is searched, and it says so.
      await page.evaluate(`(() => { const i = document.querySelector('#search');
        i.value = 'no log holds this text'; i.dispatchEvent(new Event('input')); })()`);
      await page.waitFor(
        "document.querySelector('#search-status').textContent === 'no matches'",
        60_000,
      );
      assert.match(
        await page.evaluate<string>("document.querySelector('#details').textContent"),
        /No log holds “no log holds this text”/,
      );
      // A search under way stops at its Stop button, and says how far it got.
      await page.evaluate(`(() => { const i = document.querySelector('#search');
        i.value = 'still absent'; i.dispatchEvent(new Event('input')); })()`);
      await page.waitFor(
        "document.querySelector('#details button.search-stop') || document.querySelector('#search-status').textContent === 'no matches'",
        60_000,
      );
      const stopped = await page.evaluate<boolean>(`(() => {
        const b = document.querySelector('#details button.search-stop');
        b?.click();
        return !!b;
      })()`);
      if (stopped) {
        assert.match(
          await page.evaluate<string>("document.querySelector('#details').textContent"),
          /Stopped at \d+% of the logs/,
        );
      }
    },
  );

  inChromium(
    "the Overview, the timeline's tiles, a zoom and a task's focus data",
    () => server!.url,
    async (page) => {
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
      await page.clickSelector("#view-overview ol.slowest button[data-task]");
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
      // The Logs page fills from the server's scan, a step at a time.
      await page.clickSelector('[data-view="logs"]');
      await page.waitFor("document.querySelectorAll('#log-rows tr').length >= 200", 30_000);
      assert.equal(
        await page.evaluate("document.querySelector('#log-more').hidden"),
        false,
        "more logs to show",
      );
    },
  );
});

describe("runtrace view --serve on the slow-requests fixture", { skip }, () => {
  const file = join(dir, "slow_requests.trace");
  let server: Awaited<ReturnType<typeof serve>> | undefined;

  before(async () => {
    copyFileSync(join(repoRoot, "tests/fixtures/slow_requests.trace"), file);
    server = await serve(file);
  });

  after(() => {
    server?.child.kill("SIGINT");
  });

  test("the server: a victim's delay names the stall's culprit; logs by text; a percentile's instance", async () => {
    const victim = await (await fetch(`${server!.url}api/task?id=689`)).json();
    assert.equal(victim.task.type, "http.request");
    const d = victim.delay;
    assert.equal(d.inRegions + d.blocked + d.gc + d.waiting, victim.task.end - victim.task.start);
    assert.equal(d.blockedBy[0].region, "report.build");
    assert.equal(d.blockedBy[0].task, 701);
    assert.equal(d.blockedBy[0].taskType, "report.daily");
    assert.ok(Math.abs(d.blocked - 156e6) < 1e6, `${d.blocked}`);
    const logs = await (await fetch(`${server!.url}api/logs?text=%2Fapi%2Fitems%2F37&limit=50`))
      .json();
    assert.ok(logs.done);
    assert.ok(logs.rows.length > 0);
    assert.ok(logs.rows.every((l: { message: string }) => l.message.includes("/api/items/37")));
    const max = await (await fetch(
      `${server!.url}api/instance?kind=task&type=http.request&ns=178000000`,
    )).json();
    assert.ok(Math.abs(max.duration - 178e6) < 1e6, `${max.duration}`);
    assert.equal((await fetch(`${server!.url}api/instance?kind=x`)).status, 400);
    // A cursor no answer gave (the page sends only an answer's `next`) is refused, and the
    // server goes on.
    for (const from of ["3", "17,x,0", "29,99999999,0", "1,2"]) {
      const res = await fetch(`${server!.url}api/logs?from=${from}&limit=5`);
      assert.equal(res.status, 400, from);
      await res.arrayBuffer();
    }
    assert.equal((await fetch(`${server!.url}api/logs?from=0&limit=1`)).status, 200);
  });

  inChromium(
    "p50/p99/Max links, the delay and its culprit link, search, the Logs page",
    () => server!.url,
    async (page) => {
      const text = (sel: string) =>
        page.evaluate<string>(`document.querySelector(${JSON.stringify(sel)})?.textContent ?? ""`);
      // The first screen names the stall's culprit, its task a link.
      assert.match(await text("#view-overview"), /report\.build \(report\.daily #701\)/);
      assert.ok(
        await page.evaluate("!!document.querySelector('#view-overview button[data-task=\"701\"]')"),
      );
      // Tasks page: one click on http.request's Max opens that task's focus data.
      await page.clickSelector('[data-view="tasks"]');
      const maxNs = Number(
        await page.evaluate<string>(
          `document.querySelector('#view-tasks button.rank.link[data-type="http.request"][title*="Max"]').dataset.ns`,
        ),
      );
      await page.clickSelector(
        '#view-tasks button.rank[data-type="http.request"][title*="Max"]',
      );
      await page.waitFor("runtraceViewer.remote.focus");
      const f = await page.evaluate<{ type: string; dur: number }>(
        "({ type: runtraceViewer.remote.focus.task.type, dur: runtraceViewer.remote.focus.task.end - runtraceViewer.remote.focus.task.start })",
      );
      assert.equal(f.type, "http.request");
      assert.equal(f.dur, maxNs);
      assert.match(await text("#details"), /Where its time went/);
      // The slowest bucket of http.request lists its instances: the ten stall victims among them.
      await page.clickSelector('[data-view="tasks"]');
      await page.evaluate(
        `[...document.querySelectorAll('#view-tasks button.bucket[data-type="http.request"]:not([disabled])')].at(-1).click()`,
      );
      await page.waitFor(
        "document.querySelectorAll('#view-tasks section.instances tbody tr').length === 13",
        10_000,
      );
      assert.ok(
        await page.evaluate(
          "!!document.querySelector('#view-tasks section.instances button[data-task=\"689\"]')",
        ),
      );
      // Each instance says what delayed it: the ten victims overlap the 15x ms stall of
      // report.build, its task a link; the others do not.
      const listed = await page.evaluate<{ task: string; stall: string; by: string }[]>(
        `[...document.querySelectorAll('#view-tasks section.instances tbody tr')].map((r) => ({
          task: r.cells[0].textContent, stall: r.querySelector('td.stall').textContent,
          by: r.querySelector('td.delayed-by').textContent }))`,
      );
      const victims = listed.filter((r) => r.by !== "");
      assert.equal(victims.length, 10, JSON.stringify(listed));
      for (const v of victims) {
        assert.match(v.stall, /^\d+(\.\d+)?ms$/);
        assert.match(v.by, /report\.build \(report\.daily #701\)/);
      }
      assert.ok(victims.some((v) => v.task === "#689"));
      assert.ok(listed.filter((r) => r.by === "").every((r) => r.stall === "-"));
      assert.ok(
        await page.evaluate(
          "!!document.querySelector('#view-tasks section.instances td.delayed-by button[data-task=\"701\"]')",
        ),
      );
      // The search box: a task id, then Enter opens it; a stall victim names its culprit.
      await page.evaluate(`(() => { const i = document.querySelector('#search');
        i.value = '#689'; i.dispatchEvent(new Event('input')); })()`);
      await page.waitFor("document.querySelector('#details .search-results')", 10_000);
      await page.evaluate(
        "document.querySelector('#search').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }))",
      );
      await page.waitFor("runtraceViewer.remote.focus?.task.id === 689", 10_000);
      await page.waitFor("document.querySelector('#details .delay')", 10_000);
      const details = await text("#details");
      assert.match(details, /Blocked by others\s*15\dms/);
      assert.match(details, /Delayed by\s*a 15\dms stall: report\.build \(report\.daily #701\)/);
      // The culprit is a link to its task.
      await page.clickSelector('#details tr.delayed-by button[data-task="701"]');
      await page.waitFor("runtraceViewer.remote.focus?.task.id === 701", 10_000);
      assert.match(await text("#details"), /report\.daily/);
      // Regions page: a percentile link opens the region's task.
      await page.clickSelector('[data-view="regions"]');
      await page.clickSelector('#view-regions button.rank[data-type="report.build"][title*="p99"]');
      await page.waitFor(
        "runtraceViewer.remote.focus?.task.id === 701 && !document.querySelector('#view-timeline').hidden",
        10_000,
      );
      // The search finds types and logs; the Logs page filters by text.
      await page.evaluate(`(() => { const i = document.querySelector('#search');
        i.value = '/api/items/37'; i.dispatchEvent(new Event('input')); })()`);
      await page.waitFor("document.querySelector('#details .search-logs')", 10_000);
      await page.clickSelector("#details button[data-search-logs]");
      await page.waitFor(
        "!document.querySelector('#view-logs').hidden && / of \\d+ logs$/.test(document.querySelector('#log-count').textContent)",
        10_000,
      );
      const rows = await page.evaluate<string[]>(
        "[...document.querySelectorAll('#log-rows tr')].map((r) => r.textContent)",
      );
      assert.ok(rows.length > 0);
      assert.ok(rows.every((r) => r.includes("/api/items/37")), rows.join("\n"));
      // Types the text names are highlighted on the timeline; a log text named none.
      assert.equal(await page.evaluate("runtraceViewer.remote.timeline.matches.size"), 0);
      await page.evaluate(`(() => { const i = document.querySelector('#search');
        i.value = 'report'; i.dispatchEvent(new Event('input')); })()`);
      await page.waitFor("runtraceViewer.remote.timeline.matches?.size === 2", 10_000);
      assert.deepEqual(
        await page.evaluate(
          "[...runtraceViewer.remote.timeline.matches].map((i) => runtraceViewer.remote.meta.types[i]).sort()",
        ),
        ["report.build", "report.daily"],
      );
    },
  );
});

describe("runtrace view --serve on a trace of three threads", { skip }, () => {
  const file = join(dir, "threads.trace");
  let server: Awaited<ReturnType<typeof serve>> | undefined;

  before(async () => {
    // Each thread's batches written one thread after another: the file holds the logs out of time order.
    writeFileSync(
      file,
      craftTrace((w) => {
        let id = 0;
        for (const thread of [1, 2, 3]) {
          w.on(thread);
          for (let i = 0; i < 400; i++) {
            const t = 1000 + i * 10_000 + thread * 3_000;
            w.taskBegin(t, ++id, 0, "job");
            w.log(t + 10, id, "step", `thread ${thread} log ${i}`);
            w.taskEnd(t + 20, id);
          }
        }
      }),
    );
    server = await serve(file);
  });

  after(() => {
    server?.child.kill("SIGINT");
  });

  inChromium(
    "the Logs page lists the logs in time order across threads",
    () => server!.url,
    async (page) => {
      await page.clickSelector('[data-view="logs"]');
      await page.waitFor("document.querySelectorAll('#log-rows tr').length >= 200", 30_000);
      const first = await page.evaluate<{ time: number; thread: number }[]>(
        "[...document.querySelectorAll('#log-rows tr')].map((r) => ({ time: Number(r.dataset.time), thread: Number(r.dataset.thread) }))",
      );
      assert.deepEqual(first.slice(0, 3).map((l) => l.thread), [1, 2, 3]);
      // "Show more" goes on in time order.
      await page.clickSelector("#log-more");
      await page.waitFor("document.querySelectorAll('#log-rows tr').length >= 400", 30_000);
      const rows = await page.evaluate<{ time: number; thread: number }[]>(
        "[...document.querySelectorAll('#log-rows tr')].map((r) => ({ time: Number(r.dataset.time), thread: Number(r.dataset.thread) }))",
      );
      assert.ok(rows.every((l, i) => i === 0 || l.time >= rows[i - 1].time), "in time order");
      assert.deepEqual(new Set(rows.map((l) => l.thread)), new Set([1, 2, 3]));
    },
  );
});
