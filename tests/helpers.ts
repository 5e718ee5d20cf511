// Shared test utilities: GPU start-up, closeness checks that name the worst element, and
// central finite differences in f64 on CPU reference functions.

import assert from "node:assert/strict";
import { initGpu } from "../kernels/device.ts";
import { Rng } from "../nn/random.ts";

export const gpuReady = initGpu();

/** Uniform values in [-1, 1) from a seed. */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  return new Rng(seed).fillUniform(new Float32Array(n), -scale, scale);
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise and names the worst
 * element when it fails.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4, what = "values" }: { atol?: number; rtol?: number; what?: string } =
    {},
): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: length ${actual.length} != ${expected.length}`,
  );
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const excess = err - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(atol ${atol}, rtol ${rtol})`,
    );
  }
}

/** The largest |a - b| (for reporting parity errors). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** d f / d x by central differences in f64 (f is a CPU reference computed in f64). */
export function numericGrad(
  f: (x: Float64Array) => number,
  x: ArrayLike<number>,
  eps = 1e-6,
): Float64Array {
  const xs = Float64Array.from(x);
  const grad = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    xs[i] = v + eps;
    const up = f(xs);
    xs[i] = v - eps;
    const down = f(xs);
    xs[i] = v;
    grad[i] = (up - down) / (2 * eps);
  }
  return grad;
}

/** sum(w * y): a scalar loss with a fixed random weighting, so every output matters. */
export function weightedSum(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i] * w[i];
  return s;
}

/**
 * Runs `f` with a smaller storage binding limit and/or a larger offset alignment (256 is
 * the WebGPU default and common on GPUs), so launches are chunked at unaligned offsets as
 * such adapters would chunk them; restores both afterwards.
 */
export async function withBindingLimits<T>(
  limits: { maxBindingBytes?: number; storageAlign?: number },
  f: () => T | Promise<T>,
): Promise<T> {
  const g = await gpuReady;
  const before = { maxBindingBytes: g.maxBindingBytes, storageAlign: g.storageAlign };
  g.maxBindingBytes = limits.maxBindingBytes ?? g.maxBindingBytes;
  g.storageAlign = limits.storageAlign ?? g.storageAlign;
  try {
    return await f();
  } finally {
    g.maxBindingBytes = before.maxBindingBytes;
    g.storageAlign = before.storageAlign;
  }
}
