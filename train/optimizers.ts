// The registry of optimizers: the values of --optimizer, in --help order, each with its factory.
// config.ts's list of names and the CLI's choices derive from it. Adding one: its class in
// nn/optim/, its test, one entry here and its name in OptimizerName (a type check holds the
// two equal).

import type { Same } from "../base/same_type.ts";
import { Adam, AdamW } from "../nn/optim/adam.ts";
import type { Optimizer } from "../nn/optim/optimizer.ts";
import { SGD } from "../nn/optim/sgd.ts";
import type { Tensor } from "../nn/tensor.ts";

/** Any of the registry's optimizers (SGD, Adam, AdamW). */
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

/** The values of --optimizer (spelled out for the docs; checked against the entries below). */
export type OptimizerName = "sgd" | "adam" | "adamw";
// a type error here: OptimizerName and the registry's names differ
const _OPTIMIZER_NAMES_MATCH: Same<OptimizerName, typeof OPTIMIZER_ENTRIES[number]["name"]> = true;
export const OPTIMIZER_NAMES: readonly OptimizerName[] = OPTIMIZER_ENTRIES.map((e) => e.name);
