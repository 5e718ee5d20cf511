// DataLoader: seeded shuffling (a new order each epoch, reproducible) or a sampler's order,
// batching with dropLast, and prefetching through Deno Workers. Each sample's augmentation
// seed is derived from (seed, epoch, index) and, for an index drawn again in the same epoch
// (a sampler with replacement), how many times it was drawn before, so every draw gets its
// own augmentation and batches are identical for any numWorkers.

import {
  type Batch,
  type BatchResult,
  bytesToFloats,
  makeBatch,
  type SkippedSample,
} from "./collate.ts";
import type { Dataset } from "./dataset.ts";
import { mixSeed, Rng } from "../base/rng.ts";
import { splitTensorTail } from "./transforms/compose.ts";
import { byteToFloatTable, type Normalize } from "./transforms/tensor.ts";
import type { Transform } from "./transforms/transform.ts";
import type { Sampler } from "./weighted_sampler.ts";
import { skipWarning } from "./skip_report.ts";
import { WorkerPool } from "./worker_pool.ts";

/** Options of `DataLoader` (torch.utils.data.DataLoader's). */
export interface DataLoaderOptions {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Reshuffle every epoch (default false: dataset order). */
  shuffle?: boolean;
  /**
   * Where each epoch's order comes from instead (e.g. a WeightedRandomSampler; not with
   * shuffle): an epoch then has sampler.length samples.
   */
  sampler?: Sampler;
  /** Seeds the shuffle and the augmentations (default 0). */
  seed?: number;
  /** Drop the last incomplete batch (default false). */
  dropLast?: boolean;
  /** Applied to every sample; should end with ToTensor (and Normalize). */
  transform?: Transform;
  /** Worker threads decoding ahead; 0 (default) loads in the calling thread. */
  numWorkers?: number;
  /**
   * Leave a trailing ToTensor (+ Normalize) of the transform to the consumer (default
   * true): batches then carry NHWC bytes (`pixels`, a quarter of the floats) for the GPU
   * to convert, and `images` is computed from them only when read; the floats are the same.
   */
  deferTensor?: boolean;
  /** Batches in flight per Worker (default 2). */
  prefetch?: number;
  /** Keep the Workers between epochs; then call close() when done (default false). */
  persistentWorkers?: boolean;
  /**
   * Receives the once-per-epoch report of skipped samples, the first 10 listed (default
   * console.warn).
   */
  warn?: (message: string) => void;
}

/** Batches of a dataset, shuffled, transformed and collated, optionally decoded in Workers. */
export class DataLoader implements AsyncIterable<Batch> {
  /** Samples per batch. */
  readonly batchSize: number;
  /** The epoch the next iteration will run; advances after each iteration starts. */
  epoch = 0;
  /** Every sample skipped so far because its file could not be decoded. */
  readonly skipped: SkippedSample[] = [];
  private readonly opts: DataLoaderOptions;
  private pool: WorkerPool | null = null;
  /** The transform the samples go through, and the deferred float tail (null: none). */
  private readonly pipeline: {
    transform: Transform | null;
    deferred: { normalize: Normalize | null } | null;
  };
  private readonly tables = new Map<number, Float32Array>();

  /** Batches of `dataset`; see DataLoaderOptions. */
  constructor(readonly dataset: Dataset, opts: DataLoaderOptions = {}) {
    this.opts = opts;
    this.batchSize = opts.batchSize ?? 1;
    if (!(Number.isInteger(this.batchSize) && this.batchSize > 0)) {
      throw new RangeError(
        `DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`,
      );
    }
    const nw = opts.numWorkers ?? 0;
    if (!(Number.isInteger(nw) && nw >= 0)) {
      throw new RangeError(`DataLoader: numWorkers must be >= 0, got ${nw}`);
    }
    if (dataset.length === 0) throw new RangeError("DataLoader: the dataset is empty");
    if (opts.sampler && opts.shuffle) {
      throw new RangeError(
        "DataLoader: sampler and shuffle cannot be used together (the sampler sets the order)",
      );
    }
    const split = (opts.deferTensor ?? true) ? splitTensorTail(opts.transform ?? null) : null;
    this.pipeline = split
      ? { transform: split.pixels, deferred: { normalize: split.normalize } }
      : { transform: opts.transform ?? null, deferred: null };
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.opts.sampler?.length ?? this.dataset.length, b = this.batchSize;
    return this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** Sample order of an epoch. */
  order(epoch: number): Int32Array {
    const n = this.dataset.length;
    if (this.opts.sampler) {
      const order = this.opts.sampler.order(epoch);
      const bad = order.findIndex((i) => !(i >= 0 && i < n));
      if (bad >= 0) {
        throw new RangeError(
          `DataLoader: the sampler gave index ${order[bad]} for a dataset of ${n} samples`,
        );
      }
      return order;
    }
    if (this.opts.shuffle) {
      return Rng.mixed(mixSeed(this.opts.seed ?? 0, epoch, 0x5eed)).permutation(n);
    }
    const o = new Int32Array(n);
    for (let i = 0; i < n; i++) o[i] = i;
    return o;
  }

  /** The epoch's batches: dataset indices and each one's earlier draws in the epoch.
   * @ignore */
  private batchIndices(epoch: number): { indices: Int32Array; draws: Int32Array }[] {
    const order = this.order(epoch);
    const seen = new Int32Array(this.dataset.length);
    const draws = order.map((i) => seen[i]++);
    const out = [];
    for (let b = 0; b < this.length; b++) {
      const [from, to] = [b * this.batchSize, (b + 1) * this.batchSize];
      out.push({ indices: order.subarray(from, to), draws: draws.subarray(from, to) });
    }
    return out;
  }

  /** One epoch's batches; each iteration is the next epoch. */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.run(this.epoch++);
  }

