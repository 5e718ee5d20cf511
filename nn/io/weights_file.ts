// Reads a weight file of any supported kind from disk into a state dict: a
// PyTorch .pth (zip), a safetensors file, or a checkpoint of this engine (its
// "model." tensors). The kind is judged by content, not by the file name.

import { readFileNamed } from "./checkpoint.ts";
import { assertFinite } from "./finite.ts";
import type { StateDict } from "./host_tensor.ts";
import { decodeWeightFile, type WeightFile } from "./weights_bytes.ts";

export type { WeightFile } from "./weights_bytes.ts";

/**
 * Reads a .pth / .safetensors / checkpoint file (with a checkpoint's metadata). A file
 * holding NaN or infinity is refused, naming the tensors, unless `allowNonFinite` is set.
 */
export async function readWeightFile(
  path: string,
  options: { allowNonFinite?: boolean } = {},
): Promise<WeightFile> {
  const file = decodeWeightFile(await readFileNamed(path, "weight"), path);
  if (!options.allowNonFinite) {
    assertFinite(
      file.dict,
      path,
      "the file is damaged or from a diverged run (an explicit allow flag loads it anyway)",
    );
  }
  return file;
}

/** Reads a .pth / .safetensors / checkpoint file into a state dict (see readWeightFile). */
export async function readStateDictFile(
  path: string,
  options: { allowNonFinite?: boolean } = {},
): Promise<StateDict> {
  return (await readWeightFile(path, options)).dict;
}
