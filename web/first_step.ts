// The first training step of a prepared run, read back: the first batch's labels, logits and
// loss (train mode, before the update) and chosen parameters after the optimizer's update.
// The page exposes it to its browser test (web/main.ts's window.__test), which compares it
// with the same step run by the CLI's setup in Deno.

import { crossEntropy } from "../nn/ops/loss.ts";
import { batchImages } from "../nn/ops/normalize.ts";
import { toFloat32 } from "../nn/io/host_tensor.ts";
import { Scope, Tensor } from "../nn/tensor.ts";
import type { Prepared } from "../train/prepared.ts";

export interface FirstStep {
  labels: number[];
  /** [batch, classes], row-major. */
  logits: number[];
  loss: number;
  /** Parameters and buffers after the step, by torchvision name. */
  params: Record<string, number[]>;
}

export async function firstStep(p: Prepared, names: readonly string[]): Promise<FirstStep> {
  const batches = p.trainLoader.run(0);
  const first = await batches.next();
  await batches.return(undefined);
  if (first.done) throw new Error("firstStep: the training loader gave no batch");
  const batch = first.value;
  p.model.train();
  let logits: Float32Array, loss: number;
  {
    using _ = new Scope();
    const y = Tensor.fromArray(batch.labels, [batch.labels.length]);
    const out = p.model.forward(batchImages(batch));
    const l = crossEntropy(out, y, { labelSmoothing: p.config.labelSmoothing });
    logits = await out.toArray();
    loss = await l.item();
    p.optimizer.zeroGrad();
    l.backward();
    p.optimizer.step();
  }
  const state = await p.model.stateDict();
  const params: Record<string, number[]> = {};
  for (const n of names) {
    const t = state.get(n);
    if (!t) throw new Error(`firstStep: the model has no tensor "${n}"`);
    params[n] = Array.from(toFloat32(t));
  }
  return { labels: Array.from(batch.labels), logits: Array.from(logits), loss, params };
}
