/**
 * Every fenced `ts` block of README.md runs as written, in the runtime it is
 * for: blocks that use `Deno.` in Deno, blocks that use `Bun.` in Bun, the
 * others in both. The blocks are written, in README order, into one temporary
 * directory (so a later block reads the trace an earlier one wrote), with
 * `runtrace` and its subpaths mapped to this checkout as the README's import
 * maps map them to the published package.
 *
 * Conventions the README keeps (and this test enforces):
 * - A block whose first line is a comment naming a file (`// resize.ts`) is
 *   saved under that name; if another block refers to it (`./resize.ts`) it
 *   is a module, not a program, and runs only through the block that uses it.
 * - A block named `*_test.ts` runs under the test runner.
 * - A block that starts a server (`Deno.serve`, `Bun.serve`, `node:http`'s
 *   `listen`) passes if it is still serving, without an error, after a few
 *   seconds; its port is replaced by 0 (any free port) so that parallel runs
 *   do not collide.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { repoRoot, runCommand, runtime, tempDir } from "./helpers.ts";
import { isTracedTestRun } from "../lib/testing/test_tracing.ts";

/** What each entry point of the package is in the checkout. */
const ENTRY_POINTS: Record<string, string> = {
  "runtrace": "mod.ts",
  "runtrace/read": "read.ts",
  "runtrace/http": "http.ts",
  "runtrace/cli": "cli.ts",
  "runtrace/test_preload": "test_preload.ts",
  "runtrace/test_tracing": "lib/testing/test_tracing.ts",
};

interface Block {
  /** 1-based line of the opening fence. */
  line: number;
  file: string;
  code: string;
  runtimes: ("deno" | "bun")[];
}

/** The fenced `ts` blocks of `markdown`, named and assigned to runtimes. */
function readmeBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== "```ts") continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== "```"; i++) body.push(lines[i]!);
    const code = body.join("\n") + "\n";
    const named = /^\/\/ ([\w.-]+\.ts)\b/.exec(body[0] ?? "");
    // Comments may mention the other runtime ("// Bun: Bun.serve(...)").
    const live = code.replace(/(^|[^:])\/\/.*$/gm, "$1");
    const deno = /\bDeno\./.test(live);
    const bun = /\bBun\./.test(live);
    assert.ok(
      !(deno && bun),
      `README.md:${start + 1}: a block uses both Deno. and Bun. code; split it`,
    );
    blocks.push({
      line: start + 1,
      file: named?.[1] ?? `readme_${start + 1}.ts`,
      code,
      runtimes: deno ? ["deno"] : bun ? ["bun"] : ["deno", "bun"],
    });
  }
  return blocks;
}

/** Writes the import mapping for `rt` into `dir`; returns the extra arguments Deno needs. */
function mapEntryPoints(dir: string, rt: "deno" | "bun"): string[] {
  const target = (p: string) => join(repoRoot, p);
  if (rt === "deno") {
    const imports = Object.fromEntries(
      Object.entries(ENTRY_POINTS).map(([k, v]) => [k, `file://${target(v)}`]),
    );
    writeFileSync(join(dir, "deno.json"), JSON.stringify({ imports }));
    return ["--config", join(dir, "deno.json")];
  }
  const paths = Object.fromEntries(
    Object.entries(ENTRY_POINTS).map(([k, v]) => [k, [target(v)]]),
  );
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { paths } }));
  return [];
}

/** Whether a block starts a server. */
const SERVES = /\b(Deno|Bun)\.serve\(|\.listen\(/;

/** Runs a server block: passes if it is still up, with no error output, after `ms`. */
function runServer(
  exe: string,
  args: string[],
  cwd: string,
  ms: number,
): Promise<{ alive: boolean; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(exe, args, { cwd, env: { ...process.env, NO_COLOR: "1" } });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += String(c)));
    child.stdout.resume();
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ alive: true, code: null, stderr });
    }, ms);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ alive: false, code, stderr });
    });
  });
}

const blocks = readmeBlocks(readFileSync(join(repoRoot, "README.md"), "utf8"));
const mine = blocks.filter((b) => b.runtimes.includes(runtime));

describe("README.md", {
  skip: isTracedTestRun() && "RUNTRACE holds the trace; the README's blocks start their own",
}, () => {
  test("has ts blocks, each for Deno, Bun or both", () => {
    assert.ok(blocks.length >= 8, `only ${blocks.length} ts blocks found`);
    assert.ok(blocks.some((b) => b.runtimes.length === 2));
  });

  test(`every ts block for ${runtime} runs as written`, { timeout: 600_000 }, async () => {
    const dir = tempDir();
    const extra = mapEntryPoints(dir, runtime);
    for (const b of mine) {
      const code = SERVES.test(b.code)
        ? b.code.replace(/\bport: \d+/g, "port: 0").replace(/\.listen\(\d+/g, ".listen(0")
        : b.code;
      writeFileSync(join(dir, b.file), code);
    }
    const modules = new Set(
      mine.filter((b) => mine.some((o) => o !== b && o.code.includes(`./${b.file}`))),
    );
    const programs = mine.filter((b) => !modules.has(b));
    if (runtime === "deno") {
      // Type-check every block at once, then run them without checking again.
      const files = programs.map((b) => b.file);
      const r = await runCommand(process.execPath, ["check", ...extra, ...files], { cwd: dir });
      assert.equal(r.code, 0, `deno check of the README's blocks:\n${r.stderr}`);
    }
    for (const b of programs) {
      const where = `README.md:${b.line} (${b.file})`;
      const isTest = b.file.endsWith("_test.ts");
      const args = runtime === "deno"
        ? [isTest ? "test" : "run", "--no-check", "-A", ...extra, b.file]
        : [...(isTest ? ["test"] : []), `./${b.file}`];
      if (SERVES.test(b.code)) {
        const r = await runServer(process.execPath, args, dir, 5_000);
        assert.ok(r.alive || r.code === 0, `${where} exited with ${r.code}:\n${r.stderr}`);
        assert.doesNotMatch(r.stderr, /error/i, `${where}:\n${r.stderr}`);
        continue;
      }
      const r = await runCommand(process.execPath, args, { cwd: dir, timeoutMs: 120_000 });
      assert.equal(r.code, 0, `${where} failed:\n${r.stdout}\n${r.stderr}`);
    }
  });
});
