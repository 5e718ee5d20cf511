// NaN and infinity through the kernels, against what PyTorch does (CPU, float32):
// - torch.relu(x) is clamp_min(x, 0), i.e. std::max(x, 0) = (x < 0 ? 0 : x): NaN -> NaN,
//   +inf -> +inf, -inf -> 0, -0.0 -> -0.0; threshold_backward passes no gradient where the
//   output is not > 0 (NaN included).
// - max_pool2d: a window holding NaN gives NaN.
// - batch_norm in training: a NaN in a channel makes that channel's mean and variance NaN,
//   so its whole output and its running statistics become NaN; other channels are untouched.
// - cross_entropy: a row with a NaN logit has loss NaN (and so has the mean); a +inf logit
//   gives NaN too (inf - inf in the log-sum-exp).
// - argmax: NaN counts as the largest value (torch.argmax returns the NaN's index).
// A NaN must reach the loss, where the trainer's finite check sees it: a kernel that maps
// NaN to a number would hide a diverged model.

import assert from "node:assert/strict";
import { relu } from "../../nn/ops/basic.ts";
import { argmax, countCorrect, crossEntropy } from "../../nn/ops/loss.ts";
import { batchNorm2d } from "../../nn/ops/norm.ts";
import { maxPool2d } from "../../nn/ops/pooling.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { gpuReady } from "../helpers.ts";

await gpuReady;

/** Values compared bit for bit where it matters: NaN equals NaN, -0 differs from +0. */
function sameValues(actual: ArrayLike<number>, expected: number[], what: string): void {
  const a = Array.from(actual);
  assert.equal(a.length, expected.length, `${what}: length`);
  a.forEach((v, i) => {
    assert.ok(
      Object.is(v, expected[i]),
      `${what}[${i}] is ${Object.is(v, -0) ? "-0" : v}, ` +
        `PyTorch gives ${Object.is(expected[i], -0) ? "-0" : expected[i]}`,
    );
  });
}

Deno.test("nan: relu propagates NaN and keeps +inf, -inf -> 0, -0 -> -0 (torch.relu)", async () => {
  using _ = new Scope();
  const x = Tensor.fromArray(Float32Array.of(NaN, Infinity, -Infinity, -0, 0, -1, 2), [7]);
  sameValues(await relu(x).toArray(), [NaN, Infinity, 0, -0, 0, 0, 2], "relu");
});

Deno.test("nan: relu's backward passes no gradient where the input is NaN (threshold_backward)", async () => {
  using _ = new Scope();
  const x = Tensor.fromArray(Float32Array.of(NaN, Infinity, -Infinity, 1, -1), [5]);
  x.requiresGrad = true;
  const y = relu(x);
  y.backward(Tensor.fromArray(Float32Array.of(1, 1, 1, 1, 1), [5]));
  sameValues(await x.grad!.toArray(), [0, 1, 0, 1, 0], "relu gradient");
});

Deno.test("nan: max pooling gives NaN for a window holding NaN (max_pool2d)", async () => {
  using _ = new Scope();
  // 1x1x2x4, kernel 2: windows [1, NaN, 3, 2] and [NaN first, 5, 6, 7]
  const x = Tensor.fromArray(Float32Array.of(1, NaN, NaN, 5, 3, 2, 6, 7), [1, 1, 2, 4]);
  sameValues(await maxPool2d(x, { kernelSize: 2, stride: 2 }).toArray(), [NaN, NaN], "max pool");
});

Deno.test("nan: batchnorm in training spreads a NaN over its channel only (batch_norm)", async () => {
  using _ = new Scope();
  // [N=2, C=2, 1, 2]: channel 0 holds a NaN, channel 1 does not
  const x = Tensor.fromArray(Float32Array.of(1, NaN, 4, 6, 2, 3, 8, 10), [2, 2, 1, 2]);
  const mean = Tensor.zeros([2]).keep(), variance = Tensor.fromArray(Float32Array.of(1, 1)).keep();
  try {
    const y = await batchNorm2d(x, null, null, mean, variance, { training: true }).toArray();
    const channel0 = [y[0], y[1], y[4], y[5]], channel1 = [y[2], y[3], y[6], y[7]];
    sameValues(channel0, [NaN, NaN, NaN, NaN], "batchnorm channel 0");
    assert.ok(channel1.every(Number.isFinite), `batchnorm channel 1 is ${channel1}`);
    const [m, v] = [await mean.toArray(), await variance.toArray()];
    assert.ok(
      Number.isNaN(m[0]) && Number.isNaN(v[0]),
      `running stats of channel 0: ${m[0]}, ${v[0]}`,
    );
    assert.ok(Number.isFinite(m[1]) && Number.isFinite(v[1]), "running stats of channel 1");
  } finally {
    mean.dispose();
    variance.dispose();
  }
});

Deno.test("nan: cross-entropy is NaN for a row with a NaN or +inf logit (cross_entropy)", async () => {
  using _ = new Scope();
  const labels = Tensor.fromArray(Int32Array.of(0), [1]);
  for (const bad of [NaN, Infinity]) {
    const logits = Tensor.fromArray(Float32Array.of(1, bad, 0.5), [1, 3]);
    const loss = (await crossEntropy(logits, labels).toArray())[0];
    assert.ok(
      Number.isNaN(loss),
      `cross-entropy with a ${bad} logit is ${loss}, PyTorch gives NaN`,
    );
  }
  const finite = Tensor.fromArray(Float32Array.of(1, 2, 0.5, 1, 2, 3), [2, 3]);
  const nanRow = Tensor.fromArray(Float32Array.of(1, 2, 0.5, 1, NaN, 3), [2, 3]);
  const two = Tensor.fromArray(Int32Array.of(0, 2), [2]);
  assert.ok(Number.isFinite((await crossEntropy(finite, two).toArray())[0]));
  assert.ok(Number.isNaN((await crossEntropy(nanRow, two).toArray())[0]), "mean over a NaN row");
});

Deno.test("nan: argmax takes NaN as the largest value (torch.argmax)", async () => {
  using _ = new Scope();
  const logits = Tensor.fromArray(Float32Array.of(1, NaN, 5, 3, 2, 1, NaN, 0, 9), [3, 3]);
  sameValues(await argmax(logits).toArray(), [1, 0, 0], "argmax");
});

Deno.test("nan: accuracy counts a NaN row as predicting the NaN's class (argmax == label)", async () => {
  using _ = new Scope();
  const logits = Tensor.fromArray(Float32Array.of(1, NaN, 5, 3, 2, 1), [2, 3]);
  const labels = Tensor.fromArray(Int32Array.of(1, 0), [2]);
  sameValues(await countCorrect(logits, labels).toArray(), [2], "correct");
});
