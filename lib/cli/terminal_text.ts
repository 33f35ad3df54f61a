/**
 * Terminal safety for text output: trace strings (task and region types, log
 * categories and messages, thread names) come from the traced program, or
 * from whoever crafted the file, and must never reach a terminal raw. An ESC
 * or an OSC sequence could set the window title, clear the screen or hide
 * lines; a CR or a BS could overwrite what was printed. `--json` output is
 * not passed through here: JSON escapes control characters itself, and its
 * strings stay exact.
 *
 * @module
 */

/** C0 controls, DEL and C1 controls: what a terminal may act upon. */
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x1f\x7f-\x9f]/g;
/** The same, but a line feed passes: for whole multi-line outputs. */
// deno-lint-ignore no-control-regex
const CONTROLS_BUT_LF = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/g;

const SHORT: Record<string, string> = {
  "\b": "\\b",
  "\t": "\\t",
  "\n": "\\n",
  "\f": "\\f",
  "\r": "\\r",
};

function escape(c: string): string {
  return SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * A trace string as one line of plain text: every control character (line
 * feeds and tabs included) written as a JSON-style escape.
 *
 * @example
 * ```ts
 * import { escapeControls } from "./terminal_text.ts";
 * escapeControls("a\x1b]0;pwned\x07b\n"); // "a\\u001b]0;pwned\\u0007b\\n"
 * ```
 */
export function escapeControls(s: string): string {
  // Most strings have no control character: a scan is cheaper than a replace.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return s.replace(CONTROLS, escape);
  }
  return s;
}

/**
 * A whole text output made safe for a terminal: control characters other
 * than the line feed escaped. Commands pass their text output through it
 * last, whatever escaping their cells already had.
 *
 * @example
 * ```ts
 * import { terminalSafe } from "./terminal_text.ts";
 * terminalSafe("row 1\nrow\r2\n"); // "row 1\nrow\\r2\n"
 * ```
 */
export function terminalSafe(text: string): string {
  return text.replace(CONTROLS_BUT_LF, escape);
}
