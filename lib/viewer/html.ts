/**
 * Builds the self-contained viewer page: markup, stylesheet, the bundled page
 * script and the trace itself, base64-encoded (a large trace compressed first), so the page needs no network
 * and no server (it works from `file://` and as a mail attachment).
 *
 * @module
 */

import { deflateRawSync } from "node:zlib";
import { PAGE_SCRIPT } from "./page_bundle.ts";
import { inflateRaw } from "./inflate.ts";
import { STYLE } from "./style.ts";

/** Options of {@linkcode renderViewerHtml}. */
export interface ViewerHtmlOptions {
  /** Name shown in the title and the error page, usually the file name. */
  name?: string;
  /**
   * The page of `runtrace view --serve`: it holds no trace (the bytes are
   * ignored) and asks the server that sent it for the data.
   */
  serve?: boolean;
  /** A note shown at the top of the page before its script runs, such as "too big for this page". */
  note?: string;
}

/**
 * Base64 of `bytes`, in chunks so that large traces do not overflow the
 * argument list of `String.fromCharCode`.
 *
 * @example
 * ```ts
 * import { toBase64 } from "./html.ts";
 * toBase64(new Uint8Array([1, 2, 3])); // "AQID"
 * ```
 */
export function toBase64(bytes: Uint8Array): string {
  const native = (bytes as unknown as { toBase64?: () => string }).toBase64;
  if (typeof native === "function") return native.call(bytes);
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += 0x8000) {
    parts.push(String.fromCharCode(...bytes.subarray(i, i + 0x8000)));
  }
  return btoa(parts.join(""));
}

/**
 * Runs the page script, which the page holds DEFLATE-compressed (a third of
 * its size): inflated synchronously by inflate.ts's decoder, embedded by its
 * source text, and run as an inline script in a function scope (its
 * minified names must not meet the window's), as the page's CSP allows.
 */
const LOADER = `(()=>{const d=document;try{const b=Uint8Array.from(atob(d.getElementById(` +
  `"runtrace-page").textContent),(c)=>c.charCodeAt(0));const s=d.createElement("script");` +
  `s.textContent='(()=>{"use strict";'+new TextDecoder().decode((${inflateRaw.toString()})(b))` +
  `+"\\n})()";d.body.append(s)}catch(e){const x=d.getElementById("error");x.hidden=false;` +
  `x.textContent="The viewer's script did not load: "+e}})()`;

let compressed: string | undefined;

/** The page script, compressed and base64-encoded, made once per process. */
function compressedScript(): string {
  compressed ??= toBase64(deflateRawSync(new TextEncoder().encode(PAGE_SCRIPT), { level: 9 }));
  return compressed;
}

/**
 * Traces over this size (bytes) are embedded DEFLATE-compressed: the page
 * reads them in its worker, which inflates them natively, and a page of half
 * the size parses in half the time. Smaller ones stay plain base64, which the
 * page reads synchronously in itself (see page/main.ts).
 */
const DEFLATE_FROM = 1 << 19;

/** The element holding the trace: its base64, or that of its raw DEFLATE for a large trace. */
function embeddedTrace(bytes: Uint8Array): string {
  const deflate = bytes.length > DEFLATE_FROM;
  // Level 6, zlib's default: a 10 MB trace to half its size in under a second (level 9 gains 1%).
  const text = toBase64(deflate ? deflateRawSync(bytes, { level: 6 }) : bytes);
  const encoding = deflate ? ' data-encoding="deflate-raw"' : "";
  return `<script id="runtrace-data" type="application/octet-stream"${encoding}>${text}</script>\n`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Renders the viewer page for the trace `bytes`. The bytes are not checked
 * here: the page decodes them, and shows an error page if they are not a
 * trace.
 *
 * @example
 * ```ts
 * import { renderViewerHtml } from "./html.ts";
 * const html = renderViewerHtml(await Deno.readFile("trace.out"), { name: "trace.out" });
 * await Deno.writeTextFile("trace.html", html);
 * ```
 */
export function renderViewerHtml(bytes: Uint8Array, options: ViewerHtmlOptions = {}): string {
  const name = escapeHtml(options.name ?? "trace");
  const script = compressedScript();
  const serve = options.serve === true;
  // The served page fetches from its own origin; the self-contained one from nowhere.
  const connect = serve ? " connect-src 'self';" : "";
  const data = serve ? "" : embeddedTrace(bytes);
  const note = options.note ? `<p>${escapeHtml(options.note)}</p>` : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none';${connect} script-src 'unsafe-inline'; worker-src blob:; style-src 'unsafe-inline'; img-src data:">
<title>${name} · runtrace</title>
<style>${STYLE}</style>
</head>
<body data-name="${name}"${serve ? ' data-serve="1"' : ""}>
<header>
<h1>runtrace</h1>
<nav role="tablist" aria-label="Views">
<button role="tab" data-view="overview" aria-selected="false">Overview</button>
<button role="tab" data-view="timeline" aria-selected="true">Timeline</button>
<button role="tab" data-view="tasks" aria-selected="false">Tasks</button>
<button role="tab" data-view="regions" aria-selected="false">Regions</button>
<button role="tab" data-view="logs" aria-selected="false">Logs</button>
</nav>
<span id="summary">${name}</span>
<label class="search">Search <input id="search" type="search" placeholder="task, region or log text  ( / )" aria-describedby="search-status"></label>
<span id="search-status" aria-live="polite"></span>
</header>
<div id="banner" role="status"${note ? "" : " hidden"}>${note}</div>
<div id="error" role="alert" hidden></div>
<main>
<section id="view-timeline" class="view" aria-label="Timeline">
<div id="timeline-pane">
<div id="timeline-help">Zoom <kbd>W</kbd>/<kbd>S</kbd> or wheel · pan <kbd>A</kbd>/<kbd>D</kbd> or drag · scroll <kbd>↑</kbd>/<kbd>↓</kbd> or shift+wheel · slices <kbd>[</kbd>/<kbd>]</kbd> · zoom to selection <kbd>Enter</kbd> · all <kbd>0</kbd></div>
<div id="focus-bar" role="status" hidden></div>
<div id="timeline-host"></div>
</div>
<aside id="details" aria-label="Details" aria-live="polite"><p class="hint">Loading the trace…</p></aside>
</section>
<section id="view-overview" class="view" aria-label="Overview" hidden></section>
<section id="view-tasks" class="view" aria-label="Tasks" hidden></section>
<section id="view-regions" class="view" aria-label="Regions" hidden></section>
<section id="view-logs" class="view" aria-label="Logs" hidden></section>
</main>
<noscript><p>The runtrace viewer needs JavaScript.</p></noscript>
${data}<script id="runtrace-page" type="application/octet-stream">${script}</script>
<script>${LOADER}</script>
</body>
</html>
`;
}
