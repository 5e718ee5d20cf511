// The transform contract: a seeded function of one image plus a plain spec from which
// the same transform is rebuilt inside a Worker.

import type { Image, TensorImage } from "../image.ts";
import { isTensorImage } from "../image.ts";
import type { Rng } from "../../base/rng.ts";

/** An image in either form: uint8 pixels or float tensor image. */
export type Pixels = Image | TensorImage;

/** `name` picks the class in transformFromSpec; the other fields are its options. */
export interface TransformSpec {
  /** The transform's class name. */
  name: string;
  /** Its options. */
  [option: string]: unknown;
}

/** A seeded function of one image (torchvision's transforms). */
export interface Transform {
  /** Returns the transformed image; may reuse the input's memory. Random draws come from rng only. */
  apply(x: Pixels, rng: Rng): Pixels;
  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec;
}

/** Python's round(): halves go to the even neighbour (torchvision's crop arithmetic uses it). */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Narrows to the uint8 HWC image the geometric and colour transforms act on. */
export function expectImage(x: Pixels, who: string): Image {
  if (isTensorImage(x)) {
    throw new TypeError(
      `${who} acts on uint8 images and must come before ToTensor in the pipeline`,
    );
  }
  return x;
}

/** Accepts a size given as one number (square) or [height, width]. */
export function sizePair(size: number | [number, number], who: string): [number, number] {
  const [h, w] = typeof size === "number" ? [size, size] : size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) {
    throw new RangeError(`${who}: size must be positive integers, got ${JSON.stringify(size)}`);
  }
  return [h, w];
}
