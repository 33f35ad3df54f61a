/**
 * A minimal Chrome DevTools Protocol client over the runtime's built-in
 * WebSocket, for driving headless Chromium in tests, the screenshot script
 * and the viewer benchmark. No npm packages.
 *
 * @example
 * ```ts
 * import { findChromium, launchChromium } from "./cdp.ts";
 * const exe = findChromium();
 * if (exe) {
 *   const browser = await launchChromium(exe);
 *   try {
 *     const page = await browser.newPage();
 *     await page.goto("data:text/html,<p>hi</p>");
 *     console.log(await page.evaluate("document.body.textContent"));
 *   } finally {
 *     await browser.close();
 *   }
 * }
 * ```
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import process from "node:process";
import { inflateSync } from "node:zlib";
import { concat } from "./helpers.ts";

/**
 * The Chromium executable: `$CHROMIUM` if set, else the first of the usual
 * names on PATH. Undefined if there is none.
 */
export function findChromium(): string | undefined {
  const env = process.env.CHROMIUM;
  if (env) return env;
  const names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    for (const n of names) {
      const p = join(dir, n);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  method: string;
}

/** A CDP connection to the browser; sessions multiplex over it (flatten mode). */
class Connection {
  private next = 1;
  private pending = new Map<number, Pending>();
  private listeners = new Set<(m: Record<string, unknown>) => void>();
  closed = false;

  constructor(private ws: WebSocket) {
    ws.onmessage = (ev) => {
      const msg = JSON.parse(typeof ev.data === "string" ? ev.data : String(ev.data));
      if (typeof msg.id === "number") {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`CDP ${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result ?? {});
      } else {
        for (const l of this.listeners) l(msg);
      }
    };
    ws.onclose = () => {
      this.closed = true;
      for (const p of this.pending.values()) {
        p.reject(new Error(`CDP ${p.method}: connection closed`));
      }
      this.pending.clear();
    };
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
    timeoutMs = 120_000,
  ): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new Error(`CDP ${method}: connection closed`));
    const id = this.next++;
    const msg: Record<string, unknown> = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      // No command may hang a test: Chromium answers in milliseconds or not at all.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`CDP ${method}: no answer in ${timeoutMs}ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
        method,
      });
      this.ws.send(JSON.stringify(msg));
    });
  }

  /** Resolves with the params of the next event `method` on `sessionId`. */
  waitEvent(method: string, sessionId: string | undefined, timeoutMs: number) {
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(l);
        reject(new Error(`timed out after ${timeoutMs}ms waiting for ${method}`));
      }, timeoutMs);
      const l = (m: Record<string, unknown>) => {
        if (m.method === method && m.sessionId === sessionId) {
          clearTimeout(timer);
          this.listeners.delete(l);
          resolve(m.params as Record<string, unknown>);
        }
      };
      this.listeners.add(l);
    });
  }

  close(): void {
    try {
      this.ws.close();
    } catch {
      // already closed
    }
  }
}

/** A tab, driven through its CDP session. */
export class Page {
  constructor(
    private conn: Connection,
    readonly sessionId: string,
    readonly targetId: string,
  ) {}

  /** Closes the tab (asked of the browser: the page's own session goes with it). */
  async close(): Promise<void> {
    await this.conn.send("Target.closeTarget", { targetId: this.targetId }, undefined, 10_000);
  }

  /** Sends a CDP command to this page. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.conn.send(method, params, this.sessionId);
  }

  /** Navigates and waits for the load event. */
  async goto(url: string, timeoutMs = 30_000): Promise<void> {
    const loaded = this.conn.waitEvent("Page.loadEventFired", this.sessionId, timeoutMs);
    const r = await this.send("Page.navigate", { url });
    if (r.errorText) throw new Error(`navigating to ${url}: ${r.errorText}`);
    await loaded;
  }

  /** Evaluates `expression` in the page (promises awaited) and returns its value. */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    const ex = r.exceptionDetails as
      | { exception?: { description?: string }; text?: string }
      | undefined;
    if (ex) throw new Error(`in page: ${ex.exception?.description ?? ex.text}`);
    return (r.result as { value: T }).value;
  }

  /** Polls `expression` until it is truthy; returns its value. */
  async waitFor<T = unknown>(expression: string, timeoutMs = 20_000): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const v = await this.evaluate<T>(expression);
      if (v) return v;
      if (Date.now() > until) throw new Error(`timed out waiting for ${expression}`);
      await sleep(50);
    }
  }

  /** Clicks at viewport coordinates (CSS px) with the left button. */
  async click(x: number, y: number): Promise<void> {
    await this.send("Input.dispatchMouseEvent", { type: "mouseMoved", x, y });
    await this.send("Input.dispatchMouseEvent", {
      type: "mousePressed",
      x,
      y,
      button: "left",
      buttons: 1,
      clickCount: 1,
    });
    await this.send("Input.dispatchMouseEvent", {
      type: "mouseReleased",
      x,
      y,
      button: "left",
      buttons: 0,
      clickCount: 1,
    });
  }

  /** Clicks the centre of the first element matching `selector`. */
  async clickSelector(selector: string): Promise<void> {
    const r = await this.evaluate<{ x: number; y: number } | null>(`(() => {
      const el = document.querySelector(${JSON.stringify(selector)});
      if (!el) return null;
      el.scrollIntoView({ block: "center" });
      const b = el.getBoundingClientRect();
      return { x: b.left + b.width / 2, y: b.top + b.height / 2 };
    })()`);
    if (!r) throw new Error(`no element matches ${selector}`);
    await this.click(r.x, r.y);
  }

  /** Turns the mouse wheel at (x, y). */
  async wheel(x: number, y: number, deltaY: number, deltaX = 0): Promise<void> {
    await this.send("Input.dispatchMouseEvent", { type: "mouseWheel", x, y, deltaX, deltaY });
  }

  /** Presses and releases a printable key (such as "w") or a named one ("Enter"). */
  async key(key: string): Promise<void> {
    const printable = key.length === 1;
    const code = printable ? (/[a-z]/i.test(key) ? `Key${key.toUpperCase()}` : "") : key;
    const base = {
      key,
      code,
      windowsVirtualKeyCode: KEY_CODES[key] ?? key.toUpperCase().charCodeAt(0),
    };
    await this.send("Input.dispatchKeyEvent", {
      type: printable ? "keyDown" : "rawKeyDown",
      ...base,
      ...(printable ? { text: key } : {}),
    });
    await this.send("Input.dispatchKeyEvent", { type: "keyUp", ...base });
  }

  /** A PNG screenshot of the viewport. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(r.data as string), (c) => c.charCodeAt(0));
  }
}

const KEY_CODES: Record<string, number> = {
  Enter: 13,
  Escape: 27,
  ArrowLeft: 37,
  ArrowUp: 38,
  ArrowRight: 39,
  ArrowDown: 40,
  Tab: 9,
};

/** A running headless Chromium. */
export interface Browser {
  /** Opens a new tab of the given size. */
  newPage(width?: number, height?: number): Promise<Page>;
  /** Kills the browser and removes its profile; safe to call twice. */
  close(): Promise<void>;
}

