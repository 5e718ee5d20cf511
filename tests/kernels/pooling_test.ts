import assert from "node:assert/strict";
import { gpu } from "../../kernels/device.ts";
import { poolOutputSize } from "../../kernels/pooling.ts";
import { GPU_TUNING, overrideTuning, SOFTWARE_TUNING } from "../../kernels/tuning.ts";
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from "../../nn/ops/pooling.ts";
import { Scope, Tensor } from "../../nn/tensor.ts";
import { Rng } from "../../base/rng.ts";
import { assertClose, gpuReady, randomArray } from "../helpers.ts";
import { checkOp } from "../op_check.ts";

await gpuReady;

type Shape4 = [number, number, number, number];
interface Spec {
  shape: Shape4;
  k: [number, number];
  s: [number, number];
  p: [number, number];
}

/** Visits each output (plane, oy, ox) with its window clamped to the input. */
function forEachWindow(
  { shape: [n, c, h, w], k, s, p }: Spec,
  visit: (
    o: number,
    base: number,
    y0: number,
    y1: number,
    x0: number,
    x1: number,
    padArea: number,
  ) => void,
): number {
  const oh = poolOutputSize(h, k[0], s[0], p[0]), ow = poolOutputSize(w, k[1], s[1], p[1]);
  for (let pl = 0; pl < n * c; pl++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const ys = oy * s[0] - p[0], xs = ox * s[1] - p[1];
        const padArea = (Math.min(ys + k[0], h + p[0]) - ys) * (Math.min(xs + k[1], w + p[1]) - xs);
        visit(
          (pl * oh + oy) * ow + ox,
          pl * h * w,
          Math.max(ys, 0),
          Math.min(ys + k[0], h),
          Math.max(xs, 0),
          Math.min(xs + k[1], w),
          padArea,
        );
      }
    }
  }
  return n * c * oh * ow;
}

/** Max pooling in f64: the value and the flat input index of the first maximum. */
function maxPoolRef(x: ArrayLike<number>, spec: Spec): { y: Float64Array; from: Int32Array } {
  const ys: number[] = [], from: number[] = [];
  const w = spec.shape[3];
  forEachWindow(spec, (o, base, y0, y1, x0, x1) => {
    let best = -Infinity, at = base + y0 * w + x0;
    for (let iy = y0; iy < y1; iy++) {
      for (let ix = x0; ix < x1; ix++) {
        if (x[base + iy * w + ix] > best) [best, at] = [x[base + iy * w + ix], base + iy * w + ix];
      }
    }
    ys[o] = best;
    from[o] = at;
  });
  return { y: Float64Array.from(ys), from: Int32Array.from(from) };
}

function avgPoolRef(x: ArrayLike<number>, spec: Spec, includePad: boolean): Float64Array {
  const ys: number[] = [];
  const w = spec.shape[3];
  forEachWindow(spec, (o, base, y0, y1, x0, x1, padArea) => {
    let acc = 0;
    for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) acc += x[base + iy * w + ix];
    ys[o] = acc / (includePad ? padArea : (y1 - y0) * (x1 - x0));
  });
  return Float64Array.from(ys);
}

function adaptiveRef(
  x: ArrayLike<number>,
  [n, c, h, w]: Shape4,
  oh: number,
  ow: number,
): Float64Array {
  const y = new Float64Array(n * c * oh * ow);
  for (let pl = 0; pl < n * c; pl++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const y0 = Math.floor((oy * h) / oh), y1 = Math.ceil(((oy + 1) * h) / oh);
        const x0 = Math.floor((ox * w) / ow), x1 = Math.ceil(((ox + 1) * w) / ow);
        let acc = 0;
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) acc += x[pl * h * w + iy * w + ix];
        }
        y[(pl * oh + oy) * ow + ox] = acc / ((y1 - y0) * (x1 - x0));
      }
    }
  }
  return y;
}

