import assert from "node:assert/strict";
import { GPU_TUNING, overrideTuning, SOFTWARE_TUNING } from "../../kernels/tuning.ts";
import { gpu } from "../../kernels/device.ts";
import { batchNorm2d, type BatchNormOptions } from "../../nn/ops/norm.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { assertClose, gpuReady, randomArray } from "../helpers.ts";
import { checkOp } from "../op_check.ts";
import { batchNormRef, type Shape4 } from "./batchnorm_reference.ts";

await gpuReady;

function positive(n: number, seed: number): Float32Array {
  return randomArray(n, seed).map((v) => 0.5 + Math.abs(v));
}

Deno.test("batchnorm2d training forward and running stats match PyTorch's formulas", async () => {
  const cases: { shape: Shape4; offset?: number; scale?: number; affine?: boolean }[] = [
    { shape: [1, 3, 5, 7] }, // batch 1, odd spatial size
    { shape: [4, 6, 3, 3] },
    { shape: [2, 5, 1, 1] }, // two values per channel
    { shape: [3, 64, 8, 8] }, // ResNet18 layer1 at 32x32 input
    { shape: [2, 512, 1, 1] }, // ResNet18 layer4 at 32x32 input
    { shape: [2, 3, 37, 41], affine: false }, // many lanes per channel, no weight/bias
    // a large mean over a small spread: a sum-of-squares variance would cancel to noise
    { shape: [2, 3, 37, 41], offset: 1000, scale: 0.1 },
  ];
  let seed = 10;
  for (const { shape, offset = 0, scale = 1, affine = true } of cases) {
    using _ = new Scope();
    const [n, c, h, w] = shape;
    const xs = randomArray(n * c * h * w, seed++, scale).map((v) => v + offset);
    const weight = affine ? randomArray(c, seed++) : null;
    const bias = affine ? randomArray(c, seed++) : null;
    const rm0 = randomArray(c, seed++);
    const rv0 = positive(c, seed++);
    const rm = Tensor.fromArray(rm0), rv = Tensor.fromArray(rv0);
    const x = Tensor.fromArray(xs, shape);
    const wt = weight && Tensor.fromArray(weight), bt = bias && Tensor.fromArray(bias);
    // two successive training calls: the running stats must compound
    const y1 = batchNorm2d(x, wt, bt, rm, rv);
    const x2s = randomArray(xs.length, seed++, 2 * scale).map((v) => v + offset);
    const y2 = batchNorm2d(Tensor.fromArray(x2s, shape), wt, bt, rm, rv, {
      momentum: 0.3,
      eps: 1e-3,
    });
    const r1 = batchNormRef(xs, shape, weight, bias, rm0, rv0);
    const r2 = batchNormRef(x2s, shape, weight, bias, r1.runningMean, r1.runningVar, {
      momentum: 0.3,
      eps: 1e-3,
    });
    const what = `[${shape}] offset ${offset}`;
    // y ~ N(0,1)*weight: f32 rounding of the statistics gives ~1e-6. With the 1000 offset
    // the mean stored in f32 is off by about half an ulp of 1000 (3e-5), i.e. 5e-4 standard
    // deviations of the 0.1 spread (PyTorch's f32 mean has the same error); a variance
    // from raw sums of squares (1e6 against 3e-3) would be lost entirely.
    const atol = offset ? 2e-3 : 2e-5;
    assertClose(await y1.toArray(), r1.y, { atol, rtol: 1e-4, what: `y ${what}` });
    assertClose(await y2.toArray(), r2.y, { atol, rtol: 1e-4, what: `y second call ${what}` });
    assertClose(await rm.toArray(), r2.runningMean!, {
      atol: 1e-5,
      rtol: 1e-5,
      what: `running mean ${what}`,
    });
    assertClose(await rv.toArray(), r2.runningVar!, {
      atol: 1e-6,
      rtol: 1e-4,
      what: `running var ${what}`,
    });
  }
});

