// A test module's scratch folder, removed when the module's tests have run.

/** A new temporary folder named by `prefix`, removed with all it holds when the module unloads. */
export async function moduleTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  return dir;
}
