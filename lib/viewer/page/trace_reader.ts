/**
 * Reads a trace for the page, in the page's Web Worker (see page_worker.ts):
 * the bytes become the timeline's columns, posted at once for the first
 * paint (the Overview needs only them), and its layout, then the full model (the reader's trace model and every
 * task's delays, for the details, the Tasks, Regions and Logs pages and the
 * focus view) and the responsiveness curves, posted packed as typed arrays
 * (model_pack.ts). Everything posted is typed arrays and a few small
 * objects, transferred rather than copied.
 *
 * Where the bytes come from is the caller's business: the input is the
 * bytes, or the base64 text a self-contained page holds.
 *
 * @module
 */

import { TraceDecoder } from "../../format/decoder.ts";
import { TraceBuilder } from "../../read/trace_model.ts";
import { responsivenessOf, type ThreadResponsiveness } from "../../read/responsiveness.ts";
import { decodeColumns, decodeTaskColumns } from "./columns.ts";
import { type Layout, layoutTrace } from "./model.ts";
import { PageModelBuilder } from "./delay.ts";
import { type StatsRows, statsRows } from "./stats_page.ts";
import { packedBuffers, type PackedModel, packModel } from "./model_pack.ts";
import { type PostedColumns, postedColumns } from "./posted_columns.ts";
import { inflateRaw } from "../inflate.ts";

/**
 * What the reader is given: a trace's bytes, their base64 text, or the
 * base64 text of their raw DEFLATE (as a page holds a large trace).
 */
export type TraceInput = { bytes: Uint8Array } | { base64: string } | { deflated: string };

/**
 * What the reader posts, in this order (or an error at any point); `tasks`
 * only for a trace over 2 MiB.
 */
export type ReaderMessage =
  | {
    kind: "tasks";
    /** The tasks, stalls, GCs and counters, for the first screen: no regions or logs. */
    cols: PostedColumns;
    /** How many regions and logs the trace has. */
    regions: number;
    logs: number;
    /** When the tasks were read and posted, as `marks` of the columns. */
    marks: { tasksDecoded: number; tasksPosted: number };
  }
  | {
    kind: "columns";
    cols: PostedColumns;
    /** ms spent on base64 (and inflating), and on it and decoding into columns. */
    base64Ms: number;
    decodeMs: number;
    /**
     * When the reader started, had the bytes, had the columns and posted
     * them: ms since 1970 (`performance.timeOrigin + performance.now()`), so
     * the page can place them on its own clock.
     */
    marks: { start: number; bytes: number; decoded: number; posted: number };
  }
  | {
    kind: "layout";
    /** The counter tracks come without their series: `cols.counters`, in order. */
    layout: Layout;
    layoutMs: number;
  }
  | {
    kind: "model";
    /** The model, its logs without their text (`logs.message` of the columns has them). */
    packed: PackedModel;
    curves: ThreadResponsiveness[];
    /** The Tasks and Regions pages' rows. */
    stats: { tasks: StatsRows; regions: StatsRows };
    modelMs: number;
  }
  | { kind: "error"; message: string; stage: "columns" | "model" };

/** Bytes from base64 text, natively where the platform can. */
export function fromBase64(text: string): Uint8Array {
  const from = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
  if (from) return from(text);
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Every distinct buffer under `value` (typed arrays in objects, arrays and maps). */
function buffers(value: unknown, out: Set<ArrayBuffer>, seen: Set<object>): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  if (ArrayBuffer.isView(value)) {
    out.add(value.buffer as ArrayBuffer);
    return;
  }
  if (value instanceof Map) return;
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    if (typeof v === "object") buffers(v, out, seen);
  }
}

/**
 * Reads `input` and posts what the page needs through `post`, with the
 * buffers to transfer: the columns and layout, then the model. A trace that
 * cannot be read posts an error (its message names what is wrong) and
 * nothing more.
 *
 * @example
 * ```ts
 * import { readTraceForPage } from "./trace_reader.ts";
 * readTraceForPage({ bytes: await Deno.readFile("trace.out") }, (m) => console.log(m.kind));
 * ```
 */
