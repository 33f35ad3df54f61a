/**
 * Installation by URL: a Deno script imports runtrace over http and records a
 * readable trace. The npm package (Bun, Node.js, bundlers) is tested in
 * tests/package_test.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { findExecutable, readTrace, repoRoot, runCommand, tempDir } from "./helpers.ts";

const app = (from: string, readFrom: string) => `
import * as trace from ${JSON.stringify(from)};
import { parseTrace } from ${JSON.stringify(readFrom)};
import { readFileSync } from "node:fs";
await trace.start("app.trace");
const [ctx, task] = trace.newTask("installed");
trace.withRegion(ctx, "work", () => trace.log("how", ${JSON.stringify(from)}));
task.end();
await trace.stop();
const t = parseTrace(new Uint8Array(readFileSync("app.trace")));
console.log(t.logs[0].message, t.regions.length, t.tasks[0].type);
`;

describe("installation", () => {
  test(
    "Deno: a script importing http://127.0.0.1:PORT/mod.ts records a readable trace",
    { timeout: 120_000 },
    async (t) => {
      const deno = findExecutable("deno");
      if (!deno) return t.skip("no deno executable on PATH");
      const server = createServer(async (req, res) => {
        const path = new URL(req.url ?? "/", "http://x").pathname;
        try {
          const body = await readFile(join(repoRoot, path));
          res.writeHead(200, { "content-type": "application/typescript; charset=utf-8" });
          res.end(body);
        } catch {
          res.writeHead(404);
          res.end();
        }
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      try {
        const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
        const dir = tempDir();
        writeFileSync(join(dir, "app.ts"), app(`http://${host}/mod.ts`, `http://${host}/read.ts`));
        const r = await runCommand(deno, [
          "run",
          "--reload",
          `--allow-import=${host}`,
          "--allow-read=.",
          "--allow-write=.",
          "app.ts",
        ], { cwd: dir });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`http://${host}/mod.ts 1 installed`));
        assert.equal(readTrace(join(dir, "app.trace")).truncated, false);
      } finally {
        server.close();
      }
    },
  );
});
