// The split every transfer strategy works with: the head (the last Linear, new for each
// task) and the backbone, and freezing the backbone. Apart from train/model.ts (which reads
// weight files) so that the fit loop needs no file I/O.

import type { ResNet } from "../nn/resnet.ts";

/** Names of the head's parameters (the last Linear), trainable in every strategy. */
export const HEAD = "fc";

/**
 * Freezes or unfreezes everything but the head. While frozen, BatchNorm layers keep eval
 * mode when `lockBatchNorm` is set (their running statistics stay those of the pretrained
 * network; PyTorch would keep updating them in train mode).
 */
export function setBackboneFrozen(model: ResNet, frozen: boolean, lockBatchNorm: boolean): void {
  if (frozen) model.freezeExcept(HEAD);
  else model.setRequiresGrad(true);
  for (const bn of model.batchNorms()) bn.lockedEval = frozen && lockBatchNorm;
  model.train(model.training);
}
