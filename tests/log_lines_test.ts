import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { LogLines } from "../lib/cli/log_lines.ts";
import { escapeControls } from "../lib/cli/terminal_text.ts";
import { formatTimestamp } from "../lib/read/duration.ts";

const utf8 = new TextEncoder();

/** The line as `runtrace logs` made it with strings, which the byte path must equal. */
function reference(
  time: number,
  task: number,
  thread: string,
  category: string,
  message: string,
  truncated: boolean,
): string {
  return `${formatTimestamp(time).padStart(12)}  ${
    String(task).padStart(5)
  }  ${thread}  ${category}  ${escapeControls(message)}${truncated ? " …" : ""}\n`;
}

describe("LogLines", () => {
  test("equals the string formatting on odd times, tasks and messages", () => {
    const messages: (string | Uint8Array)[] = [
      "plain",
      "",
      "a\x1b]0;title\x07b",
      "tab\tnew\nline\rcr",
      "del\x7f",
      "C1 \u0085 \u009f",
      "héllo wörld 日本語 😀",
      "x".repeat(3000),
      new Uint8Array([0x61, 0xff, 0xfe, 0x62, 0xc3]), // invalid UTF-8
    ];
    const times = [
      0,
      1,
      499,
      500,
      1500,
      2500,
      999_999,
      1_000_000_500,
      56_436_123,
      5e12,
      1499.5,
      9e15,
      1e20,
    ];
    const tasks = [0, 7, 12345, 123456789, 2 ** 53 - 1];
    const thread = escapeControls("ma\x1bin").padEnd(6);
    const category = escapeControls("ünï\x07").padEnd(12);
    const lines = new LogLines();
    let want = "";
    let i = 0;
    for (const m of messages) {
      for (const time of times) {
        const task = tasks[i % tasks.length];
        const truncated = i++ % 3 === 0;
        const bytes = typeof m === "string" ? utf8.encode(m) : m;
        // The message sits inside a larger buffer, as in a decoded batch.
        const buf = new Uint8Array(bytes.length + 10);
        buf.set(bytes, 5);
        lines.line(
          time,
          task,
          utf8.encode(thread),
          utf8.encode(category),
          buf,
          5,
          5 + bytes.length,
          truncated,
        );
        const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
        want += reference(time, task, thread, category, text, truncated);
      }
    }
    assert.equal(new TextDecoder().decode(lines.takeView()), want);
  });
});
