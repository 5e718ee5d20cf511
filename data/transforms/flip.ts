// Horizontal and vertical flips, and their random versions (probability p, default 0.5).

import { type Image, makeImage } from "../image.ts";
import type { Rng } from "../../base/rng.ts";
import { expectImage, type Pixels, type Transform, type TransformSpec } from "./transform.ts";

export function hflip(img: Image): Image {
  const { width: W, height: H, channels: C } = img;
  const out = makeImage(W, H, C);
  for (let y = 0; y < H; y++) {
    const row = y * W * C;
    for (let x = 0; x < W; x++) {
      const s = row + x * C, d = row + (W - 1 - x) * C;
      for (let c = 0; c < C; c++) out.data[d + c] = img.data[s + c];
    }
  }
  return out;
}

export function vflip(img: Image): Image {
  const { width: W, height: H, channels: C } = img;
  const out = makeImage(W, H, C);
  const rowLen = W * C;
  for (let y = 0; y < H; y++) {
    out.data.set(img.data.subarray(y * rowLen, (y + 1) * rowLen), (H - 1 - y) * rowLen);
  }
  return out;
}

/** Mirrors left-right with probability `p` (torchvision's RandomHorizontalFlip). */
export class RandomHorizontalFlip implements Transform {
  /** `p`: the flip probability (default 0.5). */
  constructor(readonly options: { p?: number } = {}) {}
  apply(x: Pixels, rng: Rng): Pixels {
    const img = expectImage(x, "RandomHorizontalFlip");
    return rng.chance(this.options.p ?? 0.5) ? hflip(img) : img;
  }
  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "RandomHorizontalFlip", ...this.options };
  }
}

/** Mirrors top-bottom with probability `p` (torchvision's RandomVerticalFlip). */
export class RandomVerticalFlip implements Transform {
  /** `p`: the flip probability (default 0.5). */
  constructor(readonly options: { p?: number } = {}) {}
  apply(x: Pixels, rng: Rng): Pixels {
    const img = expectImage(x, "RandomVerticalFlip");
    return rng.chance(this.options.p ?? 0.5) ? vflip(img) : img;
  }
  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "RandomVerticalFlip", ...this.options };
  }
}
