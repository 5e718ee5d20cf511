// GEMM: C = op(A)·op(B) (+ bias) for row-major f32 matrices, op = identity or transpose,
// optionally batched and optionally accumulated into C (C += ...).
//
// Two variants share the bindings and parameters declared here: the register-blocked one
// (gemm_registers.ts, for software adapters) and the workgroup-memory tiled one
// (gemm_tiled.ts, for GPUs). Which runs is tuning(g).gemm.variant unless a measured choice
// for the shape class exists (autotune.ts). The WGSL is generated from the variant's tiles,
// the transposes, whether each operand may be read as vec4 (its contiguous dimension and
// offsets are multiples of 4) and whether C is accumulated into; the bias mode is a uniform.
//
// A launch whose operands exceed one storage binding is split: along the batch when every
// matrix fits, otherwise into sub-problems along M, N or K (K pieces accumulate into C).

import { type Binding, type Gpu, GpuError } from "./device.ts";
import { defineKernel, type Params } from "./kernel.ts";
import { BIAS_M, BIAS_N, BIAS_NONE, type GemmLayout, registersBody } from "./gemm_registers.ts";
import { tiledBody, type TiledVariant } from "./gemm_tiled.ts";
import { type GemmVariant, type RegisterGemmTiles, tuning } from "./tuning.ts";
import { choose } from "./autotune.ts";

export interface GemmOptions {
  /** op(A) is m x k, op(B) is k x n, C is m x n (per batch item). */
  m: number;
  n: number;
  k: number;
  /** A is stored k x m (read transposed). */
  transA?: boolean;
  /** B is stored n x k (read transposed). */
  transB?: boolean;
  /** Number of independent products; default 1. */
  batch?: number;
  /** Elements between batch items; default the matrix size, 0 to share one matrix. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
  /** Added to every row (bias[n], the default axis "n") or every column (bias[m], "m"). */
  bias?: GPUBuffer;
  biasAxis?: "n" | "m";
  /** C += op(A)·op(B) (+ bias) instead of C = ... */
  accumulate?: boolean;
  /** Runs this variant whatever the tuning says (tests and the autotuner). */
  variant?: GemmVariant;
}

const PARAMS = {
  m: "u32",
  n: "u32",
  k: "u32",
  lda: "u32",
  ldb: "u32",
  ldc: "u32",
  offA: "u32",
  offB: "u32",
  offC: "u32",
  strideA: "u32",
  strideB: "u32",
  strideC: "u32",
  offBias: "u32",
  bias: "u32",
} as const;

const arr = (vec: boolean) => (vec ? "vec4f" : "f32");
const bindings = (v: GemmLayout) => [
  { name: "A", type: arr(v.vecA) },
  { name: "B", type: arr(v.vecB) },
  { name: "C", type: arr(v.vecC), access: "read_write" as const },
  { name: "bias", type: "f32" },
];
const layoutKey = (v: GemmLayout) =>
  `${+v.transA}${+v.transB}${+v.vecA}${+v.vecB}${+v.vecC}${+v.accumulate}`;

const REGISTERS = defineKernel({
  name: "gemm registers",
  key: (v: GemmLayout & { tiles: RegisterGemmTiles }) => {
    const t = v.tiles;
    return `${layoutKey(v)} ${t.wx}x${t.wy} ${t.tm}x${t.tn} ${+t.mFastest}`;
  },
  bindings,
  params: PARAMS,
  body: registersBody,
});

const TILED = defineKernel({
  name: "gemm tiled",
  key: (v: TiledVariant) => {
    const t = v.tiles;
    return `${layoutKey(v)} ${t.bm}x${t.bn}x${t.bk} ${t.tm}x${t.tn}`;
  },
  bindings,
  params: PARAMS,
  body: tiledBody,
});

/** The part of one operand a launch binds: a byte range and the element offset inside it. */
interface Span {
  binding: Binding;
  offset: number;
}

/**
 * Binds elements [start, start + length) of `buffer` (f32): the range begins at an aligned
 * byte offset at or before `start`, and `offset` says where `start` lies inside it.
 */
function span(g: Gpu, buffer: GPUBuffer, start: number, length: number): Span {
  const alignEl = g.storageAlign / 4;
  const first = Math.floor(start / alignEl) * alignEl;
  const bytes = Math.min(
    buffer.size - first * 4,
    Math.max(16, Math.ceil((start + length - first) / 4) * 16),
  );
  return { binding: { buffer, offset: first * 4, size: bytes }, offset: start - first };
}

/** One variant's compiled kernel for a layout, with the block of C each workgroup computes. */
interface Launchable {
  dispatch(
    bindings: readonly Binding[],
    params: Params<keyof typeof PARAMS>,
    groups: readonly [number, number?, number?],
    what: string,
  ): void;
  /** Rows and columns of C per workgroup; whether grid x walks the M blocks. */
  bm: number;
  bn: number;
  mFastest: boolean;
}

