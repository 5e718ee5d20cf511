// CosineAnnealingLR with the semantics of torch.optim.lr_scheduler.CosineAnnealingLR (1.13).
//
// PyTorch computes each epoch's lr from the previous one (the "chainable" form) rather than from
// the closed form eta_min + (base - eta_min) * (1 + cos(pi * t / T_max)) / 2. The two agree for
// t <= T_max; past T_max the recursion keeps going along the cosine, so the lr climbs back up to
// the base lr at 2 * T_max and the schedule repeats with period 2 * T_max. We reproduce the
// recursion operation for operation (same order of floating-point operations), so the numbers
// match PyTorch's to the last bit or so, including past T_max.

import {
  checkInteger,
  checkNumber,
  type HasParamGroups,
  type ParamGroupLike,
  readRecord,
} from "./common.ts";
import { EpochLRScheduler, type EpochSchedulerState } from "./epoch_scheduler.ts";

/** Options of `CosineAnnealingLR`. */
export interface CosineAnnealingLROptions {
  /** Half-period of the cosine, in epochs (an integer >= 1). */
  tMax: number;
  /** Lowest lr, reached at epoch tMax. Default 0. */
  etaMin?: number;
  /** -1 (default) starts afresh; a value >= 0 resumes at that epoch (needs `initialLr`). */
  lastEpoch?: number;
}

/** The JSON-serialisable state of a CosineAnnealingLR. */
export interface CosineAnnealingLRState extends EpochSchedulerState {
  /** Which scheduler wrote the state. */
  scheduler: "CosineAnnealingLR";
  /** Steps of a half cosine period. */
  tMax: number;
  /** The lowest lr. */
  etaMin: number;
}

const KIND = "CosineAnnealingLR";

/**
 * Cosine annealing of the lr from its initial value to `etaMin` over `tMax` steps
 * (torch.optim.lr_scheduler.CosineAnnealingLR).
 */
export class CosineAnnealingLR extends EpochLRScheduler {
  /** @ignore */
  protected readonly kind = KIND;
  /** Steps of a half cosine period. */
  tMax: number;
  /** The lowest lr. */
  etaMin: number;

  /** Attaches to `optimizer` (sets each group's initialLr) and takes step 0. */
  constructor(optimizer: HasParamGroups, options: CosineAnnealingLROptions) {
    // PyTorch divides by T_max without checking it; a zero would give NaN lrs, so reject it here.
    const tMax = checkInteger(options?.tMax, `${KIND}: tMax`, 1);
    const etaMin = checkNumber(options.etaMin ?? 0, `${KIND}: etaMin`);
    super(optimizer, options.lastEpoch ?? -1, KIND);
    this.tMax = tMax;
    this.etaMin = etaMin;
    this.step();
  }

  /** @ignore */
  protected computeLrs(groups: readonly ParamGroupLike[]): number[] {
    const { lastEpoch: t, tMax, etaMin } = this;
    if (t === 0) return groups.map((g) => g.lr);
    if (this.stepCount === 1 && t > 0) {
      // Resuming at a later epoch: there is no previous lr to chain from, use the closed form.
      return this.baseLrs.map((base) =>
        etaMin + (base - etaMin) * (1 + Math.cos(t * Math.PI / tMax)) / 2
      );
    }
    if ((t - 1 - tMax) % (2 * tMax) === 0) {
      // Just past a minimum the ratio below would divide by 1 + cos(pi) = 0; step up instead.
      return groups.map((g, i) =>
        g.lr + (this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / tMax)) / 2
      );
    }
    const ratio = (1 + Math.cos(Math.PI * t / tMax)) / (1 + Math.cos(Math.PI * (t - 1) / tMax));
    return groups.map((g) => ratio * (g.lr - etaMin) + etaMin);
  }

  /** @ignore */
  protected override closedFormLrs(): number[] {
    const { lastEpoch: t, tMax, etaMin } = this;
    return this.baseLrs.map((base) =>
      etaMin + (base - etaMin) * (1 + Math.cos(Math.PI * t / tMax)) / 2
    );
  }

  /** The scheduler's state, for a checkpoint. */
  stateDict(): CosineAnnealingLRState {
    return { scheduler: KIND, tMax: this.tMax, etaMin: this.etaMin, ...this.counterState() };
  }

  /** Restore from `stateDict()`. Like PyTorch, the lrs live in the optimizer's state (and this
   * schedule chains from them, so restore the optimizer too). */
  loadStateDict(state: CosineAnnealingLRState | Record<string, unknown>): void {
    const s = readRecord(state, KIND);
    const tMax = checkInteger(s.tMax, `${KIND}.loadStateDict: tMax`, 1);
    const etaMin = checkNumber(s.etaMin, `${KIND}.loadStateDict: etaMin`);
    const counters = this.readCounters(s);
    this.tMax = tMax;
    this.etaMin = etaMin;
    this.assignCounters(counters);
  }
}
