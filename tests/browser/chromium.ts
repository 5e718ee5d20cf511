// Headless Chromium for tests: bundles a browser entry module with `deno bundle`, serves it
// on 127.0.0.1 (a secure context, which WebGPU needs) from a random free port, and opens it
// in Debian's chromium driven by playwright-core, with a fresh profile directory. Shared by
// every test that runs code in a real browser; `browserUnavailable()` says why one cannot
// run here, so a test can skip loudly instead of passing.
//
// Chromium's WebGPU on a machine without a GPU is SwiftShader (Vulkan on the CPU): it needs
// only --enable-unsafe-webgpu (headless Chromium has WebGPU off by default on Linux).
// Measured with Chromium 156: adapter "google / swiftshader", isFallbackAdapter, features
// include subgroups and timestamp-query, minStorageBufferOffsetAlignment 256.

import { bundle } from "../../web/bundle.ts";
import { pageHandler } from "../../web/serve.ts";

export { bundle };

/** The playwright-core release the tests use (also recorded in deno.lock once fetched). */
export const PLAYWRIGHT = "npm:playwright-core@1.65.1";

/** Where chromium is: $CHROMIUM if set (only there), else Debian's package. */
export function chromiumPath(): string | null {
  const env = Deno.env.get("CHROMIUM");
  for (const p of env ? [env] : ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not there: try the next
    }
  }
  return null;
}

// The part of playwright-core's API used here (typed by hand: the module is imported by a
// computed specifier so that a machine without it still type-checks and runs the suite).
export interface Page {
  goto(url: string): Promise<unknown>;
  on(event: "console", f: (m: { type(): string; text(): string }) => void): void;
  on(event: "pageerror", f: (e: Error) => void): void;
  waitForFunction(expression: string, arg?: unknown, o?: { timeout?: number }): Promise<unknown>;
  evaluate<T>(expression: string): Promise<T>;
  setInputFiles(selector: string, files: string | string[]): Promise<void>;
  selectOption(selector: string, value: string): Promise<unknown>;
  fill(selector: string, value: string): Promise<void>;
  click(selector: string): Promise<void>;
  textContent(selector: string): Promise<string | null>;
  waitForEvent(event: "download", o?: { timeout?: number }): Promise<Download>;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  screenshot(o: { path: string; fullPage?: boolean }): Promise<unknown>;
}
export interface Download {
  saveAs(path: string): Promise<void>;
}
interface Context {
  pages(): Page[];
  newPage(): Promise<Page>;
  addInitScript(script: { content: string }): Promise<void>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: {
    launchPersistentContext(
      dir: string,
      o: { executablePath: string; headless: boolean; args: string[]; timeout?: number },
    ): Promise<Context>;
  };
}

let playwright: Promise<Playwright | string> | null = null;

/** playwright-core, or why it cannot be loaded (not cached and no registry, ...). */
function loadPlaywright(): Promise<Playwright | string> {
  const spec = PLAYWRIGHT; // a variable: loaded at run time only, never by the type check
  playwright ??= import(spec).then(
    (m) => (m.chromium ? m : m.default) as Playwright,
    (e) => `cannot load ${PLAYWRIGHT}: ${(e as Error).message.split("\n")[0]}`,
  );
  return playwright;
}

/** Why no browser test can run on this machine, or null when one can. */
export async function browserUnavailable(): Promise<string | null> {
  if (!chromiumPath()) {
    return "no chromium (install Debian's `chromium` package, or set CHROMIUM to its path)";
  }
  const p = await loadPlaywright();
  if (typeof p === "string") return p;
  // deno bundle fetches its bundler (esbuild, from npm) on first use
  const dir = await Deno.makeTempDir({ prefix: "browser-bundle-probe-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, "export const probe = 1;\n");
    await bundle(new URL(`file://${dir}/probe.ts`));
    return null;
  } catch (e) {
    return `deno bundle cannot run here: ${(e as Error).message.split("\n")[0]}`;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ARGS = [
  "--enable-unsafe-webgpu",
  "--no-sandbox", // containers and root: Chromium's sandbox cannot start there
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--no-first-run",
  "--no-default-browser-check",
];

/**
 * Serves `files` (path -> content; "/" is index.html) on 127.0.0.1, opens the index in
 * headless Chromium, and runs `f` on the page. Console output of the page goes to `log`;
 * `init` is a script run in every document before its own (e.g. to take an API away).
 * Everything (server, browser, profile directory) is gone when it returns.
 */
export async function withPage<T>(
  files: Record<string, { body: string; type: string }>,
  f: (page: Page) => Promise<T>,
  log: (line: string) => void = () => {},
  init?: string,
): Promise<T> {
  const executablePath = chromiumPath();
  const pw = await loadPlaywright();
  if (!executablePath || typeof pw === "string") {
    throw new Error(`no browser: ${await browserUnavailable()}`);
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    pageHandler(files),
  );
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  let context: Context | null = null;
  try {
    context = await pw.chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: ARGS,
      timeout: 30_000,
    });
    if (init) await context.addInitScript({ content: init });
    const page = context.pages()[0] ?? await context.newPage();
    page.on("console", (m) => log(`[page ${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => log(`[page error] ${e.message}`));
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    return await f(page);
  } finally {
    await context?.close();
    await server.shutdown();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** An index.html that loads /bundle.js as a module. */
export function modulePage(title: string): { body: string; type: string } {
  return {
    body: `<!doctype html><meta charset="utf-8"><title>${title}</title>` +
      `<script type="module" src="/bundle.js"></script>`,
    type: "text/html",
  };
}

/**
 * Bundles `entry` into a page of its own and returns the value of `call` (an expression,
 * e.g. `globalThis.runChecks()`, awaited in the page) once the entry has defined `global`;
 * fails after `timeoutMs` (default 120 s).
 */
export async function runInPage<T>(
  entry: URL,
  o: { global: string; call: string; log?: (line: string) => void; timeoutMs?: number },
): Promise<T> {
  const code = await bundle(entry);
  return await withPage(
    {
      "/index.html": modulePage(entry.pathname.split("/").pop() ?? "test"),
      "/bundle.js": { body: code, type: "text/javascript" },
    },
    async (page) => {
      await page.waitForFunction(`globalThis.${o.global} !== undefined`, undefined, {
        timeout: 20_000,
      });
      // a page that never answers fails the test instead of hanging it
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = o.timeoutMs ?? 120_000;
      try {
        return await Promise.race([
          page.evaluate<T>(o.call),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`${o.call}: no answer in ${limit} ms`)),
              limit,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    o.log,
  );
}
