/**
 * Tracing test runs, Go's `go test -trace=trace.out` for `bun test` and
 * `deno test`: every test runs as a task named after it (describe blocks and
 * steps joined with ` > `), with a `test` log saying `pass` or `fail` and a
 * `test.error` log with the failure's message.
 *
 * The test runners offer no hook that knows the current test's name, so the
 * test-defining functions are wrapped before the test files load: in Bun,
 * `node:test` and `bun:test` are replaced through `mock.module` from a
 * preload file; in Deno, `Deno.test` (which Deno's `node:test` calls) and
 * each test's `t.step` are wrapped from a `--preload` module.
 *
 * @module
 */

import process from "node:process";
import { log, newTask } from "../record/annotations.ts";
import { isEnabled, start, stop } from "../record/tracing.ts";

/** Joins the names of nested tests, as Bun's reporter does. */
export const NAME_SEPARATOR = " > ";

/** Any function: a test body, or a function that defines tests. */
export type AnyFn = (...args: never[]) => unknown;

/** A function called with arguments it was handed, unchecked (a test body, a runner's API). */
type Callable = (this: unknown, ...args: unknown[]) => unknown;

/**
 * The trace file of a traced run, given the value of `RUNTRACE` (`env`):
 * undefined when the run is not traced. In Deno, whose `deno test` runs each
 * test module in its own isolate, the module's name goes before the
 * extension (`trace.out` for `tests/api_test.ts` gives `trace.api_test.out`)
 * so the modules do not overwrite each other's traces.
 *
 * @example
 * ```ts
 * import { runTracePath } from "./test_tracing.ts";
 * runTracePath("trace.out", "file:///repo/tests/api_test.ts"); // "trace.api_test.out"
 * ```
 */
