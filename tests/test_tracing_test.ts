import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import * as trace from "../mod.ts";
import type { Trace } from "../read.ts";
import {
  isTracedTestRun,
  runTracePath,
  tracedTestModule,
  traceTest,
} from "../lib/testing/test_tracing.ts";
import { readTrace, repoRoot, runtime, tempDir, tracedInMemory } from "./helpers.ts";

const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

/** Records a trace in memory around `body`. */
const traced = (body: () => unknown): Promise<Trace> => tracedInMemory(body);

const logsOf = (t: Trace, type: string) =>
  Object.fromEntries(
    (t.tasks.find((x) => x.type === type)?.logs ?? []).map((l) => [l.category, l.message]),
  );

describe("runTracePath", () => {
  test("is undefined unless RUNTRACE names a file", () => {
    assert.equal(runTracePath(undefined), undefined);
    assert.equal(runTracePath(""), undefined);
    assert.equal(runTracePath("  "), undefined);
    assert.equal(runTracePath("trace.out"), "trace.out");
  });

  test("puts the test module's name before the extension, for Deno", () => {
    const mod = "file:///repo/tests/api_test.ts";
    assert.equal(runTracePath("trace.out", mod), "trace.api_test.out");
    assert.equal(runTracePath("/tmp/x/run", mod), "/tmp/x/run.api_test");
    assert.equal(runTracePath("/tmp/x.d/run", mod), "/tmp/x.d/run.api_test");
    assert.equal(runTracePath(".trace", mod), ".trace.api_test");
    assert.equal(runTracePath("t.out", "file:///a/b%20c_test.ts?x=1"), "t.b_20c_test.out");
  });
});

describe("traceTest", { skip }, () => {
  test("a passing test is a task with test=pass", async () => {
    const t = await traced(() => traceTest("adds", () => trace.log("inside", "yes"))());
    assert.deepEqual(logsOf(t, "adds"), { inside: "yes", test: "pass" });
    assert.ok(t.tasks[0].end !== undefined);
  });

  test("a throw, a rejection and a done(error) are failures, passed on unchanged", async () => {
    const t = await traced(async () => {
      assert.throws(
        traceTest("throws", () => {
          throw new RangeError("bad");
        }),
        /bad/,
      );
      await assert.rejects(
        traceTest("rejects", () => Promise.reject(new Error("later"))),
        /later/,
      );
      let got: unknown;
      const cb = traceTest("callback", (_t: unknown, done: (e?: unknown) => void) => {
        done(new Error("via done"));
      });
      assert.equal(cb.length, 2);
      cb({}, (e?: unknown) => got = e);
      assert.match(String(got), /via done/);
    });
    assert.deepEqual(logsOf(t, "throws"), { test: "fail", "test.error": "RangeError: bad" });
    assert.deepEqual(logsOf(t, "rejects"), { test: "fail", "test.error": "Error: later" });
    assert.deepEqual(logsOf(t, "callback"), { test: "fail", "test.error": "Error: via done" });
    assert.ok(t.tasks.every((x) => x.end !== undefined));
  });

  test("keeps the function's arity and name, and does nothing while tracing is off", () => {
    function named(_a: unknown, _b: unknown) {
      return 7;
    }
    const w = traceTest("x", named);
    assert.equal(w.length, 2);
    assert.equal(w.name, "named");
    assert.equal(trace.isEnabled(), false);
    assert.equal(w(1, 2), 7);
  });

  test("a failed child step fails the parent", async () => {
    let childFailed = false;
    const t = await traced(() =>
      traceTest("parent", () => childFailed = true, () => childFailed)()
    );
    assert.equal(logsOf(t, "parent").test, "fail");
  });
});

