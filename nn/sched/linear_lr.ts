// LinearLR with the semantics of torch.optim.lr_scheduler.LinearLR (1.13): the lr goes from
// startFactor x its initial value to endFactor x over `totalIters` steps, then stays. Like
// PyTorch, each step scales the previous lr (the chainable form), operation for operation.

import {
  checkInteger,
  checkNumber,
  type HasParamGroups,
  type ParamGroupLike,
  readRecord,
} from "./common.ts";
import { EpochLRScheduler, type EpochSchedulerState } from "./epoch_scheduler.ts";

/** Options of `LinearLR`. */
export interface LinearLROptions {
  /** Factor of the first step's lr, in (0, 1]. Default 1/3 (PyTorch's). */
  startFactor?: number;
  /** Factor reached after `totalIters` steps, in [0, 1]. Default 1. */
  endFactor?: number;
  /** Steps of the ramp (an integer >= 1). Default 5. */
  totalIters?: number;
  /** -1 (default) starts afresh; a value >= 0 resumes at that step (needs `initialLr`). */
  lastEpoch?: number;
}

/** The JSON-serialisable state of a LinearLR. */
export interface LinearLRState extends EpochSchedulerState {
  /** Which scheduler wrote the state. */
  scheduler: "LinearLR";
  /** Factor of the initial lr at step 0. */
  startFactor: number;
  /** Factor reached at `totalIters`. */
  endFactor: number;
  /** Steps of the linear change. */
  totalIters: number;
}

const KIND = "LinearLR";

function checkFactors(start: number, end: number, where: string): void {
  if (!(start > 0 && start <= 1)) {
    throw new RangeError(`${where}: startFactor must be in (0, 1], got ${start}`);
  }
  if (!(end >= 0 && end <= 1)) {
    throw new RangeError(`${where}: endFactor must be in [0, 1], got ${end}`);
  }
}

/**
 * A linear change of the lr factor from `startFactor` to `endFactor` over `totalIters` steps
 * (torch.optim.lr_scheduler.LinearLR).
 */
export class LinearLR extends EpochLRScheduler {
  /** @ignore */
  protected readonly kind = KIND;
  /** Factor of the initial lr at step 0. */
  startFactor: number;
  /** Factor reached at `totalIters`. */
  endFactor: number;
  /** Steps of the linear change. */
  totalIters: number;

  /** Attaches to `optimizer` and takes step 0 (defaults 1/3 → 1 over 5 steps, as PyTorch). */
  constructor(optimizer: HasParamGroups, options: LinearLROptions = {}) {
    const startFactor = checkNumber(options.startFactor ?? 1 / 3, `${KIND}: startFactor`);
    const endFactor = checkNumber(options.endFactor ?? 1, `${KIND}: endFactor`);
    checkFactors(startFactor, endFactor, KIND);
    const totalIters = checkInteger(options.totalIters ?? 5, `${KIND}: totalIters`, 1);
    super(optimizer, options.lastEpoch ?? -1, KIND);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.step();
  }

  /** @ignore */
  protected computeLrs(groups: readonly ParamGroupLike[]): number[] {
    const { lastEpoch: t, startFactor: s, endFactor: e, totalIters: n } = this;
    if (t === 0) return groups.map((g) => g.lr * s);
    if (t > n) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * (1 + (e - s) / (n * s + (t - 1) * (e - s))));
  }

  /** @ignore */
  protected override closedFormLrs(): number[] {
    const { lastEpoch: t, startFactor: s, endFactor: e, totalIters: n } = this;
    return this.baseLrs.map((base) => base * (s + (e - s) * Math.min(n, t) / n));
  }

  /** The scheduler's state, for a checkpoint. */
  stateDict(): LinearLRState {
    return {
      scheduler: KIND,
      startFactor: this.startFactor,
      endFactor: this.endFactor,
      totalIters: this.totalIters,
      ...this.counterState(),
    };
  }

  /** Restore from `stateDict()` (the lrs live in the optimizer's state: restore it too). */
  loadStateDict(state: LinearLRState | Record<string, unknown>): void {
    const s = readRecord(state, KIND);
    const where = `${KIND}.loadStateDict`;
    const startFactor = checkNumber(s.startFactor, `${where}: startFactor`);
    const endFactor = checkNumber(s.endFactor, `${where}: endFactor`);
    checkFactors(startFactor, endFactor, where);
    const totalIters = checkInteger(s.totalIters, `${where}: totalIters`, 1);
    const counters = this.readCounters(s);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this.assignCounters(counters);
  }
}
