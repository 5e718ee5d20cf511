// Plain-loop f64 references for softmax cross-entropy and top-1 metrics, used by the
// kernel tests in Deno and in the browser.

import { Rng } from "../../base/rng.ts";

export function refLogSumExp(x: ArrayLike<number>, r: number, classes: number): number {
  let m = -Infinity;
  for (let c = 0; c < classes; c++) m = Math.max(m, x[r * classes + c]);
  let s = 0;
  for (let c = 0; c < classes; c++) s += Math.exp(x[r * classes + c] - m);
  return m + Math.log(s);
}

/** torch.nn.functional.cross_entropy(x, y, label_smoothing=eps), mean reduction. */
export function refLoss(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  classes: number,
  eps: number,
): number {
  const rows = y.length;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const lse = refLogSumExp(x, r, classes);
    let meanNegLogP = 0;
    for (let c = 0; c < classes; c++) meanNegLogP += (lse - x[r * classes + c]) / classes;
    total += (1 - eps) * (lse - x[r * classes + y[r]]) + eps * meanNegLogP;
  }
  return total / rows;
}

/** d refLoss / d x, analytically: (softmax - target) / rows. */
export function refGrad(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  classes: number,
  eps: number,
): Float64Array {
  const rows = y.length;
  const g = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const lse = refLogSumExp(x, r, classes);
    for (let c = 0; c < classes; c++) {
      const target = (c === y[r] ? 1 - eps : 0) + eps / classes;
      g[r * classes + c] = (Math.exp(x[r * classes + c] - lse) - target) / rows;
    }
  }
  return g;
}

/**
 * torch.nn.CrossEntropyLoss(weight=w, label_smoothing=eps) in PyTorch 1.13, written as its
 * source computes it: (1-eps)·nll_loss(logp, y, weight=w) + eps/C·sum_r sum_c w[c]·(-logp[r,c])
 * / sum_r w[y[r]], the nll part itself a weighted mean over the same denominator.
 */
export function refWeightedLoss(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  classes: number,
  w: ArrayLike<number>,
  eps: number,
): number {
  let nll = 0, smooth = 0, denominator = 0;
  for (let r = 0; r < y.length; r++) {
    const lse = refLogSumExp(x, r, classes);
    nll += w[y[r]] * (lse - x[r * classes + y[r]]);
    for (let c = 0; c < classes; c++) smooth += w[c] * (lse - x[r * classes + c]);
    denominator += w[y[r]];
  }
  return (1 - eps) * nll / denominator + (eps / classes) * smooth / denominator;
}

/** d refWeightedLoss / d x, by central finite differences in f64 (step 1e-5). */
export function refWeightedGradNumeric(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  classes: number,
  w: ArrayLike<number>,
  eps: number,
): Float64Array {
  const xs = Float64Array.from(x);
  const g = new Float64Array(xs.length);
  const h = 1e-5;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    xs[i] = v + h;
    const up = refWeightedLoss(xs, y, classes, w, eps);
    xs[i] = v - h;
    const down = refWeightedLoss(xs, y, classes, w, eps);
    xs[i] = v;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

export function refSoftmax(x: ArrayLike<number>, rows: number, classes: number): Float64Array {
  const p = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const lse = refLogSumExp(x, r, classes);
    for (let c = 0; c < classes; c++) p[r * classes + c] = Math.exp(x[r * classes + c] - lse);
  }
  return p;
}

export function refArgmax(x: ArrayLike<number>, rows: number, classes: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 1; c < classes; c++) if (x[r * classes + c] > x[r * classes + out[r]]) out[r] = c;
  }
  return out;
}

export function refCorrect(x: ArrayLike<number>, y: ArrayLike<number>, classes: number): number {
  const pred = refArgmax(x, y.length, classes);
  return pred.reduce((s, p, r) => s + (p === y[r] ? 1 : 0), 0);
}

export function randomLabels(rows: number, classes: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const u = rng.fillUniform(new Float32Array(rows), 0, 1);
  return Int32Array.from(u, (v) => Math.min(classes - 1, Math.floor(v * classes)));
}
