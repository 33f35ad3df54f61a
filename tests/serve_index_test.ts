/**
 * The trace index behind `runtrace view --serve`: a tile query returns
 * exactly the slices a brute-force scan of the parsed trace finds, at every
 * zoom and with the sort spilling to disk; a task's focus data matches the
 * model's; a stale index is rebuilt.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { analyzeDelays, parseTrace } from "../read.ts";
import { craftTrace } from "./craft_trace.ts";
import { findExecutable, runScript, runtime, seededRandom, tempDir } from "./helpers.ts";
import { TraceDecoder } from "../lib/format/decoder.ts";
import { buildIndex } from "../lib/viewer/serve/index_builder.ts";
import { TraceIndex } from "../lib/viewer/serve/trace_index.ts";
import { Kind, levelOf, type LogRow, SLICE_BYTES } from "../lib/viewer/serve/index_layout.ts";
import { openIndex } from "../lib/viewer/serve/index_path.ts";

const dir = tempDir();

const rng = seededRandom;

/** Two threads of tasks with nested regions, logs, stalls and GCs; some left open. */
function randomTrace(seed: number, tasks: number): Uint8Array {
  const r = rng(seed);
  return craftTrace((w) => {
    w.threadName(2, "worker");
    let region = 0;
    const times = [0, 1000, 1000];
    for (let t = 1; t <= tasks; t++) {
      const thread = 1 + (t % 2);
      w.on(thread);
      let now = times[thread] += Math.floor(r() * 5000);
      w.taskBegin(now, t, 0, `type${t % 3}`);
      const depth = 1 + Math.floor(r() * 3);
      const ids: number[] = [];
      for (let d = 0; d < depth; d++) {
        ids.push(++region);
        w.regionBegin(now += 1 + Math.floor(r() * 2 ** (4 + 12 * r())), region, t, `r${d}`);
      }
      w.log(now += 7, t, "cat", `message ${t}`);
      const leaveOpen = t === tasks - 1;
      for (const id of ids.reverse()) {
        now += 1 + Math.floor(r() * 2 ** (4 + 12 * r()));
        if (!leaveOpen) w.regionEnd(now, id);
      }
      if (r() < 0.2) w.stall(now - Math.floor(r() * 40_000), now, ids[0], t);
      if (r() < 0.1) w.gc(now - 2000, now);
      if (t !== tasks) w.taskEnd(now += 3, t);
      times[thread] = now;
    }
  });
}

/** One slice as a comparable string. */
const key = (kind: number, start: number, dur: number, type: string) =>
  `${kind}:${start}:${dur}:${type}`;

/** Every slice of the trace, by the model. */
function bruteSlices(bytes: Uint8Array, end: number): { k: string; start: number; dur: number }[] {
  const t = parseTrace(bytes);
  const out: { k: string; start: number; dur: number }[] = [];
  const add = (kind: number, start: number, stop: number, type: string) =>
    out.push({ k: key(kind, start, stop - start, type), start, dur: stop - start });
  for (const task of t.tasks) {
    if (task.id === 0) continue;
    add(
      Kind.TASK,
      task.start ?? 0,
      task.end ?? end,
      task.start === undefined ? "(unknown)" : task.type,
    );
  }
  for (const r of t.regions) add(Kind.REGION, r.start, r.end ?? end, r.type);
  for (const s of t.stalls) add(Kind.STALL, s.start, s.end, s.regionType ?? "");
  for (const g of t.gcs) add(Kind.GC, g.start, g.end, g.inferred ? "GC (inferred)" : "GC");
  return out;
}

function tileKeys(ix: TraceIndex, t0: number, t1: number, px: number) {
  const tile = ix.tile(t0, t1, px);
  const v = new DataView(tile.records.buffer, tile.records.byteOffset, tile.records.length);
  const keys: string[] = [];
  for (let i = 0; i < tile.count; i++) {
    const o = i * SLICE_BYTES;
    keys.push(key(
      v.getUint8(o + 26),
      v.getFloat64(o, true),
      v.getFloat64(o + 8, true),
      ix.meta.types[v.getUint32(o + 28, true)],
    ));
  }
  return { keys: keys.sort(), tile };
}

