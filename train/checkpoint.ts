// Training checkpoints on top of nn/io/checkpoint.ts (atomic safetensors + JSON metadata):
// "last" holds everything a resume needs (model, optimizer and scheduler state, position in
// the run, the partial epoch's metric sums); "best" holds the model and what eval/predict
// need (classes, model spec, preprocessing settings).

import { concatBytes } from "../base/bytes.ts";
import {
  type Checkpoint,
  type CheckpointMeta,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  tensorsUnder,
  withPrefix,
} from "../nn/io/checkpoint.ts";
import { assertFinite } from "../nn/io/finite.ts";
import type { StateDict } from "../nn/io/host_tensor.ts";
import type { OptimizerMeta } from "../nn/optim/optimizer.ts";
import { MetaError, validateTrainMeta } from "./checkpoint_schema.ts";
import type { TrainConfig } from "./config.ts";
import type { ModelSpec } from "./model.ts";

export const TRAIN_STATE_KIND = "webgpu-resnet/train-state";

/** Metric sums of an epoch in progress (so that a mid-epoch resume reports the same epoch). */
export interface PartialEpoch {
  lossSum: number;
  correct: number;
  samples: number;
  invalid: number;
}

export interface TrainMeta {
  kind: typeof TRAIN_STATE_KIND;
  /** Version of this layout (checkpoint_schema.ts). */
  schema: number;
  model: ModelSpec;
  classes: string[];
  config: TrainConfig;
  /** Epochs fully done. */
  epoch: number;
  /** Batches done of epoch `epoch` (0 at an epoch boundary). */
  batch: number;
  /** Optimizer steps done in the whole run. */
  iteration: number;
  partial: PartialEpoch | null;
  /** Best test accuracy so far and its epoch (1-based), or null before the first epoch. */
  best: { accuracy: number; loss: number; epoch: number } | null;
  /** Whether the backbone is frozen at this point. */
  frozen: boolean;
  /** Test metrics of the last finished epoch (best checkpoints: of that epoch). */
  test: { loss: number; accuracy: number } | null;
  optim: OptimizerMeta | null;
  scheduler: Record<string, unknown> | null;
  /** True when written by Ctrl-C in the middle of an epoch. */
  interrupted: boolean;
}

export interface TrainState {
  model: StateDict;
  optim: StateDict | null;
  meta: TrainMeta;
}

function asCheckpoint(s: TrainState): Checkpoint {
  const tensors = withPrefix(s.model, "model.");
  if (s.optim) { for (const [k, v] of withPrefix(s.optim, "optim.")) tensors.set(k, v); }
  return { tensors, meta: s.meta as unknown as CheckpointMeta };
}

export async function saveTrainState(path: string, s: TrainState): Promise<void> {
  await saveCheckpoint(path, asCheckpoint(s));
}

/** The bytes saveTrainState would write (a page offers them as a download). */
export function serializeTrainState(s: TrainState): Uint8Array {
  return concatBytes(encodeCheckpoint(asCheckpoint(s)));
}

/**
 * Reads a checkpoint written by saveTrainState, its metadata checked against the schema and
 * its model refused when it holds NaN or infinity (unless allowed); `flag` names the option
 * in errors.
 */
export async function loadTrainState(
  path: string,
  flag: string,
  options: { allowNonFinite?: boolean } = {},
): Promise<TrainState> {
  let ckpt;
  try {
    ckpt = await loadCheckpoint(path);
  } catch (e) {
    throw new Error(`${flag}: ${(e as Error).message}`);
  }
  const raw = ckpt.meta as { kind?: unknown } | null;
  if (!raw || typeof raw !== "object" || raw.kind !== TRAIN_STATE_KIND) {
    throw new Error(`${flag}: ${path} is a checkpoint, but not one written by 'cli.ts train'`);
  }
  let meta: TrainMeta;
  try {
    meta = validateTrainMeta(raw, TRAIN_STATE_KIND) as unknown as TrainMeta;
  } catch (e) {
    if (!(e instanceof MetaError)) throw e;
    throw new Error(
      `${flag}: ${path}: the checkpoint's metadata ${e.message}; the file was edited or ` +
        `damaged: use another checkpoint of the run (best/last) or train again`,
    );
  }
  const model = tensorsUnder(ckpt.tensors, "model.");
  const head = model.get("fc.weight");
  if (!head || head.shape.length !== 2 || head.shape[0] !== meta.classes.length) {
    throw new Error(
      `${flag}: ${path}: the head fc.weight is ${head ? `[${head.shape}]` : "missing"} but the ` +
        `metadata lists ${meta.classes.length} classes; the file was edited or damaged`,
    );
  }
  if (!options.allowNonFinite) {
    assertFinite(
      model,
      `${flag}: ${path}`,
      "the model diverged or the file is damaged (--allow-non-finite-weights loads it anyway)",
    );
  }
  const optim = tensorsUnder(ckpt.tensors, "optim.");
  return { model, optim: meta.optim ? optim : null, meta };
}
