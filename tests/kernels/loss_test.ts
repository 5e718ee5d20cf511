import assert from "node:assert/strict";
import { gpu } from "../../kernels/device.ts";
import { scale } from "../../nn/ops/basic.ts";
import {
  accumulateConfusion,
  accumulateMetrics,
  argmax,
  checkLabels,
  confusionAccumulator,
  countCorrect,
  crossEntropy,
  metricsAccumulator,
  readMetrics,
  softmax,
} from "../../nn/ops/loss.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { assertClose, gpuReady, randomArray } from "../helpers.ts";
import { checkOp } from "../op_check.ts";
import {
  randomLabels,
  refArgmax,
  refCorrect,
  refGrad,
  refLoss,
  refSoftmax,
  refWeightedGradNumeric,
  refWeightedLoss,
} from "./loss_reference.ts";

await gpuReady;

/** Runs forward and backward (with an incoming gradient of `upstream`) on the GPU. */
async function gpuLossAndGrad(
  x: Float32Array,
  y: Int32Array,
  classes: number,
  eps: number,
  upstream = 1,
) {
  const logits = Tensor.fromArray(x, [y.length, classes], { requiresGrad: true });
  const labels = Tensor.fromArray(y);
  const loss = crossEntropy(logits, labels, { labelSmoothing: eps });
  // scale() makes the loss's incoming gradient a GPU tensor holding `upstream`
  scale(loss, upstream).backward();
  return { loss: await loss.item(), grad: await logits.grad!.toArray(), shape: loss.shape };
}

// ---- cross-entropy -----------------------------------------------------------------------

// [rows, classes, logit scale]: batch 1 with 2 classes, sizes that are not multiples of
// the workgroup, CIFAR's 10 classes, ImageNet's 1000 with a larger batch, and logits of
// ±80 that overflow a naive exp in f32 (e^80 > 3.4e38).
const CASES: [number, number, number][] = [[1, 2, 1], [7, 10, 3], [65, 10, 2], [96, 1000, 4], [
  5,
  10,
  80,
]];

for (const eps of [0, 0.1]) {
  Deno.test(`crossEntropy forward and backward match an f64 reference (labelSmoothing ${eps})`, async () => {
    using _ = new Scope();
    for (const [rows, classes, spread] of CASES) {
      const x = randomArray(rows * classes, rows * 31 + classes, spread);
      const y = randomLabels(rows, classes, rows + classes);
      const got = await gpuLossAndGrad(x, y, classes, eps, 0.7);
      assert.deepEqual(got.shape, [], "the loss is a scalar");
      // f32 log-sum-exp over logits of size |x|: relative error ~1e-7·|x|·log(C)
      assertClose([got.loss], [refLoss(x, y, classes, eps)], {
        atol: 2e-6 * spread,
        rtol: 1e-5,
        what: `loss ${rows}x${classes}`,
      });
      // gradient entries are (p - t)/N; f32 exp gives ~1e-7 relative error on p
      const want = refGrad(x, y, classes, eps).map((v) => v * 0.7);
      assertClose(got.grad, want, {
        atol: 1e-6 / rows,
        rtol: 1e-4,
        what: `grad ${rows}x${classes}`,
      });
    }
  });
}

Deno.test("crossEntropy backward matches central finite differences of the f64 reference", async () => {
  for (const [rows, classes, eps] of [[1, 2, 0], [3, 5, 0.1], [4, 7, 0.25], [2, 3, 1]]) {
    const y = randomLabels(rows, classes, rows * classes);
    // the numeric gradient is exact to ~1e-9 in f64; the GPU's is f32 (~1e-7 relative to
    // the softmax probabilities, which are ≤ 1, times the loss weight over rows)
    await checkOp(`crossEntropy ${rows}x${classes} ε=${eps}`, {
      inputs: {
        x: { shape: [rows, classes], data: randomArray(rows * classes, 7 * rows + classes, 2) },
      },
      op: (t) => crossEntropy(t.x, Tensor.fromArray(y, [rows]), { labelSmoothing: eps }),
      reference: (t) => [refLoss(t.x, y, classes, eps)],
      forward: { atol: 4e-6, rtol: 1e-5 },
      grad: { atol: 1e-6, rtol: 1e-5 },
    });
  }
});

