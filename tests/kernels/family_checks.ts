// Checks of the sum, batchnorm and loss kernels (and a GEMM and a conv forward) against the
// plain-loop references, written against kernels/ only, with no Deno API, so the Deno
// tests and the in-browser tests (tests/browser/) run the same code. Each check throws on
// the first mismatch, naming the case; the variant that runs is whatever tuning(g) says,
// so callers force variants with overrideTuning and chunked launches with limits().

import { type Gpu, gpu } from "../../kernels/device.ts";
import {
  batchNormApply,
  batchNormBackward,
  batchNormEvalCoef,
  batchNormTrainCoef,
} from "../../kernels/batchnorm.ts";
import { conv2dForward } from "../../kernels/conv2d/mod.ts";
import { gemm } from "../../kernels/gemm.ts";
import * as loss from "../../kernels/loss.ts";
import { sumAxis } from "../../kernels/reduce.ts";
import { assertClose, randomArray } from "../numeric.ts";
import { batchNormBackwardRef, batchNormRef, type Shape4 } from "./batchnorm_reference.ts";
import { conv2dRef, geometry, outSize } from "./conv2d_reference.ts";
import {
  randomLabels,
  refArgmax,
  refCorrect,
  refGrad,
  refLogSumExp,
  refLoss,
  refSoftmax,
  refWeightedLoss,
} from "./loss_reference.ts";

/**
 * Runs `f` with the storage offset alignment and binding limit replaced (chunked launches
 * whose chunks start off the alignment), restoring both afterwards.
 */
export async function limits<T>(
  g: Gpu,
  o: { storageAlign?: number; maxBindingBytes?: number },
  f: () => Promise<T>,
): Promise<T> {
  const before = { storageAlign: g.storageAlign, maxBindingBytes: g.maxBindingBytes };
  g.storageAlign = o.storageAlign ?? before.storageAlign;
  g.maxBindingBytes = o.maxBindingBytes ?? before.maxBindingBytes;
  try {
    return await f();
  } finally {
    g.storageAlign = before.storageAlign;
    g.maxBindingBytes = before.maxBindingBytes;
  }
}

/** Buffers of one check, all returned to the pool at the end. */
class Buffers {
  readonly #all: GPUBuffer[] = [];
  constructor(readonly g: Gpu) {}
  up(data: Float32Array | Int32Array): GPUBuffer {
    const b = this.g.upload(data);
    this.#all.push(b);
    return b;
  }
  out(floats: number): GPUBuffer {
    const b = this.g.pool.acquire(Math.max(floats, 1) * 4, "check output");
    this.#all.push(b);
    return b;
  }
  async f32(...bs: [GPUBuffer, number][]): Promise<Float32Array[]> {
    const got = await this.g.read(bs.map(([buffer, n]) => ({ buffer, size: n * 4 })));
    return got.map((a) => new Float32Array(a));
  }
  async i32(b: GPUBuffer, n: number): Promise<Int32Array> {
    const [a] = await this.g.read([{ buffer: b, size: n * 4 }]);
    return new Int32Array(a);
  }
  [Symbol.dispose](): void {
    for (const b of this.#all) this.g.pool.release(b);
  }
}

/** [outer, reduce, inner] shapes: long rows (several passes), many rows, inner > 1, 1. */
export const SUM_CASES: [number, number, number][] = [
  [1, 5000, 1],
  [7, 300, 1],
  [100, 37, 1],
  [3, 100, 5],
  [1, 1, 1],
];

/** sumAxis against an f64 loop. */
export async function checkSums(g: Gpu = gpu(), label = ""): Promise<void> {
  let seed = 1;
  for (const [outer, reduce, inner] of SUM_CASES) {
    using b = new Buffers(g);
    const x = randomArray(outer * reduce * inner, seed++);
    const out = b.out(outer * inner);
    sumAxis(g, b.up(x), out, outer, reduce, inner, 0.5);
    const want = new Float64Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < reduce; r++) {
        for (let i = 0; i < inner; i++) {
          want[o * inner + i] += 0.5 * x[(o * reduce + r) * inner + i];
        }
      }
    }
    const [got] = await b.f32([out, outer * inner]);
    // f32 sums of `reduce` values in [-1, 1): rounding grows like sqrt(reduce) * 6e-8 per
    // partial; 1e-6 per term is generous and far below an element missed or added twice
    assertClose(got, want, {
      atol: 1e-6 * reduce,
      rtol: 1e-5,
      what: `${label} sum [${outer}x${reduce}x${inner}]`,
    });
  }
}

