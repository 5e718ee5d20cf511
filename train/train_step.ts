// One training step: forward, loss, the metrics added to the GPU accumulator, backward and
// the optimizer update, all inside one Scope (the step's tensors go back to the pool at its
// end). Nothing is read back.

import type { Batch } from "../data/collate.ts";
import { accumulateMetrics, crossEntropy, type CrossEntropyOptions } from "../nn/ops/loss.ts";
import { batchImages } from "../nn/ops/normalize.ts";
import type { ResNet } from "../nn/resnet.ts";
import { Scope, Tensor } from "../nn/tensor.ts";
import type { AnyOptimizer } from "./optim.ts";

export function trainStep(
  model: ResNet,
  optimizer: AnyOptimizer,
  batch: Batch,
  metrics: Tensor,
  lossOptions: CrossEntropyOptions,
): void {
  using _ = new Scope();
  const x = batchImages(batch);
  const y = Tensor.fromArray(batch.labels, [batch.labels.length]);
  const logits = model.forward(x);
  const loss = crossEntropy(logits, y, lossOptions);
  accumulateMetrics(loss, logits, y, metrics);
  optimizer.zeroGrad();
  loss.backward();
  optimizer.step();
}
