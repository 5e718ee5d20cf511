// The elementwise and reduction ops (nn/ops/basic.ts) through the op-check helper: forward
// against f64 loops, every input's gradient against central differences.

import { add, mean, mul, relu, scale, sum } from "../../nn/ops/basic.ts";
import { gpuReady, randomArray } from "../helpers.ts";
import { checkOp } from "../op_check.ts";

await gpuReady;

const map = (x: Float64Array, f: (v: number, i: number) => number) => x.map(f);

/** Sums x [outer, reduce, inner] over its middle axis, times `factor`. */
function sumAxisRef(x: Float64Array, outer: number, reduce: number, inner: number, factor = 1) {
  const y = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < reduce; r++) {
      for (let i = 0; i < inner; i++) y[o * inner + i] += x[(o * reduce + r) * inner + i];
    }
  }
  return y.map((v) => v * factor);
}

// 37 and 2x3x5: not multiples of the kernels' vector width or workgroup size
for (const shape of [[37], [2, 3, 5]]) {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = randomArray(n, 1), b = randomArray(n, 2);

  Deno.test(`add, mul, scale: forward and gradients [${shape}]`, async () => {
    const inputs = { a: { shape, data: a }, b: { shape, data: b } };
    await checkOp("add", {
      inputs,
      op: (x) => add(x.a, x.b),
      reference: (x) => map(x.a, (v, i) => v + x.b[i]),
    });
    await checkOp("mul", {
      inputs,
      op: (x) => mul(x.a, x.b),
      reference: (x) => map(x.a, (v, i) => v * x.b[i]),
    });
    await checkOp("scale", {
      inputs: { a: inputs.a },
      op: (x) => scale(x.a, -1.5, 0.25),
      reference: (x) => map(x.a, (v) => v * -1.5 + 0.25),
    });
  });

  Deno.test(`relu: forward and gradient away from the kink [${shape}]`, async () => {
    // |x| >= 0.05, so x +- eps never crosses 0 (the derivative is undefined there)
    const x = a.map((v) => (v >= 0 ? v + 0.05 : v - 0.05));
    await checkOp("relu", {
      inputs: { x: { shape, data: x } },
      op: (t) => relu(t.x),
      reference: (t) => map(t.x, (v) => Math.max(v, 0)),
    });
  });
}

Deno.test("sum and mean: of everything and along each dimension", async () => {
  const shape = [3, 4, 5];
  const data = randomArray(60, 3);
  const input = { x: { shape, data } };
  await checkOp("sum", {
    inputs: input,
    op: (t) => sum(t.x),
    reference: (t) => sumAxisRef(t.x, 1, 60, 1),
  });
  await checkOp("mean", {
    inputs: input,
    op: (t) => mean(t.x),
    reference: (t) => sumAxisRef(t.x, 1, 60, 1, 1 / 60),
  });
  for (const [dim, outer, reduce, inner] of [[0, 1, 3, 20], [1, 3, 4, 5], [-1, 12, 5, 1]]) {
    await checkOp(`sum dim ${dim}`, {
      inputs: input,
      op: (t) => sum(t.x, dim),
      reference: (t) => sumAxisRef(t.x, outer, reduce, inner),
    });
    await checkOp(`mean dim ${dim}`, {
      inputs: input,
      op: (t) => mean(t.x, dim),
      reference: (t) => sumAxisRef(t.x, outer, reduce, inner, 1 / reduce),
    });
  }
});

Deno.test("checkOp names the op and the element when the reference disagrees", async () => {
  const { default: assert } = await import("node:assert/strict");
  await assert.rejects(
    () =>
      checkOp("add", {
        inputs: { a: { shape: [3], data: [1, 2, 3] }, b: { shape: [3], data: [1, 1, 1] } },
        op: (x) => add(x.a, x.b),
        reference: (x) => map(x.a, (v, i) => i === 2 ? v : v + x.b[i]),
      }),
    /add forward: element 2 is 4, expected 3/,
  );
});