Deno.test("batchnorm2d eval mode uses the running statistics and leaves them alone", async () => {
  using _ = new Scope();
  const shape: Shape4 = [2, 5, 4, 3];
  const xs = randomArray(120, 1, 3);
  const weight = randomArray(5, 2), bias = randomArray(5, 3);
  const rm0 = randomArray(5, 4), rv0 = positive(5, 5);
  const rm = Tensor.fromArray(rm0), rv = Tensor.fromArray(rv0);
  const y = batchNorm2d(
    Tensor.fromArray(xs, shape),
    Tensor.fromArray(weight),
    Tensor.fromArray(bias),
    rm,
    rv,
    { training: false },
  );
  const ref = batchNormRef(xs, shape, weight, bias, rm0, rv0, { training: false });
  assertClose(await y.toArray(), ref.y, { atol: 1e-5, what: "eval y" });
  assert.deepEqual(await rm.toArray(), rm0);
  assert.deepEqual(await rv.toArray(), rv0);
  assert.throws(
    () => batchNorm2d(Tensor.ones([1, 5, 1, 1]), null, null, null, null),
    /more than 1 value per channel/,
  );
  assert.throws(
    () => batchNorm2d(Tensor.ones([2, 5, 1, 1]), null, null, null, null, { training: false }),
    /eval mode needs running_mean/,
  );
});

/**
 * Checks the GPU gradients of loss = sum(y * lossWeights) for x, weight and bias against
 * central differences of the f64 reference.
 */
async function checkGradients(
  shape: Shape4,
  options: BatchNormOptions,
  seed: number,
  frozenWeight = false,
) {
  const [n, c, h, w] = shape;
  const size = n * c * h * w;
  const rm = randomArray(c, seed + 3), rv = positive(c, seed + 4);
  // f32 GPU vs f64 differences: gradients are O(1) sums over up to ~100 terms of O(1)
  // products, so f32 rounding gives ~1e-5; the differences themselves are exact to ~1e-8.
  const tol = { atol: 1e-4, rtol: 1e-3 };
  const got = await checkOp(
    `batchnorm2d [${shape}] ${options.training === false ? "eval" : "training"}`,
    {
      inputs: {
        x: { shape, data: randomArray(size, seed, 2) },
        weight: {
          shape: [c],
          data: randomArray(c, seed + 1).map((v) => v + 1.5),
          grad: !frozenWeight,
        },
        bias: { shape: [c], data: randomArray(c, seed + 2) },
      },
      op: (t) =>
        batchNorm2d(t.x, t.weight, t.bias, Tensor.fromArray(rm), Tensor.fromArray(rv), options),
      reference: (t) => batchNormRef(t.x, shape, t.weight, t.bias, rm, rv, options).y,
      forward: tol,
      grad: tol,
      seed: seed + 5,
    },
  );
  if (frozenWeight) assert.equal(got.weight, false, "a frozen weight gets no gradient");
}

Deno.test("batchnorm2d training backward matches finite differences", async () => {
  await checkGradients([1, 3, 5, 7], {}, 20); // batch 1, odd sizes
  await checkGradients([3, 5, 2, 3], { eps: 1e-3 }, 30);
  await checkGradients([4, 6, 1, 1], {}, 40, true); // frozen weight
});

Deno.test("batchnorm2d eval backward matches finite differences", async () => {
  await checkGradients([2, 3, 3, 5], { training: false }, 50);
  await checkGradients([1, 4, 2, 2], { training: false }, 60, true);
});

Deno.test("batchnorm2d without weight or bias: dx only", async () => {
  const shape: Shape4 = [2, 3, 4, 5];
  await checkOp("batchnorm2d, no affine", {
    inputs: { x: { shape, data: randomArray(120, 70) } },
    op: (t) => batchNorm2d(t.x, null, null, null, null),
    reference: (t) => batchNormRef(t.x, shape, null, null, null, null).y,
    forward: { atol: 1e-4, rtol: 1e-3 },
    grad: { atol: 1e-4, rtol: 1e-3 },
    seed: 71,
  });
});

