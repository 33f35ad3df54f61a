/**
 * The source files a bundle is built from, and their hash: the build records
 * the hash in the generated module and a test recomputes it, so a bundle that
 * was not rebuilt after a source change fails the tests in either runtime
 * (the two bundlers' outputs differ, their inputs do not).
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (two levels above this file). */
export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

const IMPORT = /(?:import|export)\s[^"';]*?from\s*["'](\.{1,2}\/[^"']+)["']/g;

/**
 * Every local module reachable from `entry` (a path relative to the
 * repository root) by relative imports, as paths relative to the root, sorted.
 *
 * @example
 * ```ts
 * import { bundleSources } from "./sources.ts";
 * console.log(bundleSources("lib/viewer/page/main.ts")); // ["lib/format/constants.ts", ...]
 * ```
 */
export function bundleSources(entry: string): string[] {
  const seen = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(IMPORT)) todo.push(resolve(dirname(file), m[1]));
  }
  return [...seen].map((f) => relative(ROOT, f).split("\\").join("/")).sort();
}

/** A source's text with line endings normalised, so a CRLF checkout hashes the same. */
function sourceText(file: string): string {
  return readFileSync(join(ROOT, file), "utf8").replace(/\r\n/g, "\n");
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * SHA-256 (hex) over the names and contents of the sources of the bundle
 * whose entry module is `entry`.
 *
 * @example
 * ```ts
 * import { sourceHash } from "./sources.ts";
 * console.log(await sourceHash("lib/record/drain_worker/main.ts"));
 * ```
 */
export async function sourceHash(entry: string): Promise<string> {
  const parts: string[] = [];
  for (const f of bundleSources(entry)) parts.push(f, "\0", sourceText(f), "\0");
  return hex(await sha256(parts.join("")));
}

/**
 * SHA-256 (hex, first 16 digits) of each source of the bundle whose entry
 * module is `entry`, so that a stale bundle can name the files that changed.
 *
 * @example
 * ```ts
 * import { sourceHashes } from "./sources.ts";
 * console.log(await sourceHashes("lib/viewer/page/main.ts")); // { "lib/format/decoder.ts": "3f2a...", ... }
 * ```
 */
export async function sourceHashes(entry: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of bundleSources(entry)) out[f] = hex((await sha256(sourceText(f))).slice(0, 8));
  return out;
}

/**
 * The sources that changed since a bundle was built from `files` (its
 * recorded per-file hashes) with overall hash `hash`: an empty list when the
 * bundle is current.
 *
 * @example
 * ```ts
 * import { changedSources } from "./sources.ts";
 * import { PAGE_SOURCE_FILES, PAGE_SOURCE_HASH } from "../viewer/page_bundle.ts";
 * console.log(await changedSources("lib/viewer/page/main.ts", PAGE_SOURCE_HASH, PAGE_SOURCE_FILES));
 * ```
 */
export async function changedSources(
  entry: string,
  hash: string,
  files: Readonly<Record<string, string>>,
): Promise<string[]> {
  if (hash === await sourceHash(entry)) return [];
  const now = await sourceHashes(entry);
  return [...new Set([...Object.keys(now), ...Object.keys(files)])]
    .filter((f) => now[f] !== files[f]).sort();
}
