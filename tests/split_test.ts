/**
 * Traces split into parts (`start`'s `split`): by size and by time, each
 * part a trace of its own, retention, an exit without `stop()`, and the CLI
 * reading the parts as one trace, equal to an unsplit trace of the same run.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as trace from "../mod.ts";
import { parseTrace } from "../read.ts";
import { TraceDecoder } from "../lib/format/decoder.ts";
import { joinParts, PartJoiner } from "../lib/read/part_joiner.ts";
import {
  concat,
  modUrl,
  repoRoot,
  runFile,
  runScript,
  sleep,
  spawnServe,
  tempDir,
} from "./helpers.ts";
import { runCli } from "./cli_run.ts";
import { Receiver } from "./otlp_receiver.ts";

/**
 * A deterministic workload: `n` requests, each a task with a region and a
 * log, under one task open throughout (restated by every part after the
 * first), with a drain between every `every` requests.
 */
async function workload(n: number, every: number, pause = 0): Promise<void> {
  const [outerCtx, outer] = trace.newTask("session");
  const [, forever] = trace.newTask("forever"); // never ends: open at the end
  for (let i = 0; i < n; i++) {
    const [ctx, task] = trace.newTask(outerCtx, i % 3 === 0 ? "checkout" : "browse");
    trace.withRegion(ctx, "handle", () => trace.log(ctx, "step", `request ${i} `.repeat(4)));
    task.end();
    if (i % every === every - 1) await sleep(pause);
  }
  outer.end();
  void forever;
}

