/**
 * The index's log records (lib/viewer/serve/log_store.ts): what the writer
 * packs, the block reader gives back exactly, whatever the values (times and
 * tasks stated as deltas, or as f64 when a delta cannot state them), and a
 * damaged block is an error, not a hang.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { seededRandom, tempDir } from "./helpers.ts";
import { FileAppender, readAt } from "../lib/viewer/serve/level_sorter.ts";
import { LogRecordReader, LogWriter } from "../lib/viewer/serve/log_store.ts";

const dir = tempDir();

interface Log {
  time: number;
  thread: number;
  task: number;
  category: number;
  message: string;
}

/** Writes `logs` as a log section; returns its blocks' bytes and the writer. */
function write(logs: Log[], name: string): Uint8Array[] {
  const fd = openSync(join(dir, name), "w+");
  const out = new FileAppender(fd);
  const w = new LogWriter(out);
  const enc = new TextEncoder();
  for (const l of logs) {
    const bytes = enc.encode(`..${l.message}..`);
    w.add(l.time, l.thread, l.task, l.category, bytes, 2, bytes.length - 2);
  }
  const length = w.length;
  const dir0 = w.writeDirectory(out);
  out.flush();
  const d = new Float64Array(readAt(fd, dir0.offset, dir0.blocks * 32).buffer);
  const blocks: Uint8Array[] = [];
  for (let b = 0; b < dir0.blocks; b++) {
    const end = b + 1 < dir0.blocks ? d[(b + 1) * 4] : length;
    blocks.push(readAt(fd, d[b * 4], end - d[b * 4]));
  }
  closeSync(fd);
  return blocks;
}

function readBack(blocks: Uint8Array[]): Log[] {
  const out: Log[] = [];
  const dec = new TextDecoder();
  for (const b of blocks) {
    const r = new LogRecordReader(b);
    while (r.next()) {
      out.push({
        time: r.time,
        thread: r.thread,
        task: r.task,
        category: r.category,
        message: dec.decode(r.message()),
      });
    }
  }
  return out;
}

describe("the index's log records", () => {
  test("round trip of ordinary and odd values", () => {
    const r = seededRandom(7);
    const logs: Log[] = [];
    let time = 0;
    for (let i = 0; i < 5000; i++) {
      // Mostly forward in time (a block), now and then back (a new block).
      time = r() < 0.05 ? Math.floor(time / 2) : time + Math.floor(r() * 100000);
      const odd = r() < 0.1;
      logs.push({
        time: odd ? time + 0.25 : time,
        thread: Math.floor(r() * 3) + (r() < 0.01 ? 0xfffffff0 : 0),
        task: odd ? [2 ** 60, -3, 1.5, 2 ** 53 + 2][i % 4] : Math.floor(r() * 2 ** 40),
        category: Math.floor(r() * 300),
        message: "x".repeat(Math.floor(r() * 3) === 0 ? Math.floor(r() * 200) : i % 7) + "é",
      });
    }
    assert.deepEqual(readBack(write(logs, "a")), logs);
  });

  test("a cut block throws", () => {
    const [block] = write([{ time: 5, thread: 1, task: 2, category: 3, message: "hello" }], "b");
    for (let n = 1; n < block.length; n++) {
      const r = new LogRecordReader(block.subarray(0, n));
      assert.throws(() => r.next(), /cut/);
    }
  });
});
