// Learning-rate schedulers, matching torch.optim.lr_scheduler (PyTorch 1.13). They act on any
// object with `paramGroups: { lr, initialLr? }[]`, such as this engine's optimizers.

export type { HasParamGroups, JsonNumber, ParamGroupLike } from "./sched/common.ts";
export {
  type LrReduction,
  type PlateauMode,
  ReduceLROnPlateau,
  type ReduceLROnPlateauOptions,
  type ReduceLROnPlateauState,
  type ThresholdMode,
} from "./sched/reduce_lr_on_plateau.ts";
export { EpochLRScheduler, type EpochSchedulerState } from "./sched/epoch_scheduler.ts";
export { StepLR, type StepLROptions, type StepLRState } from "./sched/step_lr.ts";
export {
  CosineAnnealingLR,
  type CosineAnnealingLROptions,
  type CosineAnnealingLRState,
} from "./sched/cosine_annealing_lr.ts";
export { LinearLR, type LinearLROptions, type LinearLRState } from "./sched/linear_lr.ts";
export {
  type ChainedScheduler,
  SequentialLR,
  type SequentialLRState,
} from "./sched/sequential_lr.ts";
