/**
 * Regenerates the README's pictures of the viewer, each from a page built as
 * `runtrace view` does and opened in headless Chromium:
 *
 * - docs/viewer.png: the cappuccino example recorded with the real API, the
 *   first order selected;
 * - docs/viewer-focus.png: the slow-requests fixture, from the Tasks page to
 *   the slowest bucket of `http.request` and the focus view of the first
 *   request the `report.build` stall delayed, as a reader would click.
 *
 *     deno run -A scripts/screenshot.ts [OUT_DIR]
 *     bun scripts/screenshot.ts [OUT_DIR]
 *
 * Needs a `chromium` binary (or $CHROMIUM).
 *
 * @module
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import * as trace from "../mod.ts";
import { makeCappuccino } from "../examples/cappuccino.ts";
import { renderViewerHtml } from "../lib/viewer/html.ts";
import { type Browser, findChromium, launchChromium, type Page, pngStats } from "../tests/cdp.ts";

const root = join(import.meta.dirname ?? ".", "..");
const outDir = process.argv[2] ?? join(root, "docs");
const exe = findChromium();
if (!exe) {
  console.error(
    "screenshot: no chromium binary found (apt-get install chromium, or set $CHROMIUM)",
  );
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), "runtrace-shot-"));

/** Opens the page for `bytes` and waits until it is ready and shows no error. */
async function open(browser: Browser, bytes: Uint8Array, name: string, height: number) {
  const html = join(dir, `${name}.html`);
  writeFileSync(html, renderViewerHtml(bytes, { name }));
  const page = await browser.newPage(1280, height);
  await page.goto(`file://${html}`);
  await page.waitFor("window.runtraceViewer && window.runtraceViewer.ready");
  const error = await page.evaluate<string | null>("runtraceViewer.error ?? null");
  if (error) throw new Error(`the page shows an error: ${error}`);
  return page;
}

/** Writes the page's screenshot to `file` once the next frame is drawn. */
async function shoot(page: Page, file: string): Promise<void> {
  await page.evaluate("new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)))");
  const png = await page.screenshot();
  const stats = pngStats(png);
  if (stats.colors < 20) throw new Error(`the screenshot looks blank: ${JSON.stringify(stats)}`);
  writeFileSync(file, png);
  console.log(`wrote ${file} (${png.length} bytes, ${stats.width}x${stats.height})`);
}

/** The cappuccino example with its first order selected. */
async function cappuccino(browser: Browser): Promise<void> {
  const file = join(dir, "cappuccino.trace");
  await trace.start(file);
  for (const id of ["42", "43", "44"]) await makeCappuccino(id);
  await trace.stop();
  const page = await open(browser, new Uint8Array(readFileSync(file)), "cappuccino.trace", 600);
  // Select the first order, as a reader would by clicking it.
  await page.evaluate(`runtraceViewer.timeline.select({ kind: "task", index: 0 })`);
  await shoot(page, join(outDir, "viewer.png"));
}

/** A request the report.build stall delayed, in its focus view, reached by clicks. */
async function focus(browser: Browser): Promise<void> {
  const bytes = new Uint8Array(readFileSync(join(root, "tests/fixtures/slow_requests.trace")));
  const page = await open(browser, bytes, "slow_requests.trace", 520);
  await page.clickSelector('[role=tab][data-view="tasks"]');
  await page.clickSelector(
    '#tasks-table tr[data-type-name="http.request"] button.bucket:not([disabled]):last-of-type',
  );
  const victim = await page.evaluate<string | null>(`(() => {
    const row = [...document.querySelectorAll("#tasks-instances tbody tr")]
      .find((r) => /report\\.build/.test(r.innerText));
    return row ? row.querySelector("[data-focus]").dataset.focus : null;
  })()`);
  if (victim === null) throw new Error("no request delayed by report.build in the slowest bucket");
  await page.clickSelector(`#tasks-instances button[data-focus="${victim}"]`);
  await page.waitFor("runtraceViewer.focus");
  await shoot(page, join(outDir, "viewer-focus.png"));
}

try {
  const browser = await launchChromium(exe);
  try {
    await cappuccino(browser);
    await focus(browser);
  } finally {
    await browser.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