/** NCHW shapes: batch 1 odd sizes, many partials per channel, chunkable, a large mean. */
export interface BnCase {
  shape: Shape4;
  /** Added to the data, which is uniform in [-scale, scale). */
  offset?: number;
  scale?: number;
}

export const BN_CASES: BnCase[] = [
  { shape: [1, 3, 5, 7] },
  { shape: [9, 3, 6, 7] },
  { shape: [2, 3, 37, 41] },
  { shape: [4, 16, 4, 4] },
  { shape: [2, 3, 37, 41], offset: 1000, scale: 0.1 },
];

/** Cases whose images fit a 1024-byte binding, so that a 1024-byte limit chunks them. */
export const BN_SMALL_IMAGE_CASES: BnCase[] = [
  { shape: [9, 3, 6, 7] }, // 504-byte images, one per chunk
  { shape: [7, 5, 3, 3] }, // 180-byte images, 4 per chunk (720-byte steps)
  { shape: [6, 2, 5, 5], offset: 1000, scale: 0.1 }, // 200 bytes, 3 per chunk
];

/** Batchnorm statistics (with the running update), forward, and both backward modes. */
export async function checkBatchNorm(
  g: Gpu = gpu(),
  label = "",
  cases: readonly BnCase[] = BN_CASES,
): Promise<void> {
  let seed = 100;
  for (const { shape, offset = 0, scale = 1 } of cases) {
    using b = new Buffers(g);
    const [n, c, h, w] = shape;
    const size = n * c * h * w;
    const bn = { n, c, hw: h * w };
    const xs = randomArray(size, seed++, scale).map((v) => v + offset);
    const weight = randomArray(c, seed++).map((v) => v + 1.5);
    const bias = randomArray(c, seed++);
    const rm0 = randomArray(c, seed++);
    const rv0 = randomArray(c, seed++).map((v) => 0.5 + Math.abs(v));
    const dys = randomArray(size, seed++);
    const [x, dy, wt, bt, rm, rv] = [xs, dys, weight, bias, rm0, rv0].map((a) => b.up(a));
    const coef = b.out(4 * c), y = b.out(size);
    const dx = b.out(size), dw = b.out(c), db = b.out(c), dxEval = b.out(size);
    const evalCoef = b.out(4 * c), yEval = b.out(size);
    const eps = 1e-5;
    batchNormTrainCoef(g, x, coef, bn, {
      weight: wt,
      bias: bt,
      eps,
      running: { mean: rm, var: rv, momentum: 0.1 },
    });
    batchNormApply(g, x, coef, y, bn);
    batchNormBackward(g, x, dy, coef, bn, {
      training: true,
      weight: wt,
      dx,
      dweight: dw,
      dbias: db,
    });
    batchNormEvalCoef(g, rm, rv, evalCoef, c, { weight: wt, bias: bt, eps });
    batchNormApply(g, x, evalCoef, yEval, bn);
    batchNormBackward(g, x, dy, evalCoef, bn, { training: false, weight: wt, dx: dxEval });
    const [gy, grm, grv, gdx, gdw, gdb, gyEval, gdxEval] = await b.f32(
      [y, size],
      [rm, c],
      [rv, c],
      [dx, size],
      [dw, c],
      [db, c],
      [yEval, size],
      [dxEval, size],
    );
    const ref = batchNormRef(xs, shape, weight, bias, rm0, rv0);
    const refEval = batchNormRef(xs, shape, weight, bias, ref.runningMean, ref.runningVar, {
      training: false,
    });
    const back = batchNormBackwardRef(xs, dys, shape, weight, eps);
    const what = `${label} batchnorm [${shape}]${offset ? ` offset ${offset}` : ""}`;
    // y ~ N(0,1)·weight: f32 statistics give ~1e-6; with the 1000 offset the f32 mean is
    // off by ~half an ulp of 1000 (3e-5), 3e-4 standard deviations of the 0.1 spread
    const atol = offset ? 2e-3 : 2e-5;
    assertClose(gy, ref.y, { atol, rtol: 1e-4, what: `${what}: y` });
    assertClose(grm, ref.runningMean!, { atol: 1e-5, rtol: 1e-5, what: `${what}: running mean` });
    assertClose(grv, ref.runningVar!, { atol: 1e-6, rtol: 1e-4, what: `${what}: running var` });
    assertClose(gyEval, refEval.y, { atol, rtol: 1e-4, what: `${what}: eval y` });
    // gradients: sums of n·hw products of O(1) values (times invstd = 10 with scale 0.1)
    const m = n * h * w;
    const gtol = { atol: 2e-6 * m / scale, rtol: 1e-3 };
    assertClose(gdb, back.dbias, { ...gtol, what: `${what}: dbias` });
    assertClose(gdw, back.dweight, { ...gtol, what: `${what}: dweight` });
    // dx: with the 1000 offset, x - mean carries the f32 mean's error (5e-4 standard
    // deviations), amplified by dx's terms of a few units (measured up to 3e-3)
    assertClose(gdx, back.dx, { atol: offset ? 1e-2 : 1e-4, rtol: 1e-3, what: `${what}: dx` });
    const dxEvalRef = Float64Array.from(dys, (v, i) => {
      const ch = Math.floor(i / (h * w)) % c;
      return v * weight[ch] / Math.sqrt(ref.runningVar![ch] + eps);
    });
    assertClose(gdxEval, dxEvalRef, { atol: 1e-6, rtol: 1e-5, what: `${what}: eval dx` });
  }
}

