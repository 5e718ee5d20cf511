// The training workflow as a library: what `cli.ts train/eval/predict` do, callable from code.

export {
  ConfigError,
  DEFAULT_CONFIG,
  flagOf,
  type Strategy,
  type TrainConfig,
  validateConfig,
} from "./config.ts";
export { type Recipe, recipeConfig, RECIPES } from "./recipes.ts";
export {
  cacheDecoded,
  countPerClass,
  type DataKind,
  decodeCacheRoot,
  detectKind,
  openData,
  type OpenedData,
  storedShortSide,
} from "./data.ts";
export { evalTransform, normalization, trainTransform } from "./transforms.ts";
export { buildModel, loadBackbone, type ModelSpec, setBackboneFrozen } from "./model.ts";
export { readWeights } from "./weights.ts";
export { makeOptimizer, makeScheduler, setLr } from "./optim.ts";
export { type Prepared, prepareTraining } from "./setup.ts";
export { resolveConfig } from "./resolve.ts";
export { startupReport } from "./startup_report.ts";
export { fit, type FitIO, type FitResult, type StopFlag } from "./trainer.ts";
export { type FitEvent, type FitEventSink, formatLr } from "./fit_events.ts";
export { textReport } from "./text_report.ts";
export { formatDuration, memorySink, ProgressBar, type ProgressSink } from "./progress_bar.ts";
export type {
  CheckpointSlot,
  EpochRow,
  IterationRow,
  RunOutput,
  RunSummary,
} from "./run_output.ts";
export { RunDir } from "./run_dir.ts";
export { MemoryOutput } from "./memory_output.ts";
export { SCHEDULER_ENTRIES, type SchedulerOptions } from "./schedulers/mod.ts";
export type { EpochMetrics, OptionSpec, Schedule, SchedulerEntry } from "./schedulers/schedule.ts";
export { OPTIMIZER_ENTRIES, type OptimizerEntry } from "./optimizers.ts";
export { loadTrainState, saveTrainState, type TrainMeta, type TrainState } from "./checkpoint.ts";
export { type EvalResult, evaluate, formatConfusion } from "./evaluate.ts";
export {
  type ClassificationReport,
  classificationReport,
  type ClassScores,
  formatReport,
} from "./metrics.ts";
export {
  evaluateCheckpoint,
  loadTrained,
  predictFiles,
  type Prediction,
  type Trained,
} from "./inference.ts";
export { lineChart, niceTicks, type Series } from "./plot.ts";
export { DEFAULT_SIZES, runDefaultExperiment } from "./default_experiment.ts";
