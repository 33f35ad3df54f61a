/**
 * The delay analyses stream (issue 14): `runtrace why` (by id, `--slowest`,
 * `--p99`), `stalls`, `diff` and `stats` (with its responsiveness curves)
 * on a generated trace of 2 million events (200 000 tasks), each in a child
 * process: under Deno with the JavaScript heap capped at 40 MB, well below
 * what holding every task's analysis would take, and under 200 MB peak RSS
 * in both runtimes.
 */

import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { generateTrace } from "../bench/gen_trace.ts";
import { runtime, tempDir } from "./helpers.ts";

const EVENTS = 2_000_000;
const HEAP_MB = 40;
const RSS_LIMIT = 200e6;
const cli = new URL("../cli.ts", import.meta.url).href;

let trace = "";

/** Runs the CLI in a child process; its status, peak RSS and standard output. */
function runCapped(args: string[]) {
  const script = join(tempDir(), "capped.ts");
  writeFileSync(
    script,
    `import process from "node:process";
import { readFileSync } from "node:fs";
import { main } from ${JSON.stringify(cli)};
let out = "";
const io = {
  stdout: { write(c) { out += typeof c === "string" ? c : new TextDecoder().decode(c); return Promise.resolve(); } },
  stderr: { write() { return Promise.resolve(); } },
  stdin: async function* () {},
  stderrIsTTY: false,
  stdoutIsTTY: false,
};
let sampled = 0;
const sample = () => (sampled = Math.max(sampled, process.memoryUsage().rss));
const timer = setInterval(sample, 5);
const status = await main(${JSON.stringify(args)}, io);
clearInterval(timer);
sample();
let hwm = 0;
try {
  const m = /VmHWM:\\s*(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  if (m) hwm = Number(m[1]) * 1024;
} catch { /* not Linux */ }
console.log(JSON.stringify({ status, maxRssBytes: Math.max(hwm, sampled), out: out.slice(0, 2000) }));
`,
  );
  const argv = runtime === "deno"
    ? ["run", "-A", `--v8-flags=--max-old-space-size=${HEAP_MB}`, script]
    : [script];
  const r = spawnSync(process.execPath, argv, {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 16 << 20,
  });
  assert.equal(r.signal, null, `${args.join(" ")}: killed`);
  assert.equal(r.status, 0, `${args.join(" ")}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as {
    status: number;
    maxRssBytes: number;
    out: string;
  };
}

describe(`the delay analyses on ${EVENTS} events in bounded memory`, () => {
  before(() => {
    trace = join(tempDir(), "big.trace");
    generateTrace(trace, EVENTS);
  });

  const commands: [string, () => string[], RegExp][] = [
    ["why by id", () => ["why", trace, "150000"], /^task 150000 handleRequest/],
    ["why --slowest", () => ["why", trace, "--slowest"], /^task \d+ handleRequest/],
    ["why --p99", () => ["why", trace, "--p99", "--type", "handleRequest"], /^task \d+/],
    ["stalls", () => ["stalls", trace], /^No stalls/],
    ["diff", () => ["diff", trace, trace], /handleRequest .*no significant shift/],
    ["stats", () => ["stats", trace], /events +2000000:/],
  ];
  for (const [name, args, expect] of commands) {
    test(name, { timeout: 180_000 }, () => {
      const r = runCapped(args());
      assert.equal(r.status, 0);
      assert.match(r.out, expect);
      assert.ok(r.maxRssBytes < RSS_LIMIT, `${name}: peak RSS ${r.maxRssBytes}`);
    });
  }
});
