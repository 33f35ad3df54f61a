/**
 * What a traced request of `bench/http_cycle_bench.ts` costs, part by part,
 * without HTTP: the benchmark's handler called in-process (four concurrent
 * chains, each awaiting one request after another), with each part of the
 * tracing added in turn, and `withRegion` itself against its pieces. Issue
 * 11's loopback rows asked where Deno's extra CPU per request goes.
 *
 * Cases (each one tracing on unless it says off; the handler's regions are
 * `withRegion` unless it says otherwise):
 * - `off`: tracing off, the handler alone;
 * - `off + ALS.run`: tracing off, but the handler and its async region body
 *   each inside an `AsyncLocalStorage.run` of a store of the benchmark's own
 *   (what the frames cost without any event);
 * - `regions as startRegion`: the three regions as `startRegion` + `end`
 *   (no lane, no frame), and the log;
 * - `withRegion`: 3 `withRegion` (the middle one async) and a log, no task;
 * - `newTask + run`: that inside `newTask` and `Context.run` (the
 *   benchmark's `--task=plain`);
 * - `traceRequests`: that inside `traceRequests` (its logs and header reads:
 *   the benchmark's default).
 *
 * Cases take turns block by block (A B C … then the reverse, `--rounds`
 * times), each block `--requests` requests; tracing is started before and
 * stopped after each traced block (not counted). Reported: process CPU per
 * request (all threads: the drain worker's and the collector's too), the
 * main thread's (Linux `/proc/self/task`, 10 ms ticks) and wall time, the
 * median over rounds, and each case minus `off`.
 *
 * Then `withRegion` alone, awaited in a loop (ns per call, median of
 * alternated runs): a sync and an async body, tracing on and off, at the top
 * level and inside a frame (a task's `Context.run`, as in a `traceRequests`
 * handler, where Deno's frames cost twice as much), beside `startRegion` +
 * `end` and `AsyncLocalStorage.run` around the same bodies.
 *
 * Run: `deno run -A bench/request_parts_bench.ts` or `bun
 * bench/request_parts_bench.ts` (`--work-us U` default 100, 0 for the
 * tracing alone; `--rounds N` default 5; `--requests N` default 20000).
 *
 * @module
 */

import process from "node:process";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AsyncLocalStorage } from "node:async_hooks";
import * as trace from "../mod.ts";
import { traceRequests } from "../http.ts";
import { calibrate, makeApp, work } from "./http_cycle_bench.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const isDeno = "Deno" in globalThis;

const own = new AsyncLocalStorage<object>();
const frame = { own: true };

type App = (req: Request) => Promise<Response>;

function makeApps(units: number): Record<string, App> {
  const a = Math.round(units * 0.25), b = Math.round(units * 0.5), c = units - a - b;
  const user = { id: 0, name: "Ada", roles: ["admin", "dev"], bio: "x".repeat(200) };
  const respond = (body: string) =>
    new Response(body, { headers: { "content-type": "application/json" } });
  // http_cycle_bench.ts's handler, and copies of it with other tracing calls.
  const withRegions: App = makeApp(units);
  const startRegions: App = async (req) => {
    const id = req.url.slice(req.url.lastIndexOf("/") + 1);
    const r1 = trace.startRegion("auth");
    work(a);
    r1.end();
    const r2 = trace.startRegion("db");
    const u = await (async () => {
      await null;
      work(b);
      return { ...user, id: Number(id) };
    })();
    r2.end();
    trace.log("user", id);
    const r3 = trace.startRegion("render");
    work(c);
    const body = JSON.stringify(u);
    r3.end();
    return respond(body);
  };
  // The handler with frames of its own and no tracing call.
  const ownFrames: App = (req) =>
    own.run(frame, async () => {
      const id = req.url.slice(req.url.lastIndexOf("/") + 1);
      work(a);
      const u = await own.run(frame, async () => {
        await null;
        work(b);
        return { ...user, id: Number(id) };
      });
      work(c);
      return respond(JSON.stringify(u));
    });
  const plainTask: App = async (req) => {
    const [ctx, task] = trace.newTask("GET /users/:id");
    try {
      return await ctx.run(() => withRegions(req));
    } finally {
      task.end();
    }
  };
  return {
    "off": withRegions,
    "off + ALS.run": ownFrames,
    "regions as startRegion": startRegions,
    "withRegion": withRegions,
    "newTask + run": plainTask,
    "traceRequests": traceRequests(withRegions, { route: () => "/users/:id" }),
  };
}

