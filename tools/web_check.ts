// The browser entry point stays browser code: type-checks web.ts and the page's script and
// Worker (web/main.ts, web/worker.ts) with the DOM library and WebGPU's types but without
// the Deno namespace, then bundles each for the browser and fails if a bundle refers to
// Deno. Run: deno run -A tools/web_check.ts (CI runs it through `deno task check`).

import { bundle } from "../web/bundle.ts";

const ROOT = new URL("../", import.meta.url);
const ENTRIES = ["web.ts", "web/main.ts", "web/worker.ts"];
// the project's WebGPU types (deno.json's), read from there so the two cannot drift
const projectConfig = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const BROWSER_CONFIG = {
  compilerOptions: {
    lib: ["dom", "dom.iterable", "dom.asynciterable", "esnext"],
    types: projectConfig.compilerOptions.types,
  },
};

const dir = await Deno.makeTempDir({ prefix: "web-check-" });
let failed = false;
try {
  const config = `${dir}/deno.json`;
  await Deno.writeTextFile(config, JSON.stringify(BROWSER_CONFIG));
  const paths = ENTRIES.map((e) => new URL(e, ROOT).pathname);
  const check = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--no-lock", "--config", config, ...paths],
    cwd: dir,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!check.success) {
    console.error(
      `tools/web_check.ts: ${ENTRIES.join(", ")} do not type-check as browser code ` +
        `(DOM library, no Deno namespace); see above`,
    );
    failed = true;
  }
  for (const e of ENTRIES) {
    try {
      const code = await bundle(new URL(e, ROOT));
      console.log(
        `${e}: bundles for the browser (${(code.length / 1024).toFixed(0)} KiB), no Deno`,
      );
    } catch (err) {
      console.error(`tools/web_check.ts: ${(err as Error).message}`);
      failed = true;
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
if (failed) Deno.exit(1);
