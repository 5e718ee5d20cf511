// Cropping with out-of-image reads resolved by a padding mode, and the CenterCrop and
// RandomCrop transforms built on it (torchvision semantics, including CenterCrop's
// zero padding when the crop is larger than the image).

import { type Image, makeImage } from "../image.ts";
import type { Rng } from "../../base/rng.ts";
import {
  expectImage,
  type Pixels,
  pyRound,
  sizePair,
  type Transform,
  type TransformSpec,
} from "./transform.ts";

/** How RandomCrop pads: constant fill, edge, reflect or symmetric (as torchvision). */
export type PaddingMode = "constant" | "edge" | "reflect" | "symmetric";

/** Maps a coordinate outside [0, n) back inside per mode; -1 means "use the fill value". */
function sourceIndex(i: number, n: number, mode: PaddingMode): number {
  if (i >= 0 && i < n) return i;
  if (mode === "constant") return -1;
  if (mode === "edge") return i < 0 ? 0 : n - 1;
  if (n === 1) return 0;
  // reflect mirrors about the edge pixel (..2 1 | 0 1 2..); symmetric repeats it (..1 0 | 0 1..).
  const period = mode === "reflect" ? 2 * (n - 1) : 2 * n;
  const m = ((i % period) + period) % period;
  if (mode === "reflect") return m < n ? m : period - m;
  return m < n ? m : period - 1 - m;
}

/**
 * The h x w window whose top-left corner is (top, left) in img coordinates; parts outside
 * the image come from the padding mode (fill for "constant").
 */
export function cropPadded(
  img: Image,
  top: number,
  left: number,
  h: number,
  w: number,
  mode: PaddingMode = "constant",
  fill = 0,
): Image {
  const C = img.channels;
  const out = makeImage(w, h, C);
  const xs = new Int32Array(w);
  for (let x = 0; x < w; x++) xs[x] = sourceIndex(left + x, img.width, mode);
  for (let y = 0; y < h; y++) {
    const sy = sourceIndex(top + y, img.height, mode);
    const o = y * w * C;
    if (sy < 0) {
      out.data.fill(fill, o, o + w * C);
      continue;
    }
    const row = sy * img.width * C;
    if (xs[0] === left && left >= 0 && left + w <= img.width) {
      out.data.set(img.data.subarray(row + left * C, row + (left + w) * C), o);
      continue;
    }
    for (let x = 0; x < w; x++) {
      const sx = xs[x];
      for (let c = 0; c < C; c++) {
        out.data[o + x * C + c] = sx < 0 ? fill : img.data[row + sx * C + c];
      }
    }
  }
  return out;
}

/** torchvision F.center_crop: top = round((H - h) / 2); zero padding when h > H (split floor/ceil). */
export function centerCrop(img: Image, h: number, w: number): Image {
  const top = h > img.height ? -Math.floor((h - img.height) / 2) : pyRound((img.height - h) / 2);
  const left = w > img.width ? -Math.floor((w - img.width) / 2) : pyRound((img.width - w) / 2);
  return cropPadded(img, top, left, h, w, "constant", 0);
}

/** Crops the centre (torchvision's CenterCrop), padding with zeros when the image is smaller. */
export class CenterCrop implements Transform {
  private readonly hw: [number, number];
  /** `size`: one number (square) or [height, width]. */
  constructor(readonly options: { size: number | [number, number] }) {
    this.hw = sizePair(options.size, "CenterCrop");
  }
  apply(x: Pixels, _rng: Rng): Pixels {
    return centerCrop(expectImage(x, "CenterCrop"), this.hw[0], this.hw[1]);
  }
  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "CenterCrop", ...this.options };
  }
}

/** Options of `RandomCrop` (torchvision's). */
export interface RandomCropOptions {
  /** One number (square) or [height, width]. */
  size: number | [number, number];
  /** Border added first: one number, [left/right, top/bottom], or [left, top, right, bottom]. */
  padding?: number | [number, number] | [number, number, number, number];
  /** Pad further when the (padded) image is smaller than the crop. */
  padIfNeeded?: boolean;
  /** The fill value of constant padding (default 0). */
  fill?: number;
  /** How the border is padded (default "constant"). */
  paddingMode?: PaddingMode;
}

/** Crops at a random position, after optional padding (torchvision's RandomCrop). */
export class RandomCrop implements Transform {
  private readonly hw: [number, number];
  private readonly pad: [number, number, number, number];
  /** See RandomCropOptions. */
  constructor(readonly options: RandomCropOptions) {
    this.hw = sizePair(options.size, "RandomCrop");
    const p = options.padding ?? 0;
    this.pad = typeof p === "number" ? [p, p, p, p] : p.length === 2 ? [p[0], p[1], p[0], p[1]] : p;
  }

  apply(x: Pixels, rng: Rng): Pixels {
    const img = expectImage(x, "RandomCrop");
    const [th, tw] = this.hw;
    let [pl, pt, pr, pb] = this.pad;
    let W = img.width + pl + pr, H = img.height + pt + pb;
    if (this.options.padIfNeeded) {
      // Same as torchvision: pad both sides by the shortfall.
      if (W < tw) (pl += tw - W), (pr += tw - W), (W += 2 * (tw - W));
      if (H < th) (pt += th - H), (pb += th - H), (H += 2 * (th - H));
    }
    if (H < th || W < tw) {
      throw new RangeError(
        `RandomCrop: crop ${th}x${tw} is larger than the ${H}x${W} (padded) image; set padIfNeeded`,
      );
    }
    const i = rng.int(0, H - th + 1), j = rng.int(0, W - tw + 1);
    return cropPadded(
      img,
      i - pt,
      j - pl,
      th,
      tw,
      this.options.paddingMode ?? "constant",
      this.options.fill ?? 0,
    );
  }

  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "RandomCrop", ...this.options };
  }
}
