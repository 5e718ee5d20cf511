// ColorJitter with torchvision's tensor semantics on uint8 images: the four adjustments
// run in a random order, each with a factor drawn uniformly from its range; blends are
// clamped to [0, 255] and truncated to uint8 as torchvision's _blend does, and the
// grayscale used by contrast/saturation is (0.2989 R + 0.587 G + 0.114 B) truncated.
// One-channel images get brightness and contrast only (saturation and hue are no-ops).

import type { Image } from "../image.ts";
import type { Rng } from "../../base/rng.ts";
import { expectImage, type Pixels, type Transform, type TransformSpec } from "./transform.ts";

/** Options of `ColorJitter`: each a factor range, or a number b for [max(0, 1-b), 1+b]. */
export interface ColorJitterOptions {
  /** Factor range [max(0, 1-b), 1+b] for a number b, or an explicit [lo, hi]. */
  brightness?: number | [number, number];
  /** Contrast factor range. */
  contrast?: number | [number, number];
  /** Saturation factor range. */
  saturation?: number | [number, number];
  /** Shift range [-h, h] (h <= 0.5) in fractions of the hue circle, or [lo, hi]. */
  hue?: number | [number, number];
}

function factorRange(
  v: number | [number, number] | undefined,
  name: string,
): [number, number] | null {
  if (v === undefined) return null;
  const r: [number, number] = typeof v === "number" ? [Math.max(0, 1 - v), 1 + v] : v;
  if (!(r[0] >= 0 && r[0] <= r[1])) {
    throw new RangeError(`ColorJitter: bad ${name} range ${JSON.stringify(v)}`);
  }
  return r[0] === 1 && r[1] === 1 ? null : r;
}

function hueRange(v: number | [number, number] | undefined): [number, number] | null {
  if (v === undefined) return null;
  const r: [number, number] = typeof v === "number" ? [-v, v] : v;
  if (!(r[0] >= -0.5 && r[0] <= r[1] && r[1] <= 0.5)) {
    throw new RangeError(`ColorJitter: hue must lie in [-0.5, 0.5]`);
  }
  return r[0] === 0 && r[1] === 0 ? null : r;
}

const clampTrunc = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v));

function grayOf(d: Uint8Array, i: number): number {
  return Math.trunc(0.2989 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]);
}

/** img * f, clamped (torchvision adjust_brightness). In place. */
export function adjustBrightness(img: Image, f: number): void {
  const d = img.data;
  for (let i = 0; i < d.length; i++) d[i] = clampTrunc(d[i] * f);
}

/** Blend with the mean of the grayscale image (torchvision adjust_contrast). In place. */
export function adjustContrast(img: Image, f: number): void {
  const d = img.data, n = img.width * img.height;
  let sum = 0;
  if (img.channels === 3) { for (let i = 0; i < n; i++) sum += grayOf(d, i * 3); }
  else for (let i = 0; i < n; i++) sum += d[i];
  const mean = sum / n, add = (1 - f) * mean;
  for (let i = 0; i < d.length; i++) d[i] = clampTrunc(f * d[i] + add);
}

/** Blend each pixel with its own grayscale value (torchvision adjust_saturation). In place. */
export function adjustSaturation(img: Image, f: number): void {
  if (img.channels !== 3) return;
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    const g = (1 - f) * grayOf(d, i);
    d[i] = clampTrunc(f * d[i] + g);
    d[i + 1] = clampTrunc(f * d[i + 1] + g);
    d[i + 2] = clampTrunc(f * d[i + 2] + g);
  }
}

/** Rotates the hue by `shift` turns through HSV (torchvision adjust_hue). In place. */
export function adjustHue(img: Image, shift: number): void {
  if (img.channels !== 3) return;
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i] / 255, g = d[i + 1] / 255, b = d[i + 2] / 255;
    const max = Math.max(r, g, b), min = Math.min(r, g, b), delta = max - min;
    const v = max, s = max === 0 ? 0 : delta / max;
    let h = 0;
    if (delta > 0) {
      if (max === r) h = ((g - b) / delta) / 6;
      else if (max === g) h = (2 + (b - r) / delta) / 6;
      else h = (4 + (r - g) / delta) / 6;
    }
    h = (((h + shift) % 1) + 1) % 1;
    const h6 = h * 6, sector = Math.floor(h6) % 6, frac = h6 - Math.floor(h6);
    const p = v * (1 - s), q = v * (1 - s * frac), t = v * (1 - s * (1 - frac));
    const [rr, gg, bb] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][sector];
    d[i] = clampTrunc(rr * 255);
    d[i + 1] = clampTrunc(gg * 255);
    d[i + 2] = clampTrunc(bb * 255);
  }
}

/**
 * Random brightness, contrast, saturation and hue changes in random order (torchvision's
 * ColorJitter).
 */
export class ColorJitter implements Transform {
  private readonly b: [number, number] | null;
  private readonly c: [number, number] | null;
  private readonly s: [number, number] | null;
  private readonly h: [number, number] | null;
  /** Ranges as torchvision's; an option left out is not applied. */
  constructor(readonly options: ColorJitterOptions = {}) {
    this.b = factorRange(options.brightness, "brightness");
    this.c = factorRange(options.contrast, "contrast");
    this.s = factorRange(options.saturation, "saturation");
    this.h = hueRange(options.hue);
  }

  apply(x: Pixels, rng: Rng): Pixels {
    const src = expectImage(x, "ColorJitter");
    const img = { ...src, data: src.data.slice() };
    const order = rng.permutation(4);
    const fb = this.b && rng.uniform(this.b[0], this.b[1]);
    const fc = this.c && rng.uniform(this.c[0], this.c[1]);
    const fs = this.s && rng.uniform(this.s[0], this.s[1]);
    const fh = this.h && rng.uniform(this.h[0], this.h[1]);
    for (const op of order) {
      if (op === 0 && fb !== null) adjustBrightness(img, fb);
      else if (op === 1 && fc !== null) adjustContrast(img, fc);
      else if (op === 2 && fs !== null) adjustSaturation(img, fs);
      else if (op === 3 && fh !== null) adjustHue(img, fh);
    }
    return img;
  }

  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "ColorJitter", ...this.options };
  }
}
