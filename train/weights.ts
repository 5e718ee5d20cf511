// Reads --weights from disk (a .pth, a safetensors state dict, or a checkpoint of this tool).

import type { StateDict } from "../nn/io/host_tensor.ts";
import { readStateDictFile } from "../nn/io/weights_file.ts";
import { ConfigError } from "./config.ts";

/** Reads a weights file, with errors that name --weights. */
export async function readWeights(path: string, allowNonFinite = false): Promise<StateDict> {
  try {
    return await readStateDictFile(path, { allowNonFinite });
  } catch (e) {
    const msg = (e as Error).message.replace(
      "an explicit allow flag",
      "--allow-non-finite-weights",
    );
    throw new ConfigError("weights", `--weights: ${msg}`);
  }
}
