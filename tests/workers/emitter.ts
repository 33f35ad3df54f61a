/** A worker thread for tests/runtime_test.ts: joins the trace and emits. */
import { parentPort } from "node:worker_threads";
import * as trace from "../../mod.ts";

parentPort!.once(
  "message",
  (m: { handle: trace.ThreadHandle; ctx: { taskId: number }; n: number }) => {
    trace.joinTrace(m.handle);
    const ctx = trace.contextFrom(m.ctx);
    trace.withRegion(ctx, "decode", () => {
      for (let i = 0; i < 1000; i++) JSON.parse(JSON.stringify({ i }));
    });
    trace.log(ctx, "worker", "decoded");
    for (let i = 0; i < m.n; i++) trace.startRegion("flat").end();
    trace.leaveTrace();
    parentPort!.postMessage("done");
  },
);
