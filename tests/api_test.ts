import { describe, test } from "node:test";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import * as trace from "../mod.ts";
import { TraceDecoder } from "../read.ts";
import { readTrace, sleep, tempDir } from "./helpers.ts";

/** Under a traced test run (RUNTRACE) the run owns the trace; these tests start their own. */
const skip = isTracedTestRun() ? "RUNTRACE holds the trace" : false;

/** Runs `body` with tracing to a temp file and returns the parsed trace. */
async function traced(body: () => unknown, options?: trace.StartOptions) {
  const path = join(tempDir(), "t.trace");
  // Runtime sampling has its own tests; here it would add counter events.
  await trace.start(path, { runtime: false, ...options });
  try {
    await body();
  } finally {
    await trace.stop();
  }
  return readTrace(path);
}

describe("start, stop, isEnabled", { skip }, () => {
  test("isEnabled follows start and stop", async () => {
    assert.equal(trace.isEnabled(), false);
    const path = join(tempDir(), "t.trace");
    await trace.start(path);
    assert.equal(trace.isEnabled(), true);
    await trace.stop();
    assert.equal(trace.isEnabled(), false);
  });

  test("start while tracing rejects with a clear error and keeps the first trace", async () => {
    const dir = tempDir();
    await trace.start(join(dir, "a.trace"));
    await assert.rejects(trace.start(join(dir, "b.trace")), /already enabled/);
    assert.equal(trace.isEnabled(), true);
    trace.log("x", "still recording");
    await trace.stop();
    const t = readTrace(join(dir, "a.trace"));
    assert.equal(t.logs.length, 1);
    assert.equal(t.truncated, false);
  });

  test("stop when not tracing is a no-op", async () => {
    await trace.stop();
    await trace.stop();
    assert.equal(trace.isEnabled(), false);
  });

  test("a trace can be started again after stop", async () => {
    const a = await traced(() => trace.log("c", "first"));
    const b = await traced(() => trace.log("c", "second"));
    assert.deepEqual(a.logs.map((l) => l.message), ["first"]);
    assert.deepEqual(b.logs.map((l) => l.message), ["second"]);
  });

  test("the header records the runtime and the clock", async () => {
    const t = await traced(() => {});
    assert.equal(t.header.runtime, "Deno" in globalThis ? "deno" : "bun");
    assert.ok(t.header.resolutionNs >= 1 && t.header.resolutionNs < 1e6);
    assert.ok(Math.abs(t.header.timeOrigin - performance.timeOrigin) < 1);
    assert.deepEqual(t.threads, [{ id: 1, name: "main" }]);
  });

  test("bad options are rejected by name", async () => {
    const path = join(tempDir(), "t.trace");
    await assert.rejects(
      trace.start(path, { bufferSize: 1000 }),
      /bufferSize must be a power of two/,
    );
    await assert.rejects(trace.start(path, { flushInterval: -1 }), /flushInterval/);
    assert.equal(trace.isEnabled(), false);
  });
});

describe("tasks", { skip }, () => {
  test("newTask with and without a context, subtasks, a single end", async () => {
    let ids: number[] = [];
    const t = await traced(() => {
      const [ctx, task] = trace.newTask(trace.background, "parent");
      const [, sub] = trace.newTask(ctx, "child");
      const [, sub2] = ctx.run(() => trace.newTask("implicitChild"));
      const [, top] = trace.newTask("topLevel");
      sub.end();
      sub2.end();
      task.end();
      task.end(); // ignored
      top.end();
      ids = [task.id, sub.id, sub2.id, top.id];
    });
    const [p, c, c2, top] = ids.map((id) => t.task(id)!);
    assert.equal(p.type, "parent");
    assert.equal(p.parent, 0);
    assert.equal(c.parent, p.id);
    assert.equal(c2.parent, p.id);
    assert.equal(top.parent, 0);
    assert.deepEqual(p.children.sort(), [c.id, c2.id].sort());
    assert.equal(t.tasks.length, 4);
    assert.equal(t.events, 8); // 4 begins + 4 ends: the second end was ignored
    for (const task of t.tasks) assert.ok(task.end! >= task.start!);
  });

  test("a task not ended has no end; one ended after stop does not leak into the next trace", async () => {
    let late: trace.Task | undefined;
    const t = await traced(() => {
      [, late] = trace.newTask("open");
    });
    assert.equal(t.tasks[0].end, undefined);
    const t2 = await traced(() => late!.end());
    assert.equal(t2.tasks.length, 0);
    assert.equal(t2.events, 0);
  });

  test("task ids stay unique across traces", async () => {
    let first = 0, second = 0;
    await traced(() => {
      first = trace.newTask("a")[1].id;
    });
    await traced(() => {
      second = trace.newTask("a")[1].id;
    });
    assert.ok(second > first);
  });
});

