// Resize (bilinear) with torchvision's size rules: one number sets the shorter side
// (the longer is scaled and truncated, like int(size * long / short)); [h, w] is exact.
// Antialias defaults to true, which is torchvision's behaviour on PIL images and its
// tensor default since 0.17; results match F.resize(uint8 tensor, antialias=True).

import type { Image } from "../image.ts";
import type { Rng } from "../../base/rng.ts";
import { resizeRegion } from "./resample.ts";
import { expectImage, type Pixels, type Transform, type TransformSpec } from "./transform.ts";

/** Options of `Resize` (torchvision's). */
export interface ResizeOptions {
  /** One number: the shorter side (aspect kept); [height, width]: exactly. */
  size: number | [number, number];
  /** Cap on the longer side when size is one number (torchvision's max_size). */
  maxSize?: number;
  /** Antialias when shrinking (default true). */
  antialias?: boolean;
}

/** Output [height, width] for an input of h x w under torchvision's Resize size rules. */
export function resizeOutputSize(
  h: number,
  w: number,
  size: number | [number, number],
  maxSize?: number,
): [number, number] {
  if (typeof size !== "number") return size;
  const short = Math.min(h, w), long = Math.max(h, w);
  let newShort = size, newLong = Math.trunc((size * long) / short);
  if (maxSize !== undefined) {
    if (maxSize <= size) {
      throw new RangeError(`Resize: maxSize (${maxSize}) must exceed size (${size})`);
    }
    if (newLong > maxSize) {
      newShort = Math.trunc((maxSize * newShort) / newLong);
      newLong = maxSize;
    }
  }
  return w <= h ? [newLong, newShort] : [newShort, newLong];
}

export function resize(img: Image, outH: number, outW: number, antialias = true): Image {
  if (outH === img.height && outW === img.width) return img;
  return resizeRegion(img, 0, 0, img.height, img.width, outH, outW, antialias);
}

/** Bilinear resize (torchvision's Resize). */
export class Resize implements Transform {
  /** See ResizeOptions. */
  constructor(readonly options: ResizeOptions) {
    const s = options.size;
    if (typeof s === "number" ? !(s > 0) : !(s[0] > 0 && s[1] > 0)) {
      throw new RangeError(`Resize: size must be positive, got ${JSON.stringify(s)}`);
    }
  }

  apply(x: Pixels, _rng: Rng): Pixels {
    const img = expectImage(x, "Resize");
    const [h, w] = resizeOutputSize(img.height, img.width, this.options.size, this.options.maxSize);
    return resize(img, h, w, this.options.antialias ?? true);
  }

  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "Resize", ...this.options };
  }
}
