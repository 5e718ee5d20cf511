// Benchmark plumbing shared by every kernel family: GPU timing and the printed table.
// Each family exports `async function bench<Family>(h: Harness): Promise<BenchRow[]>`.

import type { Gpu } from "../kernels/device.ts";

export interface BenchRow {
  /** The op, e.g. "gemm", "conv2d fwd gather*", "conv2d dx igemm". */
  op: string;
  /** The shape in words, e.g. "1024x1024x1024" or "N32 C64->64 32x32 k3 s1". */
  shape: string;
  /** Median milliseconds of GPU work per run. */
  ms: number;
  /** Floating-point operations per run (2 per multiply-add), for GFLOP/s. */
  flops?: number;
  /** Bytes moved per run, for memory-bound ops (GB/s). */
  bytes?: number;
}

export interface Harness {
  readonly gpu: Gpu;
  /** Quick mode (tests, CI): fewer repeats and shapes. */
  readonly quick: boolean;
  /**
   * Median milliseconds of GPU work for one call of `record` (which only records launches),
   * after warm-up; the round-trip cost of waiting for the GPU is measured and removed.
   */
  time(record: () => void, options?: { repeats?: number; perBatch?: number }): Promise<number>;
}
