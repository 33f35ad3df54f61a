/**
 * Feeds Trace Event JSON files to Chrome DevTools' trace engine (the
 * Performance panel's own parser, npm `@paulirish/trace_engine`) and prints
 * what it made of each, as one JSON line per file. Run by
 * tests/devtools_engine_test.ts in a child process: `ENGINE_DIR=… deno run
 * -A --node-modules-dir=manual tests/devtools_engine_runner.ts FILE…` (cwd
 * ENGINE_DIR, so that Deno resolves the engine's npm dependencies from its
 * node_modules) or `bun tests/devtools_engine_runner.ts FILE…`.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

// deno-lint-ignore no-explicit-any
type Any = any;

const dir = process.env.ENGINE_DIR!;
const entry = join(dir, "node_modules", "@paulirish", "trace_engine", "analyze-trace.mjs");
// Polyfills DOMRect, as the engine's README asks for outside a browser.
const { analyzeEvents } = await import(entry) as {
  analyzeEvents(events: unknown[]): Promise<{ parsedTrace: Any }>;
};

for (const file of process.argv.slice(2)) {
  try {
    const events = JSON.parse(readFileSync(file, "utf8"));
    const { parsedTrace } = await analyzeEvents(events);
    const data = parsedTrace.data;
    const threads: { name: string; entries: number; names: string[] }[] = [];
    for (const p of data.Renderer.processes.values()) {
      for (const t of p.threads.values()) {
        threads.push({
          name: t.name ?? "",
          entries: t.entries.length,
          names: [...new Set<string>(t.entries.map((e: Any) => e.name))],
        });
      }
    }
    const measures: Any[] = data.UserTimings.performanceMeasures;
    console.log(JSON.stringify({
      file,
      threads,
      measures: measures.length,
      measureNames: [...new Set(measures.map((m) => m.name))],
      bounds: data.Meta.traceBounds,
    }));
  } catch (e) {
    console.log(JSON.stringify({ file, error: String((e as Error)?.stack ?? e) }));
  }
}
