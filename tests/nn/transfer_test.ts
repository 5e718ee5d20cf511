// The transfer-learning mechanics: a frozen backbone gets no updates from the optimizer;
// its BatchNorm statistics still move in train mode (as in PyTorch) unless locked in eval.

import assert from "node:assert/strict";
import { crossEntropy } from "../../nn/ops/loss.ts";
import { SGD } from "../../nn/optim/sgd.ts";
import { resnet18 } from "../../nn/resnet.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { gpuReady } from "../helpers.ts";

await gpuReady;

async function snapshot(entries: [string, Tensor][]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [n, t] of entries) out.set(n, await t.toArray());
  return out;
}

for (const lockBatchNorm of [false, true]) {
  Deno.test(`frozen backbone: only the head trains (BatchNorm ${lockBatchNorm ? "locked in eval" : "in train mode"})`, async () => {
    const model = resnet18({ numClasses: 1000 }).truncate(1, 3);
    model.freezeExcept("fc");
    for (const bn of model.batchNorms()) bn.lockedEval = lockBatchNorm;
    model.train();
    const opt = new SGD(model.parameters().filter((p) => p.requiresGrad), {
      lr: 0.1,
      momentum: 0.9,
      weightDecay: 1e-4,
    });
    const params = await snapshot(model.namedParameters());
    const buffers = await snapshot(model.namedBuffers());
    for (let step = 0; step < 2; step++) {
      using _ = new Scope();
      opt.zeroGrad();
      const loss = crossEntropy(
        model.forward(Tensor.randn([4, 3, 16, 16], { seed: step })),
        Tensor.fromArray(new Int32Array([0, 1, 2, 1])),
      );
      loss.backward();
      opt.step();
    }
    for (const [n, p] of model.namedParameters()) {
      const changed = (await p.toArray()).some((v, i) => v !== params.get(n)![i]);
      assert.equal(changed, n.startsWith("fc."), `${n} ${changed ? "changed" : "did not change"}`);
      if (!n.startsWith("fc.")) assert.equal(p.grad, null, `${n} got a gradient`);
    }
    for (const [n, b] of model.namedBuffers()) {
      const changed = (await b.toArray()).some((v, i) => v !== buffers.get(n)![i]);
      assert.equal(changed, !lockBatchNorm, `${n} ${changed ? "changed" : "did not change"}`);
    }
    opt.dispose();
    model.dispose();
  });
}
