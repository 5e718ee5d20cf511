// The settings a run actually uses, from the ones it was given: the automatic values (image
// size, eval resize and input channels 0, --normalize auto) become what they stand for, so
// config.json and the checkpoints record what was used, and a resumed run, resolving its
// recorded config again, gets the same values.

import { type NormalizeName, type TrainConfig, validateConfig } from "./config.ts";
import { TRAIN_STATE_KIND } from "./train_state.ts";

/** The input a set of pretrained weights was trained on. */
export interface TrainedWith {
  /** The training crop size. */
  imageSize: number;
  /** A preset of data/transforms/tensor.ts, or "auto" (by the model's channels). */
  normalize: string;
  /** "a checkpoint of this tool" or "ImageNet (torchvision)", for the log. */
  source: string;
}

/** torchvision's ImageNet weights: 224x224 crops, ImageNet mean and std. */
export const IMAGENET_TRAINED: TrainedWith = {
  imageSize: 224,
  normalize: "imagenet",
  source: "ImageNet (torchvision)",
};

/**
 * What weights were trained on: a checkpoint of this tool records it in its metadata (JSON,
 * nn/io/weights_file.ts's checkpointMeta); any other weight file is taken as torchvision's
 * ImageNet weights.
 */
export function trainedWith(checkpointMeta: string | null): TrainedWith {
  let meta: { kind?: unknown; config?: { imageSize?: unknown; normalize?: unknown } } | null;
  try {
    meta = JSON.parse(checkpointMeta ?? "null");
  } catch {
    return IMAGENET_TRAINED;
  }
  const size = meta?.config?.imageSize, normalize = meta?.config?.normalize;
  if (meta?.kind !== TRAIN_STATE_KIND || !Number.isInteger(size) || (size as number) < 8) {
    return IMAGENET_TRAINED;
  }
  return {
    imageSize: size as number,
    normalize: typeof normalize === "string" ? normalize : "auto",
    source: "a checkpoint of this tool",
  };
}

/** The input size without pretrained weights (CIFAR-sized; the old default). */
export const SCRATCH_IMAGE_SIZE = 32;

/**
 * The eval resize of the shorter side for an input size: torchvision's Resize(256) +
 * CenterCrop(224) ratio when training crops with RandomResizedCrop (objects then appear
 * larger in training than in the whole image, and the centre crop matches that), else the
 * input size itself, since every other augmentation set trains on the whole image resized to
 * the input size (a larger eval resize would show the model a crop it never saw in training).
 */
export function defaultEvalResize(imageSize: number, augment: string): number {
  return augment === "resized-crop" ? Math.round(imageSize * 256 / 224) : imageSize;
}

/** The preset --normalize auto stands for. */
export function autoNormalize(channels: number): NormalizeName {
  return channels === 3 ? "imagenet" : "fashion-mnist";
}

export interface ResolveInput {
  /** The model's input channels (already chosen from the flag, the weights or the data). */
  inChannels: 1 | 3;
  /** What the pretrained weights were trained on (null: no weights). */
  trainedWith: TrainedWith | null;
}

/** The config with its automatic values replaced by the values used. */
export function resolveConfig(c: TrainConfig, r: ResolveInput): TrainConfig {
  const imageSize = c.imageSize || r.trainedWith?.imageSize || SCRATCH_IMAGE_SIZE;
  return {
    ...c,
    inChannels: r.inChannels,
    imageSize,
    evalResize: c.evalResize || defaultEvalResize(imageSize, c.augment),
    normalize: c.normalize === "auto" ? autoNormalize(r.inChannels) : c.normalize,
  };
}

/** Where each automatic value came from, for the start-up block (empty for given values). */
export function resolvedWhy(given: TrainConfig, r: ResolveInput): Record<string, string> {
  const why: Record<string, string> = {};
  if (!given.imageSize) {
    why.imageSize = r.trainedWith
      ? `what the weights were trained at (${r.trainedWith.source}); --image-size to change`
      : `the default without pretrained weights; --image-size to change`;
  }
  if (!given.evalResize) {
    why.evalResize = given.augment === "resized-crop"
      ? "256/224 of the image size, as torchvision's Resize(256) + CenterCrop(224)"
      : "the image size: training resizes the whole image to it too";
  }
  if (!given.inChannels) why.inChannels = r.trainedWith ? "the weights' stem" : "the images'";
  if (given.normalize === "auto") why.normalize = "auto, by the input channels";
  return why;
}

/** A warning when ImageNet-normalised weights meet inputs too small for their features. */
export function smallInputWarning(c: TrainConfig, trainedWith: TrainedWith | null): string | null {
  if (!trainedWith || c.imageSize >= 64) return null;
  const imagenet = trainedWith.normalize === "imagenet" ||
    (trainedWith.normalize === "auto" && c.inChannels === 3);
  if (!imagenet) return null;
  return `warning: the weights were trained on ImageNet-normalised images of ` +
    `${trainedWith.imageSize} px, but the input is ${c.imageSize} px: ResNet18 shrinks it 32x ` +
    `to a ${Math.max(1, Math.ceil(c.imageSize / 32))}x${
      Math.max(1, Math.ceil(c.imageSize / 32))
    } map, too small for what those features learned to see; consider --image-size ` +
    `${trainedWith.imageSize} (or larger than 64) or --strategy scratch`;
}

/**
 * The settings a run uses, checked, and what its weights were trained on: from the settings
 * given, the weights read (null: none) and the model's input channels. `cli.ts train` and
 * the page both resolve a run through here.
 */
export function resolveRun(
  given: TrainConfig,
  weights: { checkpointMeta: string | null } | null,
  inChannels: 1 | 3,
): { config: TrainConfig; trainedWith: TrainedWith | null } {
  const weightsTrainedWith = weights ? trainedWith(weights.checkpointMeta) : null;
  const config = resolveConfig(given, { inChannels, trainedWith: weightsTrainedWith });
  validateConfig(config);
  return { config, trainedWith: weightsTrainedWith };
}
