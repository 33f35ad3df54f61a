/**
 * The caller's side of the hot path in two trees, in one process (issue 11):
 * `log` and region pairs of an old checkout and of this one (or a second
 * one), each writing into a private ring of the default size that this
 * script drains by hand between runs, so no drain worker runs meanwhile.
 * Short runs (2 048 calls) alternate tree by tree and case by case, with a
 * clock run in each round; the old and new runs of a round are neighbours in
 * time, so their ratio holds on a busy machine where the absolute figures do
 * not. Prints each case's fastest run, 10th percentile and median over the
 * clock's, and the median of the per-round new ÷ old ratios.
 *
 * What it leaves out: the drain worker's share of the machine and of the
 * ring's cache lines (`bench/hotpath_probe.ts` and `bench/bench.ts` measure
 * the whole path). Both trees must have the ring of lib/record/ring_writer.ts
 * (`attachRing`, `publish`, `Ctrl.HEAD`/`TAIL`/`TEXT_TAIL`).
 *
 * ```
 * deno run -A bench/hotpath_ab.ts OLD_ROOT [NEW_ROOT] [--runs=400]
 * bun bench/hotpath_ab.ts OLD_ROOT [NEW_ROOT] [--runs=400]
 * ```
 *
 * @module
 */

import { join, resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { clockRun } from "./clock_run.ts";

const args = process.argv.slice(2);
const runs = Number(args.find((a) => a.startsWith("--runs="))?.slice(7) ?? 400);
const roots = args.filter((a) => !a.startsWith("--"));
if (roots.length < 1 || !(runs > 0)) {
  console.error("usage: hotpath_ab.ts OLD_ROOT [NEW_ROOT] [--runs=N]");
  process.exit(2);
}
const trees = [resolve(roots[0]), resolve(roots[1] ?? join(import.meta.dirname ?? ".", ".."))];

const CALLS = 2048;
const CAPACITY = 1 << 18, TEXT_CAPACITY = 1 << 20; // the session's defaults
const MESSAGES = Array.from({ length: 1024 }, (_, k) => `GET /users/${1000 + k}`);

/** One tree's cases, each returning the ms of `n` calls. */
interface Tree {
  label: string;
  cases: [string, (n: number) => number][];
  /** Consumes what the cases wrote, as the drain worker would (not timed). */
  drain: () => void;
}

async function loadTree(root: string, label: string): Promise<Tree> {
  const url = (p: string) => pathToFileURL(join(root, p)).href;
  const W = await import(url("lib/record/ring_writer.ts"));
  const L = await import(url("lib/record/ring_layout.ts"));
  const A: typeof import("../lib/record/annotations.ts") = await import(
    url("lib/record/annotations.ts")
  );
  const ring = new SharedArrayBuffer(
    L.ringBytes({ capacity: CAPACITY, textCapacity: TEXT_CAPACITY }),
  );
  W.attachRing(ring, {
    capacity: CAPACITY,
    textCapacity: TEXT_CAPACITY,
    maxWait: 5000,
    maxMessage: 4096,
  });
  const ctrl = new Int32Array(ring, 0, L.CTRL_BYTES >> 2);
  const u32 = new Uint32Array(ring, L.CTRL_BYTES, CAPACITY * L.RECORD_WORDS);
  const drain = () => {
    W.publish();
    const head = Atomics.load(ctrl, L.Ctrl.HEAD);
    let tail = Atomics.load(ctrl, L.Ctrl.TAIL), textTail = -1;
    for (; tail !== head; tail = (tail + 1) | 0) {
      const i = (tail & (CAPACITY - 1)) * L.RECORD_WORDS, kind = u32[i + L.Word.KIND];
      const text = kind === L.Rec.STRING ||
        (kind === L.Rec.LOG && (u32[i + L.Word.E] & L.LOG_MESSAGE_ID) === 0);
      if (text) textTail = (u32[i + L.Word.C] + u32[i + L.Word.D]) | 0;
    }
    if (textTail !== -1) Atomics.store(ctrl, L.Ctrl.TEXT_TAIL, textTail);
    Atomics.store(ctrl, L.Ctrl.TAIL, head);
  };
  const ctx = A.newTask("probe")[0];
  const { log, startRegion } = A;
  const timed = (body: (n: number) => void) => (n: number) => {
    const t0 = performance.now();
    body(n);
    return performance.now() - t0;
  };
  const cases: [string, (n: number) => number][] = [
    [
      "log(ctx, cat, msg), 1 024 distinct messages",
      timed((n) => {
        for (let i = 0; i < n; i++) log(ctx, "http", MESSAGES[i & 1023]);
      }),
    ],
    [
      "log, a message built per call",
      timed((n) => {
        for (let i = 0; i < n; i++) log(ctx, "http", `GET /users/${i}`);
      }),
    ],
    [
      "log, the same message each call",
      timed((n) => {
        for (let i = 0; i < n; i++) log(ctx, "http", "GET /users/1000");
      }),
    ],
    [
      "region pair startRegion(ctx, t).end()",
      timed((n) => {
        for (let i = 0; i < n; i++) startRegion(ctx, "pair").end();
      }),
    ],
    [
      "region pair startRegion(t).end()",
      (n) =>
        ctx.run(
          timed((n) => {
            for (let i = 0; i < n; i++) startRegion("pair").end();
          }).bind(null, n),
        ),
    ],
    [
      "Region.end()",
      (n) => {
        const r = startRegion(ctx, "pair");
        return timed((n) => {
          for (let i = 0; i < n; i++) r.end();
        })(n);
      },
    ],
  ];
  return { label, cases, drain };
}

const [a, b] = [await loadTree(trees[0], "old"), await loadTree(trees[1], "new")];
const ns = new Map<string, number[]>();
const add = (k: string, v: number) => (ns.get(k) ?? ns.set(k, []).get(k)!).push(v);
for (let warm = 0; warm < 3; warm++) {
  for (const t of [a, b]) for (const [, f] of t.cases) (f(CALLS), t.drain());
}
for (let r = 0; r < runs; r++) {
  add("clock", clockRun(CALLS) * 1e6 / CALLS);
  const order = r & 1 ? [b, a] : [a, b];
  for (let c = 0; c < a.cases.length; c++) {
    for (const t of order) {
      add(`${t.label} ${c}`, t.cases[c][1](CALLS) * 1e6 / CALLS);
      t.drain();
    }
  }
}

const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
const at = (xs: number[], q: number) => sorted(xs)[Math.floor(q * (xs.length - 1))];
const clk = ns.get("clock")!;
const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
const runtime = g.Bun ? `Bun ${g.Bun.version}` : g.Deno ? `Deno ${g.Deno.version.deno}` : "Node";
const cpus = (await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ");
console.log(
  `${runtime} · old ${trees[0]} · new ${trees[1]} · ${runs} rounds · load average ${cpus}`,
);
console.log(
  `clock read: fastest ${at(clk, 0).toFixed(1)} ns, p10 ${at(clk, 0.1).toFixed(1)}, median ${
    at(clk, 0.5).toFixed(1)
  }`,
);
console.log("× clock: fastest / p10 / median; new ÷ old: median of the rounds' ratios");
for (let c = 0; c < a.cases.length; c++) {
  const o = ns.get(`old ${c}`)!, n = ns.get(`new ${c}`)!;
  const x = (xs: number[], q: number) => (at(xs, q) / at(clk, q)).toFixed(2);
  const ratio = at(n.map((v, k) => v / o[k]), 0.5);
  console.log(
    `  ${a.cases[c][0]}: old ${x(o, 0)} / ${x(o, 0.1)} / ${x(o, 0.5)}, new ${x(n, 0)} / ${
      x(n, 0.1)
    } / ${x(n, 0.5)}; new ÷ old ${ratio.toFixed(3)}`,
  );
}
