// Shared test utilities: GPU start-up, the numeric checks of numeric.ts, and central
// finite differences in f64 on CPU reference functions.

import { initGpu } from "../kernels/device.ts";
import { limits } from "./kernels/family_checks.ts";

// seeded data and closeness checks live in numeric.ts (shared with the browser tests)
export { assertClose, maxAbsDiff, randomArray } from "./numeric.ts";

export const gpuReady = initGpu();

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
  l: { maxBindingBytes?: number; storageAlign?: number },
  f: () => T | Promise<T>,
): Promise<T> {
  return limits(await gpuReady, l, async () => await f());
}
