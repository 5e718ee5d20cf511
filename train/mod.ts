// The training workflow as a library: what `cli.ts train/eval/predict` do, callable from code.
// What only the CLI needs (flag names, plot ticks, progress rendering helpers) is not here.

export {
  type AugmentName,
  CLASS_WEIGHTS,
  type ClassWeightsName,
  ConfigError,
  type CoreConfig,
  DEFAULT_CONFIG,
  NORMALIZE,
  type NormalizeName,
  type OptimizerName,
  PLATEAU_METRICS,
  type PlateauMetric,
  type SchedulerName,
  STRATEGIES,
  type Strategy,
  type TrainConfig,
  validateConfig,
} from "./config.ts";
export type { SchedulerOptions } from "./schedulers/mod.ts";
export type { PlateauOptions } from "./schedulers/plateau.ts";
export type { StepOptions } from "./schedulers/step.ts";
export type { CosineOptions } from "./schedulers/cosine.ts";
export type { WarmupCosineOptions } from "./schedulers/warmup_cosine.ts";
export type { ModelSpec } from "./model.ts";
export type { DataKind, OpenedData } from "./prepared.ts";
export type { AnyOptimizer } from "./optimizers.ts";
export {
  type PartialEpoch,
  TRAIN_STATE_KIND,
  type TrainMeta,
  type TrainState,
} from "./train_state.ts";
export type { ProgressSink } from "./progress_bar.ts";
export { type Recipe, recipeConfig, RECIPES } from "./recipes.ts";
export type { Prepared } from "./prepared.ts";
export { type DataAdapter, prepareTraining } from "./setup.ts";
export { startupReport } from "./startup_report.ts";
export type { TrainedWith } from "./resolve.ts";
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
  type ClassificationReport,
  classificationReport,
  type ClassScores,
  formatReport,
} from "./metrics.ts";
export {
  type EvalReport,
  evaluateCheckpoint,
  loadTrained,
  predictFiles,
  type Prediction,
  type PredictionFailure,
  type PredictionResult,
  type Trained,
} from "./inference.ts";
