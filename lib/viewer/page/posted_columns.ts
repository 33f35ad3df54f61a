/**
 * The timeline's columns as the page's worker posts them: the typed arrays
 * copied once (the worker keeps its own for the layout) and moved to the
 * page, and the log messages as one text with their lengths, since a
 * message of a hundred thousand strings costs the page's main thread its
 * deserialisation (tens of ms at 1 M events, in the task that draws the
 * first screen) where one string is a copy. A structured clone of the whole
 * columns, as the worker made before, serialised and deserialised every
 * array within the worker only to move it again.
 *
 * @module
 */

import type { Columns, LogColumns } from "./columns.ts";
import { IdIndex } from "./id_index.ts";

/** Columns as posted: the log messages as one text (`text`) and each one's length. */
export type PostedColumns = Omit<Columns, "logs"> & {
  logs: Omit<LogColumns, "message"> & { text: string; length: Int32Array };
};

/** A copy of `o` whose typed arrays are copies too, their buffers added to `transfer`. */
function copyViews<T extends object>(o: T, transfer: ArrayBuffer[]): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (ArrayBuffer.isView(v)) {
      const c = (v as unknown as Float64Array).slice();
      transfer.push(c.buffer);
      out[k] = c;
    } else out[k] = v;
  }
  return out as T;
}

/**
 * The columns to post, and the buffers to transfer with them; `cols` is left
 * as it was, for the worker's own use.
 *
 * @example
 * ```ts
 * import { decodeColumns } from "./columns.ts";
 * import { postedColumns } from "./posted_columns.ts";
 * const { cols, transfer } = postedColumns(decodeColumns(await Deno.readFile("trace.out")));
 * // worker: postMessage({ cols }, transfer)
 * ```
 */
export function postedColumns(cols: Columns): { cols: PostedColumns; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const { message, ...logs } = cols.logs;
  const length = new Int32Array(message.length);
  for (let i = 0; i < message.length; i++) length[i] = message[i].length;
  transfer.push(length.buffer);
  const posted: PostedColumns = {
    ...cols,
    tasks: copyViews(cols.tasks, transfer),
    regions: copyViews(cols.regions, transfer),
    logs: { ...copyViews(logs, transfer), text: message.join(""), length },
    counters: cols.counters.map((c) => copyViews(c, transfer)),
    gcs: copyViews(cols.gcs, transfer),
    stalls: copyViews(cols.stalls, transfer),
    taskIndex: copyViews(cols.taskIndex, transfer),
  };
  return { cols: posted, transfer };
}

/**
 * The columns again from what the worker posted: the messages cut from
 * their text (slices of it, no copies), the task index revived.
 *
 * @example
 * ```ts
 * import { decodeColumns } from "./columns.ts";
 * import { postedColumns, receivedColumns } from "./posted_columns.ts";
 * const { cols, transfer } = postedColumns(decodeColumns(await Deno.readFile("trace.out")));
 * const back = receivedColumns(structuredClone(cols, { transfer }));
 * console.log(back.logs.message[0]);
 * ```
 */
export function receivedColumns(posted: PostedColumns): Columns {
  const { text, length, ...logs } = posted.logs;
  const message = new Array<string>(length.length);
  for (let i = 0, at = 0; i < length.length; i++) message[i] = text.slice(at, at += length[i]);
  return { ...posted, logs: { ...logs, message }, taskIndex: IdIndex.revive(posted.taskIndex) };
}
