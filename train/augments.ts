// The registry of augmentation sets: the values of --augment, in --help order, each with the
// transforms it puts between the channel conversion and ToTensor. config.ts's list and the
// flag's choices and help derive from it. Adding one: an entry here, its name in AugmentName
// (a type check holds the two equal) and its test.

import type { Same } from "../base/same_type.ts";
import {
  ColorJitter,
  RandomCrop,
  RandomHorizontalFlip,
  RandomResizedCrop,
  RandomRotation,
  type Transform,
} from "../data/transforms/index.ts";

export interface AugmentInput {
  /** The training crop's size. */
  size: number;
  /** Channels the model takes (1 or 3). */
  modelChannels: number;
  /** Resize + centre crop to `size`, or nothing when the images already have that size. */
  fit: () => Transform[];
}

export interface AugmentEntry {
  name: string;
  /** Its part of --augment's help ("" for none). */
  help: string;
  transforms(p: AugmentInput): Transform[];
}

export const AUGMENT_ENTRIES = [
  { name: "none", help: "", transforms: (p) => p.fit() },
  { name: "flip", help: "flip", transforms: (p) => [...p.fit(), new RandomHorizontalFlip()] },
  {
    // no flip: for a task where a mirror image is another class (rotation labels: a flipped
    // quarter turn looks like the opposite quarter turn)
    name: "crop",
    help: "crop (padded random crop)",
    transforms: (p) => [
      ...p.fit(),
      new RandomCrop({ size: p.size, padding: Math.max(1, Math.round(p.size / 14)) }),
    ],
  },
  {
    name: "crop-flip",
    help: "crop-flip (padded random crop)",
    transforms: (p) => [
      ...p.fit(),
      new RandomCrop({ size: p.size, padding: Math.max(1, Math.round(p.size / 14)) }),
      new RandomHorizontalFlip(),
    ],
  },
  {
    name: "resized-crop",
    help: "resized-crop (RandomResizedCrop)",
    transforms: (p) => [new RandomResizedCrop({ size: p.size }), new RandomHorizontalFlip()],
  },
  {
    name: "cifar",
    help: "cifar (crop, flip, color jitter, rotation 15)",
    transforms: (p) => [
      ...p.fit(),
      new RandomCrop({ size: p.size, padding: 4 }),
      new RandomHorizontalFlip(),
      new ColorJitter({
        brightness: 0.2,
        contrast: 0.2,
        ...(p.modelChannels === 3 ? { saturation: 0.2 } : {}), // saturation needs colour
      }),
      new RandomRotation({ degrees: 15 }),
    ],
  },
] as const satisfies readonly AugmentEntry[];

/** The values of --augment (spelled out for the docs; checked against the entries above). */
export type AugmentName = "none" | "flip" | "crop" | "crop-flip" | "resized-crop" | "cifar";
// a type error here: AugmentName and the registry's names differ
const _AUGMENT_NAMES_MATCH: Same<AugmentName, typeof AUGMENT_ENTRIES[number]["name"]> = true;
export const AUGMENT_NAMES: readonly AugmentName[] = AUGMENT_ENTRIES.map((e) => e.name);

/** --augment's help text. */
export const AUGMENT_HELP = "augmentation set: " +
  AUGMENT_ENTRIES.map((e) => e.help).filter((h) => h).join("; ");
