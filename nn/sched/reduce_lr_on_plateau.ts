// ReduceLROnPlateau with the semantics of torch.optim.lr_scheduler.ReduceLROnPlateau (1.13):
// the lr of every group is multiplied by `factor` once the metric has failed to improve for more
// than `patience` steps, then the scheduler rests for `cooldown` steps.

import {
  checkGroupCount,
  checkInteger,
  checkNumber,
  checkOptimizer,
  decodeNumber,
  encodeNumber,
  type HasParamGroups,
  type JsonNumber,
  readNumberList,
  readRecord,
  show,
} from "./common.ts";

/** Whether the metric should fall ("min") or rise ("max"). */
export type PlateauMode = "min" | "max";
/** How `threshold` applies: relative ("rel") or absolute ("abs"). */
export type ThresholdMode = "rel" | "abs";

/** One group's lr cut, as returned by `step` and passed to `onReduce`. */
export interface LrReduction {
  /** Index of the parameter group in `optimizer.paramGroups`. */
  group: number;
  /** The lr before the cut. */
  oldLr: number;
  /** The lr after the cut. */
  newLr: number;
  /** The scheduler's step count (PyTorch's `last_epoch`) at which the cut happened. */
  epoch: number;
}

/** Options of `ReduceLROnPlateau` (torch.optim.lr_scheduler.ReduceLROnPlateau's). */
export interface ReduceLROnPlateauOptions {
  /** "min": the metric should go down (a loss); "max": up (an accuracy). Default "min". */
  mode?: PlateauMode;
  /** New lr = lr * factor. Must be < 1. Default 0.1. */
  factor?: number;
  /** Steps without improvement tolerated; the cut happens on the next one. Default 10. */
  patience?: number;
  /** How much better than the best so far counts as an improvement. Default 1e-4. */
  threshold?: number;
  /** "rel": better than best * (1 ∓ threshold); "abs": better than best ∓ threshold. Default "rel". */
  thresholdMode?: ThresholdMode;
  /** Steps after a cut during which bad steps are not counted. Default 0. */
  cooldown?: number;
  /** Lower bound of the lr, one for all groups or one per group. Default 0. */
  minLr?: number | readonly number[];
  /** A cut smaller than this is skipped (the lr is left as it is). Default 1e-8. */
  eps?: number;
  /** Called for each group whose lr was cut, in group order. */
  onReduce?: (reduction: LrReduction) => void;
}

/** The JSON-serialisable state of a ReduceLROnPlateau (hyperparameters and counters). */
export interface ReduceLROnPlateauState {
  /** Which scheduler wrote the state. */
  scheduler: "ReduceLROnPlateau";
  /** See the options. */
  mode: PlateauMode;
  /** See the options. */
  factor: number;
  /** See the options. */
  patience: number;
  /** See the options. */
  threshold: number;
  /** See the options. */
  thresholdMode: ThresholdMode;
  /** See the options. */
  cooldown: number;
  /** Each group's lower bound of the lr. */
  minLrs: number[];
  /** See the options. */
  eps: number;
  /** The best metric so far (±Infinity encoded for JSON). */
  best: JsonNumber;
  /** Steps since the last improvement. */
  numBadEpochs: number;
  /** Steps of cooldown left. */
  cooldownCounter: number;
  /** PyTorch's `last_epoch`. */
  lastEpoch: number;
  /** The lrs after the last step (null before the first). */
  lastLr: number[] | null;
}

const KIND = "ReduceLROnPlateau";

function checkMode(mode: unknown): PlateauMode {
  if (mode !== "min" && mode !== "max") {
    throw new RangeError(`mode ${show(mode)} is unknown; use "min" or "max"`);
  }
  return mode;
}

function checkThresholdMode(mode: unknown): ThresholdMode {
  if (mode !== "rel" && mode !== "abs") {
    throw new RangeError(`threshold mode ${show(mode)} is unknown; use "rel" or "abs"`);
  }
  return mode;
}