/** The max-pool gradient: each output's gradient added to its argmax input. */
function routeToArgmax(from: Int32Array, dy: ArrayLike<number>, inputs: number): Float64Array {
  const dx = new Float64Array(inputs);
  from.forEach((at, o) => (dx[at] += dy[o])); // overlapping windows add up
  return dx;
}

/** Distinct values (a shuffled ramp with steps of 0.01): no ties, so max is differentiable. */
function distinct(n: number, seed: number): Float32Array {
  const v = Float32Array.from({ length: n }, (_, i) => (i - n / 2) * 0.01);
  const rng = new Rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [v[i], v[j]] = [v[j], v[i]];
  }
  return v;
}

const SPECS: Spec[] = [
  { shape: [1, 3, 7, 9], k: [3, 3], s: [2, 2], p: [1, 1] }, // ResNet18's stem pool, batch 1
  { shape: [2, 5, 8, 8], k: [2, 2], s: [2, 2], p: [0, 0] },
  { shape: [2, 4, 11, 6], k: [3, 3], s: [1, 1], p: [0, 0] },
  { shape: [3, 2, 9, 10], k: [3, 2], s: [2, 3], p: [1, 1] }, // rectangular everything
  { shape: [2, 64, 16, 16], k: [3, 3], s: [2, 2], p: [1, 1] }, // ResNet18 stem at 32x32 input
];

function options(spec: Spec) {
  return { kernelSize: spec.k, stride: spec.s, padding: spec.p };
}

function size(shape: Shape4): number {
  return shape[0] * shape[1] * shape[2] * shape[3];
}

Deno.test("maxPool2d forward and backward match the reference and finite differences", async () => {
  let seed = 1;
  for (const spec of SPECS) {
    const xs = distinct(size(spec.shape), seed++);
    const what = `maxpool [${spec.shape}] k${spec.k} s${spec.s} p${spec.p}`;
    if (xs.length <= 2000) {
      // values 0.01 apart: a 1e-4 step never changes the argmax; sums of at most 9 f32 terms
      await checkOp(what, {
        inputs: { x: { shape: spec.shape, data: xs } },
        op: (t) => maxPool2d(t.x, options(spec)),
        reference: (t) => maxPoolRef(t.x, spec).y,
        forward: { atol: 0, rtol: 0 },
        grad: { atol: 1e-6, rtol: 1e-5 },
        eps: 1e-4,
        seed: seed++,
      });
      continue;
    }
    // The large ResNet case is checked against the reference's routing (the same rule,
    // verified by differences on the small cases) to keep the test fast.
    using _ = new Scope();
    const ref = maxPoolRef(xs, spec);
    const lossW = randomArray(ref.y.length, seed++);
    const x = Tensor.fromArray(xs, spec.shape, { requiresGrad: true });
    const y = maxPool2d(x, options(spec));
    assertClose(await y.toArray(), ref.y, { atol: 0, rtol: 0, what });
    y.backward(Tensor.fromArray(lossW, y.shape)); // the gradient of sum(y * lossW)
    assertClose(await x.grad!.toArray(), routeToArgmax(ref.from, lossW, xs.length), {
      atol: 1e-6,
      rtol: 1e-5,
      what: `${what} dx`,
    });
  }
});

