// Shape helpers every room uses: equality, element counts, and the (height, width) pairs
// that conv, pooling and their layers accept as one number or two.

import { ArgumentError } from "./errors.ts";

/** A tensor's dimensions, outermost first. */
export type Shape = readonly number[];

/** One value for both spatial dimensions, or [height, width]. */
export type Pair = number | readonly [number, number];

/** True when both shapes have the same rank and extents. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Number of elements ([] is a scalar: 1); throws on an extent that is not a whole number. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ArgumentError(`invalid shape [${shape}]`);
    n *= d;
  }
  return n;
}

/** [height, width] of a Pair. */
export function pair(v: Pair): [number, number] {
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}
