// The registry of optimizers: the values of --optimizer, in --help order, each with its factory.
// config.ts's list of names and the CLI's choices derive from it. Adding one: its class in
// nn/optim/, its test, and one entry here.

import { Adam, AdamW } from "../nn/optim/adam.ts";
import type { Optimizer } from "../nn/optim/optimizer.ts";
import { SGD } from "../nn/optim/sgd.ts";
import type { Tensor } from "../nn/tensor.ts";

// deno-lint-ignore no-explicit-any
export type AnyOptimizer = Optimizer<any>;

/** The config settings an optimizer may read. */
export interface OptimizerSettings {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}

export interface OptimizerEntry {
  name: string;
  create(groups: { params: Tensor[]; lr: number }[], s: OptimizerSettings): AnyOptimizer;
}

export const OPTIMIZER_ENTRIES = [
  {
    name: "sgd",
    create: (groups, s) =>
      new SGD(groups, {
        lr: s.lr,
        momentum: s.momentum,
        weightDecay: s.weightDecay,
        nesterov: s.nesterov,
      }),
  },
  {
    name: "adam",
    create: (groups, s) => new Adam(groups, { lr: s.lr, weightDecay: s.weightDecay }),
  },
  {
    name: "adamw",
    create: (groups, s) => new AdamW(groups, { lr: s.lr, weightDecay: s.weightDecay }),
  },
] as const satisfies readonly OptimizerEntry[];

export type OptimizerName = typeof OPTIMIZER_ENTRIES[number]["name"];
export const OPTIMIZER_NAMES: readonly OptimizerName[] = OPTIMIZER_ENTRIES.map((e) => e.name);
