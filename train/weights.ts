// Reads --weights from disk (a .pth, a safetensors state dict, or a checkpoint of this tool).

import { readWeightFile, type WeightFile } from "../nn/io/weights_file.ts";
import { ConfigError } from "./config.ts";

/** Reads a weights file (with a checkpoint's metadata), with errors that name --weights. */
export async function readWeights(path: string, allowNonFinite = false): Promise<WeightFile> {
  try {
    return await readWeightFile(path, { allowNonFinite });
  } catch (e) {
    const msg = (e as Error).message.replace(
      "an explicit allow flag",
      "--allow-non-finite-weights",
    );
    throw new ConfigError("weights", `--weights: ${msg}`);
  }
}
