// `deno task web`: serves the training page on http://127.0.0.1:PORT/ (a secure context, which
// WebGPU needs, and reachable from this machine only). The page's script and its Worker are
// bundled from web/main.ts and web/worker.ts at start; the server answers a fixed list of
// paths and nothing else (no file system lookup, so no path can leave web/).
//
//   deno run -A web/serve.ts [--port 8000]

import { bundle } from "./bundle.ts";

export interface PageFile {
  body: string;
  type: string;
}

/** The page's files by URL path: the HTML, the stylesheet and the two bundles. */
export async function pageFiles(): Promise<Record<string, PageFile>> {
  const here = (p: string) => new URL(p, import.meta.url);
  const [main, worker] = await Promise.all([bundle(here("main.ts")), bundle(here("worker.ts"))]);
  return {
    "/index.html": { body: await Deno.readTextFile(here("index.html")), type: "text/html" },
    "/style.css": { body: await Deno.readTextFile(here("style.css")), type: "text/css" },
    "/main.js": { body: main, type: "text/javascript" },
    "/worker.js": { body: worker, type: "text/javascript" },
  };
}

/** Answers GET/HEAD for the page's files ("/" is the page), 404 for anything else. */
export function pageHandler(files: Record<string, PageFile>): (req: Request) => Response {
  return (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed", { status: 405 });
    }
    const path = new URL(req.url).pathname;
    const file = Object.hasOwn(files, path === "/" ? "/index.html" : path)
      ? files[path === "/" ? "/index.html" : path]
      : null;
    if (!file) return new Response("not found", { status: 404 });
    return new Response(req.method === "HEAD" ? null : file.body, {
      headers: { "content-type": `${file.type}; charset=utf-8`, "cache-control": "no-store" },
    });
  };
}

function portArg(args: string[]): number {
  const i = args.indexOf("--port");
  if (i < 0) return 8000;
  const port = Number(args[i + 1]);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
    console.error(`--port: expected a port number 0-65535, got "${args[i + 1] ?? ""}"`);
    Deno.exit(2);
  }
  return port;
}

if (import.meta.main) {
  const port = portArg(Deno.args);
  const files = await pageFiles();
  Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => {
      console.log(`the training page: http://127.0.0.1:${port}/ (Ctrl-C stops the server)`);
    },
  }, pageHandler(files));
}