export function readTraceForPage(
  input: TraceInput,
  post: (m: ReaderMessage, transfer: ArrayBuffer[]) => void,
): void {
  const start = now();
  if (!("deflated" in input)) {
    let bytes: Uint8Array;
    try {
      bytes = "bytes" in input ? input.bytes : fromBase64(input.base64);
    } catch (e) {
      return post({ kind: "error", message: messageOf(e), stage: "columns" }, []);
    }
    return readBytes(bytes, start, post);
  }
  inflated(input.deflated).then(
    (bytes) => readBytes(bytes, start, post),
    (e) =>
      post(
        { kind: "error", message: `the page's trace data: ${messageOf(e)}`, stage: "columns" },
        [],
      ),
  );
}

/** Traces over this size (bytes, about 200 000 events) get their tasks posted first. */
const QUICK_FROM = 2 << 20;

/** ms since 1970 on this thread's clock, comparable between the page and its worker. */
const now = () => performance.timeOrigin + performance.now();

/**
 * The bytes of base64 `text` of raw DEFLATE data: with the platform's
 * `DecompressionStream` (natively, several times faster than inflate.ts),
 * else with inflate.ts.
 */
export async function inflated(text: string): Promise<Uint8Array> {
  const z = fromBase64(text);
  if (typeof DecompressionStream !== "function") return inflateRaw(z);
  const stream = new Blob([z as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** {@linkcode readTraceForPage} once the bytes are there. */
function readBytes(
  bytes: Uint8Array,
  start: number,
  post: (m: ReaderMessage, transfer: ArrayBuffer[]) => void,
): void {
  try {
    const had = now();
    if (bytes.length > QUICK_FROM) {
      // The first screen of a large trace needs only the tasks: read in a fifth of the time
      // of the whole, they go first, and the page draws it while the rest is read.
      const scan = decodeTaskColumns(bytes);
      const tasksDecoded = now();
      const sent = postedColumns(scan.cols);
      post({
        kind: "tasks",
        cols: sent.cols,
        regions: scan.regions,
        logs: scan.logs,
        marks: { tasksDecoded, tasksPosted: now() },
      }, sent.transfer);
    }
    const cols = decodeColumns(bytes);
    const decoded = now();
    // A copy goes, its buffers moved to the page: the layout needs the columns here.
    const sent = postedColumns(cols);
    post({
      kind: "columns",
      cols: sent.cols,
      base64Ms: had - start,
      decodeMs: decoded - start,
      marks: { start, bytes: had, decoded, posted: now() },
    }, sent.transfer);
    const t1 = performance.now();
    const layout = layoutTrace(cols);
    const layoutMs = performance.now() - t1;
    // The counter charts' series went with the columns: the page links them again.
    for (const t of layout.tracks) delete t.counter;
    const transfer = new Set<ArrayBuffer>();
    buffers(layout, transfer, new Set());
    post({ kind: "layout", layout, layoutMs }, [...transfer]);
  } catch (e) {
    post({ kind: "error", message: messageOf(e), stage: "columns" }, []);
    return;
  }
  try {
    const t1 = performance.now();
    const builder = new PageModelBuilder(new TraceBuilder());
    const d = new TraceDecoder(builder.add);
    d.push(bytes);
    d.finish();
    const model = builder.result();
    const curves = responsivenessOf(model.trace);
    const stats = {
      tasks: statsRows(model.trace, "tasks"),
      regions: statsRows(model.trace, "regions"),
    };
    const packed = packModel(model);
    // The page has the logs' messages already, in the columns and in the model's order: the
    // model goes without them (a hundred thousand fewer strings made on the page).
    packed.logs.text = "";
    post(
      { kind: "model", packed, curves, stats, modelMs: performance.now() - t1 },
      [
        ...packedBuffers(packed),
        stats.tasks.duration.buffer as ArrayBuffer,
        stats.regions.duration.buffer as ArrayBuffer,
        ...[...stats.tasks.rows, ...stats.regions.rows].map((r) => r.ranked.buffer as ArrayBuffer),
      ],
    );
  } catch (e) {
    post({ kind: "error", message: messageOf(e), stage: "model" }, []);
  }
}

const messageOf = (e: unknown) => e instanceof Error ? e.message : String(e);
