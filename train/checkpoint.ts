// Training checkpoints on top of nn/io/checkpoint.ts (atomic safetensors + JSON metadata):
// "last" holds everything a resume needs (model, optimizer and scheduler state, position in
// the run, the partial epoch's metric sums); "best" holds the model and what eval/predict
// need (classes, model spec, preprocessing settings).

import {
  type CheckpointMeta,
  loadCheckpoint,
  saveCheckpoint,
  tensorsUnder,
  withPrefix,
} from "../nn/io/checkpoint.ts";
import type { StateDict } from "../nn/io/host_tensor.ts";
import type { OptimizerMeta } from "../nn/optim/optimizer.ts";
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

export async function saveTrainState(path: string, s: TrainState): Promise<void> {
  const tensors = withPrefix(s.model, "model.");
  if (s.optim) { for (const [k, v] of withPrefix(s.optim, "optim.")) tensors.set(k, v); }
  await saveCheckpoint(path, { tensors, meta: s.meta as unknown as CheckpointMeta });
}

/** Reads a checkpoint written by saveTrainState; `flag` names the option in errors. */
export async function loadTrainState(path: string, flag: string): Promise<TrainState> {
  let ckpt;
  try {
    ckpt = await loadCheckpoint(path);
  } catch (e) {
    throw new Error(`${flag}: ${(e as Error).message}`);
  }
  const meta = ckpt.meta as unknown as TrainMeta;
  if (!meta || typeof meta !== "object" || meta.kind !== TRAIN_STATE_KIND) {
    throw new Error(`${flag}: ${path} is a checkpoint, but not one written by 'cli.ts train'`);
  }
  const optim = tensorsUnder(ckpt.tensors, "optim.");
  return { model: tensorsUnder(ckpt.tensors, "model."), optim: meta.optim ? optim : null, meta };
}
