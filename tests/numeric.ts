// Numeric test utilities with no Deno or Node APIs, so the same checks run in Deno tests
// and in a browser page (tests/browser/): seeded random data and closeness checks that
// name the worst element.

import { Rng } from "../base/rng.ts";

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
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  }
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
    throw new Error(
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
