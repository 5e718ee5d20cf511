// conv2d on NCHW activations and OIHW weights (f32, groups = 1): the family's one door.
// The four launchers, side by side:
//
//   forward          y[n, o, oy, ox]  = bias[o] + sum over c, kh, kw of
//                                       w[o, c, kh, kw] * x[n, c, oy*s - pad + kh, ox*s - pad + kw]
//   input gradient   dx[n, c, iy, ix] = sum over o and the taps (kh, kw) that reach (iy, ix) of
//                                       w[o, c, kh, kw] * dy[n, o, (iy + pad - kh)/s, (ix + pad - kw)/s]
//   weight gradient  dw[o, c, kh, kw] = sum over n, oy, ox of
//                                       dy[n, o, oy, ox] * x[n, c, oy*s - pad + kh, ox*s - pad + kw]
//   bias gradient    db[o]            = sum over n, oy, ox of dy[n, o, oy, ox]
//
// (x read as 0 outside the image.) The first three are implicit GEMMs with two strategies
// (the STRATEGIES table below), chosen in `strategy()` and nowhere else:
// - "gather" (gather.ts, gather_weight_grad.ts): register blocks without workgroup memory,
//   each invocation gathering its inputs; tuned for CPU software adapters (lavapipe).
// - "implicit-gemm" (implicit_gemm.ts): workgroup-memory tiles of the GEMM; for GPUs.
// The default is the tuning table's `conv.variant` for the adapter; with autotuning on,
// the winner measured for the shape on this adapter (autotune.ts). The bias gradient is
// two row sums (reduce.ts).
//
// Every launcher works in chunks of images when a tensor exceeds one storage binding.
// Shared by the strategies: geometry.ts (the shape type and its checks), regions.ts (which
// kernel taps read pixels), split_k.ts (summing weight-gradient partials).

import type { Gpu } from "../device.ts";
import { choose } from "../autotune.ts";
import { sumAxis } from "../reduce.ts";
import { type ConvVariant, tuning } from "../tuning.ts";
import { checkSupported, type Conv2dGeometry, conv2dOutputSize, describeConv } from "./geometry.ts";
import { gatherForward, gatherInputGrad } from "./gather.ts";
import { gatherWeightGrad } from "./gather_weight_grad.ts";
import {
  implicitGemmForward,
  implicitGemmInputGrad,
  implicitGemmWeightGrad,
} from "./implicit_gemm.ts";

export { checkSupported, type Conv2dGeometry, conv2dOutputSize, describeConv };

/** Each strategy's launchers; `strategy()` picks the row, the launchers below the column. */
const STRATEGIES = {
  gather: {
    forward: gatherForward,
    inputGrad: gatherInputGrad,
    weightGrad: gatherWeightGrad,
  },
  "implicit-gemm": {
    forward: implicitGemmForward,
    inputGrad: implicitGemmInputGrad,
    weightGrad: implicitGemmWeightGrad,
  },
} as const satisfies Record<ConvVariant, unknown>;

/** The strategies every direction has; the autotuner times these. */
export const CONV_VARIANTS = Object.keys(STRATEGIES) as readonly ConvVariant[];

// In the launchers, `variant` runs that strategy whatever the tuning says (benchmarks).

/** y = conv2d(x, w) + bias: x [n, c, h, w], w [o, c, kh, kw], bias [o] or null -> y [n, o, oh, ow]. */
export function conv2dForward(
  g: Gpu,
  x: GPUBuffer,
  w: GPUBuffer,
  bias: GPUBuffer | null,
  y: GPUBuffer,
  s: Conv2dGeometry,
  variant?: ConvVariant,
): void {
  checkSupported(s);
  const { oh, ow } = conv2dOutputSize(s);
  const run = (v: ConvVariant, [x, w, bias, y]: (GPUBuffer | null)[]) =>
    STRATEGIES[v].forward(g, x!, w!, bias, y!, s);
  const sizes = [
    s.n * s.c * s.h * s.w,
    s.o * s.c * s.kh * s.kw,
    bias ? s.o : null,
    s.n * s.o * oh * ow,
  ];
  run(variant ?? strategy(g, "forward", s, sizes, run), [x, w, bias, y]);
}

/** dx = conv2d's input gradient from dy [n, o, oh, ow] and w; every element of dx is written. */
export function conv2dInputGrad(
  g: Gpu,
  dy: GPUBuffer,
  w: GPUBuffer,
  dx: GPUBuffer,
  s: Conv2dGeometry,
  variant?: ConvVariant,
): void {
  checkSupported(s);
  const { oh, ow } = conv2dOutputSize(s);
  const run = (v: ConvVariant, [dy, w, dx]: (GPUBuffer | null)[]) =>
    STRATEGIES[v].inputGrad(g, dy!, w!, dx!, s);
  const sizes = [s.n * s.o * oh * ow, s.o * s.c * s.kh * s.kw, s.n * s.c * s.h * s.w];
  run(variant ?? strategy(g, "input gradient", s, sizes, run), [dy, w, dx]);
}

/** dw = conv2d's weight gradient [o, c, kh, kw] from x and dy; written, not accumulated. */
export function conv2dWeightGrad(
  g: Gpu,
  x: GPUBuffer,
  dy: GPUBuffer,
  dw: GPUBuffer,
  s: Conv2dGeometry,
  variant?: ConvVariant,
): void {
  checkSupported(s);
  const { oh, ow } = conv2dOutputSize(s);
  const run = (v: ConvVariant, [x, dy, dw]: (GPUBuffer | null)[]) =>
    STRATEGIES[v].weightGrad(g, x!, dy!, dw!, s);
  const sizes = [s.n * s.c * s.h * s.w, s.n * s.o * oh * ow, s.o * s.c * s.kh * s.kw];
  run(variant ?? strategy(g, "weight gradient", s, sizes, run), [x, dy, dw]);
}

/** db[o] = sum over n, oh, ow of dy[n, o, oh, ow] (one strategy: two row sums). */
export function conv2dBiasGrad(g: Gpu, dy: GPUBuffer, db: GPUBuffer, s: Conv2dGeometry): void {
  checkSupported(s);
  const { oh, ow } = conv2dOutputSize(s);
  const perImage = g.pool.acquire(s.n * s.o * 4, "conv2d bias-gradient partials");
  sumAxis(g, dy, perImage, s.n * s.o, oh * ow, 1);
  sumAxis(g, perImage, db, 1, s.n, s.o);
  g.pool.release(perImage);
}

/**
 * The strategy for one direction of `s`: the measured winner for the shape on this adapter,
 * else the tuning table's. `run` records the op with a given strategy; the autotuner replays
 * it on scratch buffers of `sizes` floats (the op's buffers in order; null: none, no bias).
 */
function strategy(
  g: Gpu,
  direction: string,
  s: Conv2dGeometry,
  sizes: readonly (number | null)[],
  run: (v: ConvVariant, buffers: (GPUBuffer | null)[]) => void,
): ConvVariant {
  return choose(
    g,
    `conv2d ${direction}`,
    describeConv(s),
    CONV_VARIANTS,
    tuning(g).conv.variant,
    (v) => {
      const scratch = sizes.map((n) =>
        n === null ? null : g.pool.acquire(Math.max(n, 1) * 4, "conv2d tuning scratch")
      );
      try {
        run(v as ConvVariant, scratch);
      } finally {
        for (const b of scratch) if (b) g.pool.release(b);
      }
    },
  );
}
