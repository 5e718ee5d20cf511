// Tile parameters of the GEMM family, chosen per adapter. The kernel in gemm.ts is generated
// from these numbers, so tuning for a new adapter means adding a case here, nothing else.
//
// Software drivers (llvmpipe/lavapipe, SwiftShader) run a workgroup as one SIMD thread and
// turn every divergent storage load into a loop over the lanes, so what wins there is many
// FMAs per loaded element: a workgroup of 8 lanes side by side along N (the A loads are then
// the same address in every lane, a single broadcast load), each lane an 8x16 register
// block, and consecutive workgroups walking down M so they reuse one strip of B from cache.
// A real GPU wants many more invocations per workgroup and smaller register blocks.

import type { Gpu } from "./device.ts";

export interface GemmTiles {
  /** Invocations per workgroup along N (x) and M (y). */
  readonly wx: number;
  readonly wy: number;
  /** Outputs per invocation along M (rows) and N (columns); both multiples of 4. */
  readonly tm: number;
  readonly tn: number;
  /** Whether workgroup x walks the M blocks (neighbours share a B strip) or the N blocks. */
  readonly mFastest: boolean;
}

/** Tiles for CPU software drivers (measured on lavapipe, 2 cores, AVX2/AVX-512). */
export const SOFTWARE_TILES: GemmTiles = { wx: 8, wy: 1, tm: 8, tn: 16, mFastest: true };

/** Tiles for real GPUs: a 64x64 block per workgroup of 16x16 invocations, 4x4 each. */
export const GPU_TILES: GemmTiles = { wx: 16, wy: 16, tm: 4, tn: 4, mFastest: false };

const chosen = new WeakMap<Gpu, GemmTiles>();

/** Whether `g` is a CPU software driver rather than a GPU. */
export function isSoftwareAdapter(g: Gpu): boolean {
  const d = g.describe();
  return d.fallback || /llvmpipe|lavapipe|swiftshader|software/i.test(d.description);
}

/** The tiles used for launches on `g`. */
export function gemmTiles(g: Gpu): GemmTiles {
  let t = chosen.get(g);
  if (!t) {
    t = isSoftwareAdapter(g) ? SOFTWARE_TILES : GPU_TILES;
    chosen.set(g, t);
  }
  return t;
}

/** Overrides the tiles for `g` (benchmarks and tuning); null returns to the default. */
export function setGemmTiles(g: Gpu, tiles: GemmTiles | null): void {
  if (!tiles) {
    chosen.delete(g);
    return;
  }
  if (tiles.tm % 4 || tiles.tn % 4 || tiles.tm <= 0 || tiles.tn <= 0) {
    throw new Error(
      `gemm tiles: tm and tn must be positive multiples of 4, got ${tiles.tm}x${tiles.tn}`,
    );
  }
  chosen.set(g, tiles);
}