Deno.test("crossEntropy is stable for extreme logits and gives exact small cases", async () => {
  using _ = new Scope();
  // one confident right row, one confident wrong row: log(1 + e^-160) ≈ 0 and 160
  const x = new Float32Array([80, -80, -80, 80]);
  const y = new Int32Array([0, 0]);
  const { loss, grad } = await gpuLossAndGrad(x, y, 2, 0);
  assertClose([loss], [80], { atol: 1e-4, what: "loss of ±80 logits" });
  assertClose(grad, [0, 0, -0.5, 0.5], { atol: 1e-7, what: "grad of ±80 logits" });
  // equal logits: loss = log(C) with or without smoothing
  const flat = await gpuLossAndGrad(new Float32Array(10).fill(3), new Int32Array([4]), 10, 0.1);
  assertClose([flat.loss], [Math.log(10)], { atol: 1e-6, what: "uniform logits" });
});

Deno.test("crossEntropy frees its temporaries and needs no logits gradient for frozen logits", () => {
  using _ = new Scope();
  const x = Tensor.fromArray(randomArray(30, 5), [3, 10]);
  const y = Tensor.fromArray(new Int32Array([1, 2, 3]));
  crossEntropy(x, y); // warm the pool
  const before = gpu().pool.stats().liveBuffers;
  const loss = crossEntropy(x, y);
  assert.equal(gpu().pool.stats().liveBuffers, before + 1, "only the loss stays live");
  assert.equal(loss.requiresGrad, false, "no autograd record when logits do not require grad");
});

// ---- invalid labels ------------------------------------------------------------------------

Deno.test("labels outside [0, C): NaN loss, zero gradient rows, counted as invalid; checkLabels throws", async () => {
  using _ = new Scope();
  const rows = 4;
  const classes = 3;
  const x = randomArray(rows * classes, 11);
  const y = new Int32Array([0, 3, 2, -1]); // rows 1 and 3 invalid
  const { loss, grad } = await gpuLossAndGrad(x, y, classes, 0.1);
  assert.ok(Number.isNaN(loss), `loss with an invalid label is ${loss}, expected NaN`);
  // valid rows keep their gradient, scaled by 1/rows of the whole batch
  const want = refGrad(x, new Int32Array([0, 0, 2, 0]), classes, 0.1);
  for (const r of [1, 3]) want.fill(0, r * classes, (r + 1) * classes);
  assertClose(grad, want, { atol: 1e-7, rtol: 1e-5, what: "grad with invalid labels" });

  const logits = Tensor.fromArray(x, [rows, classes]);
  const labels = Tensor.fromArray(y);
  const acc = metricsAccumulator();
  try {
    accumulateMetrics(crossEntropy(logits, labels), logits, labels, acc);
    const m = await readMetrics(acc);
    assert.equal(m.invalidLabels, 2);
    assert.equal(m.samples, 4);
    assert.equal(m.correct, refCorrect(x, new Int32Array([0, -5, 2, -5]), classes));
    assert.ok(Number.isNaN(m.loss));
  } finally {
    acc.dispose();
  }
  assert.throws(
    () => checkLabels([0, 2, 3], 3, "batch 7"),
    /batch 7: label 3 at index 2 is out of bounds for 3 classes/,
  );
  assert.throws(() => checkLabels([-1], 3), /label -1 at index 0/);
  assert.throws(() => checkLabels([0.5], 3), /label 0.5/);
  checkLabels(new Int32Array([0, 1, 2]), 3);
});

Deno.test("loss ops reject wrong shapes and dtypes with the op's name", () => {
  using _ = new Scope();
  const x = Tensor.fromArray(randomArray(6, 1), [2, 3]);
  assert.throws(
    () => crossEntropy(x, Tensor.fromArray(new Int32Array([0, 1, 2]))),
    /crossEntropy: labels must be i32 \[2\]/,
  );
  assert.throws(
    () => crossEntropy(x, Tensor.fromArray([0, 1])),
    /crossEntropy: labels must be i32/,
  );
  assert.throws(
    () => countCorrect(x.reshape([6]), Tensor.fromArray(new Int32Array(6))),
    /countCorrect: logits must be f32 \[N, C\]/,
  );
  assert.throws(
    () => crossEntropy(x, Tensor.fromArray(new Int32Array([0, 1])), { labelSmoothing: 1.5 }),
    /labelSmoothing must be in \[0, 1\]/,
  );
  assert.throws(
    () => softmax(Tensor.fromArray(new Float32Array(0), [0, 3])),
    /softmax: logits .* are empty/,
  );
});

// ---- metrics -------------------------------------------------------------------------------

