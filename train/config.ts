// The training configuration: one plain, JSON-serialisable object. Recipes are partial
// configs laid over the defaults, and command-line flags are laid over the recipe, so a
// run is fully described by the config.json it leaves in its run directory.

import { DEFAULT_MAX_PIXELS } from "../data/limits.ts";
import { AUGMENT_NAMES, type AugmentName } from "./augments.ts";
import { OPTIMIZER_NAMES, type OptimizerName } from "./optimizers.ts";
import {
  SCHEDULER_NAMES,
  SCHEDULER_OPTIONS,
  schedulerDefaults,
  type SchedulerOptions,
} from "./schedulers/mod.ts";

/** The values of --strategy: how a pretrained network is adapted. */
export const STRATEGIES = [
  "finetune",
  "feature-extract",
  "freeze-unfreeze",
  "truncate",
  "scratch",
] as const;
/** One of STRATEGIES. */
export type Strategy = typeof STRATEGIES[number];
/** The values of --optimizer, from the registry (train/optimizers.ts). */
export const OPTIMIZERS = OPTIMIZER_NAMES;
export type { OptimizerName };
/** The values of --scheduler, from the registry (train/schedulers/mod.ts). */
export const SCHEDULERS = SCHEDULER_NAMES;
/** A schedule's name (a key of the schedule registry, or "none"). */
export type SchedulerName = string;
/** The values of --augment, from the registry (train/augments.ts). */
export const AUGMENTS = AUGMENT_NAMES;
export type { AugmentName };
/** The values of --normalize ("auto": the weights' or the dataset's own statistics). */
export const NORMALIZE = ["auto", "none", "imagenet", "cifar10", "mnist", "fashion-mnist"] as const;
/** One of NORMALIZE. */
export type NormalizeName = typeof NORMALIZE[number];
/** The values of --class-weights ("balanced": n / (classes × count) per class). */
export const CLASS_WEIGHTS = ["none", "balanced"] as const;
/** One of CLASS_WEIGHTS. */
export type ClassWeightsName = typeof CLASS_WEIGHTS[number];
export { PLATEAU_METRICS, type PlateauMetric } from "./schedulers/plateau.ts";

/** The settings of a run. The schedules' options (plateauFactor, stepSize, ...) come from the
 * registry in train/schedulers/mod.ts. */
export type TrainConfig = CoreConfig & SchedulerOptions;

/** The settings of a run other than the schedules' options (the flags of `cli.ts train`). */
export interface CoreConfig {
  /** Recipe the config started from (informational). */
  recipe: string;
  /** Dataset path: image folder, .zip, CIFAR-10 archive/dir, IDX folder. */
  data: string;
  /** Class names to keep (all when empty). */
  classes: string[];
  /** Fraction of each class of the training data held out (stratified, by --seed) as the
   * validation set, which picks the best checkpoint and drives ReduceLROnPlateau and early
   * stopping; 0: no validation set (the test set picks). A val/ folder, when the data has one,
   * is the validation set instead. */
  valSplit: number;
  /** Fraction of the data held out at random as the test set when the data has no test split. */
  testSplit: number;
  /** Keep only this many training images per class (few-shot); 0 keeps all. */
  perClass: number;
  /** Cap on the test images per class (0: all). */
  testPerClass: number;

  /** Pretrained weights: torchvision .pth, .safetensors, or a checkpoint of this tool. */
  weights: string;
  /** Load --weights even when they hold NaN or infinity (refused by default). */
  allowNonFiniteWeights: boolean;
  /** How the network is adapted (finetune, feature-extract, freeze-unfreeze, truncate, scratch). */
  strategy: Strategy;
  /** freeze-unfreeze: epochs with the backbone frozen. */
  freezeEpochs: number;
  /** freeze-unfreeze: lr of the backbone group from the unfreeze on (0: keep the lr). */
  unfreezeLr: number;
  /** truncate: residual stages kept (1-4). */
  keepStages: number;
  /** Input channels of the model: 0 (auto) picks the weights' channels, else the data's. */
  inChannels: number;
  /** Initialisation of the new head: PyTorch's default or xavier_uniform_. */
  headInit: "default" | "xavier";
  /** Keep BatchNorm in eval mode (running statistics frozen) while its layer is frozen. */
  freezeBatchNorm: boolean;

