// The training and evaluation pipelines a config asks for: channel conversion to what the
// model takes, the augmentation set, ToTensor and the normalisation.

import {
  CenterCrop,
  ColorJitter,
  Compose,
  Grayscale,
  GrayToRgb,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  RandomResizedCrop,
  RandomRotation,
  Resize,
  ToTensor,
  type Transform,
} from "../data/mod.ts";
import { ConfigError, type TrainConfig } from "./config.ts";

export interface PipelineInput {
  /** Channels the data decodes to (1 or 3). */
  dataChannels: number;
  /** Channels the model's stem takes (1 or 3). */
  modelChannels: number;
  /** [height, width] when every image has the same known size (array datasets). */
  knownSize?: [number, number];
}

const PRESETS: Record<string, { mean: number[]; std: number[] }> = {
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616] },
  mnist: { mean: [0.1307], std: [0.3081] },
  "fashion-mnist": { mean: [0.2860], std: [0.3530] },
};

/** Mean and std per model channel for the config's normalisation (null: none). */
export function normalization(config: Pick<TrainConfig, "normalize">, channels: number) {
  let name: string = config.normalize;
  if (name === "none") return null;
  if (name === "auto") name = channels === 3 ? "imagenet" : "fashion-mnist";
  let { mean, std } = PRESETS[name];
  if (mean.length !== channels) {
    // a gray preset on RGB input (gray replicated to 3 channels) repeats its one value;
    // an RGB preset on gray input has no single right answer
    if (mean.length === 1) [mean, std] = [[mean[0], mean[0], mean[0]], [std[0], std[0], std[0]]];
    else {
      throw new ConfigError(
        "normalize",
        `--normalize ${name} is for 3-channel input, but the model takes ${channels} channel(s); ` +
          `use --normalize mnist, fashion-mnist, none, or --in-channels 3`,
      );
    }
  }
  return { mean, std };
}

function channelStep(p: PipelineInput): Transform[] {
  if (p.dataChannels === p.modelChannels) return [];
  return p.modelChannels === 3 ? [new GrayToRgb()] : [new Grayscale({ numOutputChannels: 1 })];
}

/** Resize of the shorter side + centre crop, left out when the images already fit. */
function fitSize(size: number, resizeTo: number, known?: [number, number]): Transform[] {
  if (known && known[0] === size && known[1] === size && resizeTo === size) return [];
  return [new Resize({ size: resizeTo }), new CenterCrop({ size })];
}

function tail(config: TrainConfig, p: PipelineInput): Transform[] {
  const norm = normalization(config, p.modelChannels);
  return norm ? [new ToTensor(), new Normalize(norm)] : [new ToTensor()];
}

/** The evaluation pipeline: resize, centre crop, tensor, normalise. */
export function evalTransform(config: TrainConfig, p: PipelineInput): Transform {
  const size = config.imageSize;
  return new Compose([
    ...channelStep(p),
    ...fitSize(size, config.evalResize || size, p.knownSize),
    ...tail(config, p),
  ]);
}

/** The training pipeline with the config's augmentation set. */
export function trainTransform(config: TrainConfig, p: PipelineInput): Transform {
  const size = config.imageSize;
  const flip = new RandomHorizontalFlip();
  let aug: Transform[];
  switch (config.augment) {
    case "none":
      aug = fitSize(size, size, p.knownSize);
      break;
    case "flip":
      aug = [...fitSize(size, size, p.knownSize), flip];
      break;
    case "crop-flip":
      aug = [
        ...fitSize(size, size, p.knownSize),
        new RandomCrop({ size, padding: Math.max(1, Math.round(size / 14)) }),
        flip,
      ];
      break;
    case "resized-crop":
      aug = [new RandomResizedCrop({ size }), flip];
      break;
    case "cifar":
      aug = [
        ...fitSize(size, size, p.knownSize),
        new RandomCrop({ size, padding: 4 }),
        flip,
        new ColorJitter({
          brightness: 0.2,
          contrast: 0.2,
          ...(p.modelChannels === 3 ? { saturation: 0.2 } : {}), // saturation needs colour
        }),
        new RandomRotation({ degrees: 15 }),
      ];
      break;
  }
  return new Compose([...channelStep(p), ...aug, ...tail(config, p)]);
}