describe("regions", { skip }, () => {
  test("startRegion with an explicit and an implicit context", async () => {
    const t = await traced(() => {
      const [ctx, task] = trace.newTask("req");
      const a = trace.startRegion(ctx, "explicit");
      a.end();
      ctx.run(() => trace.startRegion("implicit").end());
      trace.startRegion("background").end();
      task.end();
    });
    const task = t.tasks[0];
    assert.deepEqual(task.regions.map((r) => r.type), ["explicit", "implicit"]);
    assert.equal(t.regions.find((r) => r.type === "background")!.task, 0);
    assert.deepEqual(t.problems, []);
  });

  test("using ends a region at the end of the block", async () => {
    const t = await traced(() => {
      {
        using _r = trace.startRegion("scoped");
        trace.log("in", "scope");
      }
      trace.log("after", "scope");
    });
    const r = t.regions[0];
    assert.ok(r.end !== undefined);
    assert.ok(t.logs[0].time >= r.start && t.logs[0].time <= r.end!);
    assert.ok(t.logs[1].time >= r.end!);
  });

  test("a region ended twice is recorded and reported, not a crash", async () => {
    const t = await traced(() => {
      const r = trace.startRegion("twice");
      r.end();
      r.end();
    });
    assert.equal(t.regions.length, 1);
    assert.equal(t.problems.length, 1);
    assert.match(t.problems[0], /"twice".*ended twice/);
  });

  test("regions ended out of nesting order are recorded and reported", async () => {
    const t = await traced(() => {
      const outer = trace.startRegion("outer");
      const inner = trace.startRegion("inner");
      outer.end();
      inner.end();
    });
    assert.equal(t.regions.length, 2);
    assert.ok(t.regions.every((r) => r.end !== undefined));
    assert.equal(t.problems.length, 1);
    assert.match(t.problems[0], /"outer".*before region \d+ "inner"/);
  });

  test("withRegion: sync value, context current inside, nesting", async () => {
    let value = 0;
    const t = await traced(() => {
      const [ctx, task] = trace.newTask("job");
      value = trace.withRegion(ctx, "outer", () => {
        trace.log("inside", "implicit context");
        return trace.withRegion("inner", () => 41) + 1;
      });
      task.end();
    });
    assert.equal(value, 42);
    const [outer, inner] = t.regions;
    assert.equal(outer.type, "outer");
    assert.equal(inner.parent, outer.id);
    assert.equal(inner.task, t.tasks[0].id);
    assert.equal(t.logs[0].task, t.tasks[0].id);
    assert.ok(inner.start >= outer.start && inner.end! <= outer.end!);
  });

  test("withRegion: async fn, region ends when the promise settles", async () => {
    const t = await traced(async () => {
      const v = await trace.withRegion("wait", async () => {
        await sleep(20);
        trace.log("after", "await");
        return "done";
      });
      assert.equal(v, "done");
    });
    const r = t.regions[0];
    assert.ok(r.end! - r.start >= 15e6, `region lasted ${r.end! - r.start}ns`);
    assert.ok(t.logs[0].time < r.end!);
  });

  test("withRegion: returns fn's own promise; the region has ended when the caller resumes", async () => {
    let inner: Promise<string> | undefined;
    const t = await traced(async () => {
      const p = trace.withRegion("wait", () => inner = sleep(2).then(() => "done"));
      assert.equal(p, inner);
      assert.equal(await p, "done");
      trace.log("caller", "resumed");
    });
    const r = t.regions[0];
    assert.ok(r.end !== undefined);
    assert.ok(t.logs[0].time >= r.end!);
  });

  test("withRegion: a rejection passes through unchanged and still ends the region", async () => {
    const boom = new Error("boom");
    const t = await traced(async () => {
      const p = trace.withRegion("fails", async () => {
        await sleep(1);
        throw boom;
      });
      await assert.rejects(p, (e) => e === boom);
      assert.throws(
        () =>
          trace.withRegion("throwsSync", () => {
            throw boom;
          }),
        (e) => e === boom,
      );
    });
    assert.ok(t.regions.every((r) => r.end !== undefined));
    assert.deepEqual(t.problems, []);
  });

  test("withRegion needs a function", () => {
    // @ts-expect-error: deliberately wrong
    assert.throws(() => trace.withRegion("x", 5), /withRegion\("x"\) needs a function/);
  });

  test("interleaved async chains get their own lanes and nest correctly", async () => {
    const t = await traced(async () => {
      const [ctx, task] = trace.newTask("fanout");
      const chain = (name: string, delay: number) =>
        trace.withRegion(ctx, name, async () => {
          for (let i = 0; i < 3; i++) {
            await trace.withRegion(`${name}.step`, async () => {
              await sleep(delay);
              trace.log("step", `${name} ${i}`);
            });
          }
        });
      await Promise.all([chain("a", 3), chain("b", 2), chain("c", 1)]);
      task.end();
    });
    assert.deepEqual(t.problems, []);
    const tops = t.regions.filter((r) => r.type.length === 1);
    assert.equal(new Set(tops.map((r) => r.lane)).size, 3);
    for (const step of t.regions.filter((r) => r.type.endsWith(".step"))) {
      const parent = t.regions.find((r) => r.id === step.parent)!;
      assert.equal(parent.type + ".step", step.type);
      assert.ok(step.start >= parent.start && step.end! <= parent.end!);
    }
    // The chains really interleaved: their top regions overlap in time.
    const [a, b] = tops;
    assert.ok(a.start < b.end! && b.start < a.end!);
    assert.equal(t.logs.length, 9);
    assert.ok(t.logs.every((l) => l.task === t.tasks[0].id));
  });
});