function checkFactor(factor: unknown): number {
  const f = checkNumber(factor, "factor");
  if (f >= 1) throw new RangeError(`factor should be < 1.0, got ${f}`);
  return f;
}

/**
 * Cuts the lr by `factor` when a metric stops improving for `patience` steps
 * (torch.optim.lr_scheduler.ReduceLROnPlateau).
 */
export class ReduceLROnPlateau {
  /** The optimizer whose groups' lr this scheduler cuts. */
  readonly optimizer: HasParamGroups;
  /** Called for each group whose lr was cut. */
  onReduce: ((reduction: LrReduction) => void) | undefined;

  /** See the options. */
  mode: PlateauMode;
  /** See the options. */
  factor: number;
  /** See the options. */
  patience: number;
  /** See the options. */
  threshold: number;
  /** See the options. */
  thresholdMode: ThresholdMode;
  /** See the options. */
  cooldown: number;
  /** Each group's lower bound of the lr. */
  minLrs: number[];
  /** See the options. */
  eps: number;

  /** Best metric seen so far; starts at the worst value for the mode (±Infinity). */
  best: number;
  /** Consecutive steps without improvement (reset by an improvement, a cut, or cooldown). */
  numBadEpochs = 0;
  /** Steps of cooldown left. */
  cooldownCounter = 0;
  /** Number of `step` calls so far. */
  lastEpoch = 0;
  private lastLr: number[] | null = null;

  /** Attaches to `optimizer`; options as PyTorch's (mode "min", factor 0.1, patience 10, ...). */
  constructor(optimizer: HasParamGroups, options: ReduceLROnPlateauOptions = {}) {
    // Same checks as PyTorch (factor, mode, threshold mode, min_lr length), plus type checks on
    // the numbers since a config file can hand us anything.
    this.factor = checkFactor(options.factor ?? 0.1);
    const groups = checkOptimizer(optimizer, KIND);
    this.optimizer = optimizer;
    const minLr = options.minLr ?? 0;
    if (typeof minLr === "number") {
      this.minLrs = groups.map(() => checkNumber(minLr, "minLr"));
    } else if (Array.isArray(minLr)) {
      if (minLr.length !== groups.length) {
        throw new RangeError(
          `expected ${groups.length} min_lrs (one per parameter group), got ${minLr.length}`,
        );
      }
      this.minLrs = minLr.map((v, i) => checkNumber(v, `minLr[${i}]`));
    } else {
      throw new TypeError(`minLr must be a number or an array of numbers, got ${show(minLr)}`);
    }
    this.patience = checkNumber(options.patience ?? 10, "patience");
    this.cooldown = checkNumber(options.cooldown ?? 0, "cooldown");
    this.threshold = checkNumber(options.threshold ?? 1e-4, "threshold");
    this.eps = checkNumber(options.eps ?? 1e-8, "eps");
    this.mode = checkMode(options.mode ?? "min");
    this.thresholdMode = checkThresholdMode(options.thresholdMode ?? "rel");
    this.onReduce = options.onReduce;
    this.best = this.modeWorse;
    this.reset();
  }

  /** The starting value of `best`: nothing is worse. */
  get modeWorse(): number {
    return this.mode === "min" ? Infinity : -Infinity;
  }

  /** Whether bad steps are currently not counted (after a cut). */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /** The lr of each group after the last `step` (empty before the first). */
  getLastLr(): number[] {
    return this.lastLr ? this.lastLr.slice() : [];
  }

  /** Forget the best metric and the counters (the lrs are kept). */
  reset(): void {
    this.best = this.modeWorse;
    this.cooldownCounter = 0;
    this.numBadEpochs = 0;
  }

  /** Whether `current` improves on `best` by more than the threshold. The arithmetic is written in
   * PyTorch's order so that borderline values are decided the same way. */
  isBetter(current: number, best: number): boolean {
    if (this.mode === "min" && this.thresholdMode === "rel") {
      return current < best * (1 - this.threshold);
    }
    if (this.mode === "min") return current < best - this.threshold;
    if (this.thresholdMode === "rel") return current > best * (this.threshold + 1);
    return current > best + this.threshold;
  }

