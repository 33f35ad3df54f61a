/**
 * Two CPU profiles of the same load side by side, each function's self time
 * per unit of work: divided by the self time of a function whose cost per
 * request is known (`work` in `bench/http_cycle_bench.ts`, 100 µs a request
 * by construction), a profile line reads as µs per request, whatever the
 * machine's load and however many requests each run served. This is how
 * bench/README.md ("Where Deno's extra CPU per request goes") split a traced
 * request's cost.
 *
 * Run: `deno run -A bench/profile_diff.ts A B [--per work=100] [--top 30]`,
 * where A and B are `.cpuprofile` files or directories from `deno run
 * --cpu-prof --cpu-prof-dir=DIR` (the main thread's profile is taken: the
 * one whose name does not mention a worker). For the loopback benchmark:
 *
 * ```sh
 * deno run -A --cpu-prof --cpu-prof-dir=/tmp/prof-off bench/http_cycle_bench.ts --rounds 1 --only=untraced
 * deno run -A --cpu-prof --cpu-prof-dir=/tmp/prof-on bench/http_cycle_bench.ts --rounds 1 --only=steady
 * deno run -A bench/profile_diff.ts /tmp/prof-off /tmp/prof-on
 * ```
 *
 * @module
 */

import process from "node:process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The main thread's profile of a directory, or the file itself. */
function profilePath(p: string): string {
  if (!statSync(p).isDirectory()) return p;
  const main = readdirSync(p).filter((f) => f.endsWith(".cpuprofile") && !/worker/i.test(f));
  if (main.length !== 1) {
    throw new Error(`${p}: expected one main-thread .cpuprofile, found ${main.length}`);
  }
  return join(p, main[0]);
}

/** Self time, µs, by "function file:line". */
function selfTimes(path: string): Map<string, number> {
  const p = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const cf = byId.get(p.samples[i])!.callFrame;
    const file = cf.url.split("/").pop()!.slice(0, 40);
    const key = `${cf.functionName || "(anonymous)"} ${file}:${cf.lineNumber + 1}`;
    out.set(key, (out.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  return out;
}

/** `times` scaled so that the functions named `unit` sum to `per`. */
function perUnit(times: Map<string, number>, unit: string, per: number): Map<string, number> {
  let u = 0;
  for (const [k, v] of times) if (k.startsWith(unit + " ")) u += v;
  if (u === 0) throw new Error(`no self time in a function named ${unit}`);
  return new Map([...times].map(([k, v]) => [k, v / u * per]));
}

function main(): void {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    if (i < 0) return dflt;
    const v = args[i + 1];
    args.splice(i, 2);
    return v;
  };
  const [unit, perText] = opt("--per", "work=100").split("=");
  const top = Number(opt("--top", "30"));
  if (args.length !== 2) {
    console.error("usage: profile_diff.ts A B [--per work=100] [--top 30]");
    process.exit(2);
  }
  const per = Number(perText);
  const [a, b] = args.map((p) => perUnit(selfTimes(profilePath(p)), unit, per));
  const rows = [...new Set([...a.keys(), ...b.keys()])]
    .filter((k) => !k.startsWith("(idle)"))
    .map((k) => ({ k, a: a.get(k) ?? 0, b: b.get(k) ?? 0 }));
  const sum = (f: (r: { a: number; b: number }) => number) => rows.reduce((s, r) => s + f(r), 0);
  console.log(
    `busy per ${per} of ${unit}: A ${sum((r) => r.a).toFixed(1)}, ` +
      `B ${sum((r) => r.b).toFixed(1)}, B − A ${sum((r) => r.b - r.a).toFixed(1)}\n`,
  );
  console.log("| A | B | B − A | function |\n|---:|---:|---:|---|");
  rows.sort((x, y) => Math.abs(y.b - y.a) - Math.abs(x.b - x.a));
  for (const r of rows.slice(0, top)) {
    console.log(`| ${r.a.toFixed(2)} | ${r.b.toFixed(2)} | ${(r.b - r.a).toFixed(2)} | ${r.k} |`);
  }
}

if (import.meta.main) main();
