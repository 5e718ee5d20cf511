// A weight file's bytes as a state dict, whatever the kind: a PyTorch .pth (zip), a
// safetensors file, or a checkpoint of this engine (its "model." tensors). The kind is
// judged by content, not by the name. No file I/O (nn/io/weights_file.ts reads files).

import { CHECKPOINT_FORMAT, tensorsUnder } from "./checkpoint_bytes.ts";
import type { StateDict } from "./host_tensor.ts";
import { readPth, sniffWeightFile } from "./pth.ts";
import { readSafetensors } from "./safetensors.ts";

/** Parses weight-file bytes; `name` is used in errors. */
export function decodeStateDict(bytes: Uint8Array, name: string): StateDict {
  if (sniffWeightFile(bytes) !== "safetensors") return readPth(bytes, name);
  const { tensors, metadata } = readSafetensors(bytes, name);
  return metadata.format === CHECKPOINT_FORMAT ? tensorsUnder(tensors, "model.") : tensors;
}
