// --scheduler warmup-cosine: a linear warmup over --warmup-epochs, then a cosine down to
// --min-lr until --cosine-t-max epochs (0: --epochs), stepped per iteration. PyTorch's
// SequentialLR([LinearLR(start_factor, total_iters=W), CosineAnnealingLR(T_max=T-W)], [W])
// with W and T counted in iterations.

import { CosineAnnealingLR, LinearLR, SequentialLR } from "../../nn/schedulers.ts";
import { OptionError, type SchedulerEntry, stepped } from "./schedule.ts";

/**
 * Options of `--scheduler warmup-cosine` (LinearLR warmup, then CosineAnnealingLR, per iteration).
 */
export interface WarmupCosineOptions {
  /** Epochs of the linear warmup. */
  warmupEpochs: number;
  /** Factor of the lr at the warmup's start. */
  warmupStartFactor: number;
}

export const warmupCosine: SchedulerEntry<WarmupCosineOptions> = {
  name: "warmup-cosine",
  options: {
    warmupEpochs: {
      type: "number",
      default: 1,
      help: "warmup-cosine: epochs of linear warmup (fractions allowed)",
      rule: "> 0",
      valid: (x) => x > 0,
    },
    warmupStartFactor: {
      type: "number",
      default: 0.1,
      help: "warmup-cosine: the first step's lr is lr x this",
      rule: "in (0, 1]",
      valid: (x) => x > 0 && x <= 1,
    },
  },
  create(c, optimizer, run) {
    const warmup = Math.max(1, Math.round(c.warmupEpochs * run.itersPerEpoch));
    const total = (c.cosineTMax || c.epochs) * run.itersPerEpoch;
    if (total <= warmup) {
      throw new OptionError(
        "warmupEpochs",
        `--warmup-epochs: the warmup (${warmup} iterations) must be shorter than the schedule ` +
          `(${total} iterations: --cosine-t-max, or --epochs)`,
      );
    }
    const warm = new LinearLR(optimizer, {
      startFactor: c.warmupStartFactor,
      totalIters: warmup,
    });
    const cos = new CosineAnnealingLR(optimizer, { tMax: total - warmup, etaMin: c.minLr });
    return stepped("iteration", new SequentialLR(optimizer, [warm, cos], [warmup]));
  },
};
