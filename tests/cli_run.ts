/**
 * Runs the `runtrace` CLI in this process with captured standard streams,
 * for the tests of its commands. (A separate module from helpers.ts, which
 * most tests import, so that only CLI tests load the CLI and its viewer.)
 *
 * @module
 */

import { type CliIO, main } from "../cli.ts";
import { concat } from "./helpers.ts";

/** What a CLI run printed and returned. */
export interface CliRun {
  /** The exit status `main` returned. */
  status: number;
  /** Standard output as bytes (for binary exports). */
  bytes: Uint8Array;
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
  /** Wall time of the run, ms. */
  ms: number;
}

/**
 * Runs `runtrace ARGS` in-process; `stdin` (if given) is standard input,
 * handed over in 100-byte chunks. Neither stream is a terminal.
 */
export async function runCli(args: string[], stdin?: Uint8Array): Promise<CliRun> {
  const out: Uint8Array[] = [];
  const err: Uint8Array[] = [];
  const enc = new TextEncoder();
  const capture = (to: Uint8Array[]) => ({
    write(c: Uint8Array | string) {
      to.push(typeof c === "string" ? enc.encode(c) : c.slice());
      return Promise.resolve();
    },
  });
  const io: CliIO = {
    stdout: capture(out),
    stderr: capture(err),
    stdin: async function* () {
      if (stdin) { for (let i = 0; i < stdin.length; i += 100) yield stdin.subarray(i, i + 100); }
    },
    stderrIsTTY: false,
    stdoutIsTTY: false,
  };
  const t0 = performance.now();
  const status = await main(args, io);
  const ms = performance.now() - t0;
  const bytes = concat(out);
  const dec = new TextDecoder();
  return { status, bytes, stdout: dec.decode(bytes), stderr: dec.decode(concat(err)), ms };
}