/** [rows, classes, logit scale]: batch 1, CIFAR's 10, many rows, 1000 classes, ±80. */
export const LOSS_CASES: [number, number, number][] = [
  [1, 2, 1],
  [7, 10, 3],
  [100, 10, 2],
  [9, 1000, 4],
  [5, 10, 80],
];

/**
 * Cross-entropy forward/backward (unweighted and class-weighted), log-sum-exp, softmax,
 * argmax and correct counts.
 */
export async function checkLoss(
  g: Gpu = gpu(),
  label = "",
  cases: readonly [number, number, number][] = LOSS_CASES,
): Promise<void> {
  for (const [rows, classes, spread] of cases) {
    using b = new Buffers(g);
    const xs = randomArray(rows * classes, rows * 31 + classes, spread);
    const ys = randomLabels(rows, classes, rows + classes);
    const pred = refArgmax(xs, rows, classes);
    ys.forEach((_, r) => r % 3 === 0 && (ys[r] = pred[r])); // some rows right
    const eps = 0.1;
    const x = b.up(xs), y = b.up(ys), dLoss = b.up(new Float32Array([0.7]));
    const lossOut = b.out(1), grad = b.out(rows * classes), lse = b.out(rows);
    const probs = b.out(rows * classes), index = b.out(rows);
    const counts = b.up(new Int32Array(2));
    loss.crossEntropyForward(g, x, y, lossOut, rows, classes, eps);
    loss.crossEntropyBackward(g, x, y, dLoss, grad, rows, classes, eps);
    loss.logSumExpRows(g, x, lse, rows, classes);
    loss.softmaxRows(g, x, probs, rows, classes);
    loss.argmaxRows(g, x, index, rows, classes);
    loss.countCorrect(g, x, y, counts, rows, classes, true);
    // the class-weighted row pass (its gradient shares the element kernel checked in Deno)
    const ws = Float32Array.from({ length: classes }, (_, c) => 0.25 + (c % 5) / 2);
    const weighted = { weights: b.up(ws), total: b.out(1), sums: b.out(2) };
    const weightedOut = b.out(1);
    loss.crossEntropyForward(g, x, y, weightedOut, rows, classes, eps, weighted);
    const [gLoss, gGrad, gLse, gProbs, gWeighted] = await b.f32(
      [lossOut, 1],
      [grad, rows * classes],
      [lse, rows],
      [probs, rows * classes],
      [weightedOut, 1],
    );
    const what = `${label} loss ${rows}x${classes} ±${spread}`;
    assertClose(gWeighted, [refWeightedLoss(xs, ys, classes, ws, eps)], {
      atol: 2e-6 * spread,
      rtol: 1e-5,
      what: `${what}: weighted loss`,
    });
    // f32 log-sum-exp of logits of size |x|: relative error ~1e-7·|x|·log(C)
    assertClose(gLoss, [refLoss(xs, ys, classes, eps)], {
      atol: 2e-6 * spread,
      rtol: 1e-5,
      what: `${what}: loss`,
    });
    assertClose(gLse, Array.from({ length: rows }, (_, r) => refLogSumExp(xs, r, classes)), {
      atol: 2e-6 * spread,
      rtol: 1e-6,
      what: `${what}: log-sum-exp`,
    });
    // (p - t)/N entries: f32 exp gives ~1e-7·|x| relative error on p
    assertClose(gGrad, refGrad(xs, ys, classes, eps).map((v) => v * 0.7), {
      atol: 1e-6 / rows,
      rtol: 2e-5 * spread,
      what: `${what}: grad`,
    });
    assertClose(gProbs, refSoftmax(xs, rows, classes), {
      atol: 1e-7,
      rtol: 2e-5 * spread,
      what: `${what}: softmax`,
    });
    const gotIndex = await b.i32(index, rows);
    const gotCounts = await b.i32(counts, 2);
    const badIndex = gotIndex.findIndex((v, r) => v !== pred[r]);
    if (badIndex >= 0) {
      throw new Error(`${what}: argmax of row ${badIndex} is ${gotIndex[badIndex]}`);
    }
    if (gotCounts[0] !== refCorrect(xs, ys, classes) || gotCounts[1] !== 0) {
      throw new Error(`${what}: counts ${gotCounts}, expected ${refCorrect(xs, ys, classes)}, 0`);
    }
  }
}

