/**
 * Dormancy for a session without the runtime sampler: a slow check that,
 * when nothing was recorded since the last one, marks the ring dormant and
 * stops, so that neither this thread nor the drain worker wakes while the
 * program is idle. The next record restarts it. Each check also publishes
 * what the thread recorded since the last (ring_writer.ts's hand-over). (With
 * the runtime sampler on, its heartbeat does both: runtime_sampler.ts.)
 *
 * @module
 */

import { clearTimeout, setTimeout } from "node:timers";
import { enabled, publish, recordCount, sleepUntilNextRecord } from "./ring_writer.ts";

/** Time, ms, with nothing recorded after which the ring goes dormant. */
const QUIET_MS = 100;

let timer: ReturnType<typeof setTimeout> | undefined;
let generation = 0;

/**
 * Watches this thread's ring for quiet spells until {@linkcode stopIdleWatch}.
 * Starting again replaces the previous watch.
 *
 * @example
 * ```ts
 * import { startIdleWatch, stopIdleWatch } from "./idle_watch.ts";
 * startIdleWatch();
 * stopIdleWatch();
 * ```
 */
export function startIdleWatch(): void {
  stopIdleWatch();
  const mine = generation;
  let seen = recordCount();
  const check = () => {
    timer = undefined;
    if (!enabled || mine !== generation) return;
    const now = recordCount();
    if (now === seen) {
      sleepUntilNextRecord(() => {
        if (mine === generation) arm();
      });
      return;
    }
    seen = now;
    // The hand-over of what was recorded since the last check.
    publish();
    arm();
  };
  const arm = () => {
    timer = setTimeout(check, QUIET_MS);
    timer.unref?.();
  };
  arm();
}

/**
 * Stops watching; a dormant ring's wake from before does nothing.
 *
 * @example
 * ```ts
 * import { stopIdleWatch } from "./idle_watch.ts";
 * stopIdleWatch();
 * ```
 */
export function stopIdleWatch(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  generation++;
}
