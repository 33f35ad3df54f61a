/**
 * The viewer page's stylesheet, inlined into every page by html.ts.
 *
 * @module
 */

/** CSS of the viewer page. */
export const STYLE = `
:root { color-scheme: light; --border: #dadce0; --muted: #5f6368; --accent: #1a73e8; }
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #202124;
  display: flex; flex-direction: column; background: #fff; }
header { display: flex; align-items: center; gap: 12px; padding: 6px 10px;
  border-bottom: 1px solid var(--border); flex-wrap: wrap; }
header h1 { font-size: 15px; margin: 0; }
#summary { color: var(--muted); font-size: 12px; }
[role=tablist] { display: flex; gap: 2px; }
[role=tab] { font: inherit; border: 1px solid var(--border); background: #f8f9fa; padding: 3px 12px;
  border-radius: 4px; cursor: pointer; }
[role=tab][aria-selected=true] { background: var(--accent); color: #fff; border-color: var(--accent); }
.search { margin-left: auto; display: flex; align-items: center; gap: 6px; }
#search { font: inherit; padding: 3px 6px; width: 220px; }
#search-status { color: var(--muted); font-size: 12px; min-width: 8em; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
#banner { background: #fef7e0; border-bottom: 1px solid #f9ab00; padding: 4px 10px; }
#banner p { margin: 2px 0; }
#error { margin: 40px auto; max-width: 720px; border: 1px solid #d93025; background: #fce8e6;
  padding: 16px 24px; border-radius: 6px; }
#error h2 { margin-top: 0; color: #a50e0e; }
main { flex: 1; min-height: 0; display: flex; }
.view { flex: 1; min-width: 0; overflow: auto; padding: 10px; }
.view[hidden] { display: none; }
#view-timeline { display: flex; padding: 0; overflow: hidden; }
#view-timeline[hidden] { display: none; }
#timeline-pane { flex: 1; min-width: 0; display: flex; flex-direction: column; }
#timeline-help { font-size: 12px; color: var(--muted); padding: 3px 8px; border-bottom: 1px solid var(--border); }
#timeline-host { flex: 1; min-height: 0; position: relative; overflow: hidden; }
#timeline-host canvas { display: block; cursor: grab; }
#details { width: 340px; border-left: 1px solid var(--border); overflow: auto; padding: 8px 12px; }
#details h2 { font-size: 14px; margin: 4px 0 8px; }
#details h3 { font-size: 13px; margin: 12px 0 4px; }
.id { color: var(--muted); font-weight: normal; }
.hint { color: var(--muted); }
table { border-collapse: collapse; }
table.kv th { text-align: left; color: var(--muted); font-weight: normal; padding: 2px 10px 2px 0;
  vertical-align: top; white-space: nowrap; }
table.kv td { padding: 2px 0; }
table.stats, table.instances-table, table.logs-table { width: 100%; }
table.stats th, table.stats td, .instances-table th, .instances-table td, .logs-table th,
.logs-table td, table.logs td { border-bottom: 1px solid #f1f3f4; padding: 3px 8px; text-align: left;
  vertical-align: bottom; }
.num { text-align: right !important; font-variant-numeric: tabular-nums; white-space: nowrap; }
.msg { white-space: pre-wrap; word-break: break-word; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px;
  border: 1px solid rgba(0,0,0,.2); }
#focus-bar { font-size: 12px; padding: 4px 8px; background: #e8f0fe; border-bottom: 1px solid var(--border); }
#focus-bar[hidden] { display: none; }
#focus-bar button { font: inherit; margin-left: 8px; }
.hist { display: flex; align-items: flex-end; gap: 1px; height: 50px; }
.bucket { width: 16px; height: 50px; padding: 0; border: 0; background: transparent; display: flex;
  flex-direction: column; justify-content: flex-end; align-items: stretch; cursor: pointer; }
.bucket small { font-size: 9px; line-height: 11px; color: var(--muted); text-align: center;
  white-space: nowrap; overflow: visible; }
.bucket span { display: block; width: 100%; background: var(--accent); }
button.sort { font: inherit; font-weight: bold; border: 0; background: none; padding: 0; cursor: pointer; }
th[aria-sort=ascending] button.sort::after { content: " ▲"; }
th[aria-sort=descending] button.sort::after { content: " ▼"; }
.bucket:disabled { cursor: default; }
.bucket:disabled span { background: transparent; }
.bucket:hover span, .bucket[aria-pressed=true] span { background: #e37400; }
.hist-axis { display: flex; justify-content: space-between; font-size: 11px; color: var(--muted); }
.instances { margin-top: 12px; }
button.link { font: inherit; border: 0; background: none; color: var(--accent); padding: 0;
  cursor: pointer; text-decoration: underline; }
.filters { margin-bottom: 8px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
#view-overview h2 { font-size: 14px; margin: 6px 0; }
.legend { display: flex; gap: 12px; flex-wrap: wrap; font-size: 12px; margin-bottom: 4px; }
.plot canvas { display: block; border: 1px solid var(--border); }
ol.slowest { columns: 2; font-size: 12px; margin: 6px 0 12px; }
table.mmu { width: auto; }
kbd { border: 1px solid var(--border); border-radius: 3px; padding: 0 4px; font-size: 11px; }
`;
