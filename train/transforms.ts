// The training and evaluation pipelines a config asks for: channel conversion to what the
// model takes, the augmentation set (train/augments.ts), ToTensor and the normalisation
// (data/transforms/tensor.ts's presets).

import {
  CenterCrop,
  Compose,
  Grayscale,
  GrayToRgb,
  Normalize,
  NORMALIZE_PRESETS,
  Resize,
  ToTensor,
  type Transform,
} from "../data/transforms/index.ts";
import { AUGMENT_ENTRIES } from "./augments.ts";
import { ConfigError, type TrainConfig } from "./config.ts";
import { defaultEvalResize } from "./resolve.ts";

export interface PipelineInput {
  /** Channels the data decodes to (1 or 3). */
  dataChannels: number;
  /** Channels the model's stem takes (1 or 3). */
  modelChannels: number;
  /** [height, width] when every image has the same known size (array datasets). */
  knownSize?: [number, number];
}

/** Mean and std per model channel for the config's normalisation (null: none). */
export function normalization(config: Pick<TrainConfig, "normalize">, channels: number) {
  let name: string = config.normalize;
  if (name === "none") return null;
  if (name === "auto") name = channels === 3 ? "imagenet" : "fashion-mnist";
  let { mean, std } = NORMALIZE_PRESETS[name];
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
    ...fitSize(size, config.evalResize || defaultEvalResize(size, config.augment), p.knownSize),
    ...tail(config, p),
  ]);
}

/** The training pipeline with the config's augmentation set (train/augments.ts). */
export function trainTransform(config: TrainConfig, p: PipelineInput): Transform {
  const size = config.imageSize;
  const entry = AUGMENT_ENTRIES.find((e) => e.name === config.augment);
  if (!entry) {
    throw new ConfigError("augment", `--augment: no augmentation set "${config.augment}"`);
  }
  const aug = entry.transforms({
    size,
    modelChannels: p.modelChannels,
    fit: () => fitSize(size, size, p.knownSize),
  });
  return new Compose([...channelStep(p), ...aug, ...tail(config, p)]);
}