function checkTiles(path: string, bytes: Uint8Array, sortBudget?: number) {
  writeFileSync(path, bytes);
  const meta = buildIndex(path, path + ".idx", { sortBudget });
  const ix = TraceIndex.open(path + ".idx", path);
  try {
    const all = bruteSlices(bytes, meta.duration);
    assert.equal(
      ix.tile(0, meta.duration, 1 << 13).count + 0 >= 0,
      true,
    );
    const r = rng(7);
    const windows: [number, number, number][] = [[0, meta.duration, 1000], [
      0,
      meta.duration,
      8000,
    ]];
    for (let i = 0; i < 30; i++) {
      const a = Math.floor(r() * meta.duration);
      const w = Math.floor(r() * meta.duration / 2 ** Math.floor(r() * 12)) + 1;
      windows.push([a, a + w, 200 + Math.floor(r() * 1800)]);
    }
    for (const [t0, t1, px] of windows) {
      const { keys, tile } = tileKeys(ix, t0, t1, px);
      const want = all.filter((s) =>
        s.start <= t1 && s.start + s.dur >= t0 && levelOf(s.dur) >= tile.minLevel
      ).map((s) => s.k).sort();
      assert.deepEqual(keys, want, `window [${t0}, ${t1}] at ${px} px`);
      // What the records leave out, the density counts: every slice starting in the window.
      const counted = tile.density.reduce((n, d) => n + d.counts.reduce((a, b) => a + b, 0), 0);
      const starting = all.filter((s) => s.start >= t0 && s.start < t1).length;
      assert.ok(
        Math.abs(counted - starting) <= starting * 0.5 + 64,
        `density ${counted} vs ${starting}`,
      );
    }
    // Zoomed out, the finest levels are left to the density counts.
    assert.ok(ix.tile(0, meta.duration, 100).minLevel > 0);
  } finally {
    ix.close();
  }
  return meta;
}

