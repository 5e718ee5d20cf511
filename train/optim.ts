// The optimizer and LR scheduler a config asks for. Two parameter groups: the backbone
// (group 0) and the head (group 1, lr × headLrMult), so a new head can learn faster than
// pretrained layers, and so freezing only has to flip requiresGrad (the optimizer skips
// parameters without a gradient).

import { Adam, AdamW } from "../nn/optim/adam.ts";
import { SGD } from "../nn/optim/sgd.ts";
import type { Optimizer } from "../nn/optim/optimizer.ts";
import {
  CosineAnnealingLR,
  type LrReduction,
  ReduceLROnPlateau,
  StepLR,
} from "../nn/schedulers.ts";
import type { ResNet } from "../nn/resnet.ts";
import type { TrainConfig } from "./config.ts";
import { HEAD } from "./model.ts";

// deno-lint-ignore no-explicit-any
export type AnyOptimizer = Optimizer<any>;
export type AnyScheduler = ReduceLROnPlateau | StepLR | CosineAnnealingLR;

export function makeOptimizer(config: TrainConfig, model: ResNet): AnyOptimizer {
  const named = model.namedParameters();
  const isHead = (n: string) => n === HEAD || n.startsWith(HEAD + ".");
  const backbone = named.filter(([n]) => !isHead(n)).map(([, p]) => p);
  const head = named.filter(([n]) => isHead(n)).map(([, p]) => p);
  const groups = [
    { params: backbone, lr: config.lr },
    { params: head, lr: config.lr * config.headLrMult },
  ];
  switch (config.optimizer) {
    case "sgd":
      return new SGD(groups, {
        lr: config.lr,
        momentum: config.momentum,
        weightDecay: config.weightDecay,
        nesterov: config.nesterov,
      });
    case "adam":
      return new Adam(groups, { lr: config.lr, weightDecay: config.weightDecay });
    case "adamw":
      return new AdamW(groups, { lr: config.lr, weightDecay: config.weightDecay });
  }
}

export function makeScheduler(
  config: TrainConfig,
  optimizer: AnyOptimizer,
  onReduce: (r: LrReduction) => void,
): AnyScheduler | null {
  switch (config.scheduler) {
    case "none":
      return null;
    case "plateau":
      return new ReduceLROnPlateau(optimizer, {
        mode: config.plateauMetric === "test-acc" ? "max" : "min",
        factor: config.plateauFactor,
        patience: config.plateauPatience,
        threshold: config.plateauThreshold,
        cooldown: config.plateauCooldown,
        minLr: config.minLr,
        onReduce,
      });
    case "step":
      return new StepLR(optimizer, { stepSize: config.stepSize, gamma: config.stepGamma });
    case "cosine":
      return new CosineAnnealingLR(optimizer, {
        tMax: config.cosineTMax || config.epochs,
        etaMin: config.minLr,
      });
  }
}

/** Sets the lr of both groups (the head keeps its multiplier), e.g. at an unfreeze. */
export function setLr(optimizer: AnyOptimizer, lr: number, headLrMult: number): void {
  optimizer.paramGroups[0].lr = lr;
  optimizer.paramGroups[1].lr = lr * headLrMult;
}
