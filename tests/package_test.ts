/**
 * The npm package as users get it. `npm pack` builds the tarball (its prepack
 * step compiles dist/), then fresh projects install it:
 *
 * - Bun: `bun init -y` + `bun add`; the app type-checks with 0 errors under
 *   bun init's template and the strictest common settings, with and without
 *   skipLibCheck, and runs.
 * - Node.js 22 alone (no Deno or Bun on PATH): a plain .mjs app records (file,
 *   stream and writer destinations, runtime events, a worker thread, the flight
 *   recorder) and reads its traces; the `runtrace` bin analyses and views them.
 * - Minified bundles (`bun build --minify`, esbuild) of a traced app record a
 *   readable trace: the drain worker survives minification and renaming.
 *
 * These need npm and the npm registry. Node 22 and esbuild are test-only tools,
 * installed once under $RUNTRACE_CI_TOOLS (default ~/.cache/runtrace-ci).
 */
import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { findExecutable, readTrace, repoRoot, runCommand, tempDir } from "./helpers.ts";
import { type Json, Receiver } from "./otlp_receiver.ts";
import { protobufjs } from "./proto_schema.ts";

const TOOL_VERSIONS = { node: "22.23.3", esbuild: "0.28.2" };
const toolsDir = join(
  process.env.RUNTRACE_CI_TOOLS ?? join(homedir(), ".cache", "runtrace-ci"),
  "package-test",
);
const LONG = { timeout: 600_000 };
/**
 * The environment of a user's shell: without what `npm test` adds (`NODE`,
 * `npm_*`), which would tell Bun that Node.js is installed when it is not.
 */
const env: Record<string, string | undefined> = Object.fromEntries(
  Object.entries({ ...process.env, NO_COLOR: "1" }).filter(([k]) =>
    k !== "NODE" && !k.startsWith("npm_")
  ),
);

