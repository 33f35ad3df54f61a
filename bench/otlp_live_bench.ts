/**
 * Live OTLP export (issue 12): the realistic workload's throughput traced to
 * a file, and traced to a file with `otlp` on, alternated run by run
 * (medians), so that both sides see the same load; the process CPU per
 * traced event of each (the difference is the live export's cost, nearly
 * all of it the drain worker's); the spans per second delivered; the same
 * with a receiver that never answers (drops counted, stop bounded); and the
 * memory held by a live export whose receiver never answers, sampled over
 * `--down-seconds` of continuous traffic. The receiver is a child process on
 * 127.0.0.1 that reads each request and answers 200: not in the traced
 * process, though it shares the machine's cores with it.
 *
 * Run: `deno run -A bench/otlp_live_bench.ts` or `bun bench/otlp_live_bench.ts`
 * (`--runs N`, default 7; `--requests N` per run, default 10 000;
 * `--down-seconds S`, default 30, 0 to skip).
 *
 * @module
 */

import process from "node:process";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { makeDocument, runWorkload } from "./workload.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const runs = arg("--runs", 7);
const requests = arg("--requests", 10_000);
const downSeconds = arg("--down-seconds", 30);

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
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/**
 * CPU time, ms, of the drain worker's thread (Linux: `/proc/self/task`, in
 * 10 ms ticks; the thread is "worker-N" in Deno, "Worker" in Bun), or NaN.
 */
const workerCpuMs = () => {
  try {
    let ticks = 0;
    for (const t of readdirSync("/proc/self/task")) {
      const comm = readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim();
      if (!/^(worker-\d+|Worker)$/.test(comm)) continue;
      const st = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    }
    return ticks * 10;
  } catch {
    return NaN;
  }
};
const MiB = (b: number) => (b / 1048576).toFixed(1);
const dir = mkdtempSync(join(tmpdir(), "runtrace-otlp-bench-"));
const body = makeDocument();
await runWorkload({ requests: 2000, body }); // warm the JIT
const loads = [loadavg()[0]];

const up = await sink(false);
const down = await sink(true);
type Mode = "file" | "otlp" | "down";
const rates: Record<Mode, number[]> = { file: [], otlp: [], down: [] };
/** Per mode, summed over the runs (the worker's ticks are 10 ms: one run has too few). */
const used = {
  file: { cpu: 0, worker: 0, events: 0 },
  otlp: { cpu: 0, worker: 0, events: 0 },
  down: { cpu: 0, worker: 0, events: 0 },
};
const spanRates: number[] = [];
const stops: number[] = [];
let dropped = 0, sent = 0, downDropped = 0;
for (let i = 0; i < runs; i++) {
  // Alternate which side goes first, so a drift in the load favours neither.
  const order: Mode[] = i % 2 === 0 ? ["file", "otlp", "down"] : ["otlp", "file", "down"];
  for (const mode of order) {
    const otlp = mode === "file"
      ? undefined
      : { endpoint: mode === "otlp" ? up.url : down.url, stopTimeout: 2000 };
    const c0 = cpuMs(), w0 = workerCpuMs();
    const t0 = performance.now();
    await trace.start(join(dir, `${mode}.trace`), { otlp });
    const r = await runWorkload({ requests, body });
    const s0 = performance.now();
    const stats = await trace.stop();
    const end = performance.now();
    rates[mode].push(r.rate);
    used[mode].cpu += cpuMs() - c0;
    used[mode].worker += workerCpuMs() - w0;
    used[mode].events += stats.events;
    if (mode === "otlp") {
      spanRates.push(stats.otlp!.sent / ((end - t0) / 1000));
      sent += stats.otlp!.sent;
      dropped += stats.otlp!.dropped;
    }
    if (mode === "down") {
      stops.push(end - s0);
      downDropped += stats.otlp!.dropped;
    }
  }
  loads.push(loadavg()[0]);
}
up.kill();

const rt = "Bun" in globalThis ? `bun ${process.versions.bun}` : `deno ${process.versions.deno}`;
const f = median(rates.file);
/** ns per event of the process (`cpu`) or the drain worker's thread (`worker`). */
const per = (mode: Mode, what: "cpu" | "worker") => used[mode][what] * 1e6 / used[mode].events;
const cf = per("file", "cpu"), co = per("otlp", "cpu");
const wf = per("file", "worker"), wo = per("otlp", "worker");
console.log(
  `${rt}, ${runs} runs of ${requests} requests each, load (1 min) ${
    Math.min(...loads).toFixed(2)
  }–${Math.max(...loads).toFixed(2)}`,
);
console.log(
  `file only:          ${f.toFixed(0)} requests/s; CPU per event: process ${
    cf.toFixed(0)
  } ns, drain worker ${wf.toFixed(0)} ns`,
);
console.log(
  `file + otlp:        ${median(rates.otlp).toFixed(0)} requests/s (${
    (100 * median(rates.otlp) / f).toFixed(1)
  }% of file only); CPU per event: process ${co.toFixed(0)} ns (+${
    (co - cf).toFixed(0)
  }), drain worker ${wo.toFixed(0)} ns (+${(wo - wf).toFixed(0)}); ${
    median(spanRates).toFixed(0)
  } spans/s delivered; ${sent} sent, ${dropped} dropped`,
);
console.log(
  `file + otlp, down:  ${median(rates.down).toFixed(0)} requests/s (${
    (100 * median(rates.down) / f).toFixed(1)
  }%); drain worker ${per("down", "worker").toFixed(0)} ns/event; stop() ${
    median(stops).toFixed(0)
  } ms; ${downDropped} dropped`,
);

if (downSeconds > 0) {
  // Continuous traffic for `downSeconds` into a receiver that never answers.
  await trace.start(join(dir, "down-long.trace"), { otlp: { endpoint: down.url } });
  const rss0 = process.memoryUsage.rss();
  const samples: number[] = [];
  const t0 = performance.now();
  let served = 0;
  while (performance.now() - t0 < downSeconds * 1000) {
    served += (await runWorkload({ requests: 1000, body })).requests;
    samples.push(process.memoryUsage.rss());
  }
  const s0 = performance.now();
  const stats = await trace.stop();
  const stopMs = performance.now() - s0;
  const last = samples.slice(-Math.max(1, samples.length >> 2));
  console.log(
    `receiver down ${downSeconds} s: ${served} requests, ${stats.otlp!.dropped} spans dropped, ${
      stats.otlp!.sent
    } sent; RSS ${MiB(rss0)} MiB at start, max ${MiB(Math.max(...samples))} MiB, last quarter ${
      MiB(Math.min(...last))
    }–${MiB(Math.max(...last))} MiB; stop() ${stopMs.toFixed(0)} ms`,
  );
}
down.kill();
