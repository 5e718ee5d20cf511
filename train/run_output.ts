// Where a training run's results go: the metric rows, the plots, the checkpoints and the
// summary. fit() writes through this interface only, so the same loop serves the CLI (a run
// directory on disk: train/run_dir.ts) and a page (memory: train/memory_output.ts).

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

export interface EpochRow {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  lr: number;
  seconds: number;
  frozen: boolean;
}

export interface RunSummary {
  epochs: number;
  iterations: number;
  best: TrainMeta["best"];
  lastTest: { loss: number; accuracy: number } | null;
  classes: string[];
  trainImages: number;
  testImages: number;
  secondsThisSession: number;
}

/** "last": everything a resume needs; "best": the best model so far (by test accuracy). */
export type CheckpointSlot = "last" | "best";

export interface RunOutput {
  /** Where the results are, for messages (a directory, or "memory"). */
  readonly where: string;
  addIteration(row: IterationRow): Promise<void>;
  /** An epoch's row; the plots include it. */
  addEpoch(row: EpochRow): Promise<void>;
  /** Brings the plots up to the rows so far (a run stopped mid-epoch). */
  writePlots(): Promise<void>;
  saveCheckpoint(slot: CheckpointSlot, state: TrainState): Promise<void>;
  writeSummary(summary: RunSummary): Promise<void>;
}
