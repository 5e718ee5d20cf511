// Plain-loop f64 references for batch normalisation (PyTorch's F.batch_norm and its
// gradients), used by the kernel tests in Deno and in the browser.

import type { BatchNormOptions } from "../../nn/ops/norm.ts";

/** N, C, H, W */
export type Shape4 = [number, number, number, number];

export interface RefOut {
  y: Float64Array;
  runningMean: Float64Array | null;
  runningVar: Float64Array | null;
}

/** PyTorch's F.batch_norm as plain loops in f64. */
export function batchNormRef(
  x: ArrayLike<number>,
  [n, c, h, w]: Shape4,
  weight: ArrayLike<number> | null,
  bias: ArrayLike<number> | null,
  runningMean: ArrayLike<number> | null,
  runningVar: ArrayLike<number> | null,
  { training = true, momentum = 0.1, eps = 1e-5 }: BatchNormOptions = {},
): RefOut {
  const hw = h * w, m = n * hw;
  const y = new Float64Array(n * c * hw);
  const rm = runningMean ? Float64Array.from(runningMean) : null;
  const rv = runningVar ? Float64Array.from(runningVar) : null;
  for (let ch = 0; ch < c; ch++) {
    let mean: number, variance: number;
    if (training) {
      mean = 0;
      for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) mean += x[(b * c + ch) * hw + i];
      mean /= m;
      let ss = 0;
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < hw; i++) ss += (x[(b * c + ch) * hw + i] - mean) ** 2;
      }
      variance = ss / m;
      if (rm && rv) {
        rm[ch] = (1 - momentum) * rm[ch] + momentum * mean;
        rv[ch] = (1 - momentum) * rv[ch] + momentum * (ss / (m - 1));
      }
    } else {
      mean = runningMean![ch];
      variance = runningVar![ch];
    }
    const invstd = 1 / Math.sqrt(variance + eps);
    const g = weight ? weight[ch] : 1, be = bias ? bias[ch] : 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        const at = (b * c + ch) * hw + i;
        y[at] = (x[at] - mean) * invstd * g + be;
      }
    }
  }
  return { y, runningMean: rm, runningVar: rv };
}

/**
 * Training-mode gradients from the closed form: dx = g·invstd/m · (m·dy − Σdy − x̂·Σ(dy·x̂)),
 * dweight = Σ dy·x̂, dbias = Σ dy (sums over N, H, W per channel).
 */
export function batchNormBackwardRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  [n, c, h, w]: Shape4,
  weight: ArrayLike<number> | null,
  eps = 1e-5,
): { dx: Float64Array; dweight: Float64Array; dbias: Float64Array } {
  const hw = h * w, m = n * hw;
  const dx = new Float64Array(n * c * hw);
  const dweight = new Float64Array(c);
  const dbias = new Float64Array(c);
  const at = (b: number, ch: number, i: number) => (b * c + ch) * hw + i;
  for (let ch = 0; ch < c; ch++) {
    let mean = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) mean += x[at(b, ch, i)];
    mean /= m;
    let ss = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) ss += (x[at(b, ch, i)] - mean) ** 2;
    const invstd = 1 / Math.sqrt(ss / m + eps);
    let sdy = 0, sdyx = 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        sdy += dy[at(b, ch, i)];
        sdyx += dy[at(b, ch, i)] * (x[at(b, ch, i)] - mean) * invstd;
      }
    }
    dweight[ch] = sdyx;
    dbias[ch] = sdy;
    const k = (weight ? weight[ch] : 1) * invstd / m;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        const xhat = (x[at(b, ch, i)] - mean) * invstd;
        dx[at(b, ch, i)] = k * (m * dy[at(b, ch, i)] - sdy - xhat * sdyx);
      }
    }
  }
  return { dx, dweight, dbias };
}
