/**
 * The CLI's output sink: `ChunkBuffer.takeView` keeps its latest
 * `VIEWS_KEPT` views valid, `WriteQueue` keeps at most that many writes in
 * flight and reports a failed write, and `fileOutput` lands writes started
 * together in order.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ChunkBuffer, VIEWS_KEPT } from "../lib/export/chunk_buffer.ts";
import { WriteQueue } from "../lib/cli/write_queue.ts";
import { fileOutput } from "../lib/cli/io.ts";
import { tempDir } from "./helpers.ts";

/** Fills `b` with `n` bytes of `v` and takes the view. */
function chunk(b: ChunkBuffer, v: number, n: number): Uint8Array {
  b.ensure(n);
  b.buf.fill(v, b.pos, b.pos + n);
  b.pos += n;
  return b.takeView();
}

describe("the export's output sink", () => {
  test("takeView keeps the latest VIEWS_KEPT views intact, and an empty take hands out nothing", () => {
    assert.ok(VIEWS_KEPT >= 1);
    const b = new ChunkBuffer(8);
    const views: Uint8Array[] = [];
    for (let i = 1; i <= 20; i++) {
      views.push(chunk(b, i, 3 + (i % 5) * 7));
      assert.equal(b.takeView().length, 0);
      for (let k = Math.max(0, views.length - VIEWS_KEPT); k < views.length; k++) {
        assert.ok(views[k].every((x) => x === k + 1), `view ${k + 1} changed after take ${i}`);
      }
    }
  });

  test("at most `limit` writes in flight, in order; a failure is reported once written", async () => {
    const started: number[] = [];
    const finish: (() => void)[] = [];
    let inFlight = 0, most = 0;
    const out = {
      write: (c: Uint8Array | string) => {
        started.push((c as Uint8Array)[0]);
        inFlight++;
        most = Math.max(most, inFlight);
        return new Promise<void>((resolve, reject) =>
          finish.push(() => {
            inFlight--;
            (c as Uint8Array)[0] === 4 ? reject(new Error("disk full")) : resolve();
          })
        );
      },
    };
    // Finishes the oldest write whenever the test waits.
    const timer = setInterval(() => finish.shift()?.(), 1);
    try {
      const q = new WriteQueue(out, 2);
      for (let i = 1; i <= 3; i++) {
        await q.room();
        q.start(new Uint8Array([i]));
      }
      q.start(new Uint8Array(0));
      await q.drain();
      assert.deepEqual(started, [1, 2, 3]);
      assert.equal(most, 2);
      q.start(new Uint8Array([4]));
      q.start(new Uint8Array([5]));
      await assert.rejects(q.drain(), /disk full/);
      assert.throws(() => q.start(new Uint8Array([6])), /disk full/);
      assert.deepEqual(started, [1, 2, 3, 4, 5]);
    } finally {
      clearInterval(timer);
    }
  });

  test("a file takes many writes at once and keeps their order", async () => {
    const path = join(tempDir(), "many.bin");
    const out = await fileOutput(path);
    assert.ok((out.maxInFlight ?? 1) >= VIEWS_KEPT);
    const want: number[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 64; i++) {
      const c = new Uint8Array(1000 + i * 4099).fill(i);
      want.push(...[i, c.length]);
      writes.push(out.write(c));
    }
    writes.push(out.write("end"));
    await Promise.all(writes);
    await out.close();
    const got = new Uint8Array(readFileSync(path));
    let at = 0;
    for (let k = 0; k < want.length; k += 2) {
      const [v, n] = [want[k], want[k + 1]];
      assert.ok(got.subarray(at, at + n).every((x) => x === v), `write ${v} out of place`);
      at += n;
    }
    assert.equal(new TextDecoder().decode(got.subarray(at)), "end");
  });
});
