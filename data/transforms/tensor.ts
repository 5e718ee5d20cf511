// ToTensor (HWC uint8 to CHW float in [0, 1]) and Normalize ((x - mean) / std per
// channel), with the usual mean/std presets.

import { type Image, isTensorImage, type TensorImage } from "../image.ts";
import type { Rng } from "../../base/rng.ts";
import type { Pixels, Transform, TransformSpec } from "./transform.ts";

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD = [0.2470, 0.2435, 0.2616];
export const MNIST_MEAN = [0.1307];
export const MNIST_STD = [0.3081];
export const FASHION_MNIST_MEAN = [0.2860];
export const FASHION_MNIST_STD = [0.3530];

export const NORMALIZE_PRESETS: Record<string, { mean: number[]; std: number[] }> = {
  imagenet: { mean: IMAGENET_MEAN, std: IMAGENET_STD },
  cifar10: { mean: CIFAR10_MEAN, std: CIFAR10_STD },
  mnist: { mean: MNIST_MEAN, std: MNIST_STD },
  "fashion-mnist": { mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD },
};

/** HWC uint8 to CHW float32 / 255. */
export function toTensor(img: Image): TensorImage {
  const { width: W, height: H, channels: C } = img;
  const plane = W * H;
  const out = new Float32Array(C * plane);
  const s = img.data;
  for (let c = 0; c < C; c++) {
    const o = c * plane;
    for (let i = 0; i < plane; i++) out[o + i] = s[i * C + c] / 255;
  }
  return { channels: C, height: H, width: W, data: out };
}

/**
 * The float that ToTensor, then Normalize (when given), make of byte v in channel c, at
 * table[c * 256 + v]: the same f64 arithmetic rounded to f32 at the same two points, so
 * looking bytes up in it gives bit for bit what the two transforms give.
 */
export function byteToFloatTable(channels: number, normalize: Normalize | null): Float32Array {
  const table = new Float32Array(channels * 256);
  const k = normalize?.mean.length ?? 0;
  if (normalize && k !== 1 && k !== channels) {
    throw new RangeError(`Normalize: ${k} means for a ${channels}-channel image`);
  }
  for (let c = 0; c < channels; c++) {
    const m = normalize ? normalize.mean[k === 1 ? 0 : c] : 0;
    const inv = normalize ? 1 / normalize.std[k === 1 ? 0 : c] : 1;
    for (let v = 0; v < 256; v++) {
      const x = Math.fround(v / 255);
      table[c * 256 + v] = normalize ? (x - m) * inv : x;
    }
  }
  return table;
}

/** uint8 HWC pixels to float CHW in [0, 1] (torchvision's ToTensor). */
export class ToTensor implements Transform {
  apply(x: Pixels, _rng: Rng): Pixels {
    return isTensorImage(x) ? x : toTensor(x);
  }
  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "ToTensor" };
  }
}

/** Options of `Normalize`: mean and std, or a preset. */
export interface NormalizeOptions {
  /** Per-channel means. */
  mean?: number[];
  /** Per-channel standard deviations. */
  std?: number[];
  /** "imagenet", "cifar10", "mnist" or "fashion-mnist" instead of mean/std. */
  preset?: string;
}

/** (x - mean) / std per channel (torchvision's Normalize), on float images. */
export class Normalize implements Transform {
  /** The per-channel means in use. */
  readonly mean: number[];
  /** The per-channel standard deviations in use. */
  readonly std: number[];
  /** Mean and std, or a preset ("imagenet", "cifar10", "mnist", "fashion-mnist"). */
  constructor(readonly options: NormalizeOptions) {
    const p = options.preset !== undefined ? NORMALIZE_PRESETS[options.preset] : undefined;
    if (options.preset !== undefined && !p) {
      throw new RangeError(
        `Normalize: unknown preset "${options.preset}" (known: ${
          Object.keys(NORMALIZE_PRESETS).join(", ")
        })`,
      );
    }
    this.mean = options.mean ?? p?.mean ?? [];
    this.std = options.std ?? p?.std ?? [];
    if (
      this.mean.length === 0 || this.mean.length !== this.std.length ||
      this.std.some((s) => s === 0)
    ) {
      throw new RangeError(
        "Normalize: give a preset, or mean and std of equal length with no zero std",
      );
    }
  }

  apply(x: Pixels, _rng: Rng): Pixels {
    if (!isTensorImage(x)) {
      throw new TypeError("Normalize acts on float tensors: put ToTensor before it");
    }
    const { channels: C, height: H, width: W } = x;
    const k = this.mean.length;
    if (k !== 1 && k !== C) throw new RangeError(`Normalize: ${k} means for a ${C}-channel image`);
    const plane = H * W, d = x.data;
    for (let c = 0; c < C; c++) {
      const m = this.mean[k === 1 ? 0 : c], inv = 1 / this.std[k === 1 ? 0 : c];
      for (let i = c * plane, e = i + plane; i < e; i++) d[i] = (d[i] - m) * inv;
    }
    return x;
  }

  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "Normalize", ...this.options };
  }
}
