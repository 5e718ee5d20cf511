// A weight file's bytes as a state dict, whatever the kind: a PyTorch .pth (zip), a
// safetensors file, or a checkpoint of this engine (its "model." tensors). The kind is
// judged by content, not by the name. No file I/O (nn/io/weights_file.ts reads files).

import { CHECKPOINT_FORMAT, tensorsUnder } from "./checkpoint_bytes.ts";
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
