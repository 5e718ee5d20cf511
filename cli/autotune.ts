// Measured kernel selection for the CLI: winners live in a JSON file under the project's
// .cache/ (one entry per adapter), written atomically; WEBGPU_RESNET_AUTOTUNE=0 turns
// measuring off (the tuning table alone decides) and WEBGPU_RESNET_TUNING_CACHE names
// another file.

import type { Gpu } from "../kernels/device.ts";
import { setAutotune, type TuningStore } from "../kernels/autotune.ts";
import { atomicWriteText } from "../nn/io/atomic.ts";

const DEFAULT_FILE = new URL("../.cache/tuning.json", import.meta.url).pathname;

/** A TuningStore over one JSON file: { "<adapter id>": { "<family shape>": "<variant>" } }. */
export function fileTuningStore(path: string): TuningStore {
  const readAll = async (): Promise<Record<string, Record<string, string>>> => {
    try {
      const parsed = JSON.parse(await Deno.readTextFile(path));
      return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {};
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return {};
      // a damaged cache is only a cache: measure again and rewrite it
      if (e instanceof SyntaxError) return {};
      throw e;
    }
  };
  return {
    async load(adapterId) {
      const entry = (await readAll())[adapterId];
      if (!entry || typeof entry !== "object") return {};
      return Object.fromEntries(
        Object.entries(entry).filter(([, v]) => typeof v === "string"),
      ) as Record<string, string>;
    },
    async save(adapterId, winners) {
      const all = await readAll();
      all[adapterId] = winners;
      const dir = path.slice(0, path.lastIndexOf("/"));
      if (dir) await Deno.mkdir(dir, { recursive: true });
      await atomicWriteText(path, JSON.stringify(all, null, 1) + "\n");
    },
  };
}

/** The tuning file in use: WEBGPU_RESNET_TUNING_CACHE or .cache/tuning.json. */
export function tuningFile(): string {
  return Deno.env.get("WEBGPU_RESNET_TUNING_CACHE") || DEFAULT_FILE;
}

/** Whether measured selection is on: unless WEBGPU_RESNET_AUTOTUNE=0 (or a flag said no). */
export function autotuneWanted(flag?: boolean): boolean {
  if (flag === false) return false;
  return Deno.env.get("WEBGPU_RESNET_AUTOTUNE") !== "0";
}

/** Enables measured selection on `g` with the file store when wanted; returns whether. */
export async function enableAutotune(g: Gpu, flag?: boolean): Promise<boolean> {
  const on = autotuneWanted(flag);
  await setAutotune(g, { enabled: on, store: on ? fileTuningStore(tuningFile()) : null });
  return on;
}