export function runTracePath(
  env: string | undefined,
  testModule?: string,
): string | undefined {
  if (env === undefined || env.trim() === "") return undefined;
  if (testModule === undefined) return env;
  const base = testModule.replace(/[?#].*$/, "").split("/").pop()!.replace(/\.[^.]*$/, "");
  const safe = base.replace(/[^\w.-]/g, "_") || "module";
  const slash = env.lastIndexOf("/");
  const dot = env.lastIndexOf(".");
  return dot > slash + 1 ? `${env.slice(0, dot)}.${safe}${env.slice(dot)}` : `${env}.${safe}`;
}

/**
 * Whether this is a traced test run (`RUNTRACE` is set). Tests that start a
 * trace of their own should skip then, as Go's `runtime/trace` tests do under
 * `-test.trace`: there is one trace at a time, and their `stop()` would end
 * the run's trace.
 *
 * @example
 * ```ts
 * import { test } from "node:test";
 * import { isTracedTestRun } from "./test_tracing.ts";
 * test("records a trace", { skip: isTracedTestRun() && "RUNTRACE holds the trace" }, () => {});
 * ```
 */
export function isTracedTestRun(): boolean {
  return runTracePath(process.env.RUNTRACE) !== undefined;
}

/**
 * Wraps a test function so that each run is a task typed `name`, ending with
 * a `test` log of `pass` or `fail`. The wrapper keeps `fn`'s arity (runners
 * look at it to decide whether to pass a `done` callback) and reports a
 * failure passed to `done` as well as a throw or a rejection. `childFailed`,
 * when given, is asked after `fn` succeeds whether a nested step failed.
 *
 * @example
 * ```ts
 * import { traceTest } from "./test_tracing.ts";
 * const fn = traceTest("adds", () => {
 *   if (1 + 1 !== 2) throw new Error("math");
 * });
 * await fn();
 * ```
 */
export function traceTest<F extends AnyFn>(
  name: string,
  fn: F,
  childFailed?: () => boolean,
): F {
  const arity = fn.length;
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    const call = fn as unknown as Callable;
    if (!isEnabled()) return call.apply(this, args);
    const [ctx, task] = newTask(name);
    let settled = false;
    const finish = (error: unknown, failed: boolean): void => {
      if (settled) return;
      settled = true;
      const fail = failed || (childFailed?.() ?? false);
      log(ctx, "test", fail ? "fail" : "pass");
      if (failed) log(ctx, "test.error", describeError(error));
      task.end();
    };
    const doneAt = arity - 1;
    if (arity > 0 && typeof args[doneAt] === "function") {
      const done = args[doneAt] as Callable;
      args[doneAt] = (err?: unknown, ...rest: unknown[]) => {
        finish(err, err !== undefined && err !== null);
        return done(err, ...rest);
      };
    }
    let result: unknown;
    try {
      result = ctx.run(() => call.apply(this, args));
    } catch (e) {
      finish(e, true);
      throw e;
    }
    if (result instanceof Promise) {
      return result.then(
        (v) => {
          finish(undefined, false);
          return v;
        },
        (e) => {
          finish(e, true);
          throw e;
        },
      );
    }
    if (!(arity > 0 && typeof args[doneAt] === "function")) finish(undefined, false);
    return result;
  };
  Object.defineProperty(wrapped, "length", { value: arity });
  Object.defineProperty(wrapped, "name", { value: fn.name });
  return wrapped as unknown as F;
}

/**
 * Starts the run's trace, writing to `path`. Failing to start is reported on
 * stderr and the tests run untraced: a tracer must not fail the suite.
 *
 * @example
 * ```ts
 * import { startRunTrace } from "./test_tracing.ts";
 * await startRunTrace("trace.out");
 * ```
 */
export async function startRunTrace(path: string): Promise<boolean> {
  try {
    await start(path);
    return true;
  } catch (e) {
    console.error(`runtrace: not tracing this test run: ${e instanceof Error ? e.message : e}`);
    return false;
  }
}

/**
 * Stops the run's trace, reporting a failure on stderr.
 *
 * @example
 * ```ts
 * import { stopRunTrace } from "./test_tracing.ts";
 * await stopRunTrace();
 * ```
 */
export async function stopRunTrace(): Promise<void> {
  try {
    await stop();
  } catch (e) {
    console.error(
      `runtrace: the test run's trace is incomplete: ${e instanceof Error ? e.message : e}`,
    );
  }
}

/** What a test-defining function's arguments hold. */
interface TestArgs {
  args: unknown[];
  name: string;
  fnAt: number;
}

/** Finds the name and the function among `(name?, options?, fn?)`-style arguments. */
function testArgs(args: unknown[]): TestArgs | undefined {
  let fnAt = -1;
  for (let i = args.length - 1; i >= 0; i--) {
    if (typeof args[i] === "function") {
      fnAt = i;
      break;
    }
  }
  if (fnAt === -1) return undefined;
  let name = typeof args[0] === "string" ? args[0] : undefined;
  if (name === undefined) {
    const opts = args.find((a) => a !== null && typeof a === "object") as
      | { name?: unknown }
      | undefined;
    if (typeof opts?.name === "string") name = opts.name;
  }
  name ??= (args[fnAt] as AnyFn).name || "<anonymous>";
  return { args: [...args], name, fnAt };
}

/**
 * Returns the exports of a test module (`node:test` or `bun:test`) with
 * `test`, `it` (and their `only`) wrapped to trace each test, and `describe`
 * (and `suite`, with their `only` and `skip`) wrapped to prefix the names of
 * the tests inside. Other variants (`skip`, `todo`, `each`, ...) pass through
 * unchanged: skipped tests do not run, and table tests are not traced.
 *
 * @example
 * ```ts
 * import * as nodeTest from "node:test";
 * import { tracedTestModule } from "./test_tracing.ts";
 * const { test } = tracedTestModule({ ...nodeTest }) as typeof nodeTest;
 * ```
 */
export function tracedTestModule(mod: Record<string, unknown>): Record<string, unknown> {
  let stack: string[] = [];
  const fullName = (name: string) => [...stack, name].join(NAME_SEPARATOR);

  const testArgsMap = (args: unknown[]): unknown[] => {
    const a = testArgs(args);
    if (!a) return args;
    a.args[a.fnAt] = traceTest(fullName(a.name), a.args[a.fnAt] as AnyFn);
    return a.args;
  };

  const describeArgsMap = (args: unknown[]): unknown[] => {
    const a = testArgs(args);
    if (!a) return args;
    const body = a.args[a.fnAt] as Callable;
    // Runners may call nested describe bodies after the outer one returned
    // (Bun does), so the path is fixed when the describe is registered.
    const path = [...stack, a.name];
    a.args[a.fnAt] = function (this: unknown, ...inner: unknown[]) {
      const saved = stack;
      stack = path;
      try {
        return body.apply(this, inner);
      } finally {
        stack = saved;
      }
    };
    return a.args;
  };

  const out: Record<string, unknown> = { ...mod };
  for (const key of ["test", "it"]) {
    if (typeof mod[key] === "function") {
      out[key] = argsProxy(mod[key] as AnyFn, testArgsMap, ["only"]);
    }
  }
  for (const key of ["describe", "suite"]) {
    if (typeof mod[key] === "function") {
      out[key] = argsProxy(mod[key] as AnyFn, describeArgsMap, ["only", "skip"]);
    }
  }
  if (typeof mod.default === "function" && mod.default === mod.test) out.default = out.test;
  return out;
}

/** The function each proxy stands for, to call variants with the right `this`. */
const proxied = new WeakMap<object, object>();

/**
 * A proxy of the test function `orig` whose calls (and those of its
 * `variants`, such as `test.only`) have their arguments mapped by `map`. Other
 * properties are the original's, with methods called on the original: Bun's
 * variants check their receiver.
 */
function argsProxy(
  orig: AnyFn,
  map: ((args: unknown[]) => unknown[]) | undefined,
  variants: readonly string[],
): AnyFn {
  const proxy: AnyFn = new Proxy(orig, {
    apply(target, thisArg, args) {
      return Reflect.apply(target, proxied.get(thisArg) ?? thisArg, map ? map(args) : args);
    },
    get(target, key) {
      const v = Reflect.get(target, key);
      if (typeof v !== "function" || key === "prototype" || key === "constructor") return v;
      const traced = typeof key === "string" && variants.includes(key);
      return argsProxy(v as AnyFn, traced ? map : undefined, traced ? variants : []);
    },
  });
  proxied.set(proxy, orig);
  return proxy;
}

/** The part of `bun:test` the Bun instrumentation needs. */
interface BunTestModule {
  mock: { module(specifier: string, factory: () => Record<string, unknown>): unknown };
  afterAll(fn: () => unknown): void;
}

/**
 * Traces a `bun test` run when `RUNTRACE` is set: starts the trace, replaces
 * `node:test` and `bun:test` for the test files with traced versions, and
 * stops the trace after the last test. Call it from a preload file (see
 * `test_preload.ts`); it does nothing when `RUNTRACE` is unset.
 *
 * @example bunfig.toml
 * ```ts
 * // [test]
 * // preload = ["./test_preload.ts"]
 * import { traceBunTestRun } from "./test_tracing.ts";
 * await traceBunTestRun();
 * ```
 */
export async function traceBunTestRun(): Promise<void> {
  const path = runTracePath(process.env.RUNTRACE);
  if (path === undefined) return;
  // Not a literal, so that Deno's type checker does not try to resolve it.
  const bunTestSpecifier = "bun:test";
  const bunTest = await import(bunTestSpecifier) as BunTestModule & Record<string, unknown>;
  const nodeTest = await import("node:test") as unknown as Record<string, unknown>;
  if (!(await startRunTrace(path))) return;
  const tracedNode = tracedTestModule(moduleRecord(nodeTest));
  const tracedBun = tracedTestModule(moduleRecord(bunTest));
  bunTest.mock.module("node:test", () => tracedNode);
  bunTest.mock.module("bun:test", () => tracedBun);
  bunTest.afterAll(() => stopRunTrace());
}

/** A module namespace's exports as a plain object, getters included. */
function moduleRecord(ns: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = new Set([...Object.keys(ns), ...Object.getOwnPropertyNames(ns)]);
  const def = ns.default as Record<string, unknown> | undefined;
  // Bun's node:test namespace lists no keys; its default export has them.
  if (def && (typeof def === "object" || typeof def === "function")) {
    for (const k of Object.keys(def)) keys.add(k);
  }
  for (const k of keys) {
    if (k === "__esModule") continue;
    out[k] = k in ns ? ns[k] : def?.[k];
  }
  return out;
}

/** The part of the `Deno` namespace the Deno instrumentation needs. */
interface DenoTestApi {
  mainModule: string;
  test: AnyFn & { only?: AnyFn; afterAll?: (fn: () => unknown) => void };
}

/** What Deno passes to a test function, as far as tracing needs it. */
interface DenoStepContext {
  step?: Callable;
}

/**
 * Traces a `deno test` run when `RUNTRACE` is set: `deno test` loads the
 * preload module once per test module, each in its own isolate, so each test
 * module gets its own trace file (see {@linkcode runTracePath}). Wraps
 * `Deno.test` (which Deno's `node:test` uses too) and `t.step`; a test that
 * passes while one of its steps failed is logged as failed, as Deno reports
 * it. Does nothing when `RUNTRACE` is unset.
 *
 * @example
 * ```ts
 * // deno test -A --preload=./test_preload.ts tests/
 * import { traceDenoTestRun } from "./test_tracing.ts";
 * await traceDenoTestRun();
 * ```
 */
export async function traceDenoTestRun(): Promise<void> {
  const deno = (globalThis as { Deno?: DenoTestApi }).Deno;
  if (!deno) return;
  const path = runTracePath(process.env.RUNTRACE, deno.mainModule);
  if (path === undefined) return;
  if (!(await startRunTrace(path))) return;
  const orig = deno.test;
  const wrapDenoTest = (fn: AnyFn): AnyFn =>
    function (this: unknown, ...args: unknown[]) {
      if (args.length === 1 && args[0] !== null && typeof args[0] === "object") {
        const def = args[0] as { name?: string; fn?: AnyFn };
        if (typeof def.fn === "function") {
          args = [{ ...def, fn: stepAware(def.name ?? def.fn.name, def.fn) }];
        }
        return (fn as Callable).apply(this, args);
      }
      const a = testArgs(args);
      if (a) a.args[a.fnAt] = stepAware(a.name, a.args[a.fnAt] as AnyFn);
      return (fn as Callable).apply(this, a ? a.args : args);
    };
  const wrapped = wrapDenoTest(orig);
  for (const key of Object.keys(orig)) {
    const v = (orig as unknown as Record<string, unknown>)[key];
    (wrapped as unknown as Record<string, unknown>)[key] = key === "only" && typeof v === "function"
      ? wrapDenoTest(v as AnyFn)
      : v;
  }
  deno.test = wrapped as DenoTestApi["test"];
  orig.afterAll?.(async () => {
    await stopRunTrace();
    await mergeRunTrace(process.env.RUNTRACE!);
  });
}

/**
 * Deno traces each test module in an isolate of its own, into
 * `trace.<module>.out`; after each module, the parts so far are merged into
 * `trace.out`, one trace of the run (each module a thread), so that after
 * the last module it holds them all. Written to a temporary file first and
 * renamed: a reader never sees half a trace.
 */
async function mergeRunTrace(path: string): Promise<void> {
  try {
    const { mergeCommand } = await import("../cli/merge.ts");
    const tmp = `${path}.merging-${process.pid}`;
    const quiet = { write: () => Promise.resolve() };
    await mergeCommand(["--parts-of", path, "-o", tmp], {
      stdout: quiet,
      stderr: quiet,
      stdin: async function* () {},
      stderrIsTTY: false,
      stdoutIsTTY: false,
    });
    const { rename } = await import("node:fs/promises");
    await rename(tmp, path);
  } catch (e) {
    console.error(`runtrace: could not merge the test run's traces: ${(e as Error).message}`);
  }
}

/**
 * Traces a Deno test or step function, and wraps `t.step` so that its steps
 * are traced as `name > step` and a failed step fails this one.
 */
function stepAware(name: string, fn: AnyFn): AnyFn {
  let failedSteps = 0;
  const body = function (this: unknown, t: DenoStepContext, ...rest: unknown[]) {
    failedSteps = 0;
    if (t && typeof t.step === "function") {
      const step = t.step.bind(t);
      t.step = (...args: unknown[]) => {
        if (args.length === 1 && args[0] !== null && typeof args[0] === "object") {
          const def = args[0] as { name?: string; fn?: AnyFn };
          if (typeof def.fn === "function") {
            const stepName = `${name}${NAME_SEPARATOR}${def.name ?? def.fn.name}`;
            args = [{ ...def, fn: stepAware(stepName, def.fn) }];
          }
        } else {
          const a = testArgs(args);
          if (a) {
            a.args[a.fnAt] = stepAware(
              `${name}${NAME_SEPARATOR}${a.name}`,
              a.args[a.fnAt] as AnyFn,
            );
            args = a.args;
          }
        }
        const ran = step(...args);
        return ran instanceof Promise
          ? ran.then((ok: unknown) => {
            if (ok === false) failedSteps++;
            return ok;
          })
          : ran;
      };
    }
    return (fn as Callable).call(this, t, ...rest);
  };
  Object.defineProperty(body, "length", { value: fn.length });
  return traceTest(name, body, () => failedSteps > 0);
}

function describeError(e: unknown): string {
  if (e instanceof Error) {
    const first = `${e.name}: ${e.message}`.split("\n", 1)[0];
    return first.length > 500 ? `${first.slice(0, 500)}…` : first;
  }
  return String(e).slice(0, 500);
}
