// What a training checkpoint holds and its bytes: "last" holds everything a resume needs
// (model, optimizer and scheduler state, position in the run, the partial epoch's metric
// sums); "best" holds the model and what eval/predict need (classes, model spec,
// preprocessing settings). No file I/O here (train/checkpoint.ts writes and reads the files),
// so a page can make the same checkpoint as a download.

import { concatBytes } from "../base/bytes.ts";
import {
  type Checkpoint,
  type CheckpointMeta,
  encodeCheckpoint,
  withPrefix,
} from "../nn/io/checkpoint_bytes.ts";
import type { StateDict } from "../nn/io/host_tensor.ts";
import type { OptimizerMeta } from "../nn/optim/optimizer.ts";
import type { TrainConfig } from "./config.ts";
import type { ModelSpec } from "./model.ts";

/** The `kind` of a train state's metadata. */
export const TRAIN_STATE_KIND = "webgpu-resnet/train-state";

/** Metric sums of an epoch in progress (so that a mid-epoch resume reports the same epoch). */
export interface PartialEpoch {
  /** Sum of the losses so far. */
  lossSum: number;
  /** Correct predictions so far. */
  correct: number;
  /** Samples so far. */
  samples: number;
  /** Samples with a label outside the classes. */
  invalid: number;
}

/** A training checkpoint's metadata: where the run is, what it was trained on, with what. */
export interface TrainMeta {
  /** Always TRAIN_STATE_KIND. */
  kind: typeof TRAIN_STATE_KIND;
  /** Version of this layout (checkpoint_schema.ts). */
  schema: number;
  /** The network's architecture. */
  model: ModelSpec;
  /** Class names in head order. */
  classes: string[];
  /** The run's settings. */
  config: TrainConfig;
  /** Epochs fully done. */
  epoch: number;
  /** Batches done of epoch `epoch` (0 at an epoch boundary). */
  batch: number;
  /** Optimizer steps done in the whole run. */
  iteration: number;
  /** Metric sums of the epoch in progress, when written mid-epoch. */
  partial: PartialEpoch | null;
  /** The best epoch (1-based) so far by the accuracy on `set`, the validation set when the run
   * has one, else the test set (null before the first epoch); with that epoch's test metrics.
   * Files of schema 1 have neither `set` (it was the test set) nor `test`. */
  best: {
    accuracy: number;
    loss: number;
    epoch: number;
    set?: "validation" | "test";
    test?: { loss: number; accuracy: number } | null;
  } | null;
  /** Whether the backbone is frozen at this point. */
  frozen: boolean;
  /** Validation metrics of the last finished epoch (best checkpoints: of that epoch); null
   * when the run has no validation set (and in schema 1). */
  val?: { loss: number; accuracy: number } | null;
  /** Test metrics of the last finished epoch (best checkpoints: of that epoch); null when the
   * run has no test set. */
  test: { loss: number; accuracy: number } | null;
  /** Which images each split holds (train/splits.ts's splitFingerprint; absent in schema 1). */
  splits?: string;
  /** The optimizer's state (its tensors are TrainState.optim), in last checkpoints. */
  optim: OptimizerMeta | null;
  /** The schedule's state. */
  scheduler: Record<string, unknown> | null;
  /** True when written by Ctrl-C in the middle of an epoch. */
  interrupted: boolean;
}

/** A training checkpoint in memory: model, optimizer state, metadata. */
export interface TrainState {
  /** The model's state dict. */
  model: StateDict;
  /** The optimizer's state tensors (null in best checkpoints). */
  optim: StateDict | null;
  /** The metadata. */
  meta: TrainMeta;
}

/** The train state as a checkpoint: tensors namespaced "model." and "optim.". */
export function asCheckpoint(s: TrainState): Checkpoint {
  const tensors = withPrefix(s.model, "model.");
  if (s.optim) { for (const [k, v] of withPrefix(s.optim, "optim.")) tensors.set(k, v); }
  return { tensors, meta: s.meta as unknown as CheckpointMeta };
}

/** The bytes saveTrainState writes (a page offers them as a download). */
export function serializeTrainState(s: TrainState): Uint8Array {
  return concatBytes(encodeCheckpoint(asCheckpoint(s)));
}