const TICK_MS = 10;
function mainThreadMs(): number {
  try {
    const s = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}

const file = join(tmpdir(), `runtrace-request-parts-${process.pid}.trace`);
const req = new Request("http://127.0.0.1:8000/users/42");

async function block(app: App, n: number, traced: boolean) {
  if (traced) await trace.start(file, { runtime: false });
  const chain = async (k: number) => {
    for (let i = 0; i < k; i++) await app(req);
  };
  const c0 = process.cpuUsage(), m0 = mainThreadMs(), t0 = performance.now();
  await Promise.all([chain(n / 4), chain(n / 4), chain(n / 4), chain(n / 4)]);
  const t1 = performance.now(), m1 = mainThreadMs(), c1 = process.cpuUsage(c0);
  if (traced) await trace.stop();
  return {
    cpu: (c1.user + c1.system) / n,
    main: (m1 - m0) * 1000 / n,
    wall: (t1 - t0) * 1000 / n,
  };
}

/** ns per call of `body`, `n` calls awaited one after another. */
async function perCall(n: number, body: () => unknown): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await body();
  return (performance.now() - t0) * 1e6 / n;
}

async function calls(rounds: number): Promise<void> {
  const sync = () => 1;
  const asyncBody = async () => {
    await null;
    return 1;
  };
  // [name, traced, body, inside a frame (as in a traceRequests handler)]
  const cases: [string, boolean, () => unknown, boolean][] = [
    ["a clock read", false, () => performance.now(), false],
    ["plain sync call", false, sync, false],
    ["plain async call", false, asyncBody, false],
    ["withRegion, sync body, tracing off", false, () => trace.withRegion("w", sync), false],
    ["withRegion, async body, tracing off", false, () => trace.withRegion("w", asyncBody), false],
    ["withRegion, sync body", true, () => trace.withRegion("w", sync), false],
    ["withRegion, async body", true, () => trace.withRegion("w", asyncBody), false],
    ["withRegion, sync body, in a task's frame", true, () => trace.withRegion("w", sync), true],
    [
      "withRegion, async body, in a task's frame",
      true,
      () => trace.withRegion("w", asyncBody),
      true,
    ],
    ["startRegion + end, sync body", true, () => {
      const r = trace.startRegion("w");
      sync();
      r.end();
    }, false],
    ["startRegion + end, async body", true, async () => {
      const r = trace.startRegion("w");
      await asyncBody();
      r.end();
    }, false],
    ["ALS.run, sync body", false, () => own.run(frame, sync), false],
    ["ALS.run, async body", false, () => own.run(frame, asyncBody), false],
    ["ALS.run, sync body, in a frame", false, () => own.run(frame, sync), true],
    ["ALS.run, async body, in a frame", false, () => own.run(frame, asyncBody), true],
  ];
  const n = 100_000;
  const out = new Map<string, number[]>(cases.map(([k]) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...cases].reverse() : cases;
    for (const [name, traced, body, inFrame] of order) {
      // 2 events a call: the default ring (256 Ki records) never fills.
      if (traced) await trace.start(file, { runtime: false });
      const run = async () => {
        await perCall(n / 10, body);
        out.get(name)!.push(await perCall(n, body));
      };
      if (!inFrame) await run();
      else if (traced) await trace.newTask("frame")[0].run(run);
      else await own.run({ outer: true }, run);
      if (traced) await trace.stop();
    }
  }
  console.log(`\n| call, awaited in a loop | ns per call, median of ${rounds} |\n|---|---:|`);
  for (const [name] of cases) console.log(`| ${name} | ${median(out.get(name)!).toFixed(0)} |`);
}

async function main(): Promise<void> {
  const rounds = arg("--rounds", 5);
  const n = Math.max(4, Math.round(arg("--requests", 20000) / 4) * 4);
  const workUs = arg("--work-us", 100);
  const units = workUs > 0 ? Math.max(1, Math.round(workUs * calibrate())) : 0;
  const apps = makeApps(units);
  const names = Object.keys(apps);
  const runtime = isDeno
    ? `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
    : `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`;
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  // Warm-up: every case once, traced where it will be.
  for (const name of names) await block(apps[name], n / 4, !name.startsWith("off"));
  const res = new Map<string, { cpu: number[]; main: number[]; wall: number[] }>(
    names.map((k) => [k, { cpu: [], main: [], wall: [] }]),
  );
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const name of order) {
      const b = await block(apps[name], n, !name.startsWith("off"));
      const x = res.get(name)!;
      x.cpu.push(b.cpu);
      x.main.push(b.main);
      x.wall.push(b.wall);
    }
  }
  const load1 = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(
    `### ${runtime}: request parts in-process, ${workUs} µs of work (${units} units), ` +
      `${rounds} rounds of ${n} requests (4 chains)\n\nload average before ${load}, after ${load1}\n`,
  );
  console.log(
    "| case | process CPU µs / request | minus off | main thread µs / request | minus off | wall µs / request |",
  );
  console.log("|---|---:|---:|---:|---:|---:|");
  const base = res.get("off")!;
  for (const name of names) {
    const x = res.get(name)!;
    const f = (v: number) => v.toFixed(2);
    console.log(
      `| ${name} | ${f(median(x.cpu))} | ${f(median(x.cpu) - median(base.cpu))} | ` +
        `${f(median(x.main))} | ${f(median(x.main) - median(base.main))} | ${f(median(x.wall))} |`,
    );
  }
  await calls(rounds);
}

if (import.meta.main) await main();
