/**
 * A platform (Web) Worker for tests/platform_worker_test.ts: joins the trace,
 * records a region in the parent's task, then either waits to be terminated
 * or ends itself with `close()`. It says it closed through a shared flag (a
 * closing worker posts no more messages), set by the `close` underneath the
 * one joinTrace() wraps, so after runtrace recorded the thread's end.
 */
import * as trace from "../../mod.ts";

interface Job {
  handle: trace.ThreadHandle | null;
  ctx: { taskId: number };
  close: boolean;
  closed: SharedArrayBuffer;
}

const scope = globalThis as unknown as {
  onmessage: ((e: { data: Job }) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
};

scope.onmessage = ({ data }) => {
  const close = scope.close;
  scope.close = function () {
    const flag = new Int32Array(data.closed);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    close.call(this);
  };
  trace.joinTrace(data.handle);
  trace.withRegion(trace.contextFrom(data.ctx), "resize", () => {
    for (let i = 0; i < 1000; i++) JSON.parse(JSON.stringify({ i }));
  });
  if (!data.close) {
    scope.postMessage("done");
    return;
  }
  scope.close();
};