Deno.test("batchnorm2d in chunks along the batch gives the same numbers", async () => {
  const shape: Shape4 = [9, 3, 6, 7];
  const size = 9 * 3 * 42;
  const xs = randomArray(size, 80, 2);
  const lossW = randomArray(size, 81);
  const run = () => {
    using _ = new Scope();
    const x = Tensor.fromArray(xs, shape, { requiresGrad: true });
    const wt = Tensor.fromArray([0.5, 1, 2], [3], { requiresGrad: true });
    const bt = Tensor.fromArray([0.1, 0.2, -0.3], [3], { requiresGrad: true });
    const rm = Tensor.zeros([3]), rv = Tensor.ones([3]);
    const y = batchNorm2d(x, wt, bt, rm, rv);
    // seeding backward with lossW is the gradient of sum(y * lossW) (a sum over all values
    // would be one row too long for the small binding limit)
    y.backward(Tensor.fromArray(lossW, shape));
    const yEval = batchNorm2d(x, wt, bt, rm, rv, { training: false });
    return Promise.all([y, x.grad!, wt.grad!, bt.grad!, rm, rv, yEval].map((t) => t.toArray()));
  };
  const whole = await run();
  const g = gpu();
  const limit = g.maxBindingBytes;
  g.maxBindingBytes = 2048; // 4 images of 504 bytes per binding: chunks of 4, 4, 1
  let chunked: Float32Array[];
  try {
    const launches = g.counters.launches;
    chunked = await run();
    assert.ok(g.counters.launches - launches > 12, "the chunked run launches more kernels");
  } finally {
    g.maxBindingBytes = limit;
  }
  const names = ["y", "dx", "dweight", "dbias", "running mean", "running var", "eval y"];
  // same arithmetic, different grouping of the partial sums: f32 rounding only
  names.forEach((what, i) => assertClose(chunked[i], whole[i], { atol: 1e-5, rtol: 1e-4, what }));
  const ref = batchNormRef(xs, shape, [0.5, 1, 2], [0.1, 0.2, -0.3], [0, 0, 0], [1, 1, 1]);
  assertClose(chunked[0], ref.y, { atol: 2e-5, rtol: 1e-4, what: "chunked y vs reference" });
});

Deno.test("batchnorm2d: both tile sets (software driver, GPU) give the reference numbers", async () => {
  // Only one of them runs by default on a given adapter; force each in turn.
  for (const { batchnorm: tiles } of [SOFTWARE_TUNING, GPU_TUNING]) {
    // subgroup reductions need the feature; they are tested where the adapter has it
    overrideTuning(gpu(), { batchnorm: { ...tiles, subgroups: false } });
    try {
      using _ = new Scope();
      const shape: Shape4 = [2, 3, 37, 41]; // several lanes per channel with either set
      const xs = randomArray(size4(shape), 90, 3);
      const rm = Tensor.zeros([3]), rv = Tensor.ones([3]);
      const y = batchNorm2d(Tensor.fromArray(xs, shape), null, null, rm, rv);
      const ref = batchNormRef(xs, shape, null, null, [0, 0, 0], [1, 1, 1]);
      const what = `tiles wg ${tiles.wg}`;
      assertClose(await y.toArray(), ref.y, { atol: 2e-5, rtol: 1e-4, what: `y ${what}` });
      assertClose(await rv.toArray(), ref.runningVar!, {
        atol: 1e-6,
        rtol: 1e-4,
        what: `running var ${what}`,
      });
      await checkGradients([3, 5, 2, 3], {}, 91);
      await checkGradients([2, 3, 3, 5], { training: false }, 92);
    } finally {
      overrideTuning(gpu(), null);
    }
  }
});

function size4([n, c, h, w]: Shape4): number {
  return n * c * h * w;
}
