// Measures the kernel variants a ResNet18 training step will use, before training: one
// throwaway forward and backward on zeros with the run's shapes records every shape class
// (kernels/autotune.ts queues those without a remembered winner), then each is timed.

import type { Gpu } from "../kernels/device.ts";
import { tune } from "../kernels/autotune.ts";
import { crossEntropy } from "../nn/ops/loss.ts";
import { resnet18 } from "../nn/resnet.ts";
import { Scope, Tensor } from "../nn/tensor.ts";

export interface StepShape {
  batch: number;
  inChannels: number;
  size: number;
  numClasses: number;
}

/** Tunes the variants of one training step of `shape`; returns the shape classes measured. */
export async function tuneResnetStep(g: Gpu, shape: StepShape): Promise<number> {
  const model = resnet18({ numClasses: shape.numClasses, inChannels: shape.inChannels });
  try {
    model.train();
    {
      using _ = new Scope();
      const x = Tensor.zeros([shape.batch, shape.inChannels, shape.size, shape.size]);
      const y = Tensor.fromArray(new Int32Array(shape.batch));
      crossEntropy(model.forward(x), y).backward();
    }
    await g.sync();
    return await tune(g);
  } finally {
    model.dispose();
  }
}
