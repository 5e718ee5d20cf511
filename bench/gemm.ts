// GEMM benchmark rows: square products at 256..2048, and the transposed forms that a linear
// layer's backward uses, at 1024.

import { gemm } from "../kernels/gemm.ts";
import type { BenchRow, Harness } from "./harness.ts";

/** Times one product C = op(A)·op(B) with random operands. */
export async function timeGemm(
  h: Harness,
  m: number,
  n: number,
  k: number,
  options: { transA?: boolean; transB?: boolean } = {},
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
    return { op: `gemm ${form}`, shape: `${m}x${n}x${k}`, ms, flops: 2 * m * n * k };
  } finally {
    for (const x of [a, b, c]) g.pool.release(x);
  }
}

export async function benchGemm(h: Harness): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const s of h.quick ? [256, 512] : [256, 512, 1024, 2048]) {
    rows.push(await timeGemm(h, s, s, s));
  }
  if (!h.quick) {
    rows.push(await timeGemm(h, 1024, 1024, 1024, { transB: true })); // x·Wᵀ, dY·W is A·B
    rows.push(await timeGemm(h, 1024, 1024, 1024, { transA: true })); // dYᵀ·X
    rows.push(await timeGemm(h, 1000, 1001, 999)); // no dimension a multiple of 4: scalar path
  }
  return rows;
}
