import assert from "node:assert/strict";
import { linear, matmul } from "../../nn/ops/linear.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { assertClose, gpuReady, randomArray } from "../helpers.ts";
import { checkOp } from "../op_check.ts";

await gpuReady;

/** y = x Wᵀ + b in f64: x [rows, inF], w [outF, inF]. */
function linearReference(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  rows: number,
  inF: number,
  outF: number,
) {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = s;
    }
  }
  return y;
}

function matmulReference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

// Gradient tolerance: the GPU computes in f32 (sums of at most ~20 products of values < 1,
// error ~1e-6), central differences in f64 with eps 1e-6 are exact to ~1e-9 for these
// polynomials; 2e-5 absolute separates a right gradient from a wrong one by orders of magnitude.
const GRAD_TOL = { atol: 2e-5, rtol: 1e-4 };

Deno.test("linear forward matches x Wᵀ + b, with leading dims and without bias", async () => {
  using _ = new Scope();
  const [inF, outF] = [13, 6];
  const xs = randomArray(2 * 3 * inF, 1);
  const ws = randomArray(outF * inF, 2);
  const bs = randomArray(outF, 3);
  const y = linear(
    Tensor.fromArray(xs, [2, 3, inF]),
    Tensor.fromArray(ws, [outF, inF]),
    Tensor.fromArray(bs, [outF]),
  );
  assert.deepEqual(y.shape, [2, 3, outF]);
  assertClose(await y.toArray(), linearReference(xs, ws, bs, 6, inF, outF), { what: "linear" });
  const y1 = linear(
    Tensor.fromArray(xs.subarray(0, inF), [inF]),
    Tensor.fromArray(ws, [outF, inF]),
  );
  assert.deepEqual(y1.shape, [outF]);
  assertClose(await y1.toArray(), linearReference(xs, ws, null, 1, inF, outF), {
    what: "linear 1-D",
  });
});

Deno.test("linear backward matches finite differences for x, W and b", async () => {
  // batch 5, 7 -> 3 features: nothing is a multiple of 4 (scalar GEMM paths)
  for (const [rows, inF, outF] of [[5, 7, 3], [4, 8, 12], [1, 20, 10]]) {
    await checkOp(`linear ${rows}x${inF}->${outF}`, {
      inputs: {
        x: { shape: [rows, inF], data: randomArray(rows * inF, 10 + rows) },
        w: { shape: [outF, inF], data: randomArray(outF * inF, 20 + rows) },
        b: { shape: [outF], data: randomArray(outF, 30 + rows) },
      },
      op: (t) => linear(t.x, t.w, t.b),
      reference: (t) => linearReference(t.x, t.w, t.b, rows, inF, outF),
      grad: GRAD_TOL,
      seed: 40 + rows,
    });
  }
});

Deno.test("linear with a frozen weight computes no weight gradient", async () => {
  using _ = new Scope();
  const x = Tensor.fromArray(randomArray(6, 1), [2, 3], { requiresGrad: true });
  const w = Tensor.fromArray(randomArray(12, 2), [4, 3]); // frozen
  const b = Tensor.fromArray(randomArray(4, 3), [4]); // frozen
  const y = linear(x, w, b);
  const seed = Tensor.ones([2, 4]);
  let asked: readonly boolean[] = [];
  let produced: (Tensor | null)[] = [];
  const inner = y.gradFn!.backward;
  y.gradFn = {
    ...y.gradFn!,
    backward: (g, needs) => {
      asked = needs;
      produced = inner(g, needs);
      return produced;
    },
  };
  y.backward(seed);
  assert.deepEqual(asked, [true, false, false]);
  assert.equal(produced[1], null, "no weight gradient is computed");
  assert.equal(produced[2], null, "no bias gradient is computed");
  assert.equal(w.grad, null);
  // dx = ones · W: column sums of W
  const ws = await w.toArray();
  const expected = [0, 1, 2].map((i) => ws[i] + ws[3 + i] + ws[6 + i] + ws[9 + i]);
  assertClose(await x.grad!.toArray(), [...expected, ...expected], { what: "dx" });
});

Deno.test("matmul forward and backward match the loop and finite differences", async () => {
  using _ = new Scope();
  const [m, k, n] = [3, 5, 6];
  await checkOp("matmul", {
    inputs: {
      a: { shape: [m, k], data: randomArray(m * k, 50) },
      b: { shape: [k, n], data: randomArray(k * n, 51) },
    },
    op: (t) => matmul(t.a, t.b),
    reference: (t) => matmulReference(t.a, t.b, m, k, n),
    grad: GRAD_TOL,
    seed: 52,
  });
  const a = Tensor.fromArray(randomArray(m * k, 50), [m, k]);
  const b = Tensor.fromArray(randomArray(k * n, 51), [k, n]);
  assert.throws(() => matmul(a, a), /matmul: cannot multiply \[3,5\] by \[3,5\]/);
  assert.throws(() => linear(a, b), /linear: input \[3,5\] does not match weight \[5,6\]/);
});
