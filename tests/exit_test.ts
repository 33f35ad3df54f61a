import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { modUrl, readTrace, runScript, tempDir } from "./helpers.ts";

const script = (path: string, ending: string) => `
import * as trace from ${JSON.stringify(modUrl)};
await trace.start(${JSON.stringify(path)});
const [ctx, task] = trace.newTask("job");
for (let i = 0; i < 1000; i++) trace.log(ctx, "n", "message " + i);
await trace.withRegion(ctx, "wait", () => new Promise((r) => setTimeout(r, 20)));
task.end();
console.log("main done");
${ending}
`;

describe("exit without stop()", () => {
  test("a normal exit finishes the trace and does not hang", () => {
    const path = join(tempDir(), "t.trace");
    const r = runScript(script(path, ""), { timeoutMs: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /main done/);
    const t = readTrace(path);
    assert.equal(t.truncated, false);
    assert.equal(t.logs.length, 1000);
    assert.equal(t.regions.length, 1);
    assert.ok(t.tasks[0].end !== undefined);
  });

  test("process.exit() mid-trace leaves a complete, readable file", () => {
    const path = join(tempDir(), "t.trace");
    const r = runScript(
      script(
        path,
        `trace.log("late", "just before exit"); (await import("node:process")).default.exit(3);`,
      ),
      { timeoutMs: 20_000 },
    );
    assert.equal(r.status, 3, r.stderr);
    const t = readTrace(path);
    assert.equal(t.truncated, false);
    assert.equal(t.logs.length, 1001);
    assert.equal(t.logs.at(-1)!.message, "just before exit");
  });

  test("a program that never stops tracing and keeps no other work exits promptly", () => {
    const path = join(tempDir(), "t.trace");
    const started = performance.now();
    const r = runScript(
      `import * as trace from ${JSON.stringify(modUrl)};\nawait trace.start(${
        JSON.stringify(path)
      });\ntrace.log("c", "only");\n`,
      { timeoutMs: 20_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok(performance.now() - started < 15_000);
    assert.equal(readTrace(path).logs.length, 1);
  });
});
