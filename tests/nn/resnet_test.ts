// ResNet18 against torchvision's (PyTorch 1.13) on the same weights and inputs: logits in
// eval and train mode, the loss, every parameter's gradient and the BatchNorm running
// statistics after one train-mode forward. Fixtures: tests/fixtures/resnet/.

import assert from "node:assert/strict";
import { readSafetensors } from "../../nn/io/safetensors.ts";
import { toFloat32 } from "../../nn/io/host_tensor.ts";
import { crossEntropy } from "../../nn/ops/loss.ts";
import { resnet18 } from "../../nn/resnet.ts";
import { noGrad, Scope, Tensor } from "../../nn/tensor.ts";
import { Rng } from "../../base/rng.ts";
import { fixtureStateDict } from "../fixtures/resnet/weights.ts";
import { assertClose, gpuReady } from "../helpers.ts";

await gpuReady;

const fixture = readSafetensors(
  await Deno.readFile(new URL("../fixtures/resnet/resnet_parity.safetensors", import.meta.url)),
);
const entry = (name: string) => {
  const t = fixture.tensors.get(name);
  if (!t) throw new Error(`fixture has no ${name}`);
  return t;
};
const expected = (name: string) => toFloat32(entry(name));
const keys: string[] = JSON.parse(fixture.metadata!.state_dict_keys);
const labels: Record<string, number[]> = JSON.parse(fixture.metadata!.labels);

function fixtureModel() {
  const model = resnet18({ numClasses: 10 });
  const shapes = new Map<string, readonly number[]>(
    [...model.namedParameters(), ...model.namedBuffers()].map(([n, t]) => [n, t.shape]),
  );
  model.loadStateDict(fixtureStateDict(keys.map((k) => [k, shapes.get(k) ?? []])));
  return model;
}

function normalInput(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromArray(new Rng(seed).fillNormal(new Float32Array(n)), shape);
}

Deno.test("resnet18 has torchvision's state-dict names, order and sizes", async () => {
  const model = resnet18({ numClasses: 10 });
  const sd = await model.stateDict();
  assert.deepEqual([...sd.keys()], keys);
  const count = model.parameters().reduce((s, p) => s + p.size, 0);
  assert.equal(count, 11_181_642, "torchvision resnet18(num_classes=10) has 11,181,642 parameters");
  model.dispose();
});

// Tolerances, relative to each quantity's largest magnitude. The fixtures are PyTorch's
// float64 results, so they measure the engine's own f32 error.
// Case b (1x3x64x64) is well conditioned: measured errors are ~2e-6 (logits), ~5e-6
// (running stats) and ~1e-4 (gradient samples), so the bounds below are 5-20x those.
// Case a (2x3x32x32, the shape PyTorch users try first) is not: in train mode layer4's
// BatchNorms normalise 2 values per channel, whose difference can be near sqrt(eps), so
// tiny input differences are amplified up to ~1/sqrt(eps) = 316x. PyTorch's own f32 run
// is 1e-3 (logits) and 8.7% (worst gradient) away from its f64 run there; ours measured
// 6e-3 and up to 60% in layer2. So case a checks its eval logits tightly, its train
// logits, loss and statistics to the conditioning, and only the head's gradients.
const CASES = [
  {
    name: "a",
    shape: [2, 3, 32, 32],
    seed: 7,
    trainTol: 2e-2,
    statTol: 1e-2,
    gradTol: 5e-2,
    grads: ["fc."],
  },
  {
    name: "b",
    shape: [1, 3, 64, 64],
    seed: 8,
    trainTol: 1e-4,
    statTol: 1e-4,
    gradTol: 2e-3,
    grads: [""],
  },
];

for (const c of CASES) {
  Deno.test(`resnet18 matches PyTorch: input [${c.shape}]`, async () => {
    using _ = new Scope();
    const model = fixtureModel();
    const x = normalInput(c.shape, c.seed);
    const y = Tensor.fromArray(Int32Array.from(labels[c.name]));
    const relTo = (ref: Float32Array, tol: number) => ({
      atol: tol * Math.max(...ref.map(Math.abs)),
      rtol: 0,
    });

    model.eval();
    const evalRef = expected(`${c.name}.eval_logits`);
    const evalLogits = noGrad(() => model.forward(x));
    assertClose(await evalLogits.toArray(), evalRef, {
      ...relTo(evalRef, 2e-5),
      what: "eval logits",
    });

    model.train();
    const logits = model.forward(x);
    const loss = crossEntropy(logits, y);
    loss.backward();
    const trainRef = expected(`${c.name}.train_logits`);
    assertClose(await logits.toArray(), trainRef, {
      ...relTo(trainRef, c.trainTol),
      what: "train logits",
    });
    assertClose([await loss.item()], expected(`${c.name}.loss`), {
      atol: c.trainTol,
      rtol: 0,
      what: "loss",
    });

    // running statistics after one train-mode forward (momentum 0.1, unbiased variance)
    for (const [bufName, buf] of model.namedBuffers()) {
      if (bufName.endsWith("num_batches_tracked")) {
        // loaded as 0, one train-mode forward: 1, as PyTorch counts
        assert.deepEqual([...await buf.toInt32Array()], [1], bufName);
        continue;
      }
      const ref = expected(`${c.name}.${bufName}`);
      assertClose(await buf.toArray(), ref, { ...relTo(ref, c.statTol), what: bufName });
    }

    // gradients: L2 norm and max |g| of each parameter's gradient, and 64 sampled entries
    for (const [pName, p] of model.namedParameters()) {
      assert.ok(p.grad, `${pName} has a gradient`);
      if (!c.grads.some((prefix) => pName.startsWith(prefix))) continue;
      const g = await p.grad.toArray();
      const [, norm, maxAbs] = expected(`${c.name}.grad_stats.${pName}`);
      let sq = 0;
      for (const v of g) sq += v * v;
      assertClose([Math.sqrt(sq)], [norm], {
        atol: c.gradTol * norm,
        rtol: 0,
        what: `|grad| of ${pName}`,
      });
      const idx = entry(`${c.name}.grad_index.${pName}`).data as Int32Array;
      assertClose(Array.from(idx, (i) => g[i]), expected(`${c.name}.grad_sample.${pName}`), {
        atol: c.gradTol * maxAbs,
        rtol: 0,
        what: `grad of ${pName}`,
      });
    }
    model.dispose();
  });
}