  /** The optimizer. */
  optimizer: OptimizerName;
  /** Learning rate (of the backbone group; the head's is lr × headLrMult). */
  lr: number;
  /** SGD momentum. */
  momentum: number;
  /** Weight decay (AdamW: decoupled). */
  weightDecay: number;
  /** SGD Nesterov momentum. */
  nesterov: boolean;
  /** The head's lr is lr × this (a second parameter group). */
  headLrMult: number;
  /** Label smoothing ε of the cross-entropy. */
  labelSmoothing: number;
  /**
   * "balanced": the training loss weights class c by n_samples / (n_classes × count_c) of the
   * training set (sklearn's compute_class_weight("balanced")), as CrossEntropyLoss(weight=).
   */
  classWeights: ClassWeightsName;
  /**
   * Draw each epoch's training samples with replacement, sample i with weight
   * 1 / count(class of i) (WeightedRandomSampler): every class equally often on average.
   */
  balancedSampler: boolean;

  /** A name of the schedule registry; its options are the SchedulerOptions keys. */
  scheduler: SchedulerName;

  /** Epochs to train. */
  epochs: number;
  /** Stop after this many epochs without a better validation accuracy (0: never). */
  earlyStop: number;
  /** Images per batch. */
  batchSize: number;
  /** Training crop / input size (0, auto: what pretrained --weights were trained at, 224 for
   * torchvision's; 32 without weights). */
  imageSize: number;
  /** Largest decoded image accepted, in pixels (a PIL-like decompression-bomb limit). */
  maxImagePixels: number;
  /** Evaluation resize of the shorter side before the centre crop (0, auto: see
   * train/resolve.ts, round(imageSize x 256/224) for resized-crop, else imageSize). */
  evalResize: number;
  /** The augmentation set of the training transform. */
  augment: AugmentName;
  /** Input normalisation ("auto": imagenet for 3-channel input, fashion-mnist for 1). */
  normalize: NormalizeName;
  /** Seeds the weights, the data order, the splits and the augmentations. */
  seed: number;
  /** DataLoader worker threads (-1: 1 for image files, 0 for in-memory arrays). */
  workers: number;
  /** Decode image files once into .cache/ (data/decoded_cache.ts); false: every epoch. */
  cache: boolean;
  /** Read the training metrics back every this many steps (iteration log and progress). */
  logEvery: number;
  /** Parent of run directories. */
  out: string;
  /** Run directory name (default: a timestamp). */
  name: string;
}

/** The defaults of every setting (what `cli.ts train --help` shows). */
export const DEFAULT_CONFIG: Readonly<TrainConfig> = Object.freeze({
  recipe: "none",
  data: "",
  classes: [],
  valSplit: 0.1,
  testSplit: 0.2,
  perClass: 0,
  testPerClass: 0,
  weights: "",
  allowNonFiniteWeights: false,
  strategy: "finetune",
  freezeEpochs: 0,
  unfreezeLr: 0,
  keepStages: 4,
  inChannels: 0,
  headInit: "default",
  freezeBatchNorm: true,
  optimizer: "sgd",
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 0,
  nesterov: false,
  headLrMult: 1,
  labelSmoothing: 0,
  classWeights: "none",
  balancedSampler: false,
  scheduler: "none",
  ...schedulerDefaults(),
  epochs: 10,
  earlyStop: 0,
  batchSize: 32,
  imageSize: 0,
  maxImagePixels: DEFAULT_MAX_PIXELS,
  evalResize: 0,
  augment: "flip",
  normalize: "auto",
  seed: 0,
  workers: -1,
  cache: true,
  logEvery: 5,
  out: "runs",
  name: "",
}) as TrainConfig;

/** A config error that names the setting (the CLI turns the key into its flag). */
export class ConfigError extends Error {
  /** Always "ConfigError". */
  override name = "ConfigError";
  /** `key` names the setting (and so the flag) that is wrong; the message says how. */
  constructor(readonly key: keyof TrainConfig, message: string) {
    super(message);
  }
}

/** The flag of a config key: headLrMult → --head-lr-mult. */
export function flagOf(key: string): string {
  return "--" + key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/**
 * True for a name that is one path component of its own: not "." or "..", no separator,
 * no control character (a name of those would place or hide the run elsewhere).
 */
export function isPlainName(name: string): boolean {
  const control = [...name].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);
  return name !== "" && name !== "." && name !== ".." && !/[\\/]/.test(name) && !control &&
    new TextEncoder().encode(name).length <= 255;
}

