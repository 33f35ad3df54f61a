/**
 * Builds the drain worker as a `data:` URL from the source text of its
 * classes. A worker file beside this module would not load when runtrace is
 * imported over `http(s):` (Deno's `node:worker_threads` accepts only `file:`
 * and `data:` URLs), and a Web Worker cannot be unref'd.
 *
 * @module
 */

import { ByteWriter, TraceWriter } from "../format/encoder.ts";
import {
  drainWorkerMain,
  FlightWindow,
  OpenSet,
  RingDrainer,
  StringTable,
} from "./drain_worker.ts";

let cached: URL | undefined;

/** The module source the drain worker runs. */
export function drainWorkerSource(): string {
  return [
    'import * as wt from "node:worker_threads";',
    'import * as fs from "node:fs";',
    ByteWriter.toString(),
    TraceWriter.toString(),
    RingDrainer.toString(),
    FlightWindow.toString(),
    StringTable.toString(),
    OpenSet.toString(),
    `(${drainWorkerMain.toString()})(wt, fs, TraceWriter, RingDrainer, FlightWindow, StringTable, OpenSet);`,
  ].join("\n");
}

/** A `data:` URL of {@linkcode drainWorkerSource}, built once. */
export function drainWorkerUrl(): URL {
  cached ??= new URL(
    "data:text/javascript," + encodeURIComponent(drainWorkerSource()),
  );
  return cached;
}
