// conv2d benchmark rows: forward, input gradient and weight gradient for every distinct
// conv shape of ResNet18, at batch 32 on 32x32 images and at batch 8 on 224x224 images,
// for each strategy (the op says which: "gather" or "igemm", the implicit GEMM on
// workgroup-memory tiles; a "*" marks the adapter's default). The implicit GEMM's rows at
// 224x224 are left out on software adapters, where it is only checked for correctness.
// FLOPs per direction = 2 * N * OH * OW * O * C * KH * KW.

import {
  conv2dForward,
  type Conv2dGeometry,
  conv2dInputGrad,
  conv2dOutputSize,
  conv2dWeightGrad,
  CONV_VARIANTS,
  describeConv,
} from "../kernels/conv2d/mod.ts";
import { type ConvVariant, tuning } from "../kernels/tuning.ts";
import type { BenchRow, Harness } from "./harness.ts";

// [in channels, out channels, kernel, stride, input size at 224x224] of ResNet18's convs
const RESNET18_CONVS: [number, number, number, number, number][] = [
  [3, 64, 7, 2, 224], // stem
  [64, 64, 3, 1, 56], // layer1
  [64, 128, 3, 2, 56], // layer2: first conv, its 1x1 downsample, the rest
  [64, 128, 1, 2, 56],
  [128, 128, 3, 1, 28],
  [128, 256, 3, 2, 28], // layer3
  [128, 256, 1, 2, 28],
  [256, 256, 3, 1, 14],
  [256, 512, 3, 2, 14], // layer4
  [256, 512, 1, 2, 14],
  [512, 512, 3, 1, 7],
];

/** ResNet18's conv geometries for `batch` images of `size` x `size` pixels. */
export function resnet18Convs(batch: number, size: number): Conv2dGeometry[] {
  return RESNET18_CONVS.map(([c, o, k, stride, at224]) => {
    const h = Math.max(1, Math.round((at224 * size) / 224));
    const pad = (k - 1) >> 1;
    return {
      n: batch,
      c,
      h,
      w: h,
      o,
      kh: k,
      kw: k,
      strideH: stride,
      strideW: stride,
      padH: pad,
      padW: pad,
    };
  });
}

export function convFlops(s: Conv2dGeometry): number {
  const { oh, ow } = conv2dOutputSize(s);
  return 2 * s.n * oh * ow * s.o * s.c * s.kh * s.kw;
}

const SHORT: Record<ConvVariant, string> = { gather: "gather", "implicit-gemm": "igemm" };

/** Times the three directions of one conv with `variant` on deterministic pseudo-random data. */
export async function timeConv(
  h: Harness,
  s: Conv2dGeometry,
  variant: ConvVariant,
): Promise<BenchRow[]> {
  const g = h.gpu;
  const { oh, ow } = conv2dOutputSize(s);
  const data = (count: number, seed: number) => {
    const v = new Float32Array(count);
    for (let i = 0; i < count; i++) v[i] = ((i * 7919 + seed) % 1000) / 1000 - 0.5;
    return g.upload(v, "bench conv operand");
  };
  const x = data(s.n * s.c * s.h * s.w, 1);
  const w = data(s.o * s.c * s.kh * s.kw, 2);
  const dy = data(s.n * s.o * oh * ow, 3);
  const y = g.pool.acquire(s.n * s.o * oh * ow * 4, "bench conv y");
  const dx = g.pool.acquire(s.n * s.c * s.h * s.w * 4, "bench conv dx");
  const dw = g.pool.acquire(s.o * s.c * s.kh * s.kw * 4, "bench conv dw");
  const shape = describeConv(s);
  const flops = convFlops(s);
  const repeats = h.quick ? 3 : 5;
  try {
    const rows: BenchRow[] = [];
    const tag = `${SHORT[variant]}${variant === tuning(g).conv.variant ? "*" : ""}`;
    const fwd = await h.time(() => conv2dForward(g, x, w, null, y, s, variant), { repeats });
    rows.push({ op: `conv2d fwd ${tag}`, shape, ms: fwd, flops });
    const dIn = await h.time(() => conv2dInputGrad(g, dy, w, dx, s, variant), { repeats });
    rows.push({ op: `conv2d dx ${tag}`, shape, ms: dIn, flops });
    const dW = await h.time(() => conv2dWeightGrad(g, x, dy, dw, s, variant), { repeats });
    rows.push({ op: `conv2d dw ${tag}`, shape, ms: dW, flops });
    return rows;
  } finally {
    for (const b of [x, w, dy, y, dx, dw]) g.pool.release(b);
  }
}

export async function benchConv(h: Harness): Promise<BenchRow[]> {
  const small = h.quick
    ? resnet18Convs(2, 32).filter((_, i) => i === 0 || i === 1 || i === 3)
    : resnet18Convs(32, 32);
  const large = h.quick ? [] : resnet18Convs(8, 224);
  const software = h.gpu.profile.kind === "software";
  const rows: BenchRow[] = [];
  for (const s of [...small, ...large]) {
    for (const v of CONV_VARIANTS) {
      if (software && v === "implicit-gemm" && large.includes(s)) continue;
      rows.push(...await timeConv(h, s, v));
    }
  }
  return rows;
}
