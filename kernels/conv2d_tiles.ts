// The conv2d family's tile parameters come from the one tuning table (tuning.ts).

import type { Gpu } from "./device.ts";
import { type ConvTuning, overrideTuning, tuning } from "./tuning.ts";

export type ConvTiles = ConvTuning;

/** The tiles conv2d launches use on `g`. */
export function convTiles(g: Gpu): ConvTiles {
  return tuning(g).conv;
}

/** Overrides the conv tiles for `g` (tests, benchmarks); null returns to the table. */
export function setConvTiles(g: Gpu, tiles: Partial<ConvTiles> | null): void {
  overrideTuning(g, tiles ? { conv: tiles } : null);
}
