// Tile parameters of the conv2d family, chosen per adapter; the WGSL in conv2d.ts and
// conv2d_weight_grad.ts is generated from these numbers, so tuning for an adapter means
// changing only this file.
//
// On CPU software drivers (llvmpipe/lavapipe) a workgroup runs as one SIMD thread and every
// divergent storage load becomes a loop over the lanes, so what wins is many FMAs per
// divergent load: 8 lanes, each keeping `bm` channels x 4 positions of accumulators, with
// the weights (or output gradients) of a block uniform across the workgroup.
// A real GPU wants more invocations per workgroup and fewer registers each.

import type { Gpu } from "./device.ts";
import { isSoftwareAdapter } from "./gemm_tiles.ts";

export interface ConvTiles {
  /** The forward / input-gradient gather: invocations per workgroup, channels each (x4). */
  readonly gather: { readonly wg: number; readonly bm: number };
  /**
   * The fixed cost of one more gather launch, in multiply-adds: a launch is split into border
   * regions (fewer multiplies by the zero padding) only when that saves more than this.
   */
  readonly launchMacs: number;
  /** The weight gradient: invocations per workgroup, output channels each (x4 columns). */
  readonly weight: { readonly wg: number; readonly bm: number };
  /**
   * Input gradients of convs with at most this many input channels (the stem: 3) run as a
   * GEMM into columns and a col2im (conv2d_input_grad_cols.ts) instead of the gather.
   */
  readonly colsMaxChannels: number;
  /** The weight gradient splits its long reduction until about this many workgroups run. */
  readonly minGroups: number;
  /** ... but keeps at least this many positions per split. */
  readonly minSpan: number;
}

export const SOFTWARE_CONV_TILES: ConvTiles = {
  gather: { wg: 8, bm: 32 },
  // ~30 us per dispatch at ~6 G multiply-adds/s
  launchMacs: 200_000,
  weight: { wg: 8, bm: 32 },
  // 3 channels fill 3 of the gather's 32 accumulator rows: columns + col2im run ~2x faster
  colsMaxChannels: 4,
  minGroups: 64,
  minSpan: 512,
};

export const GPU_CONV_TILES: ConvTiles = {
  gather: { wg: 64, bm: 8 },
  launchMacs: 2_000_000,
  weight: { wg: 64, bm: 8 },
  colsMaxChannels: 4,
  minGroups: 512,
  minSpan: 256,
};

const chosen = new WeakMap<Gpu, ConvTiles>();

/** The tiles conv2d launches use on `g`. */
export function convTiles(g: Gpu): ConvTiles {
  let t = chosen.get(g);
  if (!t) {
    t = isSoftwareAdapter(g) ? SOFTWARE_CONV_TILES : GPU_CONV_TILES;
    chosen.set(g, t);
  }
  return t;
}

/** Overrides the tiles for `g` (tests, benchmarks, tuning); null returns to the default. */
export function setConvTiles(g: Gpu, tiles: ConvTiles | null): void {
  if (!tiles) {
    chosen.delete(g);
    return;
  }
  for (const t of [tiles.gather, tiles.weight]) {
    if (!(t.bm > 0 && t.bm % 4 === 0 && t.wg > 0)) {
      throw new Error(`conv2d tiles: bm must be a positive multiple of 4, got ${t.bm}`);
    }
  }
  chosen.set(g, tiles);
}
