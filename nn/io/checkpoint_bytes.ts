// Training checkpoints as bytes: one safetensors file holding namespaced tensors
// ("model.conv1.weight", "optim.state.3.exp_avg", ...) and a JSON metadata object (epoch,
// best metric, class names, config, optimizer and scheduler non-tensor state) stored as a
// string in `__metadata__`. No file I/O (nn/io/checkpoint.ts reads and writes the files), so
// a page can build and read checkpoints too.

import type { StateDict } from "./host_tensor.ts";
import { readSafetensors, safetensorsChunks } from "./safetensors.ts";

/** JSON data; numbers may also be Infinity, -Infinity or NaN (kept exactly). */
export type CheckpointMeta =
  | null
  | boolean
  | number
  | string
  | CheckpointMeta[]
  | { [key: string]: CheckpointMeta };

/** A training checkpoint: named tensors and JSON metadata. */
export interface Checkpoint {
  /** The tensors (e.g. "model.conv1.weight", "optim.state.3.exp_avg"). */
  tensors: StateDict;
  /** The metadata (epoch, classes, config, optimizer and scheduler state). */
  meta: CheckpointMeta;
}

export const CHECKPOINT_FORMAT = "deno-webgpu-nn/checkpoint";
export const CHECKPOINT_VERSION = "1";

// JSON has no Infinity/NaN, but e.g. ReduceLROnPlateau starts with best = inf.
const NONFINITE = "$nonfinite";

function metaToJson(meta: CheckpointMeta): string {
  return JSON.stringify(meta, (key, v) => {
    if (typeof v === "number" && !Number.isFinite(v)) return { [NONFINITE]: String(v) };
    if (typeof v === "bigint" || typeof v === "function" || typeof v === "symbol") {
      throw new Error(`checkpoint meta "${key}" is a ${typeof v}, which JSON cannot hold`);
    }
    return v;
  });
}

function metaFromJson(json: string): CheckpointMeta {
  return JSON.parse(json, (_key, v) => {
    if (
      v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 &&
      NONFINITE in v
    ) {
      return Number(v[NONFINITE]);
    }
    return v;
  });
}

/** The checkpoint file as byte chunks (web-standard; see saveCheckpoint). */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array[] {
  return safetensorsChunks(ckpt.tensors, {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    meta: metaToJson(ckpt.meta),
  });
}

/** Parses checkpoint bytes (web-standard); `name` is used in errors. */
export function decodeCheckpoint(bytes: Uint8Array, name = "<checkpoint bytes>"): Checkpoint {
  const { tensors, metadata } = readSafetensors(bytes, name);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `${name}: is a safetensors file but not a checkpoint written by saveCheckpoint ` +
        `(no "format": "${CHECKPOINT_FORMAT}" in __metadata__); load plain weights with readSafetensors`,
    );
  }
  if (metadata.version !== CHECKPOINT_VERSION) {
    throw new Error(
      `${name}: checkpoint version ${metadata.version} is not supported (this build reads ` +
        `version ${CHECKPOINT_VERSION}); use the engine version that wrote it`,
    );
  }
  let meta: CheckpointMeta;
  try {
    meta = metaFromJson(metadata.meta ?? "null");
  } catch (e) {
    throw new Error(`${name}: checkpoint metadata is not valid JSON (${(e as Error).message})`);
  }
  return { tensors, meta };
}

/** Keeps the tensors under `prefix` ("model."), with the prefix removed. */
export function tensorsUnder(tensors: StateDict, prefix: string): StateDict {
  const out: StateDict = new Map();
  for (const [k, t] of tensors) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), t);
  return out;
}

/** Prefixes every name ("model." + "conv1.weight"); to build namespaced checkpoints. */
export function withPrefix(tensors: StateDict, prefix: string): StateDict {
  const out: StateDict = new Map();
  for (const [k, t] of tensors) out.set(prefix + k, t);
  return out;
}