/** Throws ConfigError for the first invalid value. */
export function validateConfig(c: TrainConfig): void {
  const need = (key: keyof TrainConfig, ok: boolean, rule: string) => {
    if (!ok) {
      throw new ConfigError(key, `${flagOf(key)} must be ${rule}, got ${JSON.stringify(c[key])}`);
    }
  };
  const oneOf = <T extends string>(key: keyof TrainConfig, list: readonly T[]) =>
    need(key, list.includes(c[key] as T), `one of ${list.join(", ")}`);
  const int = (key: keyof TrainConfig, min: number) =>
    need(key, Number.isInteger(c[key]) && (c[key] as number) >= min, `an integer >= ${min}`);
  const num = (key: keyof TrainConfig, ok: (x: number) => boolean, rule: string) =>
    need(key, typeof c[key] === "number" && ok(c[key] as number), rule);

  oneOf("strategy", STRATEGIES);
  oneOf("optimizer", OPTIMIZERS);
  oneOf("scheduler", SCHEDULERS);
  oneOf("augment", AUGMENTS);
  oneOf("normalize", NORMALIZE);
  oneOf("headInit", ["default", "xavier"]);
  oneOf("classWeights", CLASS_WEIGHTS);
  need("balancedSampler", typeof c.balancedSampler === "boolean", "true or false");
  num("valSplit", (x) => x >= 0 && x < 1, "a fraction in [0, 1) (0: no validation split)");
  num("testSplit", (x) => x > 0 && x < 1, "a fraction in (0, 1)");
  int("perClass", 0);
  int("testPerClass", 0);
  int("freezeEpochs", 0);
  num("unfreezeLr", (x) => x >= 0, ">= 0");
  int("keepStages", 1);
  need("keepStages", c.keepStages <= 4, "between 1 and 4");
  need("inChannels", [0, 1, 3].includes(c.inChannels), "0 (auto), 1 or 3");
  num("lr", (x) => x > 0, "> 0");
  num("momentum", (x) => x >= 0 && x < 1, "in [0, 1)");
  num("weightDecay", (x) => x >= 0, ">= 0");
  num("headLrMult", (x) => x > 0, "> 0");
  num("labelSmoothing", (x) => x >= 0 && x < 1, "in [0, 1)");
  for (const [key, spec] of SCHEDULER_OPTIONS) {
    const v = c[key];
    const typed = spec.type === "bool"
      ? typeof v === "boolean"
      : spec.type === "choice"
      ? typeof v === "string"
      : typeof v === "number";
    need(key, typed && spec.valid(v), spec.rule);
  }
  int("epochs", 1);
  int("earlyStop", 0);
  int("batchSize", 1);
  need(
    "imageSize",
    c.imageSize === 0 || (Number.isInteger(c.imageSize) && c.imageSize >= 8),
    "0 (auto) or an integer >= 8",
  );
  int("maxImagePixels", 1);
  int("evalResize", 0);
  int("seed", 0);
  int("workers", -1);
  int("logEvery", 1);
  need("out", typeof c.out === "string" && c.out !== "", "a directory path");
  need(
    "name",
    typeof c.name === "string" && (c.name === "" || isPlainName(c.name)),
    "one plain path component (not . or .., no / or \\, no control characters, at most 255 bytes)",
  );
  need(
    "nesterov",
    !c.nesterov || (c.optimizer === "sgd" && c.momentum > 0),
    "used with --optimizer sgd and --momentum > 0",
  );
  if (c.strategy === "freeze-unfreeze") {
    need(
      "freezeEpochs",
      c.freezeEpochs >= 1 && c.freezeEpochs < c.epochs,
      `between 1 and --epochs - 1 (${c.epochs - 1}) for freeze-unfreeze`,
    );
  }
  if (c.strategy === "scratch" && c.weights) {
    throw new ConfigError(
      "weights",
      "--weights cannot be used with --strategy scratch (scratch starts from random weights)",
    );
  }
  if ((c.strategy === "feature-extract" || c.strategy === "freeze-unfreeze") && !c.weights) {
    throw new ConfigError(
      "weights",
      `--strategy ${c.strategy} freezes the backbone, which only makes sense with pretrained --weights`,
    );
  }
}
