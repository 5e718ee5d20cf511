// SequentialLR with the semantics of torch.optim.lr_scheduler.SequentialLR (1.13): several
// epoch schedulers in turn, the i-th taking over at milestones[i-1]. Construction resets each
// group's lr to its initial lr, undoes the first step the constructors took and takes it again
// with the first scheduler only; at a milestone the next scheduler jumps to its step 0 (with
// its closed form: a cosine restarts from the initial lr). Warmup then cosine is
// SequentialLR([LinearLR, CosineAnnealingLR], [warmupSteps]).

import { checkInteger, type HasParamGroups, readNumberList, readRecord, show } from "./common.ts";
import type { EpochLRScheduler } from "./epoch_scheduler.ts";

/** An epoch scheduler that can save and restore its state. */
export type ChainedScheduler = EpochLRScheduler & {
  stateDict(): object;
  loadStateDict(state: Record<string, unknown>): void;
};

/** The JSON-serialisable state of a SequentialLR and its schedulers. */
export interface SequentialLRState {
  /** Which scheduler wrote the state. */
  scheduler: "SequentialLR";
  /** PyTorch's `last_epoch`. */
  lastEpoch: number;
  /** Steps at which the next scheduler takes over. */
  milestones: number[];
  /** Each chained scheduler's state. */
  schedulers: object[];
  /** The lrs after the last step. */
  lastLr: number[];
}

const KIND = "SequentialLR";

function bisectRight(sorted: readonly number[], x: number): number {
  let i = 0;
  while (i < sorted.length && sorted[i] <= x) i++;
  return i;
}

/**
 * Runs schedulers one after another, switching at `milestones`
 * (torch.optim.lr_scheduler.SequentialLR).
 */
export class SequentialLR {
  /** The optimizer whose groups' lr the schedulers set. */
  readonly optimizer: HasParamGroups;
  /** The chained schedulers, in order. */
  readonly schedulers: readonly ChainedScheduler[];
  /** Steps at which the next scheduler takes over. */
  milestones: number[];
  /** PyTorch's `last_epoch`. */
  lastEpoch: number;
  private lastLr: number[];

  /** Chains `schedulers` on `optimizer`, switching at each of `milestones`. */
  constructor(
    optimizer: HasParamGroups,
    schedulers: readonly ChainedScheduler[],
    milestones: readonly number[],
  ) {
    if (schedulers.length < 1) throw new RangeError(`${KIND}: give at least one scheduler`);
    if (milestones.length !== schedulers.length - 1) {
      throw new RangeError(
        `${KIND}: expected ${schedulers.length - 1} milestones for ${schedulers.length} ` +
          `schedulers, got ${milestones.length}`,
      );
    }
    schedulers.forEach((s, i) => {
      if (s.optimizer !== optimizer) {
        throw new RangeError(`${KIND}: scheduler ${i} belongs to another optimizer`);
      }
    });
    milestones.forEach((m, i) => {
      checkInteger(m, `${KIND}: milestones[${i}]`, 1);
      if (i > 0 && m <= milestones[i - 1]) {
        throw new RangeError(`${KIND}: milestones must increase, got ${show(milestones)}`);
      }
    });
    this.optimizer = optimizer;
    this.schedulers = schedulers;
    this.milestones = milestones.slice();
    this.lastEpoch = 0;
    for (const g of optimizer.paramGroups) g.lr = g.initialLr ?? g.lr;
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0].initialStep();
    this.lastLr = schedulers[0].getLastLr();
  }

  /** Advance one step; returns the new lrs. */
  step(): number[] {
    this.lastEpoch += 1;
    const i = bisectRight(this.milestones, this.lastEpoch);
    const s = this.schedulers[i];
    this.lastLr = i > 0 && this.milestones[i - 1] === this.lastEpoch ? s.stepTo(0) : s.step();
    return this.lastLr.slice();
  }

  /** The lrs after the last step. */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  /** The state of this scheduler and its chained ones, for a checkpoint. */
  stateDict(): SequentialLRState {
    return {
      scheduler: KIND,
      lastEpoch: this.lastEpoch,
      milestones: this.milestones.slice(),
      schedulers: this.schedulers.map((s) => s.stateDict()),
      lastLr: this.lastLr.slice(),
    };
  }

  /** Restore from `stateDict()`; the schedulers must be of the same kinds, in the same order. */
  loadStateDict(state: SequentialLRState | Record<string, unknown>): void {
    const s = readRecord(state, KIND);
    const where = `${KIND}.loadStateDict`;
    const lastEpoch = checkInteger(s.lastEpoch, `${where}: lastEpoch`, 0);
    const inner = s.schedulers;
    if (!Array.isArray(inner) || inner.length !== this.schedulers.length) {
      throw new TypeError(
        `${where}: schedulers must be a list of ${this.schedulers.length} state dicts, ` +
          `got ${show(inner)}`,
      );
    }
    if (
      !Array.isArray(s.milestones) || s.milestones.length !== this.milestones.length ||
      s.milestones.some((m, i) => m !== this.milestones[i])
    ) {
      throw new RangeError(
        `${where}: milestones ${show(s.milestones)} differ from ${show(this.milestones)}`,
      );
    }
    const lastLr = readNumberList(s, "lastLr", this.optimizer.paramGroups.length, KIND);
    this.schedulers.forEach((sched, i) => sched.loadStateDict(inner[i]));
    this.lastEpoch = lastEpoch;
    this.lastLr = lastLr;
  }
}
