// Compose chains transforms; transformFromSpec rebuilds any transform (or chain) from
// its spec, which is how Workers get the same pipeline as the main thread.

import type { Rng } from "../../base/rng.ts";
import { Grayscale, GrayToRgb } from "./channels.ts";
import { ColorJitter } from "./color_jitter.ts";
import { CenterCrop, RandomCrop } from "./crop.ts";
import { RandomHorizontalFlip, RandomVerticalFlip } from "./flip.ts";
import { RandomResizedCrop } from "./random_resized_crop.ts";
import { Resize } from "./resize.ts";
import { RandomRotation } from "./rotation.ts";
import { Normalize, ToTensor } from "./tensor.ts";
import type { Pixels, Transform, TransformSpec } from "./transform.ts";

/** Applies transforms one after another (torchvision's Compose). */
export class Compose implements Transform {
  /** The transforms, in order. */
  constructor(readonly transforms: Transform[]) {}
  apply(x: Pixels, rng: Rng): Pixels {
    for (const t of this.transforms) x = t.apply(x, rng);
    return x;
  }
  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): TransformSpec {
    return { name: "Compose", transforms: this.transforms.map((t) => t.spec()) };
  }
}

// deno-lint-ignore no-explicit-any
const REGISTRY: Record<string, (o: any) => Transform> = {
  Compose: (o) => new Compose((o.transforms as TransformSpec[]).map(transformFromSpec)),
  Resize: (o) => new Resize(o),
  CenterCrop: (o) => new CenterCrop(o),
  RandomCrop: (o) => new RandomCrop(o),
  RandomResizedCrop: (o) => new RandomResizedCrop(o),
  RandomHorizontalFlip: (o) => new RandomHorizontalFlip(o),
  RandomVerticalFlip: (o) => new RandomVerticalFlip(o),
  ColorJitter: (o) => new ColorJitter(o),
  RandomRotation: (o) => new RandomRotation(o),
  Grayscale: (o) => new Grayscale(o),
  GrayToRgb: () => new GrayToRgb(),
  ToTensor: () => new ToTensor(),
  Normalize: (o) => new Normalize(o),
};

/**
 * Splits a pipeline that ends with ToTensor (and then Normalize) into its uint8 part and
 * that tail, so the tail can run later on a whole batch (on the GPU, or through
 * byteToFloatTable). Null when the float steps are anywhere else. A null transform (or a
 * uint8-only one) has an implicit ToTensor, as the loader applies one.
 */
export function splitTensorTail(
  transform: Transform | null,
): { pixels: Transform | null; normalize: Normalize | null } | null {
  const steps = transform === null
    ? []
    : transform instanceof Compose
    ? [...transform.transforms]
    : [transform];
  let normalize: Normalize | null = null;
  if (steps.at(-1) instanceof Normalize) {
    normalize = steps.pop() as Normalize;
    if (!(steps.at(-1) instanceof ToTensor)) return null;
  }
  if (steps.at(-1) instanceof ToTensor) steps.pop();
  const floatStep = (spec: TransformSpec): boolean =>
    spec.name === "ToTensor" || spec.name === "Normalize" ||
    (spec.name === "Compose" && (spec.transforms as TransformSpec[]).some(floatStep));
  if (steps.some((t) => floatStep(t.spec()))) return null;
  const pixels = steps.length === 0 ? null : steps.length === 1 ? steps[0] : new Compose(steps);
  return { pixels, normalize };
}

export function transformFromSpec(spec: TransformSpec): Transform {
  const make = REGISTRY[spec.name];
  if (!make) {
    throw new Error(
      `unknown transform "${spec.name}" (known: ${Object.keys(REGISTRY).join(", ")})`,
    );
  }
  const { name: _name, ...options } = spec;
  return make(options);
}