Deno.test("countCorrect: first max wins on ties; all right, all wrong, batch 1, random", async () => {
  using _ = new Scope();
  const count = async (x: number[] | Float32Array, y: number[], classes: number) =>
    (await countCorrect(
      Tensor.fromArray(x, [y.length, classes]),
      Tensor.fromArray(new Int32Array(y)),
    )
      .toInt32Array())[0];
  // rows tie between classes 1 and 2 (argmax 1), and all classes tie (argmax 0)
  const ties = [0, 3, 3, 1, 0, 3, 3, 1, 5, 5, 5, 5, 5, 5, 5, 5];
  assert.equal(await count(ties, [1, 2, 0, 3], 4), 2);
  assert.equal(await count(ties, [2, 2, 1, 3], 4), 0, "all wrong");
  assert.equal(await count([9, -2, 0, 1, 7, 3], [0, 2], 3), 1);
  assert.equal(await count([-1, 4, -3, 2, 8, 0], [1, 1], 3), 2, "all right");
  assert.equal(await count([0.25], [0], 1), 1, "one class");
  for (const [rows, classes] of [[1, 10], [300, 10], [33, 1000]]) {
    const x = randomArray(rows * classes, rows + 3 * classes);
    const y = randomLabels(rows, classes, classes);
    const pred = refArgmax(x, rows, classes);
    y.forEach((_, r) => r % 3 === 0 && (y[r] = pred[r])); // make a third of them right
    const out = countCorrect(Tensor.fromArray(x, [rows, classes]), Tensor.fromArray(y));
    assert.equal(out.dtype, "i32");
    assert.deepEqual(out.shape, [1]);
    assert.equal((await out.toInt32Array())[0], refCorrect(x, y, classes), `${rows}x${classes}`);
  }
});

Deno.test("accumulateMetrics sums loss·N, correct and samples over batches on the GPU", async () => {
  using _ = new Scope();
  const acc = metricsAccumulator();
  try {
    let lossSum = 0;
    let correct = 0;
    const sizes = [7, 16, 1];
    for (const [b, rows] of sizes.entries()) {
      const x = randomArray(rows * 10, 100 + b, 3);
      const y = randomLabels(rows, 10, 200 + b);
      const logits = Tensor.fromArray(x, [rows, 10]);
      const labels = Tensor.fromArray(y);
      accumulateMetrics(crossEntropy(logits, labels, { labelSmoothing: 0.1 }), logits, labels, acc);
      lossSum += refLoss(x, y, 10, 0.1) * rows;
      correct += refCorrect(x, y, 10);
    }
    const readsBefore = gpu().counters.readbacks;
    const m = await readMetrics(acc);
    assert.equal(gpu().counters.readbacks - readsBefore, 1, "one readback for the whole epoch");
    assert.equal(m.samples, 24);
    assert.equal(m.correct, correct);
    assert.equal(m.invalidLabels, 0);
    assertClose([m.loss], [lossSum / 24], { atol: 1e-5, what: "epoch mean loss" });
    assertClose([m.accuracy], [correct / 24], { atol: 1e-7, what: "accuracy" });
  } finally {
    acc.dispose();
  }
});

Deno.test("softmax and argmax match references, including ±80 logits", async () => {
  using _ = new Scope();
  for (const [rows, classes, spread] of [[1, 2, 1], [9, 10, 80], [3, 1000, 5]]) {
    const x = randomArray(rows * classes, rows * classes, spread);
    const logits = Tensor.fromArray(x, [rows, classes]);
    // probabilities are ≤ 1; f32 exp(x - lse) has ~1e-7·|x| relative error
    assertClose(await softmax(logits).toArray(), refSoftmax(x, rows, classes), {
      atol: 1e-7,
      rtol: 2e-5,
      what: `softmax ${rows}x${classes}`,
    });
    assert.deepEqual([...await argmax(logits).toInt32Array()], [...refArgmax(x, rows, classes)]);
  }
  assert.deepEqual([...await argmax(Tensor.fromArray([2, 7, 7, 1], [1, 4])).toInt32Array()], [1]);
});

// ---- chunking ------------------------------------------------------------------------------

