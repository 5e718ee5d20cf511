// A run's results kept in memory, for a page (or a test): the rows a chart draws, the last and
// best checkpoints as safetensors bytes (what `cli.ts eval` / `predict` read once downloaded)
// and the summary. No file is written.

import type { ClassificationReport } from "./metrics.ts";
import { serializeTrainState, type TrainState } from "./train_state.ts";
import type {
  CheckpointSlot,
  EpochRow,
  IterationRow,
  RunOutput,
  RunSummary,
} from "./run_output.ts";

/** A RunOutput that keeps everything in memory: rows, checkpoints as bytes, summary. */
export class MemoryOutput implements RunOutput {
  readonly where = "memory";
  /** The iteration rows so far. */
  readonly iterations: IterationRow[] = [];
  /** The epoch rows so far. */
  readonly epochs: EpochRow[] = [];
  /** The checkpoints' bytes (safetensors files) by slot. */
  readonly checkpoints = new Map<CheckpointSlot, Uint8Array>();
  /** The summary, once the run has finished. */
  summary: RunSummary | null = null;
  /** The latest test report and the epoch after which it was made. */
  confusion: { epoch: number; report: ClassificationReport } | null = null;

  /** Keeps the row. */
  addIteration(row: IterationRow): Promise<void> {
    this.iterations.push(row);
    return Promise.resolve();
  }

  addEpoch(row: EpochRow): Promise<void> {
    this.epochs.push(row);
    return Promise.resolve();
  }

  /** Nothing to draw: a page charts the rows itself. */
  writePlots(): Promise<void> {
    return Promise.resolve();
  }

  writeConfusion(epoch: number, report: ClassificationReport): Promise<void> {
    this.confusion = { epoch, report };
    return Promise.resolve();
  }

  /** Keeps the checkpoint's bytes. */
  saveCheckpoint(slot: CheckpointSlot, state: TrainState): Promise<void> {
    this.checkpoints.set(slot, serializeTrainState(state));
    return Promise.resolve();
  }

  /** Keeps the summary. */
  writeSummary(summary: RunSummary): Promise<void> {
    this.summary = summary;
    return Promise.resolve();
  }
}