/** Runs `exe args` in `cwd` and fails the test, with its output, unless it exits 0. */
async function ok(
  exe: string,
  args: string[],
  cwd: string,
  environment: Record<string, string | undefined> = env,
): Promise<string> {
  const r = await runCommand(exe, args, { cwd, env: environment, timeoutMs: 300_000 });
  assert.equal(r.code, 0, `${exe} ${args.join(" ")} in ${cwd}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Memoises `make`: the projects are built once and shared by the tests. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
}

const npm = findExecutable("npm");

/** Node 22 and esbuild from the npm registry, installed once into the tools cache. */
const tools = once(async () => {
  const bin = join(toolsDir, "node_modules", ".bin");
  const node = join(bin, "node");
  const esbuild = join(bin, "esbuild");
  const have = async (exe: string, version: string) =>
    existsSync(exe) &&
    (await runCommand(exe, ["--version"], { cwd: toolsDir })).stdout.includes(version);
  mkdirSync(toolsDir, { recursive: true });
  if (!(await have(node, TOOL_VERSIONS.node)) || !(await have(esbuild, TOOL_VERSIONS.esbuild))) {
    // A package.json of its own, so that npm installs here and not into a parent.
    if (!existsSync(join(toolsDir, "package.json"))) {
      writeFileSync(join(toolsDir, "package.json"), '{ "private": true }\n');
    }
    await ok(npm!, [
      "install",
      "--no-save",
      "--no-audit",
      "--no-fund",
      `node@${TOOL_VERSIONS.node}`,
      `esbuild@${TOOL_VERSIONS.esbuild}`,
    ], toolsDir);
  }
  return { node, esbuild };
});

/** The packed tarball: `npm pack` runs prepack, which compiles dist/. */
const tarball = once(async () => {
  const dir = tempDir();
  await ok(npm!, ["pack", "--pack-destination", dir], repoRoot);
  const file = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  assert.ok(file, "npm pack made no tarball");
  return join(dir, file);
});

/** The app a Bun user writes: every entry point a program imports. */
const BUN_APP = `import { createReadStream, readFileSync } from "node:fs";
import * as trace from "runtrace";
import { parseTrace, readEvents, type Trace } from "runtrace/read";
import { traceHandler, traceRequests, tracedFetch } from "runtrace/http";

await trace.start("app.trace");
const [ctx, task] = trace.newTask("order");
{
  using _step = trace.startRegion(ctx, "step");
  trace.logf(ctx, "orderID", "%d", 42);
}
const app = traceRequests((req: Request) => new Response(new URL(req.url).pathname));
const res = await app(new Request("http://localhost/hello"));
const body = await res.text();
const handlers = [traceHandler(), tracedFetch(fetch)].length;
task.end();
await trace.stop();

const t: Trace = parseTrace(new Uint8Array(readFileSync("app.trace")));
let events = 0;
for await (const _e of readEvents(createReadStream("app.trace"))) events++;
const types = t.tasks.map((x) => x.type).sort().join(",");
console.log(JSON.stringify({ body, handlers, types, logs: t.logs.length, events, problems: t.problems }));
`;

/** A fresh `bun init -y` project with the tarball added. */
const bunProject = once(async () => {
  const bun = findExecutable("bun")!;
  const dir = tempDir();
  await ok(bun, ["init", "-y"], dir);
  await ok(bun, ["add", await tarball()], dir);
  writeFileSync(join(dir, "index.ts"), BUN_APP);
  return { bun, dir };
});

/** tsconfig files for the strictest common settings, beside bun init's own. */
function strictConfigs(dir: string): string[] {
  const base = {
    target: "ESNext",
    module: "Preserve",
    moduleResolution: "bundler",
    moduleDetection: "force",
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    verbatimModuleSyntax: true,
    noImplicitOverride: true,
    noPropertyAccessFromIndexSignature: true,
    noImplicitReturns: true,
    noFallthroughCasesInSwitch: true,
    noEmit: true,
  };
  const variants: Record<string, object> = {
    "strict-bun": { ...base, lib: ["ESNext"], types: ["bun"], skipLibCheck: false },
    "strict-bun-skiplibcheck": { ...base, lib: ["ESNext"], types: ["bun"], skipLibCheck: true },
    // A Node.js project: Node's types only, and node16 resolution of the package's exports.
    "strict-node": {
      ...base,
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ESNext"],
      types: ["node"],
      skipLibCheck: false,
    },
    // A project with the DOM's types beside Node's.
    "strict-dom": { ...base, lib: ["ESNext", "DOM"], types: ["bun"], skipLibCheck: false },
  };
  return Object.entries(variants).map(([name, compilerOptions]) => {
    const file = `tsconfig.${name}.json`;
    writeFileSync(join(dir, file), JSON.stringify({ compilerOptions, files: ["index.ts"] }));
    return file;
  });
}

const NODE_APP = `import * as trace from "runtrace";
import { nodeListener, traceRequests } from "runtrace/http";
import { parseTrace, readEvents } from "runtrace/read";
import { createServer } from "node:http";
import { readFileSync, createReadStream } from "node:fs";
import { Worker } from "node:worker_threads";

// A file path, written by the drain worker; a worker thread joins.
await trace.start("trace.out");
const [ctx, task] = trace.newTask("order");
trace.log(ctx, "orderID", "42");
await trace.withRegion(ctx, "steamMilk", () => new Promise((r) => setTimeout(r, 40)));
const worker = new Worker(new URL("./worker.mjs", import.meta.url));
const done = new Promise((r) => worker.once("message", r));
worker.postMessage({ handle: trace.threadHandle("resizer", worker), ctx });
await done;
await worker.terminate();
task.end();
// The fetch-style HTTP helpers on node:http.
const server = createServer(nodeListener(traceRequests(() => new Response("served"))));
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const served = await (await fetch(\`http://127.0.0.1:\${server.address().port}/\`)).text();
server.closeAllConnections();
server.close();
await trace.stop();

// A WritableStream, then a writer object.
const streamed = [];
await trace.start(new WritableStream({ write(c) { streamed.push(c.slice()); } }));
trace.log("sink", "stream");
await trace.stop();
const written = [];
await trace.start({ write(c) { written.push(c.slice()); return c.length; } });
trace.log("sink", "writer");
await trace.stop();

// The flight recorder's window, written to a file.
const fr = new trace.FlightRecorder({ minAge: 1000 });
fr.start();
trace.log("flight", "in the window");
await new Promise((r) => setTimeout(r, 20));
await fr.writeTo("flight.trace");
await fr.stop();

const t = parseTrace(new Uint8Array(readFileSync("trace.out")));
let streamedRegions = 0;
for await (const e of readEvents(createReadStream("trace.out"))) {
  if (e.kind === "regionBegin") streamedRegions++;
}
const logsOf = (chunks) => parseTrace(new Uint8Array(Buffer.concat(chunks))).logs.map((l) => l.message);
console.log(JSON.stringify({
  runtime: t.header.runtime,
  served,
  tasks: t.tasks.map((x) => x.type),
  regions: t.regions.map((r) => r.type).sort(),
  threads: t.threads.map((th) => [th.name, th.end !== undefined]),
  counters: t.counters.length > 0,
  streamedRegions: streamedRegions === t.regions.length,
  stream: logsOf(streamed),
  writer: logsOf(written),
  flight: parseTrace(new Uint8Array(readFileSync("flight.trace"))).logs.map((l) => l.message),
  problems: t.problems,
}));
`;

const NODE_WORKER = `import { parentPort } from "node:worker_threads";
import * as trace from "runtrace";
parentPort.once("message", ({ handle, ctx }) => {
  trace.joinTrace(handle);
  trace.withRegion(trace.contextFrom(ctx), "resize", () => {});
  trace.leaveTrace();
  parentPort.postMessage("done");
});
`;

/** Live OTLP export from Node: beside a file, then with no file; the receiver URL is argv[2]. */
const NODE_OTLP_APP = `import * as trace from "runtrace";
const endpoint = process.argv[2];
await trace.start("live.trace", { otlp: { endpoint, serviceName: "node-app" } });
const [ctx, task] = trace.newTask("order");
await trace.withRegion(ctx, "charge", () => new Promise((r) => setTimeout(r, 5)));
task.end();
const file = await trace.stop();
await trace.start({ otlp: { endpoint } });
trace.newTask("bare")[1].end();
const none = await trace.stop();
console.log(JSON.stringify({ file: file.otlp, none: none.otlp, events: none.events > 0 }));
`;

/** A fresh npm project with the tarball installed, and Node 22. */
const nodeProject = once(async () => {
  const { node, esbuild } = await tools();
  const dir = tempDir();
  writeFileSync(join(dir, "package.json"), '{ "name": "app", "private": true, "type": "module" }');
  await ok(npm!, ["install", "--no-audit", "--no-fund", await tarball()], dir);
  writeFileSync(join(dir, "app.mjs"), NODE_APP);
  writeFileSync(join(dir, "worker.mjs"), NODE_WORKER);
  writeFileSync(join(dir, "otlp.mjs"), NODE_OTLP_APP);
  // Node 22 and nothing else: no Deno, no Bun, no npm on PATH.
  const nodeOnly = { ...env, PATH: dirname(node) };
  return { dir, node, esbuild, nodeOnly };
});

/** Skips `t` when the tools the package tests need are missing. */
function missingTools(t: TestContext, ...names: string[]): boolean {
  for (const name of names) {
    if (!findExecutable(name)) {
      t.skip(`no ${name} executable on PATH`);
      return true;
    }
  }
  return false;
}

describe("the npm package", () => {
  test(
    "Bun: bun init + bun add; 0 type errors under bun init's template and the strictest settings, with and without skipLibCheck; the app runs",
    LONG,
    async (t) => {
      if (missingTools(t, "npm", "bun")) return;
      const { bun, dir } = await bunProject();
      await ok(bun, ["x", "tsc", "--noEmit"], dir);
      for (const config of strictConfigs(dir)) await ok(bun, ["x", "tsc", "-p", config], dir);
      const out = JSON.parse(await ok(bun, ["index.ts"], dir));
      assert.deepEqual(out, {
        body: "/hello",
        handlers: 2,
        types: "GET,order",
        logs: out.logs,
        events: out.events,
        problems: [],
      });
      assert.ok(out.logs >= 1 && out.events > 0, JSON.stringify(out));
    },
  );

  test(
    "Node 22 alone: a .mjs app records with every destination, a worker thread, runtime events and the flight recorder, and reads its traces",
    LONG,
    async (t) => {
      if (missingTools(t, "npm")) return;
      const { dir, node, nodeOnly } = await nodeProject();
      const out = JSON.parse(await ok(node, ["app.mjs"], dir, nodeOnly));
      assert.deepEqual(out, {
        runtime: "node",
        served: "served",
        tasks: ["order", "GET"],
        regions: ["resize", "steamMilk"],
        threads: [["main", false], ["resizer", true]],
        counters: true,
        streamedRegions: true,
        stream: ["stream"],
        writer: ["writer"],
        flight: ["in the window"],
        problems: [],
      });
    },
  );

  test(
    "Node 22 alone: live OTLP export (start(file, { otlp }) and start({ otlp })) reaches a loopback receiver; the bin exports and pushes OTLP",
    LONG,
    async (t) => {
      if (missingTools(t, "npm")) return;
      if (protobufjs.skip) return void t.skip(protobufjs.skip);
      const { dir, node, nodeOnly } = await nodeProject();
      const rx = new Receiver();
      try {
        await rx.reset();
        const out = JSON.parse(await ok(node, ["otlp.mjs", rx.url], dir, nodeOnly));
        assert.deepEqual(out, {
          file: { sent: 2, dropped: 0 },
          none: { sent: 1, dropped: 0 },
          events: true,
        });
        const spans: Json[] = rx.received.flatMap((r) => r.spans);
        assert.deepEqual(spans.map((s) => s.name).sort(), ["bare", "charge", "order"]);
        const order = spans.find((s) => s.name === "order");
        assert.equal(spans.find((s) => s.name === "charge").parentSpanId, order.spanId);
        const attr = (s: Json, key: string) =>
          s.resource.attributes.find((a: Json) => a.key === key)?.value.stringValue;
        assert.equal(attr(order, "process.runtime.name"), "node");
        assert.equal(attr(order, "service.name"), "node-app");
        assert.equal(readTrace(join(dir, "live.trace")).tasks.length, 1);
        // The bin's OTLP export and push under Node too.
        const bin = join(dir, "node_modules", ".bin", "runtrace");
        const args = ["export", "live.trace", "--format", "otlp", "-o", "live.otlp.pb"];
        assert.match(await ok(bin, args, dir, nodeOnly), /2 spans from /);
        assert.ok(readFileSync(join(dir, "live.otlp.pb")).length > 0);
        await rx.reset();
        const pushed = await ok(bin, ["push", "live.trace", "--endpoint", rx.url], dir, nodeOnly);
        assert.match(pushed, /pushed 2 spans in 1 requests/);
        assert.deepEqual(rx.received.flatMap((r) => r.spans).map((s: Json) => s.name).sort(), [
          "charge",
          "order",
        ]);
      } finally {
        await rx.stop();
      }
    },
  );

  test(
    "Node 22 alone: the runtrace bin (#!/usr/bin/env node) analyses, exports and views a trace",
    LONG,
    async (t) => {
      if (missingTools(t, "npm")) return;
      const { dir, node, nodeOnly } = await nodeProject();
      await ok(node, ["app.mjs"], dir, nodeOnly);
      const bin = join(dir, "node_modules", ".bin", "runtrace");
      assert.match(await ok(bin, ["--version"], dir, nodeOnly), /^runtrace \d+\.\d+\.\d+\n$/);
      assert.match(await ok(bin, ["tasks", "trace.out"], dir, nodeOnly), /^order +1 +1 +0 /m);
      assert.match(await ok(bin, ["stats", "trace.out"], dir, nodeOnly), /resizer/);
      await ok(bin, ["export", "trace.out", "-o", "trace.json"], dir, nodeOnly);
      assert.ok(JSON.parse(readFileSync(join(dir, "trace.json"), "utf8")));
      await ok(bin, ["view", "trace.out", "-o", "trace.html"], dir, nodeOnly);
      assert.match(readFileSync(join(dir, "trace.html"), "utf8"), /^<!doctype html>/i);
    },
  );

  test("Bun alone runs the runtrace bin (bunx runtrace)", LONG, async (t) => {
    if (missingTools(t, "npm", "bun")) return;
    const { bun, dir } = await bunProject();
    await ok(bun, ["index.ts"], dir);
    // Bun's own directory only: no Node.js on PATH, bun stands in for node.
    const bunOnly = { ...env, PATH: dirname(bun) };
    assert.match(await ok(bun, ["x", "runtrace", "tasks", "app.trace"], dir, bunOnly), /^order /m);
  });

  test('Bun: preload = ["runtrace/test_preload"] traces a bun test run', LONG, async (t) => {
    if (missingTools(t, "npm", "bun")) return;
    const { bun, dir } = await bunProject();
    writeFileSync(join(dir, "bunfig.toml"), '[test]\npreload = ["runtrace/test_preload"]\n');
    writeFileSync(
      join(dir, "sum_test.ts"),
      'import { expect, test } from "bun:test";\ntest("adds", () => expect(1 + 1).toBe(2));\n',
    );
    await ok(bun, ["test", "./sum_test.ts"], dir, { ...env, RUNTRACE: "run.trace" });
    const run = readTrace(join(dir, "run.trace"));
    assert.deepEqual(run.tasks.map((x) => x.type), ["adds"]);
    assert.deepEqual(run.logs.filter((l) => l.category === "test").map((l) => l.message), [
      "pass",
    ]);
  });

  test(
    "bundled and minified (bun build --minify, esbuild --minify), a traced app records a readable trace",
    LONG,
    async (t) => {
      if (missingTools(t, "npm", "bun")) return;
      const { bun, dir: bunDir } = await bunProject();
      const { dir, node, esbuild, nodeOnly } = await nodeProject();
      const app = `import * as trace from "runtrace";
await trace.start(process.argv[2]);
const [ctx, task] = trace.newTask("bundled");
await trace.withRegion(ctx, "work", () => new Promise((r) => setTimeout(r, 10)));
trace.log(ctx, "how", "minified");
task.end();
await trace.stop();
`;
      writeFileSync(join(bunDir, "bundled.ts"), app);
      writeFileSync(join(dir, "bundled.mjs"), app);
      const runs: [string, string[], string, string, Record<string, string | undefined>][] = [];
      await ok(bun, ["build", "bundled.ts", "--minify", "--target=bun", "--outfile=b.js"], bunDir);
      runs.push(["bun build --target=bun", [join(bunDir, "b.js")], bunDir, bun, env]);
      await ok(
        bun,
        ["build", "bundled.ts", "--minify", "--target=node", "--outfile=n.mjs"],
        bunDir,
      );
      runs.push(["bun build --target=node", [join(bunDir, "n.mjs")], bunDir, node, nodeOnly]);
      await ok(esbuild, [
        "bundled.mjs",
        "--bundle",
        "--minify",
        "--platform=node",
        "--format=esm",
        "--outfile=e.mjs",
      ], dir);
      runs.push(["esbuild", [join(dir, "e.mjs")], dir, node, nodeOnly]);
      for (const [name, [script], cwd, exe, environment] of runs) {
        const out = join(tempDir(), "bundled.trace");
        await ok(exe, [script!, out], cwd, environment);
        const tr = readTrace(out);
        assert.equal(tr.truncated, false, name);
        assert.deepEqual(tr.tasks.map((x) => x.type), ["bundled"], name);
        assert.deepEqual(tr.regions.map((r) => r.type), ["work"], name);
        assert.deepEqual(tr.logs.map((l) => l.message), ["minified"], name);
      }
    },
  );
});
