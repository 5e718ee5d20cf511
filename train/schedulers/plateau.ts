// --scheduler plateau: ReduceLROnPlateau on a metric of the epoch, stepped per epoch. The
// validation metrics are the default; the test ones are there for recipes that follow a
// source that cuts on the test set (and say so), since it makes the test accuracy optimistic.

import { ReduceLROnPlateau } from "../../nn/schedulers.ts";
import { int, type SchedulerEntry } from "./schedule.ts";

/** The values of --plateau-metric. */
export const PLATEAU_METRICS = [
  "val-loss",
  "val-acc",
  "test-loss",
  "test-acc",
  "train-loss",
] as const;
/** A metric ReduceLROnPlateau watches: validation or test loss or accuracy, or training loss. */
export type PlateauMetric = typeof PLATEAU_METRICS[number];

/** Options of `--scheduler plateau` (ReduceLROnPlateau after each epoch). */
export interface PlateauOptions {
  /** The metric watched. */
  plateauMetric: PlateauMetric;
  /** New lr = lr × factor at a plateau. */
  plateauFactor: number;
  /** Epochs without improvement tolerated. */
  plateauPatience: number;
  /** Relative improvement that counts. */
  plateauThreshold: number;
  /** Epochs after a cut during which bad epochs are not counted. */
  plateauCooldown: number;
  /** Lower bound of the lr (also cosine's and warmup-cosine's end value). */
  minLr: number;
}

export const plateau: SchedulerEntry<PlateauOptions> = {
  name: "plateau",
  options: {
    plateauMetric: {
      type: "choice",
      choices: PLATEAU_METRICS,
      default: "val-loss",
      help: "plateau: the metric watched",
      rule: `one of ${PLATEAU_METRICS.join(", ")}`,
      valid: (v) => PLATEAU_METRICS.includes(v),
    },
    plateauFactor: {
      type: "number",
      default: 0.1,
      help: "plateau: lr = lr x factor on a plateau",
      rule: "in (0, 1)",
      valid: (x) => x > 0 && x < 1,
    },
    plateauPatience: {
      ...int(0),
      default: 10,
      help: "plateau: epochs without improvement before a cut",
    },
    plateauThreshold: {
      type: "number",
      default: 1e-4,
      help: "plateau: relative improvement that counts",
      rule: ">= 0",
      valid: (x) => x >= 0,
    },
    plateauCooldown: { ...int(0), default: 0, help: "plateau: epochs to wait after a cut" },
    minLr: {
      type: "number",
      default: 0,
      help: "plateau/cosine: lowest lr",
      rule: ">= 0",
      valid: (x) => x >= 0,
    },
  },
  create(c, optimizer) {
    const s = new ReduceLROnPlateau(optimizer, {
      mode: c.plateauMetric.endsWith("-acc") ? "max" : "min",
      factor: c.plateauFactor,
      patience: c.plateauPatience,
      threshold: c.plateauThreshold,
      cooldown: c.plateauCooldown,
      minLr: c.minLr,
    });
    return {
      per: "epoch",
      step: (m) => {
        if (!m) throw new Error("plateau: stepped without the epoch's metrics");
        const value = {
          "val-loss": m.valLoss,
          "val-acc": m.valAccuracy,
          "test-loss": m.testLoss,
          "test-acc": m.testAccuracy,
          "train-loss": m.trainLoss,
        }[c.plateauMetric];
        if (!Number.isFinite(value)) {
          throw new Error(`plateau: the ${c.plateauMetric} metric is not there (${value})`);
        }
        return s.step(value);
      },
      stateDict: () => s.stateDict() as unknown as Record<string, unknown>,
      loadStateDict: (state) => s.loadStateDict(state),
    };
  },
};
