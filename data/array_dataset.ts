// A dataset of equally sized uint8 images held in one buffer (CIFAR-10, MNIST, synthetic
// data). The buffer can be a SharedArrayBuffer so Workers read it without copying.

import { DatasetError } from "./errors.ts";
import type { ArrayDatasetSpec, Dataset, Sample } from "./dataset.ts";

export interface ArrayDatasetOptions {
  width: number;
  height: number;
  channels: number;
  classes: string[];
}

/** A dataset of same-sized uint8 images held in memory (MNIST, CIFAR-10). */
export class ArrayImageDataset implements Dataset {
  /** The number of images. */
  readonly length: number;
  readonly classes: string[];
  readonly targets: Int32Array;
  /** Image width in pixels. */
  readonly width: number;
  /** Image height in pixels. */
  readonly height: number;
  /** Channels per pixel (1 or 3). */
  readonly channels: number;
  private readonly pixels: Uint8Array;

  /** pixels: N*H*W*C bytes (HWC per image); labels: N class indices. */
  constructor(pixels: Uint8Array, labels: Int32Array, opts: ArrayDatasetOptions) {
    const per = opts.width * opts.height * opts.channels;
    if (pixels.length !== labels.length * per) {
      throw new DatasetError(
        `ArrayImageDataset: ${pixels.length} bytes do not hold ${labels.length} images of ${opts.width}x${opts.height}x${opts.channels}`,
      );
    }
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] >= opts.classes.length) {
        throw new DatasetError(
          `ArrayImageDataset: label ${labels[i]} of sample ${i} is not in 0..${
            opts.classes.length - 1
          }`,
        );
      }
    }
    this.pixels = pixels;
    this.targets = labels;
    this.length = labels.length;
    this.classes = opts.classes;
    this.width = opts.width;
    this.height = opts.height;
    this.channels = opts.channels;
  }

  /** Copies pixels and labels into SharedArrayBuffers, so Workers share rather than copy them. */
  static shared(
    pixels: Uint8Array,
    labels: Int32Array,
    opts: ArrayDatasetOptions,
  ): ArrayImageDataset {
    const p = new Uint8Array(new SharedArrayBuffer(pixels.length));
    p.set(pixels);
    const l = new Int32Array(new SharedArrayBuffer(labels.length * 4));
    l.set(labels);
    return new ArrayImageDataset(p, l, opts);
  }

  get(i: number): Sample {
    if (!(i >= 0 && i < this.length)) {
      throw new RangeError(`index ${i} out of range [0, ${this.length})`);
    }
    const per = this.width * this.height * this.channels;
    // A copy, so in-place transforms cannot alter the dataset.
    const data = this.pixels.slice(i * per, (i + 1) * per);
    return {
      image: { width: this.width, height: this.height, channels: this.channels, data },
      label: this.targets[i],
    };
  }

  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): ArrayDatasetSpec {
    return {
      kind: "array",
      pixels: this.pixels,
      labels: this.targets,
      width: this.width,
      height: this.height,
      channels: this.channels,
      classes: this.classes,
    };
  }
}
