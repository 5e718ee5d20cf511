import assert from "node:assert/strict";
import { type Conv2dGeometry, CONV_VARIANTS } from "../../kernels/conv2d/mod.ts";
import { withTuning } from "../../kernels/tuning.ts";
import { gpu } from "../../kernels/device.ts";
import { conv2d } from "../../nn/ops/conv.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { conv2dRef, geometry, outSize } from "../kernels/conv2d_reference.ts";
import { assertClose, gpuReady, randomArray } from "../helpers.ts";
import { checkOp } from "../op_check.ts";

await gpuReady;

interface Case {
  name: string;
  s: Conv2dGeometry;
  bias: boolean;
}

const FD_CASES: Case[] = [
  { name: "3x3 stride 2 pad 1 with bias", s: geometry(2, 3, 5, 6, 4, 3, 2, 1), bias: true },
  { name: "1x1 stride 2 without bias", s: geometry(2, 5, 5, 4, 3, 1, 2, 0), bias: false },
  {
    name: "2x3 kernel, stride [1,2], padding [0,1], batch 1",
    s: geometry(1, 2, 4, 7, 5, [2, 3], [1, 2], [0, 1]),
    bias: true,
  },
];

for (const { name, s, bias } of FD_CASES) {
  for (const variant of CONV_VARIANTS) {
    Deno.test(`conv2d backward (${variant}) matches central finite differences: ${name}`, () =>
      withTuning(gpu(), { conv: { variant } }, () => checkGradients(s, bias)));
  }
}

async function checkGradients(s: Conv2dGeometry, bias: boolean): Promise<void> {
  const [oh, ow] = outSize(s);
  const inputs = {
    x: { shape: [s.n, s.c, s.h, s.w], data: randomArray(s.n * s.c * s.h * s.w, 1) },
    w: { shape: [s.o, s.c, s.kh, s.kw], data: randomArray(s.o * s.c * s.kh * s.kw, 2) },
    ...(bias ? { b: { shape: [s.o], data: randomArray(s.o, 3) } } : {}),
  };
  // The loss is linear in each input, so the central differences are exact up to f64
  // rounding (~1e-9); the GPU sums at most ~60 f32 products of values in [-1, 1], so 1e-4
  // covers its rounding with a wide margin.
  await checkOp("conv2d", {
    inputs,
    op: (t) => {
      const y = conv2d(t.x, t.w, t.b ?? null, {
        stride: [s.strideH, s.strideW],
        padding: [s.padH, s.padW],
      });
      assert.deepEqual(y.shape, [s.n, s.o, oh, ow]);
      return y;
    },
    reference: (t) => conv2dRef(t.x, t.w, t.b ?? null, s),
    forward: { atol: 1e-5, rtol: 1e-4 },
    grad: { atol: 1e-4, rtol: 1e-4 },
    seed: 4,
  });
}

/** "kernel name: what it computed" for every launch while `fn` runs. */
function launchedKernels(fn: () => void): string[] {
  const g = gpu();
  const names: string[] = [];
  const original = g.record;
  g.record = function (pipeline, layout, entries, groups, what) {
    names.push(`${pipeline.label}: ${what}`);
    return original.call(this, pipeline, layout, entries, groups, what);
  };
  try {
    fn();
  } finally {
    g.record = original;
  }
  return names;
}

for (const variant of CONV_VARIANTS) {
  Deno.test(`conv2d backward (${variant}) launches no weight gradient for a frozen weight, no input gradient for a leaf input`, () =>
    withTuning(gpu(), { conv: { variant } }, checkLaunches));
}

async function checkLaunches(): Promise<void> {
  using _ = new Scope();
  const g = gpu();
  const make = (xGrad: boolean, wGrad: boolean) => {
    const x = Tensor.fromArray(randomArray(2 * 3 * 36, 5), [2, 3, 6, 6], { requiresGrad: xGrad });
    const w = Tensor.fromArray(randomArray(4 * 27, 6), [4, 3, 3, 3], { requiresGrad: wGrad });
    const b = Tensor.fromArray(randomArray(4, 7), [4], { requiresGrad: true });
    const y = conv2d(x, w, b, { padding: 1 });
    const seed = Tensor.ones(y.shape);
    return { x, w, b, backward: () => y.backward(seed) };
  };
  // every launch of a direction (repacks, blocked copies, partial sums) names the direction
  const isWeightGrad = (n: string) => /weight gradient/.test(n);
  const isInputGrad = (n: string) => /input gradient/.test(n);

  const all = make(true, true);
  const allNames = launchedKernels(all.backward);
  assert.ok(
    allNames.some(isWeightGrad) && allNames.some(isInputGrad),
    `both gradients: ${allNames}`,
  );

  const frozen = make(true, false);
  const before = g.counters.launches;
  const frozenNames = launchedKernels(frozen.backward);
  assert.equal(g.counters.launches - before, frozenNames.length);
  assert.ok(!frozenNames.some(isWeightGrad), `frozen weight launched ${frozenNames}`);
  assert.ok(frozenNames.some(isInputGrad));
  assert.equal(frozen.w.grad, null);
  assert.ok(frozen.x.grad && frozen.b.grad);
  const launchesWithout = allNames.length - allNames.filter(isWeightGrad).length;
  assert.equal(frozenNames.length, launchesWithout, "the frozen backward is the full one minus dW");

  const first = make(false, true);
  const firstNames = launchedKernels(first.backward);
  assert.ok(!firstNames.some(isInputGrad), `a leaf input launched ${firstNames}`);
  assert.ok(firstNames.some(isWeightGrad));
  assert.equal(first.x.grad, null);
  // and the gradients it did compute agree with the full backward
  assertClose(await first.w.grad!.toArray(), await all.w.grad!.toArray(), { what: "dw" });
  assertClose(await frozen.x.grad!.toArray(), await all.x.grad!.toArray(), { what: "dx" });
  assertClose(await first.b.grad!.toArray(), await all.b.grad!.toArray(), { what: "db" });
}

Deno.test("conv2d errors name the op and the shapes", () => {
  using _ = new Scope();
  const x = Tensor.zeros([1, 3, 8, 8]);
  assert.throws(
    () => conv2d(x, Tensor.zeros([4, 2, 3, 3])),
    /conv2d: input \[1,3,8,8\] has 3 channels but weight \[4,2,3,3\] expects 2/,
  );
  assert.throws(
    () => conv2d(Tensor.zeros([3, 8, 8]), Tensor.zeros([4, 3, 3, 3])),
    /conv2d: input must be \[N, C, H, W\]/,
  );
  assert.throws(
    () => conv2d(x, Tensor.zeros([4, 3, 3, 3]), Tensor.zeros([5])),
    /conv2d: bias must be \[4\]/,
  );
  assert.throws(
    () => conv2d(x, Tensor.zeros([4, 3, 3, 3]), null, { stride: 0 }),
    /conv2d: stride must be integers >= 1/,
  );
  assert.throws(
    () => conv2d(x, Tensor.zeros([4, 3, 9, 9])),
    /conv2d: a 9x9 kernel does not fit a 8x8 input/,
  );
});
