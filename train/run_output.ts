// Where a training run's results go: the metric rows, the plots, the checkpoints and the
// summary. fit() writes through this interface only, so the same loop serves the CLI (a run
// directory on disk: train/run_dir.ts) and a page (memory: train/memory_output.ts).

import type { ClassificationReport } from "./metrics.ts";
import type { TrainMeta, TrainState } from "./train_state.ts";

/** One row of metrics_iter.csv: the training metrics at a readback. */
export interface IterationRow {
  /** Optimizer steps done in the run. */
  iteration: number;
  /** The epoch (1-based). */
  epoch: number;
  /** Mean training loss over the steps since the previous row. */
  loss: number;
  /** Training accuracy over the steps since the previous row. */
  accuracy: number;
  /** The lr of the first parameter group. */
  lr: number;
  /** Training speed since the previous row. */
  imagesPerSecond: number;
}

/** An epoch's metrics; NaN for a set the run does not have. */
export interface EpochRow {
  /** The epoch (1-based). */
  epoch: number;
  /** Mean training loss of the epoch. */
  trainLoss: number;
  /** Training accuracy of the epoch. */
  trainAccuracy: number;
  /** Validation loss after the epoch. */
  valLoss: number;
  /** Validation accuracy after the epoch. */
  valAccuracy: number;
  /** Test loss after the epoch. */
  testLoss: number;
  /** Test accuracy after the epoch. */
  testAccuracy: number;
  /** The lr the epoch trained with (first parameter group). */
  lr: number;
  /** Seconds the epoch took, evaluation included. */
  seconds: number;
  /** Whether the backbone was frozen. */
  frozen: boolean;
  /** The lr of each parameter group in this epoch (lr is group 0's). */
  lrs: number[];
}

/** What summary.json holds, written when a run finishes. */
export interface RunSummary {
  /** Epochs done; fewer than `epochsPlanned` when early stopping ended the run. */
  epochs: number;
  /** Epochs asked for (--epochs). */
  epochsPlanned: number;
  /** True when early stopping ended the run. */
  stoppedEarly: boolean;
  /** Optimizer steps done. */
  iterations: number;
  /** The set that picked the best checkpoint. */
  selectedBy: "validation" | "test";
  /** The best epoch by `selectedBy`'s accuracy, with its test metrics (`best.test`). */
  best: TrainMeta["best"];
  /** Validation metrics of the last epoch (null: the run has no validation set). */
  lastVal: { loss: number; accuracy: number } | null;
  /** Test metrics of the last epoch (null: the run has no test set). */
  lastTest: { loss: number; accuracy: number } | null;
  /** Precision, recall, F1 and support per class of the last test evaluation. */
  testReport: ClassificationReport | null;
  /** Class names in head order. */
  classes: string[];
  /** Training images. */
  trainImages: number;
  /** Validation images. */
  valImages: number;
  /** Test images. */
  testImages: number;
  /** Seconds of this session (a resumed run counts from the resume). */
  secondsThisSession: number;
}

/** "last": everything a resume needs; "best": the best model so far (by validation accuracy,
 * or by test accuracy when the run has no validation set). */
export type CheckpointSlot = "last" | "best";

/** Where a run's results go: a directory (RunDir) or memory (MemoryOutput). */
export interface RunOutput {
  /** Where the results are, for messages (a directory, or "memory"). */
  readonly where: string;
  /** Adds an iteration row. */
  addIteration(row: IterationRow): Promise<void>;
  /** An epoch's row; the plots include it. */
  addEpoch(row: EpochRow): Promise<void>;
  /** Brings the plots up to the rows so far (a run stopped mid-epoch). */
  writePlots(): Promise<void>;
  /** The test set's per-class report after `epoch` (1-based): its confusion matrix. */
  writeConfusion(epoch: number, report: ClassificationReport): Promise<void>;
  /** Writes the last or best checkpoint. */
  saveCheckpoint(slot: CheckpointSlot, state: TrainState): Promise<void>;
  /** Writes the summary at the end of the run. */
  writeSummary(summary: RunSummary): Promise<void>;
}
