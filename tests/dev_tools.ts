/**
 * Dev/test-only npm tools (Chrome's trace engine, protobufjs) installed on
 * demand into a cache directory outside the repository, never as
 * dependencies of the package: `npm install --prefix
 * ~/.cache/runtrace-ci/NAME PACKAGE@VERSION`. A test that needs one skips
 * with a clear message only when the registry cannot be reached.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** Where the tools go: `$RUNTRACE_TOOL_CACHE`, else `~/.cache/runtrace-ci`. */
export const toolCache: string = process.env.RUNTRACE_TOOL_CACHE ??
  join(homedir(), ".cache", "runtrace-ci");

/** An installed tool, or why the tests that need it skip. */
export type DevTool = { dir: string; skip: false } | { dir: undefined; skip: string };

/** Errors of npm that mean "the registry is not reachable from here". */
const OFFLINE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network|proxy/i;

/**
 * Installs `pkg@version` into `<toolCache>/<name>` unless that version is
 * there already; returns the directory, or a skip reason when the registry
 * is unreachable (or npm missing). Any other failure throws.
 */
export function devTool(name: string, pkg: string, version: string): DevTool {
  const dir = join(toolCache, name);
  const manifest = join(dir, "node_modules", pkg, "package.json");
  const installed = () =>
    existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).version === version;
  if (installed()) return { dir, skip: false };
  const r = spawnSync(
    "npm",
    ["install", "--prefix", dir, `${pkg}@${version}`, "--no-audit", "--no-fund"],
    { encoding: "utf8", timeout: 300_000 },
  );
  if (r.error && (r.error as { code?: string }).code === "ENOENT") {
    return {
      dir: undefined,
      skip: `npm is not installed: cannot install ${pkg} (a dev-only tool)`,
    };
  }
  if (r.status !== 0 || !installed()) {
    const out = `${r.stdout ?? ""}\n${r.stderr ?? ""}`;
    if (OFFLINE.test(out) || r.signal === "SIGTERM") {
      return {
        dir: undefined,
        skip: `the npm registry is unreachable: cannot install ${pkg}@${version} (${
          out.trim().split("\n").at(-1)
        })`,
      };
    }
    throw new Error(`npm install ${pkg}@${version} into ${dir} failed:\n${out}`);
  }
  return { dir, skip: false };
}

/** `require` resolving from a tool's directory (CommonJS packages, in both runtimes). */
export function toolRequire(dir: string): (id: string) => unknown {
  return createRequire(join(dir, "package.json"));
}
