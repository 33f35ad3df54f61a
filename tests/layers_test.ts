/**
 * The layers of docs/architecture.md, checked: every import in lib/ points
 * down (lib/format ← lib/record, lib/read ← the rest), nothing in lib/
 * imports a root module, and the build tools in lib/build/ are not part of
 * the library. And lib/ asks the linter for no `any`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { repoRoot } from "./helpers.ts";

/** Every .ts file under `dir`, relative to the repository root. */
function tsFiles(dir: string): string[] {
  return readdirSync(join(repoRoot, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(dir, f).split("\\").join("/"));
}

/** The relative modules `file` imports (static and dynamic), comments left out. */
function importsOf(file: string): string[] {
  const code = readFileSync(join(repoRoot, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const specs = [
    ...code.matchAll(/(?:import|export)\s[^"';]*?from\s*["'](\.{1,2}\/[^"']+)["']/g),
    ...code.matchAll(/import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g),
  ].map((m) => m[1]);
  return specs.map((s) =>
    relative(repoRoot, normalize(join(repoRoot, dirname(file), s))).split("\\").join("/")
  );
}

/** The folder of lib/ a file is in: `format`, `record`, ... */
const folder = (file: string) => file.split("/")[1];

/**
 * Single edges allowed against the folders' rule: the drain worker bundle's
 * entry module is its composition root and wires the live OTLP export into
 * the worker (docs/architecture.md, "Rules the structure keeps").
 */
const ALLOWED_EDGES: readonly string[] = [
  "lib/record/drain_worker/main.ts -> lib/export/otlp_live.ts",
];

/** What each folder may import besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  format: [],
  record: ["format"],
  read: ["format"],
  export: ["format", "read"],
  http: ["format", "record", "read"],
  testing: ["format", "record", "read", "cli"],
  cli: ["format", "read", "export", "viewer"],
  viewer: ["format", "read", "cli", "build"],
  build: [],
};

describe("the layers", () => {
  const files = tsFiles("lib");

  test("every import in lib/ points down, and none reaches a root module", () => {
    const wrong: string[] = [];
    for (const file of files) {
      for (const target of importsOf(file)) {
        if (!target.startsWith("lib/")) {
          wrong.push(`${file} imports the root module ${target}`);
          continue;
        }
        const from = folder(file), to = folder(target);
        if (from === to || ALLOWED_EDGES.includes(`${file} -> ${target}`)) continue;
        if (!(ALLOWED[from] ?? []).includes(to)) wrong.push(`${file} imports ${target}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test("the build tools are not part of the library: only the build scripts import lib/build/", () => {
    const importers = files.filter((f) =>
      folder(f) !== "build" && importsOf(f).some((t) => folder(t) === "build")
    );
    assert.deepEqual(importers, ["lib/viewer/build.ts"]);
  });
});

describe("lib/ is typed", () => {
  test("no lint escape for `any` (issue 9): give foreign APIs an interface of the parts used", () => {
    const escapes = tsFiles("lib").flatMap((file) =>
      readFileSync(join(repoRoot, file), "utf8").split("\n").flatMap((line, i) =>
        /deno-lint-ignore[^\n]*no-explicit-any/.test(line) ? [`${file}:${i + 1}`] : []
      )
    );
    assert.deepEqual(escapes, []);
  });
});
