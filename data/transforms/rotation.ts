// RandomRotation: an angle uniform in [-d, d] degrees (or [lo, hi]), counter-clockwise,
// about the image centre, output the same size, uncovered pixels set to fill. Sampling
// follows torchvision's tensor rotate (inverse map of pixel centres; nearest rounds half
// to even like grid_sample). Difference: expand=True is not supported.

import { type Image, makeImage } from "../image.ts";
import type { Rng } from "../../base/rng.ts";
import { expectImage, type Pixels, type Transform, type TransformSpec } from "./transform.ts";

/** Options of `RandomRotation` (torchvision's). */
export interface RandomRotationOptions {
  /** A number d for [-d, d], or [min, max] degrees. */
  degrees: number | [number, number];
  /** Resampling (default "nearest"). */
  interpolation?: "nearest" | "bilinear";
  /** Value of the area outside the rotated image (default 0). */
  fill?: number;
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Rotates img by `degrees` counter-clockwise about its centre. */
export function rotate(
  img: Image,
  degrees: number,
  interpolation: "nearest" | "bilinear" = "nearest",
  fill = 0,
): Image {
  const { width: W, height: H, channels: C } = img;
  const out = makeImage(W, H, C);
  const a = (degrees * Math.PI) / 180, cos = Math.cos(a), sin = Math.sin(a);
  const cx = W / 2, cy = H / 2;
  for (let y = 0; y < H; y++) {
    const dy = y + 0.5 - cy;
    for (let x = 0; x < W; x++) {
      const dx = x + 0.5 - cx;
      // Source position (pixel-index units) of this output pixel's centre.
      const sx = cos * dx - sin * dy + cx - 0.5;
      const sy = sin * dx + cos * dy + cy - 0.5;
      const o = (y * W + x) * C;
      if (interpolation === "nearest") {
        const ix = roundHalfEven(sx), iy = roundHalfEven(sy);
        const inside = ix >= 0 && ix < W && iy >= 0 && iy < H;
        for (let c = 0; c < C; c++) {
          out.data[o + c] = inside ? img.data[(iy * W + ix) * C + c] : fill;
        }
      } else {
        const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
        for (let c = 0; c < C; c++) {
          let acc = 0;
          for (let k = 0; k < 4; k++) {
            const xx = x0 + (k & 1), yy = y0 + (k >> 1);
            const w = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
            const v = xx >= 0 && xx < W && yy >= 0 && yy < H
              ? img.data[(yy * W + xx) * C + c]
              : fill;
            acc += w * v;
          }
          out.data[o + c] = Math.round(acc);
        }
      }
    }
  }
  return out;
}

/** Rotates by a random angle about the centre (torchvision's RandomRotation). */
export class RandomRotation implements Transform {
  private readonly range: [number, number];
  /** See RandomRotationOptions. */
  constructor(readonly options: RandomRotationOptions) {
    const d = options.degrees;
    this.range = typeof d === "number" ? [-Math.abs(d), Math.abs(d)] : d;
  }
  apply(x: Pixels, rng: Rng): Pixels {
    const angle = rng.uniform(this.range[0], this.range[1]);
    return rotate(
      expectImage(x, "RandomRotation"),
      angle,
      this.options.interpolation ?? "nearest",
      this.options.fill ?? 0,
    );
  }
  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "RandomRotation", ...this.options };
  }
}