  /** Iterates one epoch (by number), without changing `epoch`. */
  async *run(epoch: number): AsyncGenerator<Batch> {
    const seed = this.opts.seed ?? 0;
    const { transform, deferred } = this.pipeline;
    const bytes = deferred !== null;
    const batches = this.batchIndices(epoch);
    const skippedThisEpoch: SkippedSample[] = [];
    const numWorkers = this.opts.numWorkers ?? 0;
    try {
      if (numWorkers === 0) {
        for (const { indices, draws } of batches) {
          const r = makeBatch(this.dataset, transform, indices, seed, epoch, bytes, draws);
          skippedThisEpoch.push(...r.skipped);
          if (r.shape[0] > 0) yield this.toBatch(r);
        }
      } else {
        this.pool ??= new WorkerPool(numWorkers, this.dataset.spec(), transform?.spec() ?? null);
        const pool = this.pool;
        const depth = numWorkers * (this.opts.prefetch ?? 2);
        // Batches are yielded in order; each new request goes to the Worker with the
        // fewest unfinished ones, so a slow batch (first decodes) does not idle the others.
        const queue: Promise<BatchResult>[] = [];
        const busy = new Array<number>(numWorkers).fill(0);
        let next = 0;
        const fill = () => {
          while (next < batches.length && queue.length < depth) {
            const k = busy.indexOf(Math.min(...busy));
            busy[k]++;
            const p = pool.run(k, batches[next].indices, seed, epoch, bytes, batches[next].draws);
            p.then(() => busy[k]--, () => {}); // a rejection is observed when its turn comes
            queue.push(p);
            next++;
          }
        };
        fill();
        while (queue.length > 0) {
          const r = await queue.shift()!;
          fill();
          skippedThisEpoch.push(...r.skipped);
          if (r.shape[0] > 0) yield this.toBatch(r);
        }
      }
    } finally {
      if (!this.opts.persistentWorkers) this.close();
      if (skippedThisEpoch.length > 0) {
        this.skipped.push(...skippedThisEpoch);
        (this.opts.warn ?? console.warn)(skipWarning(
          `DataLoader: skipped ${skippedThisEpoch.length} unreadable sample${
            skippedThisEpoch.length > 1 ? "s" : ""
          } in epoch ${epoch}:`,
          skippedThisEpoch.map((s) => s.message),
          " (all of them in DataLoader.skipped)",
        ));
      }
    }
  }

  /** Terminates the Workers (they restart on the next iteration). */
  close(): void {
    this.pool?.close();
    this.pool = null;
  }

  /** Stops the loader's Workers. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** The batch handed out: floats as made, or bytes with `images` computed on first read. */
  private toBatch(r: BatchResult): Batch {
    const { labels, shape, indices } = r;
    if (!r.pixels) return { images: r.images!, labels, shape, indices };
    const pixels = r.pixels;
    let table = this.tables.get(shape[1]);
    if (!table) {
      table = byteToFloatTable(shape[1], this.pipeline.deferred!.normalize);
      this.tables.set(shape[1], table);
    }
    const pixelTable = table;
    let images: Float32Array | null = null;
    return {
      get images() {
        return images ??= bytesToFloats(pixels, shape, pixelTable);
      },
      pixels,
      pixelTable,
      labels,
      shape,
      indices,
    };
  }
}