describe("the serve index", () => {
  test("a tile query returns what a brute-force scan of the model finds", () => {
    const meta = checkTiles(join(dir, "small.trace"), randomTrace(1, 400));
    assert.equal(meta.summary.taskTypes.length, 3);
    assert.ok(meta.summary.slowest.length > 0);
    // Complete tasks only: the last task of the trace never ends.
    assert.ok(!meta.summary.slowest.some((t) => t.id === 400));
    const model = parseTrace(randomTrace(1, 400));
    const durations = model.tasks.filter((t) => t.start !== undefined && t.end !== undefined)
      .map((t) => t.end! - t.start!).sort((a, b) => b - a);
    assert.deepEqual(meta.summary.slowest.map((t) => t.duration), durations.slice(0, 50));
    assert.ok(meta.summary.stallCount > 0);
    assert.deepEqual(meta.threads.map((t) => t.name).sort(), ["worker"]);
  });

  test("the same when the sort spills sorted runs to disk and merges them", () => {
    checkTiles(join(dir, "spill.trace"), randomTrace(2, 3000), 4096);
  });

  test("a task's focus data: its regions and logs as the model has them, and the stalls over it", () => {
    const bytes = randomTrace(3, 500);
    const path = join(dir, "focus.trace");
    writeFileSync(path, bytes);
    buildIndex(path, path + ".idx", { sortBudget: 8192 });
    const ix = TraceIndex.open(path + ".idx", path);
    try {
      const model = parseTrace(bytes);
      const delays = new Map(analyzeDelays(bytes).tasks.map((d) => [d.id, d]));
      let checked = 0, blocked = 0;
      for (const t of model.tasks) {
        if (t.id === 0 || t.start === undefined || t.end === undefined) continue;
        if (t.id % 7 !== 0 && !(delays.get(t.id)?.blocked)) continue;
        const f = ix.focus(t.id);
        assert.ok(f, `task ${t.id} found`);
        assert.equal(f.task.type, t.type);
        assert.deepEqual(
          f.regions.map((r) => [r.start, r.end, r.type]),
          t.regions.map((r) => [r.start, r.end, r.type]),
        );
        assert.deepEqual(f.logs.map((l) => l.message), t.logs.map((l) => l.message));
        const stalls = model.stalls.filter((s) => s.start <= t.end! && s.end >= t.start!);
        assert.deepEqual(
          f.stalls.filter((s) => s.kind === "stall").map((s) => s.start),
          stalls.map((s) => s.start),
        );
        // Where its time went: the reader's attribution of the same task, summing to its duration.
        const d = delays.get(t.id)!;
        assert.ok(f.delay, `task ${t.id}: delay`);
        const sum = f.delay.inRegions + f.delay.blocked + f.delay.gc + f.delay.waiting;
        assert.equal(sum, t.end - t.start);
        // This generator lets stalls of one thread overlap and outlast a task's end, which a
        // real event loop cannot; the streaming model settles such a task before the later
        // stall's event comes, the index does not: compare the others exactly.
        const outlast = model.stalls.some((s) =>
          s.thread === d.thread && s.start < t.end! && s.end > t.end!
        );
        if (f.delay.blocked > 0) blocked++;
        if (outlast) continue;
        assert.deepEqual(
          [f.delay.inRegions, f.delay.blocked, f.delay.gc, f.delay.waiting],
          [d.inRegions, d.blocked, d.gc, d.waiting],
          `task ${t.id}`,
        );
        assert.deepEqual(
          f.delay.blockedBy.map((b) => [b.start, b.delay, b.task]),
          d.blockedBy.map((b) => [b.stall.start, b.delay, b.stall.task]),
        );
        checked++;
      }
      assert.ok(checked > 20);
      assert.ok(blocked > 0, "some task was delayed by another's stall");
      assert.equal(ix.focus(999_999), undefined);
    } finally {
      ix.close();
    }
  });

  test("a bucket's instances carry the stall and GC time their focus data attributes", () => {
    const bytes = randomTrace(9, 1500);
    const path = join(dir, "bucket.trace");
    writeFileSync(path, bytes);
    buildIndex(path, path + ".idx", { sortBudget: 8192 });
    const ix = TraceIndex.open(path + ".idx", path);
    try {
      let checked = 0, blocked = 0, gc = 0, named = 0;
      for (const type of ["type0", "type1", "type2"]) {
        let from = 0;
        for (;;) {
          const page = ix.bucket("task", type, 0, 2 ** 47, from, 100);
          for (const r of page.rows) {
            // The list's figures are the details' (the reader's attribution over the index's stalls).
            const f = ix.focus(r.task)!;
            assert.equal(r.thread, f.task.thread);
            assert.equal(r.partial, undefined);
            assert.deepEqual([r.blocked, r.gc], [f.delay!.blocked, f.delay!.gc], `task ${r.task}`);
            const b = f.delay!.blockedBy[0];
            if (f.delay!.blockedBy.length === 1) {
              assert.deepEqual(
                [r.delayedBy?.start, r.delayedBy?.delay, r.delayedBy?.task, r.delayedBy?.region],
                [b.start, b.delay, b.task, b.region],
              );
              assert.equal(r.delayedBy?.taskType, b.taskType);
              if (r.delayedBy?.taskType) named++;
            }
            if (r.blocked > 0) blocked++;
            if (r.gc > 0) gc++;
            checked++;
          }
          if (page.done) break;
          from = page.next;
        }
      }
      assert.ok(checked > 1000, `${checked}`);
      assert.ok(blocked > 10 && gc > 10 && named > 5, `${blocked} ${gc} ${named}`);
      // Regions: the stalls and GCs of their own thread.
      const regions = ix.bucket("region", "r0", 0, 2 ** 47, 0, 500).rows;
      assert.ok(regions.some((r) => r.gc > 0 || r.blocked > 0));
    } finally {
      ix.close();
    }
  });

  test("the logs: a bounded scan by category, task and text finds what the model has", () => {
    const bytes = randomTrace(5, 2000);
    const path = join(dir, "logs.trace");
    writeFileSync(path, bytes);
    buildIndex(path, path + ".idx");
    const ix = TraceIndex.open(path + ".idx", path);
    try {
      const model = parseTrace(bytes);
      assert.equal(ix.meta.logCount, model.logs.length);
      const scan = (f: Parameters<TraceIndex["logs"]>[0], limit: number) => {
        const rows = [];
        let from = "", steps = 0;
        for (;;) {
          const p = ix.logs(f, from, limit);
          rows.push(...p.rows);
          steps++;
          if (p.done) break;
          from = p.next;
        }
        return { rows, steps };
      };
      const all = scan({}, 300);
      assert.ok(all.steps > 1, "paged");
      // In time order across threads, though the trace interleaves its threads' batches.
      const byTime = (a: { time: number; task: number }, b: { time: number; task: number }) =>
        a.time - b.time || a.task - b.task;
      const fields = (l: LogRow) => [l.time, l.task, l.thread, l.category, l.message];
      const fileOrder: number[] = [];
      const d = new TraceDecoder((e) => e.kind === "log" && fileOrder.push(e.time));
      d.push(bytes);
      d.finish();
      assert.ok(fileOrder.some((t, i) => i > 0 && t < fileOrder[i - 1]), "the trace interleaves");
      assert.ok(all.rows.every((l, i) => i === 0 || l.time >= all.rows[i - 1].time));
      assert.deepEqual(
        all.rows.toSorted(byTime).map(fields),
        model.logs.toSorted(byTime).map(fields),
      );
      // Paging in steps of 1, 7 and 300 gives the same order.
      assert.deepEqual(scan({}, 7).rows.map(fields), all.rows.map(fields));
      assert.deepEqual(
        scan({}, 1).rows.slice(0, 500).map(fields),
        all.rows.slice(0, 500).map(fields),
      );
      assert.deepEqual(scan({ task: 1234 }, 50).rows.map((l) => l.message), ["message 1234"]);
      assert.deepEqual(scan({ task: 1234 }, 50).steps, 1, "only the task's life is read");
      assert.throws(() => ix.logs({}, "12,x,3", 5), RangeError);
      assert.throws(() => ix.logs({}, "12,999999,3", 5), RangeError);
      // Text matches ignore ASCII case, in the message or the category.
      assert.deepEqual(
        scan({ text: "MESSAGE 17" }, 50).rows.map((l) => l.message).sort(),
        model.logs.filter((l) => l.message.includes("message 17")).map((l) => l.message).sort(),
      );
      assert.equal(scan({ text: "CAT" }, 5000).rows.length, model.logs.length);
      assert.equal(scan({ category: "nope" }, 50).rows.length, 0);
    } finally {
      ix.close();
    }
  });

  test("a percentile's instance: a complete task or region of that type with that duration", () => {
    const bytes = randomTrace(6, 1500);
    const path = join(dir, "rank.trace");
    writeFileSync(path, bytes);
    buildIndex(path, path + ".idx", { sortBudget: 8192 });
    const ix = TraceIndex.open(path + ".idx", path);
    try {
      for (const row of ix.meta.summary.taskTypes) {
        for (const p of ["p50", "p90", "p99", "max"] as const) {
          const ns = row.latency![p];
          const got = ix.instance("task", row.type, ns);
          assert.ok(got, `${row.type} ${p}`);
          assert.equal(got.duration, ns, `${row.type} ${p}: the exact duration (exact summaries)`);
          assert.equal(ix.task(got.task)?.type, row.type);
        }
      }
      for (const row of ix.meta.summary.regionTypes) {
        const got = ix.instance("region", row.type, row.latency!.p99);
        assert.equal(got?.duration, row.latency!.p99, row.type);
      }
      assert.equal(ix.instance("task", "no such type", 5), undefined);
      // A histogram bucket's instances, in bounded steps, are the model's of that type and range.
      const model = parseTrace(bytes);
      for (const row of ix.meta.summary.taskTypes) {
        for (const b of row.latency!.histogram.filter((b) => b.count > 0)) {
          const got: number[] = [];
          let from = 0, steps = 0;
          for (;;) {
            const p = ix.bucket("task", row.type, b.start, b.end, from, 7);
            got.push(...p.rows.map((r) => r.task));
            steps++;
            if (p.done) break;
            from = p.next;
          }
          const want = model.tasks.filter((t) =>
            t.type === row.type && t.start !== undefined && t.end !== undefined &&
            t.end - t.start >= b.start && t.end - t.start < b.end
          ).map((t) => t.id);
          assert.deepEqual(got.sort((x, y) => x - y), want.sort((x, y) => x - y), row.type);
          assert.equal(got.length, b.count);
          if (b.count > 7) assert.ok(steps > 1);
        }
      }
    } finally {
      ix.close();
    }
  });

  test("an index is built once, reused, and rebuilt when the trace changes", () => {
    const path = join(dir, "reuse.trace");
    writeFileSync(path, randomTrace(4, 50));
    const a = openIndex(path);
    assert.equal(a.built, true);
    a.index.close();
    const b = openIndex(path);
    assert.equal(b.built, false);
    assert.equal(b.path, path + ".idx");
    b.index.close();
    writeFileSync(path, randomTrace(5, 60));
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    const c = openIndex(path);
    assert.equal(c.built, true);
    assert.equal(c.index.meta.summary.taskTypes.reduce((n, t) => n + t.count, 0), 60);
    c.index.close();
  });

  const other = runtime === "deno" ? "bun" : "deno";
  test(`an index built by ${other} is reused here (mtimes are compared in whole ms)`, {
    skip: findExecutable(other) ? false : `no ${other} executable`,
  }, () => {
    const path = join(dir, "cross.trace");
    writeFileSync(path, randomTrace(6, 40));
    const url = new URL("../lib/viewer/serve/index_path.ts", import.meta.url).href;
    const r = runScript(
      `import { openIndex } from ${JSON.stringify(url)};\n` +
        `const o = openIndex(${JSON.stringify(path)});\nconsole.log(o.built);\no.index.close();\n`,
      { runtime: other },
    );
    assert.equal(r.stdout.trim(), "true", r.stderr);
    const here = openIndex(path);
    assert.equal(here.built, false);
    here.index.close();
  });
});