/** The files of `dir`, sorted. */
function files(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** Tasks by type: [type, count, ended] rows. */
function taskCounts(bytes: Uint8Array): [string, number, number][] {
  const t = parseTrace(bytes);
  const rows = new Map<string, [string, number, number]>();
  for (const task of t.tasks) {
    const row = rows.get(task.type) ?? [task.type, 0, 0];
    row[1]++;
    if (task.end !== undefined) row[2]++;
    rows.set(task.type, row);
  }
  return [...rows.values()].sort((a, b) => a[0].localeCompare(b[0]));
}

describe("a trace split into parts", () => {
  test("by size: parts near maxBytes, each a complete trace of its own", async () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    await trace.start(path, { split: { maxBytes: 16 << 10 }, runtime: false });
    await workload(2000, 100);
    const stats = await trace.stop();
    const names = files(dir);
    assert.ok(names.length >= 4, `parts: ${names}`);
    assert.deepEqual(stats.parts, names.map((n) => join(dir, n)));
    assert.deepEqual(names.slice(0, 3), ["t.out.000", "t.out.001", "t.out.002"]);
    let total = 0;
    names.forEach((name, k) => {
      const bytes = readFileSync(join(dir, name));
      const t = parseTrace(bytes);
      assert.equal(t.truncated, false, name);
      assert.equal(t.header.part, k);
      assert.deepEqual(t.problems, [], name);
      // A part exceeds maxBytes by at most the batch it was cut after.
      if (k < names.length - 1) {
        assert.ok(bytes.length < (16 << 10) * 1.2, `${name} ${bytes.length}`);
      }
      // The session task, begun in part 0, is known to every part.
      assert.ok(t.tasks.some((x) => x.type === "session"), name);
      total += t.tasks.filter((x) => x.type !== "session" && x.type !== "forever").length;
    });
    // Each request lies in one part, except one cut by a part's edge (seen in both).
    assert.ok(total >= 2000 && total < 2000 + names.length, `${total}`);
    // Read as one: no restated begin counted twice.
    const r = await runCli(["stats", path, "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.events, stats.events);
    const asOne = concat(names.map((n) => readFileSync(join(dir, n))));
    const joined: Uint8Array[] = [];
    const j = new PartJoiner((b) => joined.push(b.slice()));
    j.push(asOne);
    j.finish();
    assert.deepEqual(taskCounts(concat(joined)), [
      ["browse", 1333, 1333],
      ["checkout", 667, 667],
      ["forever", 1, 0],
      ["session", 1, 1],
    ]);
  });

  test("by time: a part per maxAge while the program records", async () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    await trace.start(path, { split: { maxAge: 100 }, runtime: false, flushInterval: 10 });
    await workload(60, 2, 20);
    const stats = await trace.stop();
    const names = files(dir);
    assert.ok(names.length >= 3, `parts: ${names}`);
    assert.equal(stats.parts?.length, names.length);
    for (const name of names) {
      assert.equal(parseTrace(readFileSync(join(dir, name))).truncated, false, name);
    }
    const r = await runCli(["tasks", path, "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout).types;
    const count = (type: string) => rows.find((x: { type: string }) => x.type === type)?.count;
    assert.equal(count("checkout"), 20);
    assert.equal(count("browse"), 40);
    assert.equal(count("session"), 1);
  });

  test("the CLI reads the parts as the unsplit trace of the same run (a flight recorder's)", async () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    // The trace starts first, with its options; the recorder then sees the same records.
    await trace.start(path, { split: { maxBytes: 8 << 10 }, runtime: false });
    const fr = new trace.FlightRecorder({ minAge: 600_000, maxBytes: 64 << 20 });
    fr.start();
    // Its first snapshot returns once the worker has set the window up.
    await fr.writeTo(join(tempDir(), "ready.trace"));
    await workload(1500, 50);
    const whole = join(dir, "whole.trace");
    await fr.writeTo(whole);
    await fr.stop();
    await trace.stop();
    const parts = files(dir).filter((n) => n.startsWith("t.out."));
    assert.ok(parts.length >= 5, `parts: ${parts}`);
    for (const command of [["tasks"], ["regions"]]) {
      const split = await runCli([...command, path, "--json"]);
      const unsplit = await runCli([...command, whole, "--json"]);
      assert.equal(split.status, 0, split.stderr);
      assert.equal(split.stdout, unsplit.stdout, command.join(" "));
    }
    // Listed instances and logs carry times since the trace's start, which is
    // the recorder's later start there: equal once times are left out.
    const timeless = (text: string) => text.replace(/"(time|start|end)":\s*\d+/g, '"$1":0');
    for (
      const command of [["tasks", "--type", "checkout"], ["regions", "--type", "handle"], ["logs"]]
    ) {
      const split = await runCli([...command, path, "--json"]);
      const unsplit = await runCli([...command, whole, "--json"]);
      assert.equal(split.status, 0, split.stderr);
      assert.equal(timeless(split.stdout), timeless(unsplit.stdout), command.join(" "));
      assert.ok(split.stdout.length > 1000);
    }
    const [a, b] = [
      await runCli(["stats", path, "--json"]),
      await runCli(["stats", whole, "--json"]),
    ];
    const strip = (s: string) => {
      const o = JSON.parse(s);
      // What depends on where time 0 is (the span, the MMU windows) or on the bytes.
      for (const k of ["header", "duration", "bytes", "responsiveness"]) delete o[k];
      return o;
    };
    assert.deepEqual(strip(a.stdout), strip(b.stdout));
    // A glob, the first part, the directory and the parts on standard input read the same.
    const glob = parts.map((n) => join(dir, n));
    const stdin = concat(glob.map((p) => readFileSync(p)));
    const wanted = (await runCli(["tasks", path, "--json"])).stdout;
    for (
      const run of [
        runCli(["tasks", ...glob.slice().reverse(), "--json"]),
        runCli(["tasks", glob[0], "--json"]),
        runCli(["tasks", "-", "--json"], stdin),
      ]
    ) {
      const r = await run;
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, wanted);
    }
  });

  test("keep: only the newest parts stay, and they read as one from the first kept", async () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    writeFileSync(path, "an earlier, unsplit trace");
    writeFileSync(`${path}.017`, "a part of an earlier recording");
    await trace.start(path, { split: { maxBytes: 8 << 10, keep: 3 }, runtime: false });
    await workload(2000, 100);
    const stats = await trace.stop();
    const names = files(dir);
    assert.equal(names.length, 3, `${names}`);
    assert.deepEqual(stats.parts, names.map((n) => join(dir, n)));
    assert.notEqual(names[0], "t.out.000");
    const r = await runCli(["tasks", path, "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout).types;
    assert.ok(rows.find((x: { type: string }) => x.type === "session"), r.stdout);
    const dirRun = await runCli(["tasks", dir, "--json"]);
    assert.equal(dirRun.stdout, r.stdout);
  });

  test("the viewer's page holds every part, read as one trace", async () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    await trace.start(path, { split: { maxBytes: 8 << 10 }, runtime: false });
    await workload(600, 100);
    const { events, parts } = await trace.stop();
    assert.ok(parts!.length >= 3);
    const cmd = join(repoRoot, "lib/viewer/command.ts");
    const page = join(tempDir(), "page.html");
    for (const input of [path, dir, parts![0]]) {
      const r = runFile(cmd, { args: [input, "-o", page] });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`wrote .*page\\.html \\(\\d+ KiB, ${events} events\\)`));
    }
  });

  test("view --serve joins the parts once into the cache directory and serves them as one trace", async () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    await trace.start(path, { split: { maxBytes: 8 << 10 }, runtime: false });
    await workload(600, 100);
    const { parts } = await trace.stop();
    assert.ok(parts!.length >= 3);
    const cache = tempDir();
    const serveOnce = async () => {
      const served = await spawnServe([path, "--serve", "--port", "0"], { XDG_CACHE_HOME: cache });
      try {
        const meta = await (await fetch(served.url + "api/meta")).json();
        return { meta, err: served.err() };
      } finally {
        served.child.kill("SIGINT");
        await served.exited;
      }
    };
    const first = await serveOnce();
    assert.match(first.err, /is a trace in \d+ parts: joined them into .*\.joined\.trace/);
    assert.equal(first.meta.name, "t.out");
    const whole = concat(parts!.map((p) => readFileSync(p)));
    type Row = { type: string; count: number; complete: number };
    assert.deepEqual(
      first.meta.summary.taskTypes.map((t: Row) => [t.type, t.count, t.complete])
        .sort((a: string[], b: string[]) => a[0].localeCompare(b[0])),
      taskCounts(joinParts(whole)),
    );
    const again = await serveOnce();
    assert.match(again.err, /using their joined copy/);
  });

  test("merge joins the parts into one file, or merges a split trace with others, streaming", async () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    await trace.start(path, { split: { maxBytes: 8 << 10 }, runtime: false });
    await workload(900, 100);
    const { parts } = await trace.stop();
    const out = join(tempDir(), "whole.trace");
    for (const args of [[path], parts!, [dir]]) {
      const r = await runCli(["merge", "-o", out, ...args]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`from the ${parts!.length} parts of one trace`));
      const whole = readFileSync(out);
      assert.equal(parseTrace(whole).header.part, 0);
      assert.deepEqual(taskCounts(whole), [
        ["browse", 600, 600],
        ["checkout", 300, 300],
        ["forever", 1, 0],
        ["session", 1, 1],
      ]);
    }
    // The output may take the recording's own name: the parts are resolved first.
    assert.equal((await runCli(["merge", "-o", path, path])).status, 0);
    assert.equal(taskCounts(readFileSync(path)).length, 4);
    // Beside another trace: on one clock, the split one's threads under its name.
    const other = join(tempDir(), "other.trace");
    await trace.start(other, { runtime: false });
    trace.newTask("elsewhere")[1].end();
    await trace.stop();
    const both = join(tempDir(), "both.trace");
    const r = await runCli(["merge", "-o", both, dir + "/t.out.000", other]);
    assert.equal(r.status, 0, r.stderr);
    const t = parseTrace(readFileSync(both));
    assert.equal(t.tasks.filter((x) => x.type === "browse").length, 600);
    assert.equal(t.tasks.filter((x) => x.type === "elsewhere").length, 1);
    // A bad input leaves no output behind.
    const bad = join(tempDir(), "bad.trace");
    writeFileSync(bad, "{}");
    const failed = join(tempDir(), "failed.trace");
    assert.equal((await runCli(["merge", "-o", failed, other, bad])).status, 1);
    assert.throws(() => readFileSync(failed), /ENOENT/);
  });

  test("tasks and regions --type read standard input twice from a temporary copy, then removed", async () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    await trace.start(path, { split: { maxBytes: 8 << 10 }, runtime: false });
    await workload(600, 100);
    const { parts } = await trace.stop();
    const stdin = concat(parts!.map((p) => readFileSync(p)));
    const copies = () =>
      readdirSync(tmpdir()).filter((n) => n.startsWith("runtrace-stdin-")).length;
    const before = copies();
    for (
      const args of [["tasks", "--type", "checkout", "--json"], ["regions", "--type", "handle"]]
    ) {
      const fromFile = await runCli([args[0], path, ...args.slice(1)]);
      const fromStdin = await runCli([args[0], "-", ...args.slice(1)], stdin);
      assert.equal(fromStdin.status, 0, fromStdin.stderr);
      assert.equal(fromStdin.stdout.replaceAll('"-"', JSON.stringify(path)), fromFile.stdout);
    }
    assert.equal(copies(), before);
  });

  test("a live OTLP export beside a split trace gets every span once, whatever the parts", async () => {
    const rx = new Receiver();
    await rx.reset();
    try {
      const dir = tempDir();
      const path = join(dir, "t.out");
      await trace.start(path, {
        split: { maxBytes: 8 << 10 },
        runtime: false,
        otlp: { endpoint: rx.url, exportInterval: 50, stopTimeout: 30_000 },
      });
      await workload(600, 100);
      const stats = await trace.stop();
      assert.ok(stats.parts!.length >= 3, `${stats.parts}`);
      // 600 requests, each a task and a region, the session task and "forever", sent open at
      // the stop: each span once, none restated by a part; a loaded machine may drop (counted).
      const { sent, dropped } = stats.otlp!;
      const names = rx.received.flatMap((r) => r.spans.map((x: { name: string }) => x.name));
      const byName = JSON.stringify(
        Object.groupBy(names, (n: string) => n),
        (_k, v) => Array.isArray(v) ? v.length : v,
      );
      assert.equal(sent + dropped, 1202, `${sent} + ${dropped}: ${byName}`);
      assert.equal(names.length, sent);
      const count = (n: string) => names.filter((x) => x === n).length;
      if (dropped === 0) {
        assert.deepEqual([count("checkout"), count("browse"), count("handle")], [200, 400, 600]);
      }
      assert.ok(count("session") <= 1 && count("forever") <= 1 && count("handle") <= 600);
    } finally {
      await rx.stop();
    }
  });

  test("parts with one missing are refused, naming the missing part", async () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    await trace.start(path, { split: { maxBytes: 8 << 10 }, runtime: false });
    await workload(1000, 100);
    await trace.stop();
    const names = files(dir).map((n) => join(dir, n));
    const r = await runCli(["stats", names[0], names[2]]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /part 1 is missing between .*t\.out\.000 and .*t\.out\.002/);
  });

  test("an exit without stop() leaves the last part complete", () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    const r = runScript(
      `import * as trace from ${JSON.stringify(modUrl)};
await trace.start(${JSON.stringify(path)}, { split: { maxBytes: 8192 } });
const [ctx, task] = trace.newTask("job");
for (let i = 0; i < 3000; i++) {
  trace.log(ctx, "n", "message " + i);
  if (i % 100 === 0) await new Promise((r) => setTimeout(r, 1));
}
task.end();
(await import("node:process")).default.exit(0);
`,
      { timeoutMs: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const names = files(dir);
    assert.ok(names.length >= 2, `${names}`);
    const last = parseTrace(readFileSync(join(dir, names.at(-1)!)));
    assert.equal(last.truncated, false);
    const all = concat(names.map((n) => readFileSync(join(dir, n))));
    const joined: Uint8Array[] = [];
    const j = new PartJoiner((b) => joined.push(b.slice()));
    j.push(all);
    j.finish();
    const t = parseTrace(concat(joined));
    assert.equal(t.truncated, false);
    assert.equal(t.logs.length, 3000);
    assert.equal(t.tasks.length, 1);
  });

  test("the joiner gives the same trace whatever the chunk sizes", async () => {
    const dir = tempDir();
    const path = join(dir, "t.out");
    await trace.start(path, { split: { maxBytes: 4096 }, runtime: false });
    await workload(300, 30);
    await trace.stop();
    const parts = files(dir).map((n) => readFileSync(join(dir, n)));
    const decode = (chunk: number, named: boolean) => {
      let events = 0;
      const d = new TraceDecoder(() => events++);
      const j = new PartJoiner((b) => d.push(b));
      parts.forEach((bytes, k) => {
        if (named) j.beginPart(`t.out.${k}`);
        for (let p = 0; p < bytes.length; p += chunk) j.push(bytes.subarray(p, p + chunk));
        if (named) j.endPart();
      });
      j.finish();
      const end = d.finish();
      return [events, end.truncated, end.events];
    };
    const want = decode(1 << 20, true);
    for (const chunk of [1, 2, 3, 7, 64]) {
      assert.deepEqual(decode(chunk, true), want, `chunks of ${chunk}`);
      assert.deepEqual(decode(chunk, false), want, `one stream, chunks of ${chunk}`);
    }
  });

  test("split needs a file path and sane bounds", async () => {
    await assert.rejects(
      trace.start(new WritableStream(), { split: { maxBytes: 1 << 20 } }),
      /split option needs a file path/,
    );
    await assert.rejects(trace.start(join(tempDir(), "x"), { split: {} }), /maxBytes, maxAge/);
    await assert.rejects(
      trace.start(join(tempDir(), "x"), { split: { maxBytes: 100 } }),
      /at least 4096/,
    );
    await assert.rejects(
      trace.start(join(tempDir(), "x"), { split: { maxAge: 1000, keep: 1.5 } }),
      /whole number/,
    );
    assert.equal(trace.isEnabled(), false);
  });
});
