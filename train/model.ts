// Builds the ResNet18 a config asks for: its input channels and stages, pretrained weights
// loaded by name with a new head, and the freezing a transfer strategy starts with. No file
// I/O (train/weights.ts reads --weights), so a page builds the same network.

import type { StateDict } from "../nn/io/host_tensor.ts";
import { type ResNet, resnet18 } from "../nn/resnet.ts";
import { ConfigError, type TrainConfig } from "./config.ts";

export { HEAD, setBackboneFrozen } from "./backbone.ts";

/** What a checkpoint needs to rebuild the same network. */
export interface ModelSpec {
  /** The architecture (torchvision's resnet18). */
  arch: "resnet18";
  /** Outputs of the head. */
  numClasses: number;
  /** Input channels of the stem. */
  inChannels: 1 | 3;
  /** Residual stages kept (4: the whole network). */
  stages: number;
}

/** The stem's input channels stored in a state dict (conv1.weight is [64, C, 7, 7]). */
export function weightsInChannels(dict: StateDict): number | null {
  const w = dict.get("conv1.weight");
  return w && w.shape.length === 4 ? w.shape[1] : null;
}

/** Channels of the model: --in-channels, else the weights', else the data's. */
export function chooseInChannels(
  config: TrainConfig,
  dataChannels: 1 | 3,
  weights: StateDict | null,
): 1 | 3 {
  if (config.inChannels === 1 || config.inChannels === 3) return config.inChannels;
  const fromWeights = weights ? weightsInChannels(weights) : null;
  if (fromWeights === 1 || fromWeights === 3) return fromWeights;
  return dataChannels;
}

export function modelSpec(config: TrainConfig, numClasses: number, inChannels: 1 | 3): ModelSpec {
  const stages = config.strategy === "truncate" || config.keepStages < 4 ? config.keepStages : 4;
  return { arch: "resnet18", numClasses, inChannels, stages };
}

export function buildModel(
  spec: ModelSpec,
  seed: number,
  headInit: "default" | "xavier" = "default",
): ResNet {
  const model = resnet18({
    numClasses: spec.numClasses,
    inChannels: spec.inChannels,
    stages: spec.stages,
    seed,
  });
  if (headInit === "xavier") model.replaceHead(spec.numClasses, { init: "xavier", seed: seed + 1 });
  return model;
}

/**
 * Loads pretrained backbone weights into `model` by name; the file's head (fc.*) is never
 * loaded, since fine-tuning puts a new head on. Stages the model dropped (truncation) are
 * ignored; anything else that does not fit is an error naming the file. Returns a short
 * description for the log.
 */
export function loadBackbone(model: ResNet, dict: StateDict, path: string): string {
  const backbone: StateDict = new Map();
  const kept = new Set(["conv1", "bn1", ...model.stages.map((_, i) => `layer${i + 1}`)]);
  let dropped = 0;
  for (const [k, v] of dict) {
    const top = k.split(".")[0];
    if (top === "fc") continue;
    if (/^layer[1-4]$/.test(top) && !kept.has(top)) {
      dropped++;
      continue;
    }
    backbone.set(k, v);
  }
  const report = model.loadStateDict(backbone, { strict: false });
  const missing = report.missing.filter((k) => !k.startsWith("fc."));
  const problems: string[] = [];
  if (missing.length) {
    problems.push(`missing ${missing.length} tensors (e.g. ${missing.slice(0, 3).join(", ")})`);
  }
  if (report.unexpected.length) {
    problems.push(
      `${report.unexpected.length} tensors the model does not have (e.g. ${
        report.unexpected.slice(0, 3).join(", ")
      })`,
    );
  }
  for (const m of report.mismatched.slice(0, 3)) {
    problems.push(`${m.name} is [${m.got}] in the file but [${m.expected}] in the model`);
  }
  if (problems.length) {
    const hint = report.mismatched.some((m) => m.name === "conv1.weight")
      ? " (the stem's input channels differ: set --in-channels to match the file)"
      : " (is it a ResNet18 state dict?)";
    throw new ConfigError(
      "weights",
      `--weights: ${path} does not fit ResNet18: ${problems.join("; ")}${hint}`,
    );
  }
  const extra = dropped ? `, ${dropped} tensors of dropped stages ignored` : "";
  return `loaded ${report.loaded.length} tensors from ${path}${extra}; new head for ${model.fc.outFeatures} classes`;
}
