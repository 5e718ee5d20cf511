// The common part of schedulers that set the lr from the step count (PyTorch's _LRScheduler):
// StepLR and CosineAnnealingLR. Construction records each group's initial lr and takes the first
// step (epoch 0), exactly as PyTorch does, so the optimizer's lr right after construction is the
// lr for epoch 0.

import { ArgumentError } from "../../base/errors.ts";
import {
  checkGroupCount,
  checkInteger,
  checkOptimizer,
  type HasParamGroups,
  type ParamGroupLike,
  readNumberList,
  show,
} from "./common.ts";

/** The counters every epoch scheduler keeps in its state dict. */
export interface EpochSchedulerState {
  /** Each group's initial lr. */
  baseLrs: number[];
  /** PyTorch's `last_epoch`. */
  lastEpoch: number;
  /** Number of `step()` calls. */
  stepCount: number;
  /** The lrs after the last step. */
  lastLr: number[];
}

/**
 * The base of StepLR, CosineAnnealingLR and LinearLR (PyTorch's LRScheduler): step(), getLastLr(),
 * state dicts.
 */
export abstract class EpochLRScheduler {
  /** The optimizer whose groups' lr this scheduler sets. */
  readonly optimizer: HasParamGroups;
  /** Each group's initial lr (its `initialLr`). */
  baseLrs: number[];
  /** Index of the current epoch: 0 right after construction, +1 per `step()`. */
  lastEpoch: number;
  /** Number of `step()` calls, the one made by the constructor included. */
  protected stepCount: number;
  /** @ignore */
  protected lastLr: number[];
  /** @ignore */
  protected abstract readonly kind: string;

  /** `lastEpoch` -1 starts afresh and records `initialLr = lr` on groups that lack one; any other
   * value resumes at that epoch and needs `initialLr` on every group (as PyTorch requires). */
  protected constructor(optimizer: HasParamGroups, lastEpoch: number, kind: string) {
    const groups = checkOptimizer(optimizer, kind);
    checkInteger(lastEpoch, `${kind}: lastEpoch`, -1);
    if (lastEpoch === -1) {
      for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else {
      groups.forEach((g, i) => {
        if (typeof g.initialLr !== "number") {
          throw new ArgumentError(
            `${kind}: paramGroups[${i}].initialLr is not set, so the scheduler cannot resume at ` +
              `lastEpoch ${lastEpoch}; restore the optimizer's state dict first, or use lastEpoch -1`,
          );
        }
      });
    }
    this.optimizer = optimizer;
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
    this.stepCount = 0;
    this.lastLr = groups.map((g) => g.lr);
  }

  /** The lr of every group for epoch `lastEpoch`, computed from the groups' current lrs. */
  protected abstract computeLrs(groups: readonly ParamGroupLike[]): number[];

  /** Advance one epoch and write the new lrs into the optimizer; returns them. Call it after the
   * epoch's optimizer steps. */
  step(): number[] {
    const groups = this.optimizer.paramGroups;
    checkGroupCount(groups, this.baseLrs.length, this.kind);
    this.stepCount += 1;
    this.lastEpoch += 1;
    const lrs = this.computeLrs(groups); // all computed before any is written
    groups.forEach((g, i) => (g.lr = lrs[i]));
    this.lastLr = groups.map((g) => g.lr);
    return this.lastLr.slice();
  }

  /** The closed form of the schedule at `lastEpoch`, for schedulers that have one (PyTorch's
   * `_get_closed_form_lr`); used by `stepTo`. */
  protected closedFormLrs?(): number[];

  /** PyTorch's deprecated `step(epoch)`: jump to `epoch`, with the closed form where there is
   * one. SequentialLR calls it (as `step(0)`) when it hands over to the next scheduler. */
  stepTo(epoch: number): number[] {
    const groups = this.optimizer.paramGroups;
    checkGroupCount(groups, this.baseLrs.length, this.kind);
    this.stepCount += 1;
    this.lastEpoch = epoch;
    const lrs = this.closedFormLrs ? this.closedFormLrs() : this.computeLrs(groups);
    groups.forEach((g, i) => (g.lr = lrs[i]));
    this.lastLr = groups.map((g) => g.lr);
    return this.lastLr.slice();
  }

  /** PyTorch's `_initial_step`: count from zero again and take the first step (SequentialLR
   * does this to its first scheduler after undoing the constructors' steps). */
  initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The lr of each group after the last step. */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  /** @ignore */
  protected counterState(): EpochSchedulerState {
    return {
      baseLrs: this.baseLrs.slice(),
      lastEpoch: this.lastEpoch,
      stepCount: this.stepCount,
      lastLr: this.lastLr.slice(),
    };
  }

  /** Read and check the counters of a state dict without assigning them. */
  protected readCounters(s: Record<string, unknown>): EpochSchedulerState {
    const n = this.optimizer.paramGroups.length;
    const where = (key: string) => `${this.kind}.loadStateDict: ${key}`;
    const lastEpoch = checkInteger(s.lastEpoch, where("lastEpoch"), -1);
    const stepCount = checkInteger(s.stepCount, where("stepCount"), 0);
    if (!Array.isArray(s.lastLr)) {
      throw new TypeError(`${where("lastLr")} must be an array, got ${show(s.lastLr)}`);
    }
    return {
      baseLrs: readNumberList(s, "baseLrs", n, this.kind),
      lastEpoch,
      stepCount,
      lastLr: readNumberList(s, "lastLr", n, this.kind),
    };
  }

  /** @ignore */
  protected assignCounters(c: EpochSchedulerState): void {
    this.baseLrs = c.baseLrs;
    this.lastEpoch = c.lastEpoch;
    this.stepCount = c.stepCount;
    this.lastLr = c.lastLr;
  }
}