Deno.test("maxPool2d: padding is -inf, ties go to the first maximum in scan order", async () => {
  using _ = new Scope();
  // all -5 with padding: a zero-padded pool would return 0; every window is one big tie
  const spec: Spec = { shape: [1, 2, 5, 5], k: [3, 3], s: [2, 2], p: [1, 1] };
  const xs = new Float32Array(50).fill(-5);
  for (let i = 25; i < 50; i += 3) xs[i] = -1; // ties among larger values in plane 1
  const x = Tensor.fromArray(xs, spec.shape, { requiresGrad: true });
  const y = maxPool2d(x, options(spec));
  const ref = maxPoolRef(xs, spec);
  assertClose(await y.toArray(), ref.y, { atol: 0, rtol: 0, what: "tied maxima" });
  const dy = randomArray(ref.y.length, 9);
  y.backward(Tensor.fromArray(dy, y.shape));
  const dx = await x.grad!.toArray();
  assertClose(dx, routeToArgmax(ref.from, dy, 50), { atol: 1e-6, what: "tied maxima dx" });
  // plane 0 is one big tie: each output's gradient lands on its window's first element
  assert.equal(dx[0], dy[0], "output (0,0) -> input (0,0)");
  assert.equal(dx[6], dy[4], "output (1,1), window rows/cols 1..3 -> input (1,1)");
  assert.equal(dx.subarray(0, 25).filter((v) => v !== 0).length, 9);
});

Deno.test("maxPool2d propagates NaN as PyTorch does", async () => {
  using _ = new Scope();
  const xs = Float32Array.from({ length: 16 }, (_, i) => i);
  xs[5] = NaN; // in the first 2x2 window, not its last element
  const y = await maxPool2d(Tensor.fromArray(xs, [1, 1, 4, 4]), { kernelSize: 2 }).toArray();
  assert.ok(Number.isNaN(y[0]), `window with a NaN gives ${y[0]}`);
  assert.deepEqual([...y.subarray(1)], [7, 13, 15]);
});

Deno.test("avgPool2d with and without padding in the divisor, forward and backward", async () => {
  let seed = 100;
  for (const spec of SPECS.slice(0, 4)) {
    for (const includePad of [true, false]) {
      // linear in x: the difference quotient is exact up to f64 rounding
      await checkOp(
        `avgpool [${spec.shape}] k${spec.k} s${spec.s} p${spec.p} includePad ${includePad}`,
        {
          inputs: { x: { shape: spec.shape, data: randomArray(size(spec.shape), seed++) } },
          op: (t) => avgPool2d(t.x, { ...options(spec), countIncludePad: includePad }),
          reference: (t) => avgPoolRef(t.x, spec, includePad),
          forward: { atol: 1e-6, rtol: 1e-4 },
          grad: { atol: 1e-6, rtol: 1e-5 },
          seed: seed++,
        },
      );
    }
  }
});

Deno.test("adaptiveAvgPool2d: global (1x1) and general output sizes, forward and backward", async () => {
  const cases: { shape: Shape4; out: [number, number] }[] = [
    { shape: [2, 5, 7, 7], out: [1, 1] }, // ResNet18's head at 224x224 input
    { shape: [1, 3, 1, 1], out: [1, 1] },
    { shape: [2, 3, 37, 41], out: [1, 1] }, // long planes: the reduction's partial sums
    { shape: [2, 3, 7, 5], out: [3, 2] }, // overlapping, uneven cells
    { shape: [1, 2, 5, 6], out: [5, 4] },
    { shape: [1, 2, 3, 2], out: [4, 5] }, // more cells than inputs
  ];
  let seed = 200;
  for (const { shape, out } of cases) {
    await checkOp(`adaptive avgpool [${shape}] -> ${out}`, {
      inputs: { x: { shape, data: randomArray(size(shape), seed++) } },
      op: (t) => {
        const y = adaptiveAvgPool2d(t.x, out);
        assert.deepEqual(y.shape, [shape[0], shape[1], ...out]);
        return y;
      },
      reference: (t) => adaptiveRef(t.x, shape, ...out),
      forward: { atol: 1e-6, rtol: 1e-4 },
      grad: { atol: 1e-6, rtol: 1e-5 },
      seed: seed++,
    });
  }
});