describe("tracedTestModule", { skip }, () => {
  test("prefixes describe names and keeps variants working on the original", async () => {
    const registered: { name: string; fn: () => unknown }[] = [];
    const deferred: (() => unknown)[] = [];
    // A runner in Bun's manner: describe bodies run later, variants check `this`.
    class Scope {
      only(name: string, fn: () => unknown) {
        if (!(this instanceof Scope)) throw new TypeError("bad receiver");
        registered.push({ name: `only:${name}`, fn });
      }
    }
    const scope = new Scope();
    const testFn = Object.setPrototypeOf(
      (name: string, fn: () => unknown) => registered.push({ name, fn }),
      scope,
    );
    const describeFn = (_name: string, fn: () => unknown) => deferred.push(fn);
    const mod = tracedTestModule({ test: testFn, describe: describeFn, other: 1 }) as {
      test: typeof testFn & { only(name: string, fn: () => unknown): void };
      describe: typeof describeFn;
      other: number;
    };
    assert.equal(mod.other, 1);
    mod.describe("outer", () => {
      mod.describe("inner", () => mod.test("deep", () => {}));
      mod.test.only("solo", () => {
        throw new Error("x");
      });
    });
    mod.test("top", () => {});
    while (deferred.length > 0) deferred.shift()!();
    const t = await traced(() => {
      for (const r of registered) {
        try {
          r.fn();
        } catch { /* the runner's business */ }
      }
    });
    assert.deepEqual(registered.map((r) => r.name), ["top", "only:solo", "deep"]);
    assert.deepEqual(t.tasks.map((x) => x.type), ["top", "outer > solo", "outer > inner > deep"]);
    assert.equal(logsOf(t, "outer > solo").test, "fail");
  });
});

const FIXTURE = `
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as trace from ${JSON.stringify(new URL("../mod.ts", import.meta.url).href)};
describe("math", () => {
  test("adds", () => { trace.log("step", "adding"); assert.equal(1 + 1, 2); });
  test("breaks", () => { assert.equal(1 + 1, 3); });
});
test("waits", async () => { await new Promise((r) => setTimeout(r, 5)); });
`;

/** Runs the fixture suite with RUNTRACE in a child `bun test` or `deno test`. */
function runTracedSuite(): { dir: string; status: number | null; output: string } {
  const dir = tempDir();
  mkdirSync(join(dir, "suite"));
  writeFileSync(join(dir, "suite", "fixture_test.ts"), FIXTURE);
  const preload = join(repoRoot, "test_preload.ts");
  const args = runtime === "deno"
    ? ["test", "-A", "--no-check", `--preload=${preload}`, "suite/"]
    : ["test", `--preload=${preload}`, "./suite/"];
  const r = spawnSync(process.execPath, args, {
    cwd: dir,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: "1", RUNTRACE: join(dir, "trace.out") },
  });
  return { dir, status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

describe(`RUNTRACE=trace.out ${runtime} test`, () => {
  test("records each test as a task named after it, with pass or fail", () => {
    const { dir, status, output } = runTracedSuite();
    assert.notEqual(status, 0, "the fixture has a failing test");
    assert.equal(status !== null, true, `the run hung:\n${output}`);
    // Deno writes a trace per test module.
    const file = runtime === "deno" ? "trace.fixture_test.out" : "trace.out";
    assert.ok(
      existsSync(join(dir, file)),
      `no ${file} in ${readdirSync(dir)}; output:\n${output}`,
    );
    const t = readTrace(join(dir, file));
    assert.equal(t.truncated, false);
    const byType = new Map(t.tasks.map((x) => [x.type, x]));
    const adds = byType.get("math > adds");
    assert.ok(adds, `tasks: ${[...byType.keys()]}`);
    assert.deepEqual(adds.logs.map((l) => `${l.category}=${l.message}`), [
      "step=adding",
      "test=pass",
    ]);
    const breaks = byType.get("math > breaks")!;
    assert.equal(breaks.logs.find((l) => l.category === "test")?.message, "fail");
    assert.match(breaks.logs.find((l) => l.category === "test.error")?.message ?? "", /equal/);
    const waits = byType.get("waits")!;
    assert.equal(waits.logs.find((l) => l.category === "test")?.message, "pass");
    assert.ok(waits.end! - waits.start! >= 4e6, "the task spans the test");
    if (runtime === "deno") {
      // Deno runs describe blocks as tests with steps: the block is a task too.
      assert.equal(byType.get("math")?.logs.find((l) => l.category === "test")?.message, "fail");
      assert.equal(adds.parent, byType.get("math")!.id);
    }
  });

  test("without RUNTRACE the preload does nothing", () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "quiet_test.ts"),
      `import { test } from "node:test";\ntest("ok", () => {});\n`,
    );
    const preload = join(repoRoot, "test_preload.ts");
    // Empty, not deleted: Deno's child_process merges the parent's environment.
    const env = { ...process.env, NO_COLOR: "1", RUNTRACE: "" };
    const args = runtime === "deno"
      ? ["test", "-A", "--no-check", `--preload=${preload}`, "quiet_test.ts"]
      : ["test", `--preload=${preload}`, "./quiet_test.ts"];
    const r = spawnSync(process.execPath, args, {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
      env,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.deepEqual(readdirSync(dir), ["quiet_test.ts"]);
  });
});
