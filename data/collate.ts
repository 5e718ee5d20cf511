// Turns dataset indices into one NCHW batch: load, transform (seeded per sample), stack.
// Shared by the main thread (numWorkers 0) and the Workers, so both give equal batches.

import type { Dataset } from "./dataset.ts";
import { DecodeError } from "./errors.ts";
import { isTensorImage, type TensorImage } from "./image.ts";
import { mixSeed, Rng } from "./random.ts";
import { toTensor } from "./transforms/tensor.ts";
import type { Transform } from "./transforms/transform.ts";

export interface Batch {
  /** N*C*H*W floats, NCHW. */
  images: Float32Array;
  labels: Int32Array;
  /** [N, C, H, W]; N can be below the batch size when samples were skipped. */
  shape: [number, number, number, number];
  /** Dataset indices of the samples, in batch order. */
  indices: Int32Array;
}

export interface SkippedSample {
  index: number;
  message: string;
}

export interface BatchResult extends Batch {
  skipped: SkippedSample[];
}

/** The seed of sample `index` in `epoch`: independent of batch size and worker count. */
export function sampleSeed(seed: number, epoch: number, index: number): number {
  return mixSeed(seed, epoch, index);
}

/** One transformed sample as CHW floats (a uint8 result gets ToTensor's scaling). */
export function loadSample(
  dataset: Dataset,
  transform: Transform | null,
  index: number,
  seed: number,
  epoch: number,
): { image: TensorImage; label: number } {
  const s = dataset.get(index);
  const x = transform ? transform.apply(s.image, new Rng(sampleSeed(seed, epoch, index))) : s.image;
  return { image: isTensorImage(x) ? x : toTensor(x), label: s.label };
}

/**
 * Builds the batch of the given indices. Samples whose file cannot be decoded are left
 * out and listed in `skipped`; any other error propagates.
 */
export function makeBatch(
  dataset: Dataset,
  transform: Transform | null,
  indices: Int32Array,
  seed: number,
  epoch: number,
): BatchResult {
  const images: TensorImage[] = [];
  const kept: number[] = [];
  const labels: number[] = [];
  const skipped: SkippedSample[] = [];
  for (const index of indices) {
    try {
      const s = loadSample(dataset, transform, index, seed, epoch);
      const first = images[0];
      if (
        first &&
        (first.channels !== s.image.channels || first.height !== s.image.height ||
          first.width !== s.image.width)
      ) {
        throw new RangeError(
          `sample ${index} is ${s.image.channels}x${s.image.height}x${s.image.width} but sample ${
            kept[0]
          } is ${first.channels}x${first.height}x${first.width}; samples of a batch need one size (add Resize/CenterCrop or RandomResizedCrop to the transform)`,
        );
      }
      images.push(s.image);
      kept.push(index);
      labels.push(s.label);
    } catch (e) {
      if (e instanceof DecodeError) skipped.push({ index, message: e.message });
      else throw e;
    }
  }
  const n = images.length;
  const [c, h, w] = n ? [images[0].channels, images[0].height, images[0].width] : [0, 0, 0];
  const per = c * h * w;
  const out = new Float32Array(n * per);
  images.forEach((img, k) => out.set(img.data, k * per));
  return {
    images: out,
    labels: Int32Array.from(labels),
    shape: [n, c, h, w],
    indices: Int32Array.from(kept),
    skipped,
  };
}
