/**
 * The example from Go's runtime/trace documentation, ported: three cappuccino
 * orders, each a task whose milk and coffee are made concurrently and then
 * mixed. Writes `trace.out` (or the path given as the first argument), then
 * reads it back and prints each task's latency and its regions.
 *
 * Run: `deno task demo` or `bun examples/cappuccino.ts`.
 *
 * @module
 */

import * as trace from "../mod.ts";
import { parseTrace } from "../read.ts";
import { readFile } from "node:fs/promises";
import process from "node:process";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Busy work standing in for a machine: a little CPU, then waiting. */
async function machine(ms: number): Promise<void> {
  JSON.parse(JSON.stringify({ beans: Array.from({ length: 200 }, (_, i) => i) }));
  await sleep(ms);
}

const steamMilk = () => machine(30);
const extractCoffee = () => machine(20);
const mixMilkCoffee = () => machine(10);

/** Makes one cappuccino: Go's example, with goroutines as promises. */
export async function makeCappuccino(orderID: string): Promise<void> {
  const [ctx, task] = trace.newTask("makeCappuccino");
  trace.log(ctx, "orderID", orderID);
  const milk = trace.withRegion(ctx, "steamMilk", steamMilk);
  const espresso = trace.withRegion(ctx, "extractCoffee", extractCoffee);
  try {
    await Promise.all([milk, espresso]);
    await trace.withRegion(ctx, "mixMilkCoffee", mixMilkCoffee);
  } finally {
    task.end(); // when assemble is done, the order is complete
  }
}

const ms = (ns: number | undefined) => ns === undefined ? "    -   " : `${(ns / 1e6).toFixed(2)}ms`;

if (import.meta.main) {
  const out = process.argv[2] && !process.argv[2].startsWith("-") ? process.argv[2] : "trace.out";
  await trace.start(out);
  for (const id of ["42", "43", "44"]) await makeCappuccino(id);
  await trace.stop();

  const t = parseTrace(new Uint8Array(await readFile(out)));
  console.log(
    `${out}: ${t.events} events, ${t.tasks.length} tasks, ${t.header.runtime} ${t.header.runtimeVersion}, lost ${t.lost}`,
  );
  for (const task of t.tasks) {
    const order = task.logs.find((l) => l.category === "orderID")?.message;
    console.log(
      `task ${task.id} ${task.type} orderID=${order} latency ${ms(task.end! - task.start!)}`,
    );
    for (const r of task.regions) {
      console.log(
        `  ${r.type.padEnd(14)} +${ms(r.start - task.start!).padStart(8)}  ${
          ms(r.end! - r.start).padStart(8)
        }`,
      );
    }
  }
}
