// --scheduler cosine: CosineAnnealingLR over --cosine-t-max epochs (0: --epochs), per epoch.

import { CosineAnnealingLR } from "../../nn/schedulers.ts";
import { int, type SchedulerEntry, stepped } from "./schedule.ts";

/** Options of `--scheduler cosine` (CosineAnnealingLR per epoch). */
export interface CosineOptions {
  /** Epochs of the half cosine (0: the run's epochs). */
  cosineTMax: number;
}

export const cosine: SchedulerEntry<CosineOptions> = {
  name: "cosine",
  options: {
    cosineTMax: { ...int(0), default: 0, help: "cosine: period in epochs (0: --epochs)" },
  },
  create: (c, optimizer) =>
    stepped(
      "epoch",
      new CosineAnnealingLR(optimizer, { tMax: c.cosineTMax || c.epochs, etaMin: c.minLr }),
    ),
};
