/**
 * Live OTLP export (issue 12): the realistic workload's throughput traced to
 * a file, and traced to a file with `otlp` on, alternated run by run
 * (medians); the spans per second the worker converts and delivers (spans
 * sent over the time from start to stop's end); and the same with a
 * receiver that never answers (drops counted, stop bounded). The receiver
 * is a child process on 127.0.0.1 that reads each request and answers 200:
 * not in the traced process, though it shares the machine's cores with it.
 *
 * Run: `deno run -A bench/otlp_live_bench.ts` or `bun bench/otlp_live_bench.ts`
 * (`--runs N`, default 5; `--requests N` per run, default 10 000).
 *
 * @module
 */

import process from "node:process";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { makeDocument, runWorkload } from "./workload.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const runs = arg("--runs", 5);
const requests = arg("--requests", 10_000);

/** A receiver in a child process: answers 200 (or never, `silent`); resolves to its URL. */
function sink(silent: boolean): Promise<{ url: string; kill: () => void }> {
  const code = `
    const http = require("node:http");
    const s = http.createServer((req, res) => {
      req.on("data", () => {});
      req.on("end", () => { if (!${silent}) { res.writeHead(200); res.end(); } });
    });
    s.listen(0, "127.0.0.1", () => console.log(s.address().port));`;
  const isDeno = "Deno" in globalThis;
  const child = spawn(
    process.execPath,
    isDeno
      ? [
        "eval",
        "--ext=js",
        `import { createRequire } from "node:module"; const require = createRequire(import.meta.url);${code}`,
      ]
      : ["-e", code],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise((resolve) => {
    child.stdout!.once("data", (d: Uint8Array) => {
      resolve({
        url: `http://127.0.0.1:${String(d).trim()}`,
        kill: () => child.kill(),
      });
    });
  });
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const dir = mkdtempSync(join(tmpdir(), "runtrace-otlp-bench-"));
const body = makeDocument();
await runWorkload({ requests: 2000, body }); // warm the JIT

const up = await sink(false);
const down = await sink(true);
const rates: Record<string, number[]> = { file: [], otlp: [], down: [] };
const spanRates: number[] = [];
const stops: number[] = [];
let dropped = 0, sent = 0;
for (let i = 0; i < runs; i++) {
  for (const mode of ["file", "otlp", "down"] as const) {
    const otlp = mode === "file"
      ? undefined
      : { endpoint: mode === "otlp" ? up.url : down.url, stopTimeout: 2000 };
    const t0 = performance.now();
    await trace.start(join(dir, `${mode}.trace`), { otlp });
    const r = await runWorkload({ requests, body });
    const s0 = performance.now();
    const stats = await trace.stop();
    const end = performance.now();
    rates[mode].push(r.rate);
    if (mode === "otlp") {
      spanRates.push(stats.otlp!.sent / ((end - t0) / 1000));
      sent += stats.otlp!.sent;
      dropped += stats.otlp!.dropped;
    }
    if (mode === "down") stops.push(end - s0);
  }
}
up.kill();
down.kill();
const rt = "Bun" in globalThis ? `bun ${process.versions.bun}` : `deno ${process.versions.deno}`;
console.log(`${rt}, ${runs} runs of ${requests} requests each, load ${loadavg()[0].toFixed(2)}`);
const f = median(rates.file);
console.log(`file only:          ${f.toFixed(0)} requests/s`);
console.log(
  `file + otlp:        ${median(rates.otlp).toFixed(0)} requests/s (${
    (100 * median(rates.otlp) / f).toFixed(1)
  }% of file only); ${
    median(spanRates).toFixed(0)
  } spans/s delivered; ${sent} sent, ${dropped} dropped`,
);
console.log(
  `file + otlp, down:  ${median(rates.down).toFixed(0)} requests/s (${
    (100 * median(rates.down) / f).toFixed(1)
  }%); stop() ${median(stops).toFixed(0)} ms`,
);
