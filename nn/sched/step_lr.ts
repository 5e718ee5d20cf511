// StepLR with the semantics of torch.optim.lr_scheduler.StepLR (1.13): every `stepSize` epochs
// each group's lr is multiplied by `gamma`.

import {
  checkInteger,
  checkNumber,
  type HasParamGroups,
  type ParamGroupLike,
  readRecord,
} from "./common.ts";
import { EpochLRScheduler, type EpochSchedulerState } from "./epoch_scheduler.ts";

/** Options of `StepLR`. */
export interface StepLROptions {
  /** Epochs between two decays (an integer >= 1). */
  stepSize: number;
  /** Multiplier applied at each decay. Default 0.1. */
  gamma?: number;
  /** -1 (default) starts afresh; a value >= 0 resumes at that epoch (needs `initialLr`). */
  lastEpoch?: number;
}

/** The JSON-serialisable state of a StepLR. */
export interface StepLRState extends EpochSchedulerState {
  /** Which scheduler wrote the state. */
  scheduler: "StepLR";
  /** Steps between cuts. */
  stepSize: number;
  /** Factor of each cut. */
  gamma: number;
}

const KIND = "StepLR";

/** Multiplies the lr by `gamma` every `stepSize` steps (torch.optim.lr_scheduler.StepLR). */
export class StepLR extends EpochLRScheduler {
  /** @ignore */
  protected readonly kind = KIND;
  /** Steps between cuts. */
  stepSize: number;
  /** Factor of each cut. */
  gamma: number;

  /** Attaches to `optimizer` and takes step 0. */
  constructor(optimizer: HasParamGroups, options: StepLROptions) {
    // PyTorch leaves a zero step_size to fail later with a division by zero; catch it here.
    const stepSize = checkInteger(options?.stepSize, `${KIND}: stepSize`, 1);
    const gamma = checkNumber(options.gamma ?? 0.1, `${KIND}: gamma`);
    super(optimizer, options.lastEpoch ?? -1, KIND);
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.step();
  }

  // Recursive, like PyTorch: multiply the current lr, so an lr changed by hand is respected.
  /** @ignore */
  protected computeLrs(groups: readonly ParamGroupLike[]): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) {
      return groups.map((g) => g.lr);
    }
    return groups.map((g) => g.lr * this.gamma);
  }

  /** The scheduler's state, for a checkpoint. */
  stateDict(): StepLRState {
    return { scheduler: KIND, stepSize: this.stepSize, gamma: this.gamma, ...this.counterState() };
  }

  /** Restore from `stateDict()`. Like PyTorch, the lrs live in the optimizer's state. */
  loadStateDict(state: StepLRState | Record<string, unknown>): void {
    const s = readRecord(state, KIND);
    const stepSize = checkInteger(s.stepSize, `${KIND}.loadStateDict: stepSize`, 1);
    const gamma = checkNumber(s.gamma, `${KIND}.loadStateDict: gamma`);
    const counters = this.readCounters(s);
    this.stepSize = stepSize;
    this.gamma = gamma;
    this.assignCounters(counters);
  }
}
