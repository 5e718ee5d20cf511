// Channel-count transforms: Grayscale (RGB to luma, optionally replicated to 3 channels)
// and GrayToRgb (replicate a one-channel image, e.g. MNIST for a 3-channel network).
// Luma uses PIL's convert("L") weights and rounding (torchvision's tensor path
// truncates 0.2989 R + 0.587 G + 0.114 B, so it can be 1 lower).

import { grayToRgb, rgbToGray } from "../image.ts";
import type { Rng } from "../../base/rng.ts";
import { expectImage, type Pixels, type Transform, type TransformSpec } from "./transform.ts";

/** Converts to grayscale with ITU-R 601-2 luma (torchvision's Grayscale). */
export class Grayscale implements Transform {
  /** `numOutputChannels`: 1 (default) or 3 (the gray value repeated). */
  constructor(readonly options: { numOutputChannels?: 1 | 3 } = {}) {}
  apply(x: Pixels, _rng: Rng): Pixels {
    const gray = rgbToGray(expectImage(x, "Grayscale"));
    return (this.options.numOutputChannels ?? 1) === 3 ? grayToRgb(gray) : gray;
  }
  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "Grayscale", ...this.options };
  }
}

/** Repeats a single channel three times (for RGB weights on grayscale data). */
export class GrayToRgb implements Transform {
  apply(x: Pixels, _rng: Rng): Pixels {
    return grayToRgb(expectImage(x, "GrayToRgb"));
  }
  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "GrayToRgb" };
  }
}
