/**
 * Regenerates docs/viewer.png, the README's picture of the viewer: records
 * the cappuccino example with the real API, builds its page as
 * `runtrace view` does, opens it in headless Chromium, selects the first
 * order and takes a screenshot.
 *
 *     deno run -A scripts/screenshot.ts [OUT.png]
 *     bun scripts/screenshot.ts [OUT.png]
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
import { findChromium, launchChromium, pngStats } from "../tests/cdp.ts";

const out = process.argv[2] ?? join(import.meta.dirname ?? ".", "../docs/viewer.png");
const exe = findChromium();
if (!exe) {
  console.error(
    "screenshot: no chromium binary found (apt-get install chromium, or set $CHROMIUM)",
  );
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), "runtrace-shot-"));
try {
  const file = join(dir, "cappuccino.trace");
  await trace.start(file);
  for (const id of ["42", "43", "44"]) await makeCappuccino(id);
  await trace.stop();
  const html = join(dir, "cappuccino.html");
  writeFileSync(
    html,
    renderViewerHtml(new Uint8Array(readFileSync(file)), { name: "cappuccino.trace" }),
  );
  const browser = await launchChromium(exe);
  try {
    const page = await browser.newPage(1280, 600);
    await page.goto(`file://${html}`);
    await page.waitFor("window.runtraceViewer && window.runtraceViewer.ready");
    const error = await page.evaluate<string | null>("runtraceViewer.error ?? null");
    if (error) throw new Error(`the page shows an error: ${error}`);
    // Select the first order, as a reader would by clicking it.
    await page.evaluate(`runtraceViewer.timeline.select({ kind: "task", index: 0 })`);
    await page.evaluate("new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)))");
    const png = await page.screenshot();
    const stats = pngStats(png);
    if (stats.colors < 20) throw new Error(`the screenshot looks blank: ${JSON.stringify(stats)}`);
    writeFileSync(out, png);
    console.log(`wrote ${out} (${png.length} bytes, ${stats.width}x${stats.height})`);
  } finally {
    await browser.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
