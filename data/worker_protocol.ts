// Messages from the main thread to a loader Worker (replies are typed in worker_pool.ts).

import type { DatasetSpec } from "./dataset.ts";
import type { TransformSpec } from "./transforms/transform.ts";

export type WorkerRequest =
  | { type: "init"; dataset: DatasetSpec; transform: TransformSpec | null }
  | {
    type: "batch";
    id: number;
    indices: Int32Array;
    seed: number;
    epoch: number;
    /** Stack uint8 pixels (NHWC) instead of floats (see makeBatch). */
    bytes: boolean;
    /** How many times each index was drawn earlier in the epoch (see sampleSeed). */
    draws: Int32Array;
  };