/** Options of {@linkcode launchChromium}. */
export interface LaunchOptions {
  /** Longest wait for the browser to start, ms (default 30000). */
  timeoutMs?: number;
}

/**
 * Starts headless Chromium with a fresh profile and connects to it. The
 * browser is killed by `close()`, and also if this process exits first.
 */
export async function launchChromium(exe: string, options: LaunchOptions = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "runtrace-chromium-"));
  const child: ChildProcess = spawn(exe, [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-port=0",
    `--user-data-dir=${profile}`,
    "about:blank",
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    if (stderr.length < 4000) stderr += String(d);
  });
  let exited = false;
  child.on("exit", () => exited = true);
  const kill = () => {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  process.on("exit", kill);
  let conn: Connection | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      if (conn && !conn.closed) {
        // A clean exit lets Chromium reap its helper processes; SIGKILL is the fallback.
        await Promise.race([conn.send("Browser.close"), sleep(2000)]).catch(() => {});
        for (let i = 0; i < 150 && !exited; i++) await sleep(20);
      }
    } finally {
      conn?.close();
      kill();
      for (let i = 0; i < 50 && !exited; i++) await sleep(20);
      process.off("exit", kill);
      try {
        rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // best effort: the profile is in the temp directory
      }
    }
  };
  try {
    const portFile = join(profile, "DevToolsActivePort");
    const until = Date.now() + (options.timeoutMs ?? 30_000);
    while (!existsSync(portFile) || readFileSync(portFile, "utf8").split("\n").length < 2) {
      if (exited) throw new Error(`chromium exited at start:\n${stderr}`);
      if (Date.now() > until) throw new Error(`chromium did not start in time:\n${stderr}`);
      await sleep(50);
    }
    const [port, path] = readFileSync(portFile, "utf8").trim().split("\n");
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot connect to chromium on port ${port}`));
    });
    conn = new Connection(ws);
  } catch (e) {
    await close();
    throw e;
  }
  const c = conn;
  return {
    async newPage(width = 1280, height = 800) {
      const { targetId } = await c.send("Target.createTarget", { url: "about:blank" });
      const { sessionId } = await c.send("Target.attachToTarget", { targetId, flatten: true });
      const page = new Page(c, sessionId as string, targetId as string);
      await page.send("Page.enable");
      await page.send("Runtime.enable");
      await page.send("Emulation.setDeviceMetricsOverride", {
        width,
        height,
        deviceScaleFactor: 1,
        mobile: false,
      });
      return page;
    },
    close,
  };
}

/** What {@linkcode pngStats} finds in an image. */
export interface PngStats {
  width: number;
  height: number;
  /** Distinct colours among the sampled pixels (at most 4096 counted). */
  colors: number;
  /** Fraction of sampled pixels that are not white. */
  nonWhite: number;
}

/**
 * Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's
 * screenshots are) and measures how much is drawn on it, to tell a real
 * page from a blank one.
 */
export function pngStats(png: Uint8Array): PngStats {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (view.getUint32(0) !== 0x89504e47) throw new Error("not a PNG");
  let pos = 8;
  let width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  while (pos < png.length) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(...png.subarray(pos + 4, pos + 8));
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      const depth = data[8], colorType = data[9], interlace = data[12];
      if (depth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) {
        throw new Error(`unsupported PNG: depth ${depth}, colour type ${colorType}`);
      }
      channels = colorType === 6 ? 4 : 3;
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    pos += 12 + len;
  }
  const raw = new Uint8Array(inflateSync(concat(idat)));
  const stride = width * channels;
  const img = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? img[out + x - channels] : 0;
      const b = y > 0 ? img[out - stride + x] : 0;
      const c = x >= channels && y > 0 ? img[out - stride + x - channels] : 0;
      let v = src[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      img[out + x] = v & 0xff;
    }
  }
  const seen = new Set<number>();
  let nonWhite = 0, samples = 0;
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      const i = y * stride + x * channels;
      const rgb = (img[i] << 16) | (img[i + 1] << 8) | img[i + 2];
      if (seen.size < 4096) seen.add(rgb);
      if (rgb !== 0xffffff) nonWhite++;
      samples++;
    }
  }
  return { width, height, colors: seen.size, nonWhite: nonWhite / Math.max(1, samples) };
}