function launchable(g: Gpu, variant: GemmVariant, layout: GemmLayout): Launchable {
  const t = tuning(g).gemm;
  if (variant === "registers") {
    const r = t.registers;
    const k = REGISTERS.get(g, { ...layout, tiles: r });
    return {
      dispatch: (b, p, grid, what) => k.dispatch(b, p, grid, what),
      bm: r.wy * r.tm,
      bn: r.wx * r.tn,
      mFastest: r.mFastest,
    };
  }
  if (variant === "tiled") {
    const tiles = t.tiled;
    const k = TILED.get(g, { ...layout, tiles });
    return {
      dispatch: (b, p, grid, what) => k.dispatch(b, p, grid, what),
      bm: tiles.bm,
      bn: tiles.bn,
      mFastest: false,
    };
  }
  throw new GpuError(`gemm: the ${variant} variant is not available`);
}

/** The GEMM variants that can run a product; the autotuner times these. */
export const GEMM_VARIANTS: readonly GemmVariant[] = ["registers", "tiled"];

/** The shape class a measured choice is remembered for: transposes and rounded sizes. */
function shapeClass(o: GemmOptions, batch: number): string {
  const r = (x: number) => 2 ** Math.round(Math.log2(Math.max(1, x)));
  return `${o.transA ? "t" : "n"}${o.transB ? "t" : "n"} ${r(o.m)}x${r(o.n)}x${r(o.k)}` +
    (batch > 1 ? ` b${r(batch)}` : "");
}

/**
 * Records the product `o` again with `variant` on scratch buffers of the sizes it binds, for
 * the autotuner to time. The buffers go back to the pool right after recording: launches
 * recorded later that take them run after these (the pool keeps uploads away from them).
 */
function replay(
  g: Gpu,
  o: GemmOptions,
  bytes: { a: number; b: number; c: number; bias: number },
  variant: GemmVariant,
): void {
  const scratch = (size: number, label: string) => g.pool.acquire(Math.max(size, 4), label);
  const a = scratch(bytes.a, "gemm tuning A");
  const b = scratch(bytes.b, "gemm tuning B");
  const c = scratch(bytes.c, "gemm tuning C");
  const bias = o.bias ? scratch(bytes.bias, "gemm tuning bias") : undefined;
  try {
    gemm(g, a, b, c, { ...o, bias, variant });
  } finally {
    for (const x of [a, b, c, bias]) if (x) g.pool.release(x);
  }
}