/** One GEMM with a bias, tile remainders on every side, against an f64 loop. */
export async function checkGemm(g: Gpu = gpu(), label = ""): Promise<void> {
  using b = new Buffers(g);
  const [m, n, k] = [37, 29, 53];
  const as = randomArray(m * k, 1), bs = randomArray(k * n, 2), bias = randomArray(n, 3);
  const c = b.out(m * n);
  gemm(g, b.up(as), b.up(bs), c, { m, n, k, bias: b.up(bias) });
  // plain C = A·B + bias (the GEMM tests' own reference covers transposes and batches)
  const want = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias[j];
      for (let p = 0; p < k; p++) s += as[i * k + p] * bs[p * n + j];
      want[i * n + j] = s;
    }
  }
  const [got] = await b.f32([c, m * n]);
  // k = 53 products of values in [-1, 1): 1e-5·k covers f32 rounding with room
  assertClose(got, want, { atol: 1e-5 * k, rtol: 1e-5, what: `${label} gemm ${m}x${n}x${k}` });
}

/** A 3x3 stride-2 pad-1 conv forward with bias against the loop reference. */
export async function checkConvForward(g: Gpu = gpu(), label = ""): Promise<void> {
  using b = new Buffers(g);
  const s = geometry(2, 5, 9, 11, 7, 3, 2, 1);
  const [oh, ow] = outSize(s);
  const xs = randomArray(s.n * s.c * s.h * s.w, 4);
  const ws = randomArray(s.o * s.c * s.kh * s.kw, 5);
  const bs = randomArray(s.o, 6);
  const y = b.out(s.n * s.o * oh * ow);
  conv2dForward(g, b.up(xs), b.up(ws), b.up(bs), y, s);
  const [got] = await b.f32([y, s.n * s.o * oh * ow]);
  const terms = s.c * s.kh * s.kw;
  assertClose(got, conv2dRef(xs, ws, bs, s), {
    atol: 1e-5 + 1e-6 * terms,
    rtol: 1e-5,
    what: `${label} conv2d forward 3x3 s2 p1`,
  });
}
