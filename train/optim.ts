// The optimizer and LR schedule a config asks for, from their registries (train/optimizers.ts,
// train/schedulers/mod.ts). Two parameter groups: the backbone (group 0) and the head (group 1,
// lr × headLrMult), so a new head can learn faster than pretrained layers, and so freezing only
// has to flip requiresGrad (the optimizer skips parameters without a gradient).

import type { ResNet } from "../nn/resnet.ts";
import type { TrainConfig } from "./config.ts";
import { HEAD } from "./backbone.ts";
import { type AnyOptimizer, OPTIMIZER_ENTRIES } from "./optimizers.ts";
import { createSchedule } from "./schedulers/mod.ts";
import type { Schedule } from "./schedulers/schedule.ts";

export type { AnyOptimizer } from "./optimizers.ts";

/** The names of the parameter groups makeOptimizer builds, in order. */
export const PARAM_GROUP_NAMES = ["backbone", "head"] as const;

export function makeOptimizer(config: TrainConfig, model: ResNet): AnyOptimizer {
  const named = model.namedParameters();
  const isHead = (n: string) => n === HEAD || n.startsWith(HEAD + ".");
  const backbone = named.filter(([n]) => !isHead(n)).map(([, p]) => p);
  const head = named.filter(([n]) => isHead(n)).map(([, p]) => p);
  const groups = [
    { params: backbone, lr: config.lr },
    { params: head, lr: config.lr * config.headLrMult },
  ];
  const entry = OPTIMIZER_ENTRIES.find((e) => e.name === config.optimizer);
  if (!entry) throw new Error(`no optimizer named "${config.optimizer}"`);
  return entry.create(groups, config);
}

/** The schedule of `config.scheduler` (null for "none"); `itersPerEpoch` for per-iteration
 * schedules. */
export function makeScheduler(
  config: TrainConfig,
  optimizer: AnyOptimizer,
  itersPerEpoch: number,
): Schedule | null {
  return createSchedule(config.scheduler, config, optimizer, { itersPerEpoch });
}

/** Sets the lr of both groups (the head keeps its multiplier), e.g. at an unfreeze. */
export function setLr(optimizer: AnyOptimizer, lr: number, headLrMult: number): void {
  optimizer.paramGroups[0].lr = lr;
  optimizer.paramGroups[1].lr = lr * headLrMult;
}
