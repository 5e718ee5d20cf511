// What fit() reports while it runs. The CLI renders these as its progress bar and log lines
// (train/text_report.ts); a page draws them as a chart. Every field is a plain number, string
// or boolean (or an EpochRow), so an event can be posted from a Worker as it is.

import type { EpochRow } from "./run_output.ts";

/** What fit() reports while it runs, one event at a time. */
export type FitEvent =
  /** An epoch's training batches begin (`batches` in all, `skipped` of them already done). */
  | { type: "epoch-start"; epoch: number; epochs: number; batches: number; skipped: number }
  /** Metrics read back during an epoch: the means so far of this epoch. */
  | {
    type: "progress";
    epoch: number;
    iteration: number;
    done: number;
    total: number;
    loss: number;
    accuracy: number;
    imagesPerSecond: number;
    lr: number;
  }
  /**
   * The epoch's first training step is recorded: its batch loaded and, in a session's first
   * epoch, the GPU kernels compiled (the long wait on a software driver). `seconds` since the
   * epoch began.
   */
  | { type: "first-step"; epoch: number; seconds: number }
  /** The epoch's training batches are over (finished, stopped or failed). */
  | { type: "batches-end"; epoch: number }
  /** Validation or test batches evaluated so far after an epoch's training (`done` of `total`). */
  | {
    type: "eval-progress";
    epoch: number;
    set: "validation" | "test";
    done: number;
    total: number;
  }
  /** The epoch's results, after the test evaluation; `improved`: a new best model. */
  | { type: "epoch-end"; epochs: number; row: EpochRow; improved: boolean }
  /** A scheduler cut one group's lr (ReduceLROnPlateau). */
  | {
    type: "lr-change";
    epoch: number;
    group: number;
    groupName: string;
    oldLr: number;
    newLr: number;
    reason: string;
  }
  /** The backbone was unfrozen; `lr` is the new lr, if it changed. */
  | { type: "unfreeze"; epoch: number; lr: number | null }
  /** Early stopping ended the run after `epoch` epochs: `patience` epochs without a better
   * validation accuracy than epoch `bestEpoch`'s (the best checkpoint). */
  | {
    type: "early-stop";
    epoch: number;
    epochs: number;
    patience: number;
    bestEpoch: number;
    bestAccuracy: number;
  };

/** Receives fit()'s events. */
export type FitEventSink = (event: FitEvent) => void;

/** The lr as the log writes it: 0.001 → "1e-3", 0.00025 → "2.5e-4". */
export function formatLr(lr: number): string {
  return lr.toExponential(2).replace(/\.?0+e/, "e");
}
