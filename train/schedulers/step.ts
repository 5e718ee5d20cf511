// --scheduler step: StepLR, stepped per epoch.

import { StepLR } from "../../nn/schedulers.ts";
import { int, type SchedulerEntry, stepped } from "./schedule.ts";

/** Options of `--scheduler step` (StepLR per epoch). */
export interface StepOptions {
  /** Epochs between cuts. */
  stepSize: number;
  /** Factor of each cut. */
  stepGamma: number;
}

export const step: SchedulerEntry<StepOptions> = {
  name: "step",
  options: {
    stepSize: { ...int(1), default: 10, help: "step: epochs between lr cuts" },
    stepGamma: {
      type: "number",
      default: 0.1,
      help: "step: lr factor per cut",
      rule: "in (0, 1]",
      valid: (x) => x > 0 && x <= 1,
    },
  },
  create: (c, optimizer) =>
    stepped("epoch", new StepLR(optimizer, { stepSize: c.stepSize, gamma: c.stepGamma })),
};
