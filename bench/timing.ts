// The benchmark Harness: wall-clock timing of recorded launches with the GPU round trip
// removed. One measurement records `record` perBatch times into one submit, waits for the
// GPU, and subtracts the cost of waiting for an empty submit; the median over repeats is
// reported. Recording (CPU work) happens before the clock starts. (Timestamp queries would need hooks in the shared command encoder.)

import type { Gpu } from "../kernels/device.ts";
import type { Harness } from "./harness.ts";

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

export interface TimingOptions {
  quick?: boolean;
  /** Milliseconds of GPU work one measured batch aims for when perBatch is not given. */
  targetMs?: number;
}

export class WallClockHarness implements Harness {
  readonly quick: boolean;
  readonly #targetMs: number;
  #roundTripMs: number | null = null;

  constructor(readonly gpu: Gpu, options: TimingOptions = {}) {
    this.quick = options.quick ?? false;
    this.#targetMs = options.targetMs ?? (this.quick ? 30 : 150);
  }

  /** Milliseconds to submit nothing and wait for the GPU (median of several). */
  async roundTripMs(): Promise<number> {
    if (this.#roundTripMs === null) {
      await this.gpu.sync();
      const times: number[] = [];
      for (let i = 0; i < (this.quick ? 5 : 15); i++) times.push(await this.#waitEmpty());
      this.#roundTripMs = median(times);
    }
    return this.#roundTripMs;
  }

  async time(
    record: () => void,
    options: { repeats?: number; perBatch?: number } = {},
  ): Promise<number> {
    const rt = await this.roundTripMs();
    // warm-up: compiles pipelines, fills the buffer pool, faults in memory
    record();
    await this.gpu.sync();
    let perBatch = options.perBatch;
    if (perBatch === undefined) {
      const once = Math.max(await this.#batch(record, 1) - rt, 0.05);
      perBatch = Math.max(1, Math.min(200, Math.round(this.#targetMs / once)));
    }
    const repeats = options.repeats ?? (this.quick ? 3 : 7);
    const perCall: number[] = [];
    for (let r = 0; r < repeats; r++) {
      perCall.push(Math.max(await this.#batch(record, perBatch) - rt, 0) / perBatch);
    }
    return median(perCall);
  }

  async #batch(record: () => void, count: number): Promise<number> {
    await this.gpu.sync();
    // The clock starts after recording (CPU work) unless recording had to submit early
    // (the uniform arena filled), in which case the GPU was already running.
    const before = performance.now();
    const submits = this.gpu.counters.submits;
    for (let i = 0; i < count; i++) record();
    const t0 = this.gpu.counters.submits === submits ? performance.now() : before;
    await this.gpu.sync();
    return performance.now() - t0;
  }

  async #waitEmpty(): Promise<number> {
    const t0 = performance.now();
    this.gpu.device.queue.submit([]);
    await this.gpu.device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  }
}
