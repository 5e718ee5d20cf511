// The training workflow as a library: what `cli.ts train/eval/predict` do, callable from code.
// What only the CLI needs (flag names, plot ticks, progress rendering helpers) is not here.

export { ConfigError, DEFAULT_CONFIG, type TrainConfig, validateConfig } from "./config.ts";
export { type Recipe, recipeConfig, RECIPES } from "./recipes.ts";
export { type Prepared, prepareTraining } from "./setup.ts";
export { fit, type FitIO, type FitResult, type StopFlag } from "./trainer.ts";
export type { FitEvent, FitEventSink } from "./fit_events.ts";
export { textReport } from "./text_report.ts";
export type {
  CheckpointSlot,
  EpochRow,
  IterationRow,
  RunOutput,
  RunSummary,
} from "./run_output.ts";
export { RunDir } from "./run_dir.ts";
export { MemoryOutput } from "./memory_output.ts";
export { type EvalResult, evaluate } from "./evaluate.ts";
export {
  type EvalReport,
  evaluateCheckpoint,
  loadTrained,
  predictFiles,
  type Prediction,
  type Trained,
} from "./inference.ts";
