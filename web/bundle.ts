// Bundles a browser entry module (with everything it imports) into one script with
// `deno bundle` (Deno 2.9's bundler, esbuild underneath), refusing a bundle that refers to
// Deno: a page has no Deno. Used by the page's server (web/serve.ts), the web check
// (tools/web_check.ts) and the browser tests (tests/browser/chromium.ts).

/** `Deno.<name>` in code (the text a reference to the Deno namespace leaves in a bundle). */
const DENO_REFERENCE = /\bDeno\.[A-Za-z_$]/;

/** The first line of `code` that refers to Deno, or null. */
export function denoReference(code: string): string | null {
  const m = DENO_REFERENCE.exec(code);
  if (!m) return null;
  const start = code.lastIndexOf("\n", m.index) + 1, end = code.indexOf("\n", m.index);
  return code.slice(start, end < 0 ? undefined : end).trim().slice(0, 200);
}

export async function bundle(entry: URL): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "browser-bundle-" });
  try {
    const out = `${dir}/bundle.js`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "browser", "--output", out, entry.pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) {
      throw new Error(
        `deno bundle ${entry.pathname} failed: ${new TextDecoder().decode(r.stderr)}`,
      );
    }
    const code = await Deno.readTextFile(out);
    const ref = denoReference(code);
    if (ref) throw new Error(`the bundle of ${entry.pathname} refers to Deno: ${ref}`);
    return code;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
