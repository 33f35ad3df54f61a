/**
 * The runtrace CLI: golden outputs of every command (text and --json) on the
 * committed fixture traces, standard input, and the one-line errors.
 *
 * Regenerate the goldens after an intended change of output with
 * `UPDATE_GOLDEN=1 deno test -A tests/cli_test.ts`, and review the diff.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runCli } from "./cli_run.ts";
import { generateTrace } from "../bench/gen_trace.ts";
import * as trace from "../mod.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const CAPPUCCINO = here("./fixtures/cappuccino.trace");
const WORKLOAD = here("./fixtures/workload.trace");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

/** Output with the fixture directory written as in the repository. */
function portable(s: string): string {
  return s.replaceAll(here("./fixtures/"), "tests/fixtures/");
}

function golden(name: string, actual: string): void {
  actual = portable(actual);
  // The .golden suffix keeps formatters (deno fmt formats .json) off them.
  const path = here(`./golden/${name}.golden`);
  if (UPDATE) {
    writeFileSync(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(path, "utf8");
  } catch {
    throw new Error(`golden file ${name}.golden is missing: run with UPDATE_GOLDEN=1 to create it`);
  }
  assert.equal(actual, expected, `output differs from tests/golden/${name}.golden`);
}

const cases: [string, string[]][] = [
  ["cappuccino.stats.txt", ["stats", CAPPUCCINO]],
  ["cappuccino.stats.json", ["stats", CAPPUCCINO, "--json"]],
  ["cappuccino.tasks.txt", ["tasks", CAPPUCCINO]],
  ["cappuccino.tasks.json", ["tasks", CAPPUCCINO, "--json"]],
  ["cappuccino.tasks-type.txt", ["tasks", CAPPUCCINO, "--type", "makeCappuccino"]],
  ["cappuccino.tasks-type.json", ["tasks", CAPPUCCINO, "--type=makeCappuccino", "--json"]],
  ["cappuccino.regions.txt", ["regions", CAPPUCCINO]],
  ["cappuccino.regions.json", ["regions", CAPPUCCINO, "--json"]],
  ["cappuccino.logs.txt", ["logs", CAPPUCCINO]],
  ["cappuccino.logs.json", ["logs", CAPPUCCINO, "--json"]],
  ["cappuccino.export.json", ["export", CAPPUCCINO]],
  ["workload.stats.txt", ["stats", WORKLOAD]],
  ["workload.stats.json", ["stats", WORKLOAD, "--json"]],
  ["workload.tasks.txt", ["tasks", WORKLOAD]],
  ["workload.tasks.json", ["tasks", WORKLOAD, "--json"]],
  ["workload.tasks-slow.txt", ["tasks", WORKLOAD, "--type", "handleRequest", "--min", "13ms"]],
  ["workload.tasks-slow.json", [
    "tasks",
    WORKLOAD,
    "--type",
    "handleRequest",
    "--min",
    "13ms",
    "--json",
  ]],
  ["workload.tasks-logtext.txt", ["tasks", WORKLOAD, "--log-text", "500", "--max", "1s"]],
  ["workload.regions.txt", ["regions", WORKLOAD]],
  ["workload.regions.json", ["regions", WORKLOAD, "--json"]],
  ["workload.regions-type.txt", ["regions", WORKLOAD, "--type", "db.query"]],
  ["workload.logs.txt", ["logs", WORKLOAD]],
  ["workload.logs.json", ["logs", WORKLOAD, "--json"]],
  ["workload.logs-filter.txt", ["logs", WORKLOAD, "--category", "status", "--grep", "500"]],
  ["workload.logs-task.json", ["logs", WORKLOAD, "--task", "5", "--json"]],
  ["workload.export.json", ["export", WORKLOAD, "--format", "chrome"]],
];

/** A test that runs the CLI with `args` and compares its output with golden file `name`. */
function goldenTest(name: string, args: string[]): void {
  test(`runtrace ${args.map((a) => a.replace(/^.*\/fixtures\//, "")).join(" ")}`, async () => {
    const r = await runCli(args);
    assert.equal(r.status, 0, r.stderr);
    if (name.endsWith(".json")) JSON.parse(r.stdout);
    golden(name, r.stdout);
  });
}

describe("golden outputs", () => {
  for (const [name, args] of cases) goldenTest(name, args);

  test("runtrace export --format perfetto writes the same bytes every time", async () => {
    const r = await runCli(["export", WORKLOAD, "--format", "perfetto"]);
    assert.equal(r.status, 0, r.stderr);
    const path = here("./golden/workload.export.pftrace.golden");
    if (UPDATE) writeFileSync(path, r.bytes);
    assert.deepEqual(r.bytes, new Uint8Array(readFileSync(path)));
  });

  test("the workload's repairs are reported on standard error", async () => {
    const r = await runCli(["export", WORKLOAD, "-o", "-"]);
    assert.equal(r.status, 0);
    assert.match(r.stderr, /region slices were split/);
    assert.match(r.stderr, /1 tasks had not ended/);
    const t = await runCli(["tasks", WORKLOAD]);
    assert.match(t.stderr, /^runtrace: note: the trace shows misuse: region \d+ "load"/);
  });
});

describe("input", () => {
  test("- reads the trace from standard input", async () => {
    const bytes = new Uint8Array(readFileSync(WORKLOAD));
    for (const command of ["stats", "tasks", "regions", "logs", "export"]) {
      const fromFile = await runCli([command, WORKLOAD, "--json"]);
      const fromStdin = await runCli([command, "-", "--json"], bytes);
      assert.equal(fromStdin.status, 0, fromStdin.stderr);
      if (command === "export") {
        assert.equal(fromStdin.stderr, fromFile.stderr.replace(WORKLOAD, "-"));
      } else {
        assert.equal(fromStdin.stdout, fromFile.stdout, command);
      }
    }
  });

  test("a truncated trace is analysed up to its last complete batch, with a warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runtrace-cli-"));
    try {
      const bytes = readFileSync(WORKLOAD);
      const cut = join(dir, "cut.trace");
      writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      for (const command of ["stats", "tasks", "regions", "logs", "export"]) {
        const r = await runCli([command, cut]);
        assert.equal(r.status, 3, `${command}: ${r.stderr}`);
        assert.match(r.stderr, /warning: .*cut\.trace is truncated after \d+ bytes/);
        assert.ok(r.stdout.length > 0, command);
        assert.ok(!r.stderr.includes("    at "), "no stack trace");
      }
      // A trace of many batches, cut inside one: the complete ones are read.
      const big = join(dir, "big.trace");
      generateTrace(big, 40_000);
      const bigBytes = readFileSync(big);
      writeFileSync(cut, bigBytes.subarray(0, Math.floor(bigBytes.length * 0.6)));
      const stats = JSON.parse((await runCli(["stats", cut, "--json"])).stdout);
      assert.equal(stats.truncated, true);
      assert.ok(stats.events > 8192 && stats.events < 40_000, String(stats.events));
      const chrome = await runCli(["export", cut]);
      assert.ok(Array.isArray(JSON.parse(chrome.stdout)), "the export is still valid JSON");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("errors: one line on standard error, a non-zero status", () => {
  const oneLine = (s: string) => {
    assert.equal(s.split("\n").filter((l) => l !== "").length, 1, s);
    assert.match(s, /^runtrace: /);
    assert.ok(!s.includes("    at "), "no stack trace");
  };

  test("a missing file", async () => {
    for (const command of ["stats", "tasks", "regions", "logs", "export"]) {
      const r = await runCli([command, "/nonexistent/trace.out"]);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, "");
      oneLine(r.stderr);
      assert.match(r.stderr, /cannot open \/nonexistent\/trace\.out: no such file or directory/);
    }
  });

  test("a file that is not a trace", async () => {
    const r = await runCli(["stats", here("./fixtures/workload.ts")]);
    assert.equal(r.status, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /workload\.ts: not a runtrace trace/);
  });

  test("an empty input", async () => {
    const r = await runCli(["logs", "-"], new Uint8Array(0));
    assert.equal(r.status, 1);
    oneLine(r.stderr);
    assert.match(r.stderr, /empty input/);
  });

  test("a directory", async () => {
    const r = await runCli(["stats", here("./fixtures")]);
    assert.equal(r.status, 1);
    oneLine(r.stderr);
  });

  test("usage errors exit with status 2", async () => {
    const bad: [string[], RegExp][] = [
      [["stats", CAPPUCCINO, "--bogus"], /unknown flag --bogus for "runtrace stats"/],
      [["tasks", CAPPUCCINO, "--min", "soon"], /invalid duration "soon"/],
      [["tasks", CAPPUCCINO, "--type"], /--type .* needs a value/],
      [["logs", CAPPUCCINO, "--task", "x"], /needs a whole number/],
      [["export", CAPPUCCINO, "--format", "svg"], /must be one of chrome, perfetto/],
      [["stats"], /needs a trace file/],
      [["stats", CAPPUCCINO, WORKLOAD], /takes one trace file/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["stats", CAPPUCCINO, "-x"], /unknown flag -x/],
    ];
    for (const [args, re] of bad) {
      const r = await runCli(args);
      assert.equal(r.status, 2, args.join(" "));
      oneLine(r.stderr);
      assert.match(r.stderr, re);
    }
  });

  test("help", async () => {
    const r = await runCli(["help"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /runtrace stats FILE/);
    assert.equal((await runCli([])).status, 2);
  });

  test("--version prints the version of package.json and deno.json", async () => {
    const r = await runCli(["--version"]);
    assert.equal(r.status, 0);
    const pkg = JSON.parse(readFileSync(here("../package.json"), "utf8"));
    const deno = JSON.parse(readFileSync(here("../deno.json"), "utf8"));
    assert.equal(r.stdout, `runtrace ${pkg.version}\n`);
    assert.equal(deno.version, pkg.version);
  });
});

describe("the real process", () => {
  const cli = here("../cli.ts");
  const isDeno = "Deno" in globalThis;
  const spawn = (args: string[]) =>
    spawnSync(process.execPath, isDeno ? ["run", "-A", cli, ...args] : [cli, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });

  test("exit statuses and messages reach the shell", () => {
    const ok = spawn(["stats", CAPPUCCINO]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /3 begun, 3 ended/);
    const missing = spawn(["stats", "/nonexistent/x.trace"]);
    assert.equal(missing.status, 1);
    assert.equal(missing.stderr.trim().split("\n").length, 1, missing.stderr);
    const flag = spawn(["tasks", CAPPUCCINO, "--nope"]);
    assert.equal(flag.status, 2);
    assert.equal(flag.stderr.trim().split("\n").length, 1, flag.stderr);
  });
});

describe("the analysis model and durations", () => {
  test("Go's histogram buckets: five per power of ten, powers of ten start a bucket", async () => {
    const { bucketOf, bucketStart, LatencyHistogram } = await import("../lib/read/analysis.ts");
    assert.equal(bucketOf(0), 0);
    assert.equal(bucketOf(1), 0);
    assert.equal(bucketOf(1000), 15);
    assert.equal(bucketOf(999), 14);
    assert.equal(bucketOf(1e6), 30);
    for (let b = 1; b < 60; b++) {
      assert.equal(bucketOf(bucketStart(b)), b, `start of bucket ${b}`);
      assert.equal(bucketOf(bucketStart(b) - 1), b - 1, `just below bucket ${b}`);
    }
    const h = new LatencyHistogram();
    for (const d of [1e6, 1.2e6, 3e6]) h.add(d);
    assert.deepEqual(h.buckets().map((b) => [b.bucket, b.count]), [[30, 2], [31, 0], [32, 1]]);
  });

  test("percentiles are nearest-rank", async () => {
    const { percentile, summarizeLatencies } = await import("../lib/read/analysis.ts");
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(xs, 50), 50);
    assert.equal(percentile(xs, 90), 90);
    assert.equal(percentile(xs, 99), 99);
    assert.equal(percentile(xs, 100), 100);
    assert.equal(percentile([7], 99), 7);
    const s = summarizeLatencies([3, 1, 2])!;
    assert.deepEqual([s.min, s.p50, s.max, s.mean, s.total], [1, 2, 3, 2, 6]);
    assert.equal(summarizeLatencies([]), undefined);
  });

  test("durations print with three significant digits and parse as Go writes them", async () => {
    const { formatDuration, parseDuration } = await import("../lib/read/duration.ts");
    const cases: [number, string][] = [
      [0, "0ns"],
      [999, "999ns"],
      [1000, "1.00µs"],
      [12_345, "12.3µs"],
      [999_960, "1.00ms"],
      [1_250_000, "1.25ms"],
      [2.5e9, "2.50s"],
      [61e9, "1m01s"],
      [3725e9, "1h02m05s"],
    ];
    for (const [ns, text] of cases) assert.equal(formatDuration(ns), text);
    assert.equal(parseDuration("1.5ms"), 1_500_000);
    assert.equal(parseDuration("200us"), 200_000);
    assert.equal(parseDuration("200µs"), 200_000);
    assert.equal(parseDuration("1m30s"), 90e9);
    assert.equal(parseDuration("0"), 0);
    for (const bad of ["", "5", "1.5", "ms", "1x", "-1ms"]) {
      assert.throws(() => parseDuration(bad), RangeError, bad);
    }
  });
});

describe("stacks", { skip: isTracedTestRun() ? "RUNTRACE holds the trace" : false }, () => {
  test("runtrace tasks --type prints where each event was called", async () => {
    const dir = mkdtempSync(join(tmpdir(), "runtrace-cli-stacks-"));
    const path = join(dir, "stacks.trace");
    await trace.start(path, { stacks: true, runtime: false });
    const [ctx, task] = trace.newTask("withStacks");
    trace.log(ctx, "step", "one");
    trace.startRegion(ctx, "stacked").end();
    task.end();
    await trace.stop();
    const r = await runCli(["tasks", "--type", "withStacks", path]);
    assert.equal(r.status, 0, r.stderr);
    const at = r.stdout.split("\n").filter((l) => /^\s+at .*cli_test\.ts:\d+:\d+/.test(l));
    assert.equal(at.length, 3, r.stdout); // task begin, log, region
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("the delay analysis on the slow-requests fixture: why, stalls, diff", () => {
  const SLOW = here("./fixtures/slow_requests.trace");
  const AFTER = here("./fixtures/slow_requests_after.trace");
  const delayCases: [string, string[]][] = [
    ["slow.why-stall.txt", ["why", SLOW, "689"]],
    ["slow.why-query.txt", ["why", SLOW, "1702"]],
    ["slow.why-lock.txt", ["why", SLOW, "1507"]],
    ["slow.why-p99.txt", ["why", SLOW, "--p99", "--type", "http.request"]],
    ["slow.why-slowest.json", ["why", SLOW, "--slowest", "--json"]],
    ["slow.stats.txt", ["stats", SLOW]],
    ["slow.tasks-type.txt", ["tasks", SLOW, "--type", "http.request", "--min", "100ms"]],
    ["slow.tasks-type.json", ["tasks", SLOW, "--type", "http.request", "--min", "100ms", "--json"]],
    ["slow.tasks.csv", ["tasks", SLOW, "--csv"]],
    ["slow.tasks-type.csv", ["tasks", SLOW, "--type", "http.request", "--min", "100ms", "--csv"]],
    ["slow.regions.csv", ["regions", SLOW, "--csv"]],
    ["slow.stalls.txt", ["stalls", SLOW]],
    ["slow.stalls.json", ["stalls", SLOW, "--json"]],
    ["slow.diff.txt", ["diff", SLOW, AFTER]],
    ["slow.diff.json", ["diff", SLOW, AFTER, "--json"]],
  ];
  for (const [name, args] of delayCases) goldenTest(name, args);

  test("why names the cause of each slow request", async () => {
    const why = async (id: number) => {
      const r = await runCli(["why", SLOW, String(id)]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split("\n").filter((l) => /^(Why|Also):/.test(l)).join("\n");
    };
    for (let id = 689; id <= 698; id++) {
      assert.match(
        await why(id),
        /^Why: delayed 156ms by a stall in report\.build \(report\.daily #701\)/,
        `task ${id}`,
      );
    }
    for (const id of [151, 421, 1102, 1352, 1702]) {
      assert.match(await why(id), /^Why: spent \S+ in its own regions, most in db\.query/, `${id}`);
    }
    for (let id = 1503; id <= 1507; id++) {
      assert.match(
        await why(id),
        /^Why: waited .* after "lock: waiting for inventory"/,
        `task ${id}`,
      );
    }
  });

  test("stalls lists the report.build stall with its ten victims", async () => {
    const r = await runCli(["stalls", SLOW, "--json"]);
    const [main] = JSON.parse(r.stdout).stalls;
    assert.equal(main.regionType, "report.build");
    assert.equal(main.taskType, "report.daily");
    assert.equal(main.victims.length, 10);
  });

  test("diff --fail-above exits 4 on a regression, 0 without one", async () => {
    const worse = await runCli(["diff", AFTER, SLOW, "--fail-above", "10%"]);
    assert.equal(worse.status, 4);
    assert.match(worse.stderr, /^runtrace: regression: task http\.request is slower/);
    const better = await runCli(["diff", SLOW, AFTER, "--fail-above", "10%"]);
    assert.equal(better.status, 0, better.stderr);
  });

  test("why TASK_ID, stalls and diff read - from standard input", async () => {
    const bytes = new Uint8Array(readFileSync(SLOW));
    for (
      const [a, b] of [
        [["why", SLOW, "689"], ["why", "-", "689"]],
        [["why", SLOW, "--slowest"], ["why", "-", "--slowest"]],
        [["why", SLOW, "--p99", "--type", "http.request", "--json"], [
          "why",
          "-",
          "--p99",
          "--type",
          "http.request",
          "--json",
        ]],
        [["stalls", SLOW, "--json"], ["stalls", "-", "--json"]],
        [["diff", SLOW, AFTER, "--json"], ["diff", "-", AFTER, "--json"]],
      ]
    ) {
      const fromFile = await runCli(a);
      const fromStdin = await runCli(b, bytes);
      assert.equal(fromStdin.status, 0, fromStdin.stderr);
      assert.equal(fromStdin.stdout.replaceAll('"-"', JSON.stringify(SLOW)), fromFile.stdout);
    }
  });

  test("why and diff refuse bad usage in one line", async () => {
    for (
      const args of [
        ["why", SLOW],
        ["why", SLOW, "--p99"],
        ["why", "-", "--slowest", "--p99"],
        ["why", SLOW, "abc"],
        ["diff", SLOW],
        ["diff", SLOW, AFTER, "--fail-above", "ten"],
        ["diff", "-", "-"],
      ]
    ) {
      const r = await runCli(args);
      assert.equal(r.status, 2, args.join(" "));
      assert.equal(r.stderr.split("\n").filter((l) => l !== "").length, 1, r.stderr);
    }
    const missing = await runCli(["why", SLOW, "99999"]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no task 99999/);
  });
});
