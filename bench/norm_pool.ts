// Batch-norm and pooling benchmark rows at ResNet18's shapes (batch 32 at 32x32 input and
// batch 8 at 224x224). All are memory-bound, so rows report bytes moved (GB/s): every
// tensor a pass must read or write counted once per pass that touches it.

import * as bn from "../kernels/batchnorm.ts";
import * as pool from "../kernels/pooling.ts";
import type { BenchRow, Harness } from "./harness.ts";

type Shape4 = [number, number, number, number];

// The activations batch norm sees in ResNet18 (stem, then layer1..layer4).
const BN_SHAPES: Shape4[] = [
  [32, 64, 16, 16],
  [32, 64, 8, 8],
  [32, 128, 4, 4],
  [32, 256, 2, 2],
  [32, 512, 1, 1],
  [8, 64, 112, 112],
  [8, 64, 56, 56],
  [8, 128, 28, 28],
  [8, 256, 14, 14],
  [8, 512, 7, 7],
];
// The stem's 3x3 stride-2 max pool, and the head's global average pool.
const MAXPOOL_SHAPES: Shape4[] = [[32, 64, 16, 16], [8, 64, 112, 112]];
const AVGPOOL_SHAPES: Shape4[] = [[32, 512, 1, 1], [8, 512, 7, 7]];

function words([n, c, h, w]: Shape4): string {
  return `N${n} C${c} ${h}x${w}`;
}

/** A buffer of `floats` values in [-1, 1) (pool-owned; the caller releases it). */
function filled(h: Harness, floats: number, seed: number): GPUBuffer {
  const data = new Float32Array(floats);
  for (let i = 0; i < floats; i++) data[i] = (((i + seed) * 7919) % 2001) / 1000 - 1;
  return h.gpu.upload(data, "bench data");
}

async function timeBatchNorm(h: Harness, shape: Shape4): Promise<BenchRow[]> {
  const g = h.gpu;
  const [n, c, hh, ww] = shape;
  const s: bn.BnShape = { n, c, hw: hh * ww };
  const size = n * c * hh * ww;
  const x = filled(h, size, 1), dy = filled(h, size, 2);
  const y = g.pool.acquire(size * 4), dx = g.pool.acquire(size * 4);
  const weight = filled(h, c, 3), bias = filled(h, c, 4);
  const runMean = filled(h, c, 5), runVar = g.upload(new Float32Array(c).fill(1));
  const dweight = g.pool.acquire(c * 4), dbias = g.pool.acquire(c * 4);
  const coef = g.pool.acquire(c * 16);
  try {
    const forward = () => {
      bn.batchNormTrainCoef(g, x, coef, s, {
        weight,
        bias,
        eps: 1e-5,
        running: { mean: runMean, var: runVar, momentum: 0.1 },
      });
      bn.batchNormApply(g, x, coef, y, s);
    };
    const fwd = await h.time(forward);
    const bwd = await h.time(() =>
      bn.batchNormBackward(g, x, dy, coef, s, { training: true, weight, dx, dweight, dbias })
    );
    const bytes = size * 4;
    return [
      // statistics read x; the apply reads x and writes y
      { op: "batchnorm fwd (train)", shape: words(shape), ms: fwd, bytes: 3 * bytes },
      // the gradient sums read x and dy; dx reads both again and writes dx
      { op: "batchnorm bwd (train)", shape: words(shape), ms: bwd, bytes: 5 * bytes },
    ];
  } finally {
    for (const b of [x, dy, y, dx, weight, bias, runMean, runVar, dweight, dbias, coef]) {
      g.pool.release(b);
    }
  }
}

async function timeMaxPool(h: Harness, shape: Shape4): Promise<BenchRow[]> {
  const g = h.gpu;
  const [n, c, hh, ww] = shape;
  const oh = pool.poolOutputSize(hh, 3, 2, 1), ow = pool.poolOutputSize(ww, 3, 2, 1);
  const s: pool.Pool2dShape = {
    n,
    c,
    h: hh,
    w: ww,
    oh,
    ow,
    kh: 3,
    kw: 3,
    sh: 2,
    sw: 2,
    ph: 1,
    pw: 1,
  };
  const inBytes = n * c * hh * ww * 4, outBytes = n * c * oh * ow * 4;
  const x = filled(h, inBytes / 4, 1), dy = filled(h, outBytes / 4, 2);
  const y = g.pool.acquire(outBytes), argmax = g.pool.acquire(outBytes);
  const dx = g.pool.acquire(inBytes);
  try {
    const fwd = await h.time(() => pool.maxPool2dForward(g, x, y, argmax, s));
    const bwd = await h.time(() => pool.maxPool2dBackward(g, dy, argmax, dx, s));
    const what = `${words(shape)} k3 s2 p1`;
    return [
      { op: "maxpool fwd", shape: what, ms: fwd, bytes: inBytes + 2 * outBytes },
      { op: "maxpool bwd", shape: what, ms: bwd, bytes: inBytes + 2 * outBytes },
    ];
  } finally {
    for (const b of [x, dy, y, argmax, dx]) g.pool.release(b);
  }
}

async function timeGlobalAvgPool(h: Harness, shape: Shape4): Promise<BenchRow[]> {
  const g = h.gpu;
  const [n, c, hh, ww] = shape;
  const s: pool.AdaptiveShape = { n, c, h: hh, w: ww, oh: 1, ow: 1 };
  const inBytes = n * c * hh * ww * 4, outBytes = n * c * 4;
  const x = filled(h, inBytes / 4, 1), dy = filled(h, n * c, 2);
  const y = g.pool.acquire(outBytes), dx = g.pool.acquire(inBytes);
  try {
    const fwd = await h.time(() => pool.adaptiveAvgPool2dForward(g, x, y, s));
    const bwd = await h.time(() => pool.adaptiveAvgPool2dBackward(g, dy, dx, s));
    return [
      { op: "global avgpool fwd", shape: words(shape), ms: fwd, bytes: inBytes + outBytes },
      { op: "global avgpool bwd", shape: words(shape), ms: bwd, bytes: inBytes + outBytes },
    ];
  } finally {
    for (const b of [x, dy, y, dx]) g.pool.release(b);
  }
}

export async function benchNormPool(h: Harness): Promise<BenchRow[]> {
  // quick mode: the first shape of each kind (batch 32 at 32x32)
  const pick = (shapes: Shape4[]) => (h.quick ? [shapes[0]] : shapes);
  const rows: BenchRow[] = [];
  for (const shape of pick(BN_SHAPES)) rows.push(...await timeBatchNorm(h, shape));
  for (const shape of pick(MAXPOOL_SHAPES)) rows.push(...await timeMaxPool(h, shape));
  for (const shape of pick(AVGPOOL_SHAPES)) rows.push(...await timeGlobalAvgPool(h, shape));
  return rows;
}
