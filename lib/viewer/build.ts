/**
 * Builds lib/viewer/page_bundle.ts, the page script the CLI inlines into each
 * page; the same as `deno run -A lib/build/bundle.ts page`:
 *
 *     deno run -A lib/viewer/build.ts     (uses `deno bundle`)
 *     bun lib/viewer/build.ts             (uses Bun.build)
 *
 * The generated file is committed, so `runtrace view` needs no bundler.
 *
 * @module
 */

import { buildBundle, PAGE_BUNDLE } from "../build/bundle.ts";

/**
 * Writes page_bundle.ts and returns its path.
 *
 * @example
 * ```ts
 * import { buildPageBundle } from "./build.ts";
 * await buildPageBundle();
 * ```
 */
export function buildPageBundle(): Promise<string> {
  return buildBundle(PAGE_BUNDLE);
}

if (import.meta.main) console.log(`wrote ${await buildPageBundle()}`);
