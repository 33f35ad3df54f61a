/**
 * Benchmarks of every runtrace CLI command on generated traces of 1 M and
 * 10 M events (and 100 M with `--huge`): each command runs as a child
 * process, timed by `/usr/bin/time`, which gives its wall time, its CPU time
 * (user + system: steadier than wall time on a shared machine) and its peak
 * resident memory. Events/s is the trace's events over the child's whole
 * time, process start included. Output is Markdown for bench/README.md.
 *
 * The traces are written by bench/gen_trace.ts into a temporary directory
 * (`--dir`), kept there between runs (generating 100 M events takes a
 * minute) and never inside the repository; the 100 M-event trace needs
 * about 1 GB of free space, and its Chrome export 11 GB more while it runs
 * (each output is deleted after its run): checked first.
 *
 * ```
 * deno run -A bench/cli_bench.ts [options]      # the commands in Deno
 * bun bench/cli_bench.ts [options]              # the commands in Bun
 *   --runtimes=deno,bun  run the commands in these runtimes (default: the one running this)
 *   --sizes=1M,10M       trace sizes (default 1M,10M; --huge adds 100M)
 *   --huge               also 100 M events
 *   --runs=N             runs per case, the one with the least CPU time reported (default 3)
 *   --only=S             only the commands whose name contains S
 *   --dir=PATH           where the traces go (default: $TMPDIR/runtrace-cli-bench)
 *   --trace=PATH         one given trace instead of generated ones
 *   --semi-space         Deno also with --v8-flags=--max-semi-space-size=4
 * ```
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { generateTrace } from "./gen_trace.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const has = (name: string) => args.includes(`--${name}`);
const self = typeof (globalThis as { Deno?: unknown }).Deno === "object" ? "deno" : "bun";
const runtimeNames = (flag("runtimes") ?? self).split(",");
const runs = Number(flag("runs") ?? 3);
const only = flag("only");
const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "cli.ts");
const dir = flag("dir") ?? join(tmpdir(), "runtrace-cli-bench");
mkdirSync(dir, { recursive: true });

/** "1M" → 1 000 000. */
function count(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kM]?)$/.exec(text);
  if (!m) throw new Error(`bad size ${text}: use 1M, 10M, 100M or a number`);
  return Math.round(Number(m[1]) * (m[2] === "M" ? 1e6 : m[2] === "k" ? 1e3 : 1));
}

const sizes = flag("trace") ? [] : (flag("sizes") ?? "1M,10M").split(",").map(count);
if (has("huge") && !sizes.includes(100e6)) sizes.push(100e6);

/** Bytes free where `path` lives, from `df` (undefined if it cannot tell). */
function freeBytes(path: string): number | undefined {
  const r = spawnSync("df", ["-Pk", path], { encoding: "utf8" });
  const kb = Number((r.stdout ?? "").trim().split("\n").pop()?.split(/\s+/)[3]);
  return Number.isFinite(kb) ? kb * 1024 : undefined;
}