Deno.test("every loss launcher gives the same numbers when split into binding-sized chunks", async () => {
  using _ = new Scope();
  const g = gpu();
  const limit = g.maxBindingBytes;
  // [rows, classes, binding limit]: chunks start at 256-byte aligned offsets, so for
  // C = 1000 the smallest chunk is 64 rows (the labels' alignment) of 4000 bytes
  for (const [rows, classes, small] of [[300, 10, 4096], [150, 1000, 256_000]]) {
    const x = randomArray(rows * classes, rows, 4);
    const y = randomLabels(rows, classes, classes);
    const run = async () => {
      const logits = Tensor.fromArray(x, [rows, classes], { requiresGrad: true });
      const labels = Tensor.fromArray(y);
      const loss = crossEntropy(logits, labels, { labelSmoothing: 0.1 });
      loss.backward();
      const acc = metricsAccumulator();
      accumulateMetrics(loss, logits, labels, acc);
      const out = {
        loss: await loss.item(),
        grad: await logits.grad!.toArray(),
        correct: (await countCorrect(logits, labels).toInt32Array())[0],
        softmax: await softmax(logits).toArray(),
        argmax: await argmax(logits).toInt32Array(),
        metrics: await readMetrics(acc),
      };
      acc.dispose();
      return out;
    };
    let launches = g.counters.launches;
    const whole = await run();
    const wholeLaunches = g.counters.launches - launches;
    let chunked;
    launches = g.counters.launches;
    g.maxBindingBytes = small;
    try {
      chunked = await run();
    } finally {
      g.maxBindingBytes = limit;
    }
    const chunkedLaunches = g.counters.launches - launches;
    assert.ok(chunkedLaunches > wholeLaunches, "the small limit split the launches");
    assert.ok(rows * classes * 4 > small, "the logits exceed the small limit");
    assert.deepEqual(chunked, whole, `${rows}x${classes}: chunked and whole results are identical`);
    assertClose([whole.loss], [refLoss(x, y, classes, 0.1)], { atol: 1e-5, what: "loss" });
    assertClose(whole.grad, refGrad(x, y, classes, 0.1), {
      atol: 1e-6 / rows,
      rtol: 1e-4,
      what: "grad",
    });
    assert.equal(whole.correct, refCorrect(x, y, classes));
  }
});

// ---- PyTorch parity ------------------------------------------------------------------------

interface TorchCase {
  name: string;
  rows: number;
  classes: number;
  label_smoothing: number;
  logits: number[];
  labels: number[];
  loss: number;
  grad: number[];
}

Deno.test("crossEntropy matches torch.nn.functional.cross_entropy (fixtures)", async () => {
  using _ = new Scope();
  // made by tests/fixtures/loss/make_loss_fixtures.py
  const url = new URL("../fixtures/loss/cross_entropy.json", import.meta.url);
  const { cases } = JSON.parse(await Deno.readTextFile(url)) as { cases: TorchCase[] };
  assert.ok(cases.length >= 6);
  for (const t of cases) {
    const x = Float32Array.from(t.logits);
    const y = Int32Array.from(t.labels);
    // the f64 reference of these tests agrees with PyTorch's float64 evaluation
    assertClose([refLoss(x, y, t.classes, t.label_smoothing)], [t.loss], {
      atol: 1e-12,
      what: t.name,
    });
    assertClose(refGrad(x, y, t.classes, t.label_smoothing), t.grad, { atol: 1e-12, what: t.name });
    const got = await gpuLossAndGrad(x, y, t.classes, t.label_smoothing);
    // f32 on the GPU: log-sum-exp error ~1e-7 relative to |logits| (up to 80 here)
    assertClose([got.loss], [t.loss], { atol: 2e-5, rtol: 1e-5, what: `${t.name}: loss` });
    assertClose(got.grad, t.grad, { atol: 1e-6, rtol: 1e-4, what: `${t.name}: grad` });
  }
});

// ---- class weights -------------------------------------------------------------------------

interface WeightedTorchCase extends TorchCase {
  weight: number[];
}

async function gpuWeightedLossAndGrad(
  x: Float32Array,
  y: Int32Array,
  classes: number,
  weight: Float32Array,
  eps: number,
  upstream = 1,
) {
  const logits = Tensor.fromArray(x, [y.length, classes], { requiresGrad: true });
  const loss = crossEntropy(logits, Tensor.fromArray(y), {
    labelSmoothing: eps,
    weight: Tensor.fromArray(weight),
  });
  scale(loss, upstream).backward();
  return { loss: await loss.item(), grad: await logits.grad!.toArray() };
}

