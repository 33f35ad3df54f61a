/**
 * The Chrome export against its real consumer: Chrome DevTools' trace engine
 * (the Performance panel's parser, npm `@paulirish/trace_engine`, a dev-only
 * tool installed into a cache directory, see dev_tools.ts) parses the export
 * of every fixture and of a trace recorded with worker threads, runtime
 * counters, stalls and lost events, and shows its regions on the threads
 * and its tasks as measures. The engine runs in a child process of the
 * runtime running the tests (tests/devtools_engine_runner.ts): under Deno it
 * needs a node_modules directory for its npm imports, which the repository's
 * configuration turns off.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { parseTrace } from "../read.ts";
import { ChromeExporter } from "../lib/export/chrome.ts";
import { devTool } from "./dev_tools.ts";
import { exportTrace, runFile, runtime, tempDir } from "./helpers.ts";

const here = (p: string) => new URL(p, import.meta.url).pathname;
const engine = devTool("trace_engine", "@paulirish/trace_engine", "0.0.65");

/** The Chrome export of a trace file's bytes. */
export function chromeExport(bytes: Uint8Array): Uint8Array {
  return exportTrace(new ChromeExporter(), bytes);
}

interface EngineResult {
  file: string;
  error?: string;
  threads: { name: string; entries: number; names: string[] }[];
  measures: number;
  measureNames: string[];
}

/** Runs the engine on `files` in a child process; one result per file. */
function runEngine(dir: string, files: string[]): EngineResult[] {
  const runner = here("./devtools_engine_runner.ts");
  const args = runtime === "deno"
    ? ["run", "-A", "--node-modules-dir=manual", runner, ...files]
    : [runner, ...files];
  const r = spawnSync(process.execPath, args, {
    cwd: dir,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, ENGINE_DIR: dir, NO_COLOR: "1" },
    maxBuffer: 64 << 20,
  });
  assert.equal(r.status, 0, `the engine runner failed:\n${r.stderr}`);
  return r.stdout.trim().split("\n").map((l) => JSON.parse(l));
}

describe("Chrome DevTools' trace engine loads the Chrome export", { skip: engine.skip }, () => {
  test("every fixture and a trace with workers, counters, stalls and lost events", {
    timeout: 120_000,
  }, () => {
    const dir = tempDir();
    const sources: string[] = readdirSync(here("./fixtures"))
      .filter((f) => f.endsWith(".trace"))
      .map((f) => here(`./fixtures/${f}`));
    const rich = join(dir, "rich.trace");
    const rec = runFile(here("./fixtures/rich.ts"), { args: [rich], timeoutMs: 60_000 });
    assert.equal(rec.status, 0, rec.stderr);
    sources.push(rich);
    const jsons = sources.map((src, i) => {
      const out = join(dir, `export-${i}.json`);
      writeFileSync(out, chromeExport(new Uint8Array(readFileSync(src))));
      return out;
    });
    const results = runEngine(engine.dir!, jsons);
    assert.equal(results.length, sources.length);
    results.forEach((res, i) => {
      const src = sources[i];
      assert.equal(res.error, undefined, `${src}: the engine threw: ${res.error}`);
      const t = parseTrace(new Uint8Array(readFileSync(src)));
      const threadNames = new Set(res.threads.map((th) => th.name));
      for (const th of t.threads) {
        assert.ok(threadNames.has(th.name), `${src}: thread ${th.name} missing`);
      }
      const entryNames = new Set(res.threads.flatMap((th) => th.names));
      for (const type of new Set(t.regions.map((r) => r.type))) {
        assert.ok(entryNames.has(type), `${src}: region type ${type} not on any thread`);
      }
      const measured = new Set(res.measureNames);
      for (const type of new Set(t.tasks.map((x) => x.type).filter((x) => x !== ""))) {
        assert.ok(measured.has(type), `${src}: task type ${type} not among the measures`);
      }
      const regions = res.threads.reduce(
        (n, th) => n + th.entries,
        0,
      );
      assert.ok(regions >= t.regions.length, `${src}: ${regions} entries < ${t.regions.length}`);
      assert.ok(res.measures >= t.tasks.length, `${src}: ${res.measures} < ${t.tasks.length}`);
      if (src === rich) {
        assert.ok(t.lost > 0, "the rich trace lost events");
        assert.ok(t.threads.length >= 3, "the rich trace has worker threads");
        assert.ok(entryNames.has("stall"), "stalls are on a track");
      }
    });
  });
});
