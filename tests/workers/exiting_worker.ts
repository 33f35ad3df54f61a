/**
 * A node:worker_threads worker for tests/platform_worker_test.ts: joins the
 * trace, records a region, and exits without calling leaveTrace().
 */
import process from "node:process";
import { parentPort } from "node:worker_threads";
import * as trace from "../../mod.ts";

parentPort!.once("message", (m: { handle: trace.ThreadHandle; ctx: { taskId: number } }) => {
  trace.joinTrace(m.handle);
  trace.withRegion(trace.contextFrom(m.ctx), "resize", () => {});
  process.exit(0);
});