/** C = op(A)·op(B) (+ bias), or C += ... with `accumulate`. Records the launches on `g`. */
export function gemm(g: Gpu, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, o: GemmOptions): void {
  const { m, n, k } = o;
  const transA = o.transA ?? false;
  const transB = o.transB ?? false;
  const batch = o.batch ?? 1;
  const sA = o.strideA ?? m * k;
  const sB = o.strideB ?? k * n;
  const sC = o.strideC ?? m * n;
  const what = `gemm[${batch > 1 ? `${batch}x` : ""}${m}x${n}x${k}${transA ? " At" : ""}${
    transB ? " Bt" : ""
  }]`;
  for (const d of [m, n, k, batch, sA, sB, sC]) {
    if (!Number.isInteger(d) || d < 0) throw new GpuError(`${what}: sizes must be integers >= 0`);
  }
  if (c === a || c === b) throw new GpuError(`${what}: the output C must not alias A or B`);
  if (o.bias && o.bias === c) throw new GpuError(`${what}: the output C must not alias the bias`);
  if (sC > 0 && sC < m * n && batch > 1) throw new GpuError(`${what}: batch items of C overlap`);
  const need = (buf: GPUBuffer, stride: number, size: number, name: string) => {
    const elements = batch > 0 && size > 0 ? (batch - 1) * stride + size : 0;
    if (elements * 4 > buf.size) {
      throw new GpuError(`${what}: ${name} holds ${buf.size} bytes, needs ${elements * 4}`);
    }
    return elements * 4;
  };
  const bytes = {
    a: need(a, sA, m * k, "A"),
    b: need(b, sB, k * n, "B"),
    c: need(c, sC, m * n, "C"),
    bias: 0,
  };
  const biasAxis = o.biasAxis ?? "n";
  if (o.bias) bytes.bias = need(o.bias, 0, biasAxis === "n" ? n : m, "bias");
  if (m === 0 || n === 0 || batch === 0) return;

  const variant = o.variant ??
    choose(
      g,
      "gemm",
      shapeClass(o, batch),
      GEMM_VARIANTS,
      tuning(g).gemm.variant,
      (v) => replay(g, o, bytes, v as GemmVariant),
    );
  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  const layout = {
    transA,
    transB,
    // vec4 reads need the contiguous dimension and every batch offset to be multiples of 4
    vecA: lda % 4 === 0 && sA % 4 === 0,
    vecB: ldb % 4 === 0 && sB % 4 === 0,
    vecC: n % 4 === 0 && sC % 4 === 0,
  };
  const plain = launchable(g, variant, { ...layout, accumulate: false });
  const accumulating = () => launchable(g, variant, { ...layout, accumulate: true });
  const launch = (
    sub: { m0: number; m: number; n0: number; n: number; k0: number; k: number },
    b0: number,
    count: number,
    accumulate: boolean,
    withBias: boolean,
  ) => {
    // byte ranges of the rows each operand needs, starting at batch item b0
    const rowsA = transA ? [sub.k0, sub.k] : [sub.m0, sub.m];
    const rowsB = transB ? [sub.n0, sub.n] : [sub.k0, sub.k];
    const inA = transA ? sub.m0 : sub.k0;
    const inB = transB ? sub.k0 : sub.n0;
    const extent = (stride: number, rows: number, ld: number) => (count - 1) * stride + rows * ld;
    const spA = span(g, a, b0 * sA + rowsA[0] * lda, extent(sA, rowsA[1], lda));
    const spB = span(g, b, b0 * sB + rowsB[0] * ldb, extent(sB, rowsB[1], ldb));
    const spC = span(g, c, b0 * sC + sub.m0 * n, extent(sC, sub.m, n));
    const kernel = accumulate ? accumulating() : plain;
    // without a bias, A (read-only, so aliasing is allowed) fills the bias slot
    const bound: Binding[] = [spA.binding, spB.binding, spC.binding, o.bias ?? spA.binding];
    const mBlocks = Math.ceil(sub.m / kernel.bm);
    const nBlocks = Math.ceil(sub.n / kernel.bn);
    const grid = kernel.mFastest
      ? [mBlocks, nBlocks, count] as const
      : [nBlocks, mBlocks, count] as const;
    kernel.dispatch(
      bound,
      {
        m: sub.m,
        n: sub.n,
        k: sub.k,
        lda,
        ldb,
        ldc: n,
        offA: spA.offset + inA,
        offB: spB.offset + inB,
        offC: spC.offset + sub.n0,
        strideA: sA,
        strideB: sB,
        strideC: sC,
        offBias: biasAxis === "n" ? sub.n0 : sub.m0,
        bias: !o.bias || !withBias ? BIAS_NONE : biasAxis === "n" ? BIAS_N : BIAS_M,
      },
      grid,
      what,
    );
  };

  const limit = Math.floor(g.maxBindingBytes / 4) - g.storageAlign / 4; // elements, room to align
  const maxGroups = g.maxWorkgroupsPerDim;
  const blockM = plain.bm;
  const blockN = plain.bn;
  const accumulate = o.accumulate ?? false;
  const whole = { m0: 0, m, n0: 0, n, k0: 0, k };
  if (
    Math.max(m * k, k * n, m * n) <= limit && Math.ceil(m / blockM) <= maxGroups &&
    Math.ceil(n / blockN) <= maxGroups
  ) {
    // every matrix fits one binding: split the batch only, so that each operand's items
    // (with the slack span() may add in front to align) stay within one binding
    let per = Math.min(batch, maxGroups);
    [[sA, m * k], [sB, k * n], [sC, m * n]].forEach(([stride, size]) => {
      if (stride > 0) per = Math.min(per, Math.max(1, Math.floor((limit - size) / stride) + 1));
    });
    for (let s = 0; s < batch; s += per) {
      launch(whole, s, Math.min(per, batch - s), accumulate, true);
    }
    return;
  }
  // a matrix is larger than one binding: cut each product into pieces whose rows fit
  const shrink = (x: number, name: string) => {
    if (x <= 4) {
      throw new GpuError(
        `${what}: cannot split ${name} to fit the ${g.maxBindingBytes}-byte binding limit`,
      );
    }
    return Math.max(4, Math.ceil(x / 8) * 4);
  };
  let mc = m;
  let nc = n;
  let kc = k;
  while ((transA ? kc * m : mc * k) > limit) {
    transA ? (kc = shrink(kc, "K")) : (mc = shrink(mc, "M"));
  }
  while ((transB ? nc * k : kc * n) > limit) {
    transB ? (nc = shrink(nc, "N")) : (kc = shrink(kc, "K"));
  }
  while (mc * n > limit || Math.ceil(mc / blockM) > maxGroups) mc = shrink(mc, "M");
  while (Math.ceil(nc / blockN) > maxGroups) nc = shrink(nc, "N");
  for (let item = 0; item < batch; item++) {
    for (let m0 = 0; m0 < m; m0 += mc) {
      for (let n0 = 0; n0 < n; n0 += nc) {
        for (let k0 = 0; k0 < Math.max(k, 1); k0 += Math.max(kc, 1)) {
          const sub = {
            m0,
            m: Math.min(mc, m - m0),
            n0,
            n: Math.min(nc, n - n0),
            k0,
            k: Math.min(kc, k - k0),
          };
          launch(sub, item, 1, accumulate || k0 > 0, k0 === 0);
        }
      }
    }
  }
}
