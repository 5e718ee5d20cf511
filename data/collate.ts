// Turns dataset indices into one NCHW batch: load, transform (seeded per sample), stack.
// Shared by the main thread (numWorkers 0) and the Workers, so both give equal batches.

import type { Dataset } from "./dataset.ts";
import { DecodeError } from "./errors.ts";
import { type Image, isTensorImage, type TensorImage } from "./image.ts";
import { mixSeed, Rng } from "../base/rng.ts";
import { toTensor } from "./transforms/tensor.ts";
import type { Transform } from "./transforms/transform.ts";

/** A batch as the DataLoader yields it. */
export interface Batch {
  /**
   * N*C*H*W floats, NCHW. When the loader deferred ToTensor/Normalize (`pixels` is set),
   * computed from the bytes on first read (bit-identical to running the transforms).
   */
  images: Float32Array;
  /**
   * NHWC bytes as the uint8 transforms left them, when the loader deferred the pipeline's
   * ToTensor/Normalize tail; `pixelTable` maps them to `images`. The buffer behind it is
   * padded to a multiple of 4 bytes (for a GPU upload).
   */
  pixels?: Uint8Array;
  /** Float of byte v in channel c at [c * 256 + v] (see byteToFloatTable). */
  pixelTable?: Float32Array;
  /** The class index of each image. */
  labels: Int32Array;
  /** [N, C, H, W]; N can be below the batch size when samples were skipped. */
  shape: [number, number, number, number];
  /** Dataset indices of the samples, in batch order. */
  indices: Int32Array;
}

/** A sample the loader skipped because its file could not be decoded. */
export interface SkippedSample {
  /** The sample's index in the dataset. */
  index: number;
  /** Why it could not be read. */
  message: string;
}

/** What makeBatch gives: floats, or with `bytes` the NHWC pixels (the other is null). */
export interface BatchResult {
  images: Float32Array | null;
  pixels: Uint8Array | null;
  labels: Int32Array;
  shape: [number, number, number, number];
  indices: Int32Array;
  skipped: SkippedSample[];
}

/**
 * The seed of sample `index` in `epoch`: independent of batch size and worker count.
 * `draw` counts the earlier draws of the same index in the epoch (a sampler with
 * replacement), so each copy is augmented anew; the first draw's seed is (seed, epoch, index).
 */
export function sampleSeed(seed: number, epoch: number, index: number, draw = 0): number {
  return draw === 0 ? mixSeed(seed, epoch, index) : mixSeed(seed, epoch, index, draw);
}

/** Sample `index` through the transform, seeded by (seed, epoch, index, draw). */
function transformed(
  dataset: Dataset,
  transform: Transform | null,
  index: number,
  seed: number,
  epoch: number,
  draw: number,
): { image: Image | TensorImage; label: number } {
  const s = dataset.get(index);
  const image = transform
    ? transform.apply(s.image, Rng.mixed(sampleSeed(seed, epoch, index, draw)))
    : s.image;
  return { image, label: s.label };
}

/** One transformed sample as CHW floats (a uint8 result gets ToTensor's scaling). */
export function loadSample(
  dataset: Dataset,
  transform: Transform | null,
  index: number,
  seed: number,
  epoch: number,
  draw = 0,
): { image: TensorImage; label: number } {
  const { image: x, label } = transformed(dataset, transform, index, seed, epoch, draw);
  return { image: isTensorImage(x) ? x : toTensor(x), label };
}

/** One sample through a transform that must leave a uint8 HWC image. */
export function loadSampleBytes(
  dataset: Dataset,
  transform: Transform | null,
  index: number,
  seed: number,
  epoch: number,
  draw = 0,
): { image: Image; label: number } {
  const { image: x, label } = transformed(dataset, transform, index, seed, epoch, draw);
  if (isTensorImage(x)) {
    throw new TypeError("makeBatch: the transform gave floats where uint8 pixels were asked for");
  }
  return { image: x, label };
}

/** NHWC bytes to NCHW floats through a byteToFloatTable (the CPU form of the GPU kernel). */
export function bytesToFloats(
  pixels: Uint8Array,
  shape: readonly [number, number, number, number],
  table: Float32Array,
): Float32Array {
  const [n, c, h, w] = shape, plane = h * w;
  const out = new Float32Array(n * c * plane);
  for (let k = 0; k < n; k++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (k * c + ch) * plane, t = ch * 256;
      for (let i = 0, s = k * plane * c + ch; i < plane; i++, s += c) {
        out[o + i] = table[t + pixels[s]];
      }
    }
  }
  return out;
}

/**
 * Builds the batch of the given indices. Samples whose file cannot be decoded are left
 * out and listed in `skipped`; any other error propagates. With `bytes`, the transform
 * must leave uint8 images, which are stacked NHWC into `pixels` (no float conversion).
 * `draws[k]` is how many times indices[k] was drawn earlier in the epoch (see sampleSeed).
 */
export function makeBatch(
  dataset: Dataset,
  transform: Transform | null,
  indices: Int32Array,
  seed: number,
  epoch: number,
  bytes = false,
  draws: Int32Array | null = null,
): BatchResult {
  const images: (TensorImage | Image)[] = [];
  const kept: number[] = [];
  const labels: number[] = [];
  const skipped: SkippedSample[] = [];
  for (const [k, index] of indices.entries()) {
    try {
      const draw = draws?.[k] ?? 0;
      const s = bytes
        ? loadSampleBytes(dataset, transform, index, seed, epoch, draw)
        : loadSample(dataset, transform, index, seed, epoch, draw);
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
  let out: Float32Array | null = null, pixels: Uint8Array | null = null;
  if (bytes) {
    pixels = new Uint8Array(new ArrayBuffer(Math.ceil((n * per) / 4) * 4), 0, n * per);
    images.forEach((img, k) => pixels!.set(img.data, k * per));
  } else {
    out = new Float32Array(n * per);
    images.forEach((img, k) => out!.set(img.data, k * per));
  }
  return {
    images: out,
    pixels,
    labels: Int32Array.from(labels),
    shape: [n, c, h, w],
    indices: Int32Array.from(kept),
    skipped,
  };
}
