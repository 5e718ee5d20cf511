// `deno task web`'s server (web/serve.ts): it listens on 127.0.0.1 only, serves the page and
// its two bundles, and answers nothing outside its fixed list of paths. No browser needed.

import assert from "node:assert/strict";
import { type PageFile, pageHandler } from "../../web/serve.ts";

Deno.test("the page server answers its own paths only", async () => {
  const files: Record<string, PageFile> = {
    "/index.html": { body: "<p>page</p>", type: "text/html" },
    "/main.js": { body: "1", type: "text/javascript" },
  };
  const handle = pageHandler(files);
  const get = (path: string, method = "GET") =>
    handle(new Request(`http://127.0.0.1${path}`, { method }));
  assert.equal(await get("/").text(), "<p>page</p>");
  assert.match(get("/main.js").headers.get("content-type")!, /^text\/javascript/);
  for (const path of ["/deno.json", "/../deno.json", "/%2e%2e/cli.ts", "/constructor", "/web/"]) {
    const r = get(path);
    assert.equal(r.status, 404, path);
    await r.body?.cancel();
  }
  assert.equal(get("/", "POST").status, 405);
  assert.equal(get("/", "HEAD").body, null);
});

Deno.test({
  name: "deno task web serves the bundled page on 127.0.0.1",
  sanitizeResources: false,
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../web/serve.ts", import.meta.url).pathname, "--port", "0"],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      reader.releaseLock();
      const found = text.match(/http:\/\/127\.0\.0\.1:\d+\//);
      assert.ok(found, `the server printed no 127.0.0.1 address: ${text}`);
      const url: string = found[0];
      const page = await (await fetch(url)).text();
      assert.match(page, /<script type="module" src="\/main.js">/);
      for (const script of ["main.js", "worker.js"]) {
        const r: Response = await fetch(url + script);
        assert.equal(r.status, 200);
        const code = await r.text();
        assert.ok(code.length > 10_000 && !/\bDeno\.[a-z]/.test(code), script);
      }
    } finally {
      child.kill();
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
  },
});
