// Reads a weight file of any supported kind from disk into a state dict: a
// PyTorch .pth (zip), a safetensors file, or a checkpoint of this engine (its
// "model." tensors). The kind is judged by content, not by the file name.

import { CHECKPOINT_FORMAT, readFileNamed, tensorsUnder } from "./checkpoint.ts";
import { assertFinite } from "./finite.ts";
import type { StateDict } from "./host_tensor.ts";
import { readPth, sniffWeightFile } from "./pth.ts";
import { readSafetensors } from "./safetensors.ts";

/** A weight file's state dict and, for a checkpoint of this engine, its metadata JSON. */
export interface WeightFile {
  dict: StateDict;
  checkpointMeta: string | null;
}

/** Parses weight-file bytes; `name` is used in errors. */
export function decodeWeightFile(bytes: Uint8Array, name: string): WeightFile {
  if (sniffWeightFile(bytes) !== "safetensors") {
    return { dict: readPth(bytes, name), checkpointMeta: null };
  }
  const { tensors, metadata } = readSafetensors(bytes, name);
  return metadata.format === CHECKPOINT_FORMAT
    ? { dict: tensorsUnder(tensors, "model."), checkpointMeta: metadata.meta ?? null }
    : { dict: tensors, checkpointMeta: null };
}

/** Parses weight-file bytes into a state dict; `name` is used in errors. */
export function decodeStateDict(bytes: Uint8Array, name: string): StateDict {
  return decodeWeightFile(bytes, name).dict;
}

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
