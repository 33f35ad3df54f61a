/**
 * Benchmarks of the runtrace CLI on a large trace: `stats`, the delay
 * analyses (`stalls`, `why`, `diff`), `export` to Chrome JSON and `export`
 * to Perfetto, each run as a child process in both
 * runtimes, with wall time, events per second and peak resident memory (from
 * `/usr/bin/time`, when the machine has it). Output is Markdown for
 * bench/README.md.
 *
 * ```
 * deno run -A bench/cli_bench.ts [--events=N] [--runs=N] [--trace=PATH]
 * bun bench/cli_bench.ts [--events=N] [--runs=N] [--trace=PATH]
 *   --events=N   events in the generated trace (default 10 000 000)
 *   --runs=N     runs per case; the fastest is reported (default 3)
 *   --trace=P    use this trace instead of generating bench/out/big.trace
 *   --only=S     only the commands whose name contains S (stats, export, perfetto,
 *                stalls, why, diff)
 * ```
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { generateTrace } from "./gen_trace.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const wanted = Number(flag("events") ?? 10_000_000);
const runs = Number(flag("runs") ?? 3);
const only = flag("only");
const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = join(root, "bench", "out");
mkdirSync(outDir, { recursive: true });
const tracePath = flag("trace") ?? join(outDir, "big.trace");

if (!flag("trace") && !existsSync(tracePath)) {
  const t0 = performance.now();
  generateTrace(tracePath, wanted);
  console.error(`generated ${tracePath} in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
}

/** How one command ran. */
interface Measure {
  seconds: number;
  rssMiB: number | undefined;
  outBytes: number | undefined;
}

const hasTime = existsSync("/usr/bin/time");

function version(cmd: string): string {
  const r = spawnSync(cmd, ["--version"], { encoding: "utf8" });
  return (r.stdout ?? "").split("\n")[0].trim();
}

function runOnce(runtime: string[], cliArgs: string[], out?: string): Measure {
  const cli = join(root, "cli.ts");
  const argv = [...runtime, cli, ...cliArgs];
  const cmd = hasTime ? "/usr/bin/time" : argv[0];
  const cmdArgs = hasTime ? ["-f", "RUNTRACE_BENCH %e %M", ...argv] : argv.slice(1);
  const t0 = performance.now();
  const r = spawnSync(cmd, cmdArgs, { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  }
  const m = /RUNTRACE_BENCH ([\d.]+) (\d+)/.exec(r.stderr ?? "");
  return {
    seconds: m ? Number(m[1]) : wall,
    rssMiB: m ? Number(m[2]) / 1024 : undefined,
    outBytes: out && existsSync(out) ? statSync(out).size : undefined,
  };
}

function best(runtime: string[], cliArgs: string[], out?: string): Measure {
  let b: Measure | undefined;
  for (let i = 0; i < runs; i++) {
    const m = runOnce(runtime, cliArgs, out);
    if (!b || m.seconds < b.seconds) b = m;
  }
  if (out) rmSync(out, { force: true });
  return b!;
}

const runtimes: [string, string[]][] = [
  ["deno", ["deno", "run", "-A"]],
  // What `deno task trace` runs: a smaller young generation keeps the peak
  // memory of long streams down at no cost in speed.
  ["deno, small semi-space", ["deno", "run", "-A", "--v8-flags=--max-semi-space-size=4"]],
  ["bun", ["bun"]],
];
const jsonOut = join(outDir, "big.json");
const pbOut = join(outDir, "big.pftrace");
const otlpOut = join(outDir, "big.otlp.pb");
const cases: [string, string[], string | undefined][] = [
  ["stats", ["stats", tracePath], undefined],
  // The delay analyses: one pass (stalls, why by id), three (why --p99), and
  // two traces' worth of events (diff of the trace against itself).
  ["stalls", ["stalls", tracePath], undefined],
  ["why TASK_ID", ["why", tracePath, "1000"], undefined],
  ["why --p99 (3 passes)", ["why", tracePath, "--p99", "--type", "handleRequest"], undefined],
  ["diff (2 traces)", ["diff", tracePath, tracePath], undefined],
  ["export chrome", ["export", tracePath, "-o", jsonOut], jsonOut],
  ["export perfetto", ["export", tracePath, "--format", "perfetto", "-o", pbOut], pbOut],
  ["export otlp", ["export", tracePath, "--format", "otlp", "-o", otlpOut], otlpOut],
  // The same without the file system's share: what the conversion alone runs at.
  ["export chrome > /dev/null", ["export", tracePath, "-o", "/dev/null"], undefined],
  [
    "export perfetto > /dev/null",
    ["export", tracePath, "--format", "perfetto", "-o", "/dev/null"],
    undefined,
  ],
];

const traceBytes = statSync(tracePath).size;
// The trace's own count, whichever trace it is.
const events: number = JSON.parse(
  spawnSync("bun", [join(root, "cli.ts"), "stats", tracePath, "--json"], { encoding: "utf8" })
    .stdout,
).events;
const lines = [
  `### ${new Date().toISOString().slice(0, 10)}: ${events.toLocaleString("en")} events (${
    (traceBytes / 1048576).toFixed(0)
  } MiB trace)`,
  "",
  `${version("deno")}, bun ${version("bun")}; ${
    hasTime ? "peak RSS from /usr/bin/time" : "no /usr/bin/time: RSS not measured"
  }; best of ${runs} runs; load average at start ${
    loadavg()[0].toFixed(1)
  } on ${navigator.hardwareConcurrency} cores.`,
  "",
  "| command | runtime | wall | events/s | peak RSS | output |",
  "| --- | --- | ---: | ---: | ---: | ---: |",
];
for (const [name, cliArgs, out] of cases) {
  if (only !== undefined && !name.includes(only)) continue;
  for (const [rt, argv] of runtimes) {
    const m = best(argv, cliArgs, out);
    const rate = events / m.seconds / 1e6;
    lines.push(
      `| ${name} | ${rt} | ${m.seconds.toFixed(2)} s | ${rate.toFixed(2)} M | ${
        m.rssMiB === undefined ? "-" : `${m.rssMiB.toFixed(0)} MiB`
      } | ${m.outBytes === undefined ? "-" : `${(m.outBytes / 1048576).toFixed(0)} MiB`} |`,
    );
    console.error(lines[lines.length - 1]);
  }
}
console.log(lines.join("\n"));
