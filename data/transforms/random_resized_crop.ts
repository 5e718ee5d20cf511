// RandomResizedCrop with torchvision's parameter sampling: up to 10 tries of an area
// fraction in `scale` and a log-uniform aspect ratio in `ratio`, then a centre crop
// clamped to the ratio range as fallback; the window is resized (bilinear, antialiased).

import type { Image } from "../image.ts";
import type { Rng } from "../../base/rng.ts";
import { resizeRegion } from "./resample.ts";
import {
  expectImage,
  type Pixels,
  pyRound,
  sizePair,
  type Transform,
  type TransformSpec,
} from "./transform.ts";

/** Options of `RandomResizedCrop` (torchvision's). */
export interface RandomResizedCropOptions {
  /** Output size: one number (square) or [height, width]. */
  size: number | [number, number];
  /** Range of the crop's area relative to the image (default [0.08, 1]). */
  scale?: [number, number];
  /** Range of the crop's aspect ratio (default [3/4, 4/3]). */
  ratio?: [number, number];
  /** Antialias when shrinking (default true). */
  antialias?: boolean;
}

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** The crop window torchvision's RandomResizedCrop.get_params would choose. */
export function randomResizedCropBox(
  height: number,
  width: number,
  scale: [number, number],
  ratio: [number, number],
  rng: Rng,
): CropBox {
  const area = height * width;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = pyRound(Math.sqrt(target * aspect));
    const h = pyRound(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return {
        top: rng.int(0, height - h + 1),
        left: rng.int(0, width - w + 1),
        height: h,
        width: w,
      };
    }
  }
  const inRatio = width / height;
  let w = width, h = height;
  if (inRatio < Math.min(...ratio)) h = pyRound(w / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) w = pyRound(h * Math.max(...ratio));
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}

/** torchvision F.resized_crop: crop the box, resize it to outH x outW. */
export function resizedCrop(
  img: Image,
  box: CropBox,
  outH: number,
  outW: number,
  antialias = true,
): Image {
  return resizeRegion(img, box.top, box.left, box.height, box.width, outH, outW, antialias);
}

/**
 * Crops a random area and aspect ratio, then resizes to `size` (torchvision's RandomResizedCrop).
 */
export class RandomResizedCrop implements Transform {
  private readonly hw: [number, number];
  private readonly scale: [number, number];
  private readonly ratio: [number, number];
  /** See RandomResizedCropOptions. */
  constructor(readonly options: RandomResizedCropOptions) {
    this.hw = sizePair(options.size, "RandomResizedCrop");
    this.scale = options.scale ?? [0.08, 1];
    this.ratio = options.ratio ?? [3 / 4, 4 / 3];
    if (
      !(this.scale[0] > 0 && this.scale[0] <= this.scale[1] && this.ratio[0] > 0 &&
        this.ratio[0] <= this.ratio[1])
    ) {
      throw new RangeError(`RandomResizedCrop: scale and ratio must be increasing positive ranges`);
    }
  }

  apply(x: Pixels, rng: Rng): Pixels {
    const img = expectImage(x, "RandomResizedCrop");
    const box = randomResizedCropBox(img.height, img.width, this.scale, this.ratio, rng);
    return resizedCrop(img, box, this.hw[0], this.hw[1], this.options.antialias ?? true);
  }

  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "RandomResizedCrop", ...this.options };
  }
}
