// Where a training run's results go: the metric rows, the plots, the checkpoints and the
// summary. fit() writes through this interface only, so the same loop serves the CLI (a run
// directory on disk: train/run_dir.ts) and a page (memory: train/memory_output.ts).

import type { ClassificationReport } from "./metrics.ts";
import type { TrainMeta, TrainState } from "./train_state.ts";

export interface IterationRow {
  iteration: number;
  epoch: number;
  /** Mean training loss over the steps since the previous row. */
  loss: number;
  accuracy: number;
  lr: number;
  imagesPerSecond: number;
}

/** An epoch's metrics; NaN for a set the run does not have. */
export interface EpochRow {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  lr: number;
  seconds: number;
  frozen: boolean;
  /** The lr of each parameter group in this epoch (lr is group 0's). */
  lrs: number[];
}

export interface RunSummary {
  /** Epochs done; fewer than `epochsPlanned` when early stopping ended the run. */
  epochs: number;
  epochsPlanned: number;
  stoppedEarly: boolean;
  iterations: number;
  /** The set that picked the best checkpoint. */
  selectedBy: "validation" | "test";
  /** The best epoch by `selectedBy`'s accuracy, with its test metrics (`best.test`). */
  best: TrainMeta["best"];
  /** Validation and test metrics of the last epoch (null: the run has no such set). */
  lastVal: { loss: number; accuracy: number } | null;
  lastTest: { loss: number; accuracy: number } | null;
  /** Precision, recall, F1 and support per class of the last test evaluation. */
  testReport: ClassificationReport | null;
  classes: string[];
  trainImages: number;
  valImages: number;
  testImages: number;
  secondsThisSession: number;
}

/** "last": everything a resume needs; "best": the best model so far (by validation accuracy,
 * or by test accuracy when the run has no validation set). */
export type CheckpointSlot = "last" | "best";

export interface RunOutput {
  /** Where the results are, for messages (a directory, or "memory"). */
  readonly where: string;
  addIteration(row: IterationRow): Promise<void>;
  /** An epoch's row; the plots include it. */
  addEpoch(row: EpochRow): Promise<void>;
  /** Brings the plots up to the rows so far (a run stopped mid-epoch). */
  writePlots(): Promise<void>;
  /** The test set's per-class report after `epoch` (1-based): its confusion matrix. */
  writeConfusion(epoch: number, report: ClassificationReport): Promise<void>;
  saveCheckpoint(slot: CheckpointSlot, state: TrainState): Promise<void>;
  writeSummary(summary: RunSummary): Promise<void>;
}