/** The trace of `events` events in `dir`, generated unless it is there. */
function traceOf(events: number): string {
  const path = join(dir, `gen-${events}.trace`);
  if (existsSync(path)) return path;
  // About 10 bytes per event with the generator's workload, plus the
  // largest export's output (Chrome JSON, about 106 bytes per event; deleted
  // after each run).
  const need = events * (10 + 115);
  const free = freeBytes(dir);
  if (free !== undefined && free < need) {
    throw new Error(
      `${dir} has ${(free / 1e9).toFixed(1)} GB free; ${events} events need about ${
        (need / 1e9).toFixed(1)
      } GB (trace and output): use --dir`,
    );
  }
  const t0 = performance.now();
  generateTrace(path, events);
  console.error(`generated ${path} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return path;
}

/** How one command ran. */
interface Measure {
  wall: number;
  /** User + system CPU seconds of the child. */
  cpu: number;
  rssMiB: number | undefined;
}

const hasTime = existsSync("/usr/bin/time");

function version(cmd: string): string {
  const r = spawnSync(cmd, ["--version"], { encoding: "utf8" });
  return (r.stdout ?? "").split("\n")[0].trim();
}

function runOnce(runtime: string[], cliArgs: string[]): Measure {
  const argv = [...runtime, cli, ...cliArgs];
  const cmd = hasTime ? "/usr/bin/time" : argv[0];
  const cmdArgs = hasTime ? ["-f", "RUNTRACE_BENCH %e %U %S %M", ...argv] : argv.slice(1);
  const t0 = performance.now();
  const r = spawnSync(cmd, cmdArgs, {
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe"],
    maxBuffer: 64 << 20,
  });
  const wall = (performance.now() - t0) / 1000;
  // 3: a truncated trace, which the generated ones are not.
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  const m = /RUNTRACE_BENCH ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr ?? "");
  return m
    ? { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssMiB: Number(m[4]) / 1024 }
    : { wall, cpu: NaN, rssMiB: undefined };
}

/** The run with the least CPU time (the least disturbed), and the highest peak RSS seen. */
function best(runtime: string[], cliArgs: string[], out?: string): Measure {
  let b: Measure | undefined;
  let rss: number | undefined;
  for (let i = 0; i < runs; i++) {
    const m = runOnce(runtime, cliArgs);
    if (m.rssMiB !== undefined) rss = Math.max(rss ?? 0, m.rssMiB);
    if (!b || m.cpu < b.cpu || (Number.isNaN(b.cpu) && m.wall < b.wall)) b = m;
  }
  if (out) rmSync(out, { force: true });
  return { ...b!, rssMiB: rss };
}

const runtimes: [string, string[]][] = [];
for (const name of runtimeNames) {
  if (name === "deno") {
    runtimes.push(["deno", ["deno", "run", "-A"]]);
    if (has("semi-space")) {
      runtimes.push([
        "deno, semi-space 4 MB",
        ["deno", "run", "-A", "--v8-flags=--max-semi-space-size=4"],
      ]);
    }
  } else if (name === "bun") runtimes.push(["bun", ["bun"]]);
  else throw new Error(`unknown runtime ${name}: deno or bun`);
}

/** A command: its name, arguments, and output file to delete. */
type Case = [string, string[], string | undefined];

/** The commands; with a generated trace also those naming its task type and ids. */
function cases(trace: string): Case[] {
  const out = (ext: string) => join(dir, `out.${ext}`);
  const generated = flag("trace") === undefined;
  return [
    ["stats", ["stats", trace], undefined],
    ["tasks", ["tasks", trace], undefined],
    ["regions", ["regions", trace], undefined],
    ["logs", ["logs", trace], undefined],
    ["why --slowest (2 passes)", ["why", trace, "--slowest"], undefined],
    ...(generated
      ? [
        [
          "why --p99 (2 passes)",
          ["why", trace, "--p99", "--type", "handleRequest"],
          undefined,
        ] as Case,
      ]
      : []),
    // A task of every generated trace (their ids count up from 1).
    ...(generated ? [["why TASK_ID (1 pass)", ["why", trace, "5000"], undefined] as Case] : []),
    ["stalls", ["stalls", trace], undefined],
    ["diff (2 traces)", ["diff", trace, trace], undefined],
    ["export chrome", ["export", trace, "-o", out("json")], out("json")],
    [
      "export perfetto",
      ["export", trace, "--format", "perfetto", "-o", out("pftrace")],
      out(
        "pftrace",
      ),
    ],
    ["export otlp", ["export", trace, "--format", "otlp", "-o", out("otlp.pb")], out("otlp.pb")],
    [
      "export otlp-metrics",
      ["export", trace, "--format", "otlp-metrics", "-o", out("metrics.pb")],
      out("metrics.pb"),
    ],
  ];
}

/** The trace's own event count, whichever trace it is. */
function eventsIn(trace: string): number {
  const r = spawnSync(process.execPath, [
    ...(self === "deno" ? ["run", "-A"] : []),
    cli,
    "stats",
    trace,
    "--json",
  ], { encoding: "utf8", maxBuffer: 64 << 20 });
  return JSON.parse(r.stdout).events;
}

const traces = flag("trace") ? [flag("trace")!] : sizes.map(traceOf);
const lines = [
  `### ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
  "",
  `${runtimeNames.includes("deno") ? version("deno") : ""}${runtimeNames.length > 1 ? ", " : ""}${
    runtimeNames.includes("bun") ? `bun ${version("bun")}` : ""
  }; ${
    hasTime ? "wall, CPU and peak RSS from /usr/bin/time" : "no /usr/bin/time: wall time only"
  }; the run with the least CPU time of ${runs}, the highest peak RSS of them; load average at start ${
    loadavg()[0].toFixed(1)
  } on ${navigator.hardwareConcurrency} cores. Events/s: the trace's events over the child's CPU time (and over its wall time).`,
  "",
  "| command | events | runtime | wall | CPU | events/s (CPU) | events/s (wall) | peak RSS |",
  "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
];
console.error(lines.join("\n"));
for (const trace of traces) {
  const events = eventsIn(trace);
  const label = events >= 1e6 ? `${(events / 1e6).toFixed(0)} M` : events.toLocaleString("en");
  console.error(`${trace}: ${events} events, ${(statSync(trace).size / 1048576).toFixed(0)} MiB`);
  for (const [name, cliArgs, out] of cases(trace)) {
    if (only !== undefined && !name.includes(only)) continue;
    for (const [rt, argv] of runtimes) {
      const m = best(argv, cliArgs, out);
      const rate = (s: number) => Number.isNaN(s) ? "-" : `${(events / s / 1e6).toFixed(2)} M`;
      lines.push(
        `| ${name} | ${label} | ${rt} | ${m.wall.toFixed(2)} s | ${
          Number.isNaN(m.cpu) ? "-" : `${m.cpu.toFixed(2)} s`
        } | ${rate(m.cpu)} | ${rate(m.wall)} | ${
          m.rssMiB === undefined ? "-" : `${m.rssMiB.toFixed(0)} MiB`
        } |`,
      );
      console.error(lines[lines.length - 1]);
    }
  }
}
console.log(lines.join("\n"));