describe("logs", { skip }, () => {
  test("log with and without a context, logf formatting", async () => {
    const t = await traced(() => {
      const [ctx, task] = trace.newTask("t");
      trace.log(ctx, "explicit", "a");
      ctx.run(() => trace.log("implicit", "b"));
      trace.log("", "empty category");
      trace.logf(ctx, "fmt", "%s=%d %q %%", "n", 4.7, "x");
      trace.logf("fmt2", "%v and %j", { a: 1 }, [1], "extra");
      trace.logf("fmt3", "%d" /* missing */);
      task.end();
    });
    const msgs = t.logs.map((l) => [l.category, l.message, l.task !== 0]);
    assert.deepEqual(msgs, [
      ["explicit", "a", true],
      ["implicit", "b", true],
      ["", "empty category", false],
      ["fmt", 'n=4 "x" %', true],
      ["fmt2", '{"a":1} and [1] extra', false],
      ["fmt3", "%!d(MISSING)", false],
    ]);
  });

  test("unicode and a 100 kB message survive the round trip", async () => {
    const unicode = "naïve café — 日本語 🍵 \u{1F600} x";
    const big = "é🍵".repeat(34_000) + "end"; // > 100 kB in UTF-8
    const t = await traced(() => {
      trace.log("ünï", unicode);
      trace.log("big", big);
      trace.log("bad", "lone \uD800 high, lone \uDC00 low");
    });
    assert.equal(t.logs[0].category, "ünï");
    assert.equal(t.logs[0].message, unicode);
    assert.equal(t.logs[2].message, "lone \uFFFD high, lone \uFFFD low");
    assert.equal(t.logs[1].message, big);
    assert.equal(t.logs[1].truncated, false);
  });

  test("repeated messages (sent by id after the first) read back exactly", async () => {
    const long = "L".repeat(300);
    const expected = ["a", "a", "a", "b", "a", "a", long, long, long, "é🍵", "é🍵"];
    const t = await traced(() => {
      for (const m of expected) trace.log("c", m);
    });
    assert.deepEqual(t.logs.map((l) => l.message), expected);
  });

  test("messages alike at their end, empty ones and lone surrogates: each read back exactly", async () => {
    // recordLog compares a message's last unit before the message itself.
    const built = (k: number) => `GET /users/${1000 + k}`; // a new string object per call
    const expected = [
      "",
      "",
      "",
      "x",
      "",
      "abc9",
      "xyz9",
      "abc9",
      "abc9",
      built(1),
      built(1),
      built(1),
      built(2),
      built(12),
      "tail \uD800",
      "tail \uD800",
      "tail \uDC00",
      "🍵",
      "🍵",
      "\uDC00",
      "\uDC00",
      "é".repeat(70_000),
      "é".repeat(70_000),
      "é".repeat(69_999) + "e",
    ];
    const t = await traced(() => {
      for (const m of expected) trace.log("c", m);
    });
    assert.deepEqual(
      t.logs.map((l) => l.message),
      expected.map((m) => m.replace(/[\uD800-\uDFFF]/gu, "\uFFFD")),
    );
    assert.ok(t.logs.every((l) => !l.truncated));
  });

  test("a message over maxMessageLength is cut and flagged, not dropped", async () => {
    const t = await traced(() => trace.log("c", "x".repeat(5000)), { maxMessageLength: 1000 });
    assert.equal(t.logs[0].message.length, 1000);
    assert.equal(t.logs[0].truncated, true);
  });

  test("many logs with more text than the text ring holds", async () => {
    const msg = "m".repeat(3000);
    // The caller waits for the worker, but only maxWait (200 ms by default):
    // on a loaded machine the worker can be starved that long, and the logs
    // past it are dropped and counted. This test is about the wait.
    const t = await traced(() => {
      for (let i = 0; i < 2000; i++) trace.log("c", msg + i);
    }, { textBufferSize: 64 << 10, maxWait: 10_000 });
    assert.equal(t.logs.length, 2000);
    assert.equal(t.lost, 0);
    assert.equal(t.logs[1999].message, msg + 1999);
  });
});

