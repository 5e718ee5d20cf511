// Reads a weight file of any supported kind from disk into a state dict: a
// PyTorch .pth (zip), a safetensors file, or a checkpoint of this engine (its
// "model." tensors). The kind is judged by content, not by the file name.

import { CHECKPOINT_FORMAT, readFileNamed, tensorsUnder } from "./checkpoint.ts";
import { assertFinite } from "./finite.ts";
import type { StateDict } from "./host_tensor.ts";
import { readPth, sniffWeightFile } from "./pth.ts";
import { readSafetensors } from "./safetensors.ts";

/** Parses weight-file bytes; `name` is used in errors. */
export function decodeStateDict(bytes: Uint8Array, name: string): StateDict {
  if (sniffWeightFile(bytes) !== "safetensors") return readPth(bytes, name);
  const { tensors, metadata } = readSafetensors(bytes, name);
  return metadata.format === CHECKPOINT_FORMAT ? tensorsUnder(tensors, "model.") : tensors;
}

/**
 * Reads a .pth / .safetensors / checkpoint file into a state dict. A file holding NaN or
 * infinity is refused, naming the tensors, unless `allowNonFinite` is set.
 */
export async function readStateDictFile(
  path: string,
  options: { allowNonFinite?: boolean } = {},
): Promise<StateDict> {
  const dict = decodeStateDict(await readFileNamed(path, "weight"), path);
  if (!options.allowNonFinite) {
    assertFinite(
      dict,
      path,
      "the file is damaged or from a diverged run (an explicit allow flag loads it anyway)",
    );
  }
  return dict;
}
