/**
 * Exports of pathological traces stay bounded by their input (issue 15, rows
 * 1 and 2): a 1 MiB region type used by 2 000 regions (and a 1 MiB task type
 * and log category), 20 000 concurrent `startRegion` handlers with 200 in
 * flight ending in any order, and 10 000 nested regions ended outermost
 * first. Each export runs in a child process of the runtime running the
 * tests, with a time limit, and reports its peak RSS: under 300 MB, output
 * under 64 MB, within 30 s, in every format (Chrome JSON, Perfetto, OTLP).
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { craftTrace } from "./craft_trace.ts";
import { runtime, tempDir } from "./helpers.ts";

const MB = 1e6;
const LIMITS = { rssBytes: 300 * MB, outputBytes: 64 * MB, ms: 30_000 };
const FORMATS = ["chrome", "perfetto", "otlp", "otlp-json", "otlp-metrics"];
const cli = new URL("../cli.ts", import.meta.url).pathname;

/** A deterministic pseudo-random sequence in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const traces: Record<string, () => Uint8Array> = {
  "a 1 MiB region type used by 2 000 regions, a 1 MiB task type and log category": () => {
    const long = "r".repeat(1 << 20);
    return craftTrace((w) => {
      let t = 1000;
      for (let i = 1; i <= 2000; i++) {
        w.regionBegin(t++, i, 0, long);
        w.regionEnd(t++, i);
      }
      const task = "t".repeat(1 << 20), category = "c".repeat(1 << 20);
      for (let i = 1; i <= 200; i++) {
        w.taskBegin(t++, i, 0, task);
        w.log(t++, i, category, "m");
        w.taskEnd(t++, i);
      }
    });
  },
  "20 000 concurrent startRegion handlers, 200 in flight, ending in any order": () => {
    const rnd = random(15);
    return craftTrace((w) => {
      const open: number[] = [];
      let t = 1000;
      for (let i = 1; i <= 20_000; i++) {
        w.regionBegin(t++, i, 0, `handler.${i % 7}`);
        open.push(i);
        if (open.length === 200) {
          const k = Math.floor(rnd() * open.length);
          w.regionEnd(t++, open[k]);
          open.splice(k, 1);
        }
      }
      while (open.length > 0) w.regionEnd(t++, open.splice(Math.floor(rnd() * open.length), 1)[0]);
    });
  },
  "10 000 nested regions ended outermost first": () =>
    craftTrace((w) => {
      let t = 1000;
      for (let i = 1; i <= 10_000; i++) w.regionBegin(t++, i, 0, "nested");
      for (let i = 1; i <= 10_000; i++) w.regionEnd(t++, i);
    }),
};

/** Runs `runtrace export` in a child process; its status, peak RSS and time. */
function exportInChild(input: string, output: string, format: string) {
  const script = join(tempDir(), "export.ts");
  writeFileSync(
    script,
    `import process from "node:process";
import { readFileSync } from "node:fs";
import { main } from ${JSON.stringify(new URL(`file://${cli}`).href)};
// Peak RSS: Linux's VmHWM (getrusage's maxRSS keeps the parent's peak
// across fork and exec), else sampled.
let sampled = 0;
const sample = () => (sampled = Math.max(sampled, process.memoryUsage().rss));
const timer = setInterval(sample, 5);
const status = await main(["export", ${JSON.stringify(input)}, "-o", ${
      JSON.stringify(output)
    }, "--format", ${JSON.stringify(format)}]);
clearInterval(timer);
sample();
let hwm = 0;
try {
  const m = /VmHWM:\s*(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  if (m) hwm = Number(m[1]) * 1024;
} catch { /* not Linux */ }
console.log(JSON.stringify({ status, maxRssBytes: Math.max(hwm, sampled) }));
`,
  );
  const args = runtime === "deno" ? ["run", "-A", script] : [script];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, {
    encoding: "utf8",
    timeout: LIMITS.ms,
    env: { ...process.env, NO_COLOR: "1" },
  });
  const ms = performance.now() - t0;
  assert.equal(r.signal, null, `${format}: killed after ${Math.round(ms)} ms (limit ${LIMITS.ms})`);
  assert.equal(r.status, 0, `${format}: exit ${r.status}\n${r.stderr}`);
  const line = r.stdout.trim().split("\n").at(-1)!;
  return { ...JSON.parse(line) as { status: number; maxRssBytes: number }, ms, stderr: r.stderr };
}

describe("exports of hostile traces are bounded by their input", () => {
  for (const [name, make] of Object.entries(traces)) {
    test(name, () => {
      const dir = tempDir();
      const input = join(dir, "in.trace");
      const bytes = make();
      writeFileSync(input, bytes);
      for (const format of FORMATS) {
        const output = join(dir, `out.${format}`);
        const r = exportInChild(input, output, format);
        const size = statSync(output).size;
        const at = `${format} (input ${bytes.length} bytes)`;
        assert.equal(r.status, 0, `${at}: status ${r.status}\n${r.stderr}`);
        assert.ok(size < LIMITS.outputBytes, `${at}: ${size} bytes of output`);
        assert.ok(r.maxRssBytes < LIMITS.rssBytes, `${at}: peak RSS ${r.maxRssBytes}`);
        if (format === "chrome") {
          const events = JSON.parse(readFileSync(output, "utf8")) as { ph: string }[];
          const begins = events.filter((e) => e.ph === "B").length;
          const ends = events.filter((e) => e.ph === "E").length;
          assert.equal(begins, ends, `${at}: every B has its E`);
        }
      }
    });
  }
});
