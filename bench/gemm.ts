// GEMM benchmark rows: square products at 256..1024 and the transposed forms that a linear
// layer's backward uses at 1024, each with every variant (registers and tiled) so that one
// table compares them on this adapter; 2048 with the tuning table's default variant only.

import { gemm, GEMM_VARIANTS } from "../kernels/gemm.ts";
import { type GemmVariant, tuning } from "../kernels/tuning.ts";
import type { BenchRow, Harness } from "./harness.ts";

/** Times one product C = op(A)·op(B) with random operands (`variant` forced if given). */
export async function timeGemm(
  h: Harness,
  m: number,
  n: number,
  k: number,
  options: { transA?: boolean; transB?: boolean; variant?: GemmVariant } = {},
): Promise<BenchRow> {
  const g = h.gpu;
  const fill = (count: number, seed: number) => {
    const x = new Float32Array(count);
    for (let i = 0; i < count; i++) x[i] = ((i * 7919 + seed) % 1000) / 1000 - 0.5;
    return x;
  };
  const a = g.upload(fill(m * k, 1), "bench A");
  const b = g.upload(fill(k * n, 2), "bench B");
  const c = g.pool.acquire(m * n * 4, "bench C");
  try {
    const ms = await h.time(() => gemm(g, a, b, c, { m, n, k, ...options }));
    const form = `${options.transA ? "Aᵀ" : "A"}·${options.transB ? "Bᵀ" : "B"}`;
    const v = options.variant;
    const which = v ? ` ${v}${v === tuning(g).gemm.variant ? " (default)" : ""}` : "";
    return { op: `gemm ${form}`, shape: `${m}x${n}x${k}${which}`, ms, flops: 2 * m * n * k };
  } finally {
    for (const x of [a, b, c]) g.pool.release(x);
  }
}

export async function benchGemm(h: Harness): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const all = async (
    m: number,
    n: number,
    k: number,
    o: { transA?: boolean; transB?: boolean },
  ) => {
    for (const variant of GEMM_VARIANTS) rows.push(await timeGemm(h, m, n, k, { ...o, variant }));
  };
  for (const s of h.quick ? [256, 512] : [256, 512, 1024]) await all(s, s, s, {});
  if (!h.quick) {
    rows.push(await timeGemm(h, 2048, 2048, 2048));
    await all(1024, 1024, 1024, { transB: true }); // x·Wᵀ, dY·W is A·B
    await all(1024, 1024, 1024, { transA: true }); // dYᵀ·X
    await all(1000, 1001, 999, {}); // no dimension a multiple of 4: scalar path
  }
  return rows;
}
