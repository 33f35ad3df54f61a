import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { findExecutable, readTrace, repoRoot, tempDir } from "./helpers.ts";

/** Runs a command without blocking this process's event loop. */
function run(
  exe: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      exe,
      args,
      { cwd, timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

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
  test("Deno: a script importing http://127.0.0.1:PORT/mod.ts records a readable trace", async (t) => {
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
      const r = await run(deno, [
        "run",
        "--reload",
        `--allow-import=${host}`,
        "--allow-read=.",
        "--allow-write=.",
        "app.ts",
      ], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`http://${host}/mod.ts 1 installed`));
      assert.equal(readTrace(join(dir, "app.trace")).truncated, false);
    } finally {
      server.close();
    }
  });

  test('Bun: `bun add` of the packed tarball, then import from "runtrace"', async (t) => {
    const bun = findExecutable("bun");
    if (!bun) return t.skip("no bun executable on PATH");
    const packDir = tempDir();
    const pack = await run(bun, ["pm", "pack", "--destination", packDir], repoRoot);
    assert.equal(pack.code, 0, pack.stderr);
    const tarball = readdirSync(packDir).find((f) => f.endsWith(".tgz"));
    assert.ok(tarball, "bun pm pack made no tarball");

    const dir = tempDir();
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "app", private: true }));
    const add = await run(bun, ["add", join(packDir, tarball)], dir);
    assert.equal(add.code, 0, add.stderr);
    writeFileSync(join(dir, "app.ts"), app("runtrace", "runtrace/read"));
    const r = await run(bun, ["app.ts"], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /runtrace 1 installed/);
    assert.equal(readTrace(join(dir, "app.trace")).truncated, false);
  });
});