Deno.test("weighted crossEntropy matches torch.nn.CrossEntropyLoss(weight, label_smoothing) (fixtures)", async () => {
  using _ = new Scope();
  // made by tests/fixtures/loss/make_loss_fixtures.py
  const url = new URL("../fixtures/loss/weighted_cross_entropy.json", import.meta.url);
  const { cases } = JSON.parse(await Deno.readTextFile(url)) as { cases: WeightedTorchCase[] };
  assert.ok(cases.length >= 6 && cases.some((t) => t.label_smoothing > 0));
  for (const t of cases) {
    const x = Float32Array.from(t.logits);
    const y = Int32Array.from(t.labels);
    const w = Float32Array.from(t.weight);
    // the plain f64 reference (PyTorch's formula) agrees with PyTorch's float64 evaluation,
    // and its finite differences with PyTorch's gradient (central differences: ~1e-10)
    assertClose([refWeightedLoss(x, y, t.classes, w, t.label_smoothing)], [t.loss], {
      atol: 1e-12,
      rtol: 1e-12,
      what: `${t.name}: reference`,
    });
    assertClose(refWeightedGradNumeric(x, y, t.classes, w, t.label_smoothing), t.grad, {
      atol: 1e-8,
      what: `${t.name}: numeric reference gradient`,
    });
    // the GPU kernels in f32; upstream 0.7 checks that the incoming gradient is applied
    const got = await gpuWeightedLossAndGrad(x, y, t.classes, w, t.label_smoothing, 0.7);
    // f32 log-sum-exp error ~1e-7 relative to |logits| (up to 80 here)
    assertClose([got.loss], [t.loss], { atol: 2e-5, rtol: 1e-5, what: `${t.name}: loss` });
    assertClose(got.grad, t.grad.map((v) => 0.7 * v), {
      atol: 1e-6,
      rtol: 1e-4,
      what: `${t.name}: grad`,
    });
  }
});

Deno.test("weighted crossEntropy: all-ones weights give the unweighted loss; chunking; invalid labels; errors", async () => {
  using _ = new Scope();
  const g = gpu();
  const rows = 150, classes = 1000;
  const x = randomArray(rows * classes, 3, 4);
  const y = randomLabels(rows, classes, 9);
  const ones = new Float32Array(classes).fill(1);
  const plain = await gpuLossAndGrad(x, y, classes, 0.1);
  const weighted = await gpuWeightedLossAndGrad(x, y, classes, ones, 0.1);
  assertClose([weighted.loss], [plain.loss], { atol: 1e-5, what: "ones: loss" });
  assertClose(weighted.grad, plain.grad, { atol: 1e-8, rtol: 1e-5, what: "ones: grad" });
  // the same numbers when the rows are split into binding-sized chunks
  const w = Float32Array.from({ length: classes }, (_, c) => 0.5 + (c % 7) / 3);
  const whole = await gpuWeightedLossAndGrad(x, y, classes, w, 0.1);
  const limit = g.maxBindingBytes;
  g.maxBindingBytes = 256_000;
  let chunked;
  try {
    chunked = await gpuWeightedLossAndGrad(x, y, classes, w, 0.1);
  } finally {
    g.maxBindingBytes = limit;
  }
  assert.deepEqual(chunked, whole, "chunked and whole weighted results are identical");
  assertClose([whole.loss], [refWeightedLoss(x, y, classes, w, 0.1)], {
    atol: 1e-5,
    what: "chunked: loss",
  });
  // an invalid label: NaN loss, a zero gradient row
  const bad = await gpuWeightedLossAndGrad(
    randomArray(6, 2),
    new Int32Array([0, 3]),
    3,
    new Float32Array([1, 2, 3]),
    0,
  );
  assert.ok(Number.isNaN(bad.loss));
  assert.deepEqual(Array.from(bad.grad.subarray(3)), [0, 0, 0]);
  const logits = Tensor.fromArray(randomArray(6, 1), [2, 3]);
  assert.throws(
    () =>
      crossEntropy(logits, Tensor.fromArray(new Int32Array([0, 1])), {
        weight: Tensor.fromArray(new Float32Array(2)),
      }),
    /crossEntropy: weight must be f32 \[3\]/,
  );
});

Deno.test("accumulateConfusion counts label x argmax pairs over batches, leaving out invalid labels", async () => {
  using _ = new Scope();
  const classes = 5;
  const acc = confusionAccumulator(classes);
  try {
    const want = Array.from({ length: classes }, () => new Array(classes).fill(0));
    for (const [rows, seed] of [[37, 1], [64, 2]]) {
      const xs = randomArray(rows * classes, seed, 3);
      const ys = randomLabels(rows, classes, seed + 10);
      ys[0] = -1; // invalid: not counted
      const pred = refArgmax(xs, rows, classes);
      ys.forEach((t, r) => t >= 0 && want[t][pred[r]]++);
      accumulateConfusion(Tensor.fromArray(xs, [rows, classes]), Tensor.fromArray(ys), acc);
    }
    const got = await acc.toInt32Array();
    assert.deepEqual(
      Array.from(
        { length: classes },
        (_, t) => Array.from(got.subarray(t * classes, (t + 1) * classes)),
      ),
      want,
    );
  } finally {
    acc.dispose();
  }
});