  /** Feed one value of the monitored metric (once per epoch, after validation). Returns the cuts
   * made at this step, one entry per group whose lr changed (empty if none). */
  step(metric: number): LrReduction[] {
    if (typeof metric !== "number") {
      throw new TypeError(`${KIND}.step: the metric must be a number, got ${show(metric)}`);
    }
    const groups = this.optimizer.paramGroups;
    checkGroupCount(groups, this.minLrs.length, KIND);
    this.lastEpoch += 1;

    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0; // bad steps during cooldown do not count
    }

    let reductions: LrReduction[] = [];
    if (this.numBadEpochs > this.patience) {
      reductions = this.reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = groups.map((g) => g.lr);
    return reductions;
  }

  /** @ignore */
  private reduceLr(): LrReduction[] {
    const reductions: LrReduction[] = [];
    this.optimizer.paramGroups.forEach((group, i) => {
      const oldLr = group.lr;
      const scaled = oldLr * this.factor;
      // Python's max(scaled, min_lr): keeps the first unless the second is strictly larger.
      const newLr = this.minLrs[i] > scaled ? this.minLrs[i] : scaled;
      if (oldLr - newLr > this.eps) {
        group.lr = newLr;
        const reduction = { group: i, oldLr, newLr, epoch: this.lastEpoch };
        reductions.push(reduction);
        this.onReduce?.(reduction);
      }
    });
    return reductions;
  }

  /** The scheduler's state, for a checkpoint. */
  stateDict(): ReduceLROnPlateauState {
    return {
      scheduler: KIND,
      mode: this.mode,
      factor: this.factor,
      patience: this.patience,
      threshold: this.threshold,
      thresholdMode: this.thresholdMode,
      cooldown: this.cooldown,
      minLrs: this.minLrs.slice(),
      eps: this.eps,
      best: encodeNumber(this.best),
      numBadEpochs: this.numBadEpochs,
      cooldownCounter: this.cooldownCounter,
      lastEpoch: this.lastEpoch,
      lastLr: this.lastLr ? this.lastLr.slice() : null,
    };
  }

  /** Restore hyperparameters and counters from `stateDict()`. Like PyTorch, the lrs themselves
   * live in the optimizer's state and are not touched here. */
  loadStateDict(state: ReduceLROnPlateauState | Record<string, unknown>): void {
    const s = readRecord(state, KIND);
    const n = this.optimizer.paramGroups.length;
    const where = (key: string) => `${KIND}.loadStateDict: ${key}`;
    // Read everything before assigning anything, so a bad dict leaves the scheduler unchanged.
    const mode = checkMode(s.mode);
    const thresholdMode = checkThresholdMode(s.thresholdMode);
    const factor = checkFactor(s.factor);
    const patience = checkNumber(s.patience, where("patience"));
    const threshold = checkNumber(s.threshold, where("threshold"));
    const cooldown = checkNumber(s.cooldown, where("cooldown"));
    const eps = checkNumber(s.eps, where("eps"));
    const minLrs = readNumberList(s, "minLrs", n, KIND);
    const best = decodeNumber(s.best, where("best"));
    const numBadEpochs = checkInteger(s.numBadEpochs, where("numBadEpochs"), 0);
    const cooldownCounter = checkNumber(s.cooldownCounter, where("cooldownCounter"));
    const lastEpoch = checkInteger(s.lastEpoch, where("lastEpoch"), 0);
    const lastLr = s.lastLr === null || s.lastLr === undefined
      ? null
      : readNumberList(s, "lastLr", n, KIND);

    Object.assign(this, {
      mode,
      thresholdMode,
      factor,
      patience,
      threshold,
      cooldown,
      eps,
      minLrs,
      best,
      numBadEpochs,
      cooldownCounter,
      lastEpoch,
    });
    this.lastLr = lastLr;
  }
}
