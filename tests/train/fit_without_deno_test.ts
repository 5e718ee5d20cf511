// The fit loop runs without Deno (issue 9: a page trains in a Worker): the modules that
// train/trainer.ts and train/memory_output.ts load at run time, following value imports and
// not `import type`, name no `Deno.` API. (A bundle check of the whole browser entry is the
// web entry point's job; this keeps the loop itself from regressing meanwhile.)

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** Relative value imports of a module (`import type` and all-type braces skipped). */
function valueImports(source: string): string[] {
  const out: string[] = [];
  const re = /^(?:import|export)\s+(?!type\b)([^;]*?)\bfrom\s+"(\.[^"]+)"/gms;
  for (const m of source.matchAll(re)) {
    const braces = m[1].match(/\{([^}]*)\}/);
    const typeOnly = braces && !m[1].includes("*") &&
      braces[1].split(",").every((n) => n.trim() === "" || n.trim().startsWith("type "));
    if (!typeOnly) out.push(m[2]);
  }
  return out;
}

function reachedUsingDeno(entry: string): string[] {
  const seen = new Set<string>(), usesDeno: string[] = [];
  const visit = (url: URL) => {
    if (seen.has(url.href)) return;
    seen.add(url.href);
    const source = Deno.readTextFileSync(url);
    if (/\bDeno\./.test(source)) usesDeno.push(url.href.slice(ROOT.href.length));
    for (const spec of valueImports(source)) visit(new URL(spec, url));
  };
  visit(new URL(entry, ROOT));
  return usesDeno;
}

for (const entry of ["train/trainer.ts", "train/memory_output.ts", "train/text_report.ts"]) {
  Deno.test(`${entry} loads no module that uses Deno at run time`, () => {
    assert.deepEqual(reachedUsingDeno(entry), []);
  });
}

Deno.test("the import scan sees value imports and skips type-only ones", () => {
  assert.deepEqual(
    valueImports(
      'import { a } from "./a.ts";\nimport type { B } from "./b.ts";\n' +
        'import { type C } from "./c.ts";\nexport * from "./d.ts";\nimport { e, type F } from "./e.ts";',
    ),
    ["./a.ts", "./d.ts", "./e.ts"],
  );
  assert.ok(reachedUsingDeno("train/run_dir.ts").includes("train/run_dir.ts"));
});