Deno.test("pooling in chunks of planes gives the same numbers", async () => {
  const spec: Spec = { shape: [3, 5, 9, 11], k: [3, 3], s: [2, 2], p: [1, 1] };
  const xs = distinct(size(spec.shape), 300);
  const ops = [
    (x: Tensor) => maxPool2d(x, options(spec)),
    (x: Tensor) => avgPool2d(x, options(spec)),
    (x: Tensor) => adaptiveAvgPool2d(x, [4, 3]),
    (x: Tensor) => adaptiveAvgPool2d(x, 1),
  ];
  const run = () =>
    Promise.all(ops.map(async (op) => {
      using _ = new Scope();
      const x = Tensor.fromArray(xs, spec.shape, { requiresGrad: true });
      const y = op(x);
      y.backward(Tensor.fromArray(randomArray(y.size, 301), y.shape));
      return [await y.toArray(), await x.grad!.toArray()];
    }));
  const whole = await run();
  const g = gpu();
  const limit = g.maxBindingBytes;
  g.maxBindingBytes = 4096; // 396-byte planes: chunks of 8 planes (aligned), 15 planes
  let chunked: Float32Array[][];
  try {
    const launches = g.counters.launches;
    chunked = await run();
    // unchunked this is 8 launches (forward and backward of 4 ops)
    assert.ok(g.counters.launches - launches >= 16, "each pooling launch ran in 2 chunks");
  } finally {
    g.maxBindingBytes = limit;
  }
  chunked.forEach(([y, dx], i) => {
    // the same arithmetic per element, only split across launches: identical results
    assert.deepEqual(y, whole[i][0], `op ${i} y`);
    assert.deepEqual(dx, whole[i][1], `op ${i} dx`);
  });
  assertClose(chunked[0][0], maxPoolRef(xs, spec).y, { atol: 0, rtol: 0, what: "chunked maxpool" });
});

Deno.test("pooling rejects shapes PyTorch rejects, with the op's name", () => {
  using _ = new Scope();
  const x = Tensor.zeros([1, 1, 4, 4]);
  assert.throws(
    () => maxPool2d(x, { kernelSize: 3, padding: 2 }),
    /maxPool2d: padding 2x2 must be at most half/,
  );
  assert.throws(() => avgPool2d(x, { kernelSize: 5 }), /avgPool2d: input \[1,1,4,4\] is too small/);
  assert.throws(
    () => adaptiveAvgPool2d(Tensor.zeros([4, 4]), 1),
    /adaptiveAvgPool2d: expects an f32/,
  );
});

Deno.test("pooling: both tile sets (software driver, GPU) give the reference numbers", async () => {
  // Only one of them runs by default on a given adapter; force each in turn.
  for (const { pool: tiles } of [SOFTWARE_TUNING, GPU_TUNING]) {
    overrideTuning(gpu(), { pool: tiles });
    try {
      for (const spec of [SPECS[0], SPECS[3]]) {
        using _ = new Scope();
        const xs = distinct(size(spec.shape), 400);
        const what = `[${spec.shape}] tiles ${tiles.wgX}x${tiles.wgY}`;
        const x = Tensor.fromArray(xs, spec.shape, { requiresGrad: true });
        const ref = maxPoolRef(xs, spec);
        const y = maxPool2d(x, options(spec));
        assertClose(await y.toArray(), ref.y, { atol: 0, rtol: 0, what: `maxpool ${what}` });
        const dy = randomArray(y.size, 401);
        y.backward(Tensor.fromArray(dy, y.shape));
        assertClose(await x.grad!.toArray(), routeToArgmax(ref.from, dy, xs.length), {
          atol: 1e-6,
          what: `maxpool dx ${what}`,
        });
        await checkOp(`avgpool ${what}`, {
          inputs: { x: { shape: spec.shape, data: xs } },
          op: (t) => avgPool2d(t.x, options(spec)),
          reference: (t) => avgPoolRef(t.x, spec, true),
          forward: { atol: 1e-6, rtol: 1e-4 },
          grad: { atol: 1e-6, rtol: 1e-5 },
          seed: 401,
        });
      }
    } finally {
      overrideTuning(gpu(), null);
    }
  }
});