describe("tracing off", { skip }, () => {
  test("startRegion returns a shared no-op region; calls do nothing", () => {
    assert.equal(trace.isEnabled(), false);
    const a = trace.startRegion("x");
    const b = trace.startRegion(trace.background, "y");
    assert.equal(a, b);
    a.end();
    a.end();
    trace.log("c", "m");
    trace.logf("c", "%d", 1);
    assert.equal(trace.withRegion("w", () => 7), 7);
    const [ctx, task] = trace.newTask("t");
    assert.ok(ctx instanceof trace.Context);
    task.end();
  });

  test("withRegion still makes an explicit context current", () => {
    const [ctx] = trace.newTask("t");
    const seen = trace.withRegion(ctx, "r", () => trace.currentContext());
    assert.equal(seen, ctx);
  });
});

describe("the full-ring policy", { skip }, () => {
  test("the caller waits for the worker: a flat-out burst through a tiny ring loses nothing", async () => {
    const n = 200_000;
    const t = await traced(() => {
      for (let i = 0; i < n; i++) trace.startRegion("burst").end();
    }, { bufferSize: 1024 });
    assert.equal(t.lost, 0);
    assert.equal(t.regions.length, n);
  });

  test("events that cannot wait are counted as lost in the trace, never silently", async () => {
    const n = 300_000;
    const path = join(tempDir(), "t.trace");
    await trace.start(path, { bufferSize: 1024, maxWait: 0.0001 });
    for (let i = 0; i < n; i++) trace.startRegion("burst").end();
    await trace.stop();
    let recorded = 0, lost = 0;
    const d = new TraceDecoder((e) => {
      if (e.kind === "regionBegin" || e.kind === "regionEnd") recorded++;
      if (e.kind === "end") lost = e.lost;
    });
    d.push(new Uint8Array(readFileSync(path)));
    d.finish();
    assert.equal(recorded + lost, 2 * n, `recorded ${recorded} + lost ${lost}`);
  });
});
