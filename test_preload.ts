/**
 * Preload for traced test runs, Go's `go test -trace` for Bun and Deno. It
 * does nothing unless `RUNTRACE` names a trace file.
 *
 * - Bun: `bunfig.toml` has `[test] preload = ["./test_preload.ts"]`, then
 *   `RUNTRACE=trace.out bun test`.
 * - Deno: `RUNTRACE=trace.out deno test -A --preload=./test_preload.ts tests/`.
 *   Each test module runs in an isolate of its own and writes its own part
 *   (`trace.api_test.out`, ...); after each module the parts are merged into
 *   `trace.out`, one trace of the run with each module as a thread.
 *
 * @example Read the run back: which tests were slowest
 * ```ts
 * import { parseTrace } from "./read.ts";
 * const t = parseTrace(await Deno.readFile("trace.out"));
 * const ms = (x: { start?: number; end?: number }) => ((x.end ?? 0) - (x.start ?? 0)) / 1e6;
 * for (const task of t.tasks.sort((a, b) => ms(b) - ms(a)).slice(0, 5)) {
 *   console.log(task.type, ms(task).toFixed(1), "ms", task.logs.at(-1)?.message);
 * }
 * ```
 *
 * @module
 */

import { traceBunTestRun, traceDenoTestRun } from "./lib/testing/test_tracing.ts";

if ("Bun" in globalThis) await traceBunTestRun();
else if ("Deno" in globalThis) await traceDenoTestRun();
