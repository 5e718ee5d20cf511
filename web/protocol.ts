// The messages between the training page (web/main.ts) and its Worker (web/worker.ts).
// Everything is structured-clonable; file bytes travel as transferred buffers.

import type { FitEvent } from "../train/fit_events.ts";
import type { EpochRow } from "../train/run_output.ts";
import type { FitResult } from "../train/trainer.ts";
import type { TrainConfig } from "../train/config.ts";
import type { SkippedFile } from "../data/folder_dataset.ts";
import type { PickedFile } from "./open_data.ts";
import type { FirstStep } from "./first_step.ts";

/** What the page asks for a run: the picked data and weights, a recipe and its overrides. */
export interface RunRequest {
  files: PickedFile[];
  weights: PickedFile | null;
  recipe: string;
  overrides: Partial<TrainConfig>;
}

export type ToWorker =
  | ({ type: "train" } & RunRequest)
  /** The first step of the same run, read back (the browser test's hook). */
  | ({ type: "first-step"; names: string[] } & RunRequest)
  | { type: "stop" }
  | { type: "predict"; file: PickedFile; topK: number };

export interface Done {
  type: "done";
  result: FitResult;
  epochs: EpochRow[];
  classes: string[];
  /** The best model's checkpoint (what `cli.ts eval` / `predict` read), or null before an epoch. */
  best: Uint8Array | null;
  /** The config the run used (the recipe with the page's settings). */
  config: TrainConfig;
}

export type FromWorker =
  | { type: "adapter"; description: string }
  | { type: "notes"; lines: string[] }
  | { type: "skipped"; files: SkippedFile[] }
  | { type: "warning"; message: string }
  | { type: "event"; event: FitEvent }
  | Done
  | { type: "first-step"; step: FirstStep; config: TrainConfig }
  | {
    type: "prediction";
    file: string;
    top: { className: string; probability: number }[];
  }
  /** `noWebGpu`: the Worker has no navigator.gpu or no adapter. */
  | { type: "error"; message: string; noWebGpu?: boolean };
