// The `train` flags: one per TrainConfig key (kebab-case), plus --recipe and --resume, and
// the step that lays the given flags over a recipe's config.

import {
  AUGMENTS,
  CLASS_WEIGHTS,
  DEFAULT_CONFIG,
  flagOf,
  NORMALIZE,
  OPTIMIZERS,
  SCHEDULERS,
  STRATEGIES,
  type TrainConfig,
} from "../train/config.ts";
import { AUGMENT_HELP } from "../train/augments.ts";
import { RECIPES } from "../train/recipes.ts";
import { SCHEDULER_OPTIONS } from "../train/schedulers/mod.ts";
import { type FlagSpec, type Parsed, UsageError } from "./args.ts";

type Key = keyof TrainConfig;

/** Help text and type of each config flag, in --help order. */
const CONFIG_FLAGS: [Key, Omit<FlagSpec, "name">][] = [
  ["data", {
    type: "string",
    metavar: "PATH",
    help:
      "image folder (class sub-folders, optional train/ + test/), a .zip of one, CIFAR-10 binary .tar.gz or folder, or a folder of IDX files; none: the embedded Fashion-MNIST experiment",
  }],
  ["classes", { type: "list", metavar: "A,B,..", help: "train on these classes only" }],
  ["valSplit", {
    type: "number",
    help:
      "fraction of each class of the training data held out (by --seed) as the validation set, which picks the best checkpoint and drives --scheduler plateau and --early-stop; 0: none (the test set picks); a val/ folder is used instead when there is one",
  }],
  ["testSplit", {
    type: "number",
    help: "fraction of the data held out at random as the test set when the data has no test split",
  }],
  ["perClass", { type: "int", help: "keep N training images per class (few-shot); 0 keeps all" }],
  ["testPerClass", { type: "int", help: "cap the test images per class; 0 keeps all" }],
  ["weights", {
    type: "string",
    metavar: "FILE",
    help:
      "pretrained weights: torchvision .pth, .safetensors or a checkpoint of this tool (the head is replaced)",
  }],
  ["allowNonFiniteWeights", {
    type: "bool",
    help: "load --weights even if they hold NaN or infinity (refused by default)",
  }],
  ["strategy", {
    type: "choice",
    choices: STRATEGIES,
    help:
      "finetune: all layers; feature-extract: frozen backbone, train the head; freeze-unfreeze: frozen for --freeze-epochs then all layers; truncate: first --keep-stages stages + new head; scratch: random init",
  }],
  ["freezeEpochs", { type: "int", help: "freeze-unfreeze: epochs with the backbone frozen" }],
  ["unfreezeLr", {
    type: "number",
    help: "freeze-unfreeze: lr from the unfreeze on (0: unchanged)",
  }],
  ["keepStages", { type: "int", help: "residual stages kept (1-4; truncate)" }],
  ["inChannels", {
    type: "int",
    help: "model input channels, 1 or 3 (0: from the weights, else the data)",
  }],
  ["headInit", {
    type: "choice",
    choices: ["default", "xavier"],
    help: "initialisation of the new head",
  }],
  ["freezeBatchNorm", {
    type: "bool",
    help:
      "keep BatchNorm statistics fixed while the backbone is frozen (--no-freeze-batch-norm: update them, as PyTorch does)",
  }],
  ["optimizer", { type: "choice", choices: OPTIMIZERS, help: "optimizer" }],
  ["lr", { type: "number", help: "learning rate (of the backbone group)" }],
  ["momentum", { type: "number", help: "SGD momentum" }],
  ["weightDecay", { type: "number", help: "weight decay (L2 for sgd/adam, decoupled for adamw)" }],
  ["nesterov", { type: "bool", help: "Nesterov momentum (sgd)" }],
  ["headLrMult", { type: "number", help: "the head's lr is lr x this" }],
  ["labelSmoothing", { type: "number", help: "label smoothing of the cross-entropy" }],
  ["classWeights", {
    type: "choice",
    choices: CLASS_WEIGHTS,
    help:
      "balanced: weight the training loss of class c by n / (classes x count of c) (PyTorch's CrossEntropyLoss(weight=...))",
  }],
  ["balancedSampler", {
    type: "bool",
    help:
      "draw training samples with replacement, weight 1 / (count of their class), as many per epoch as the training set has (WeightedRandomSampler)",
  }],
  ["scheduler", { type: "choice", choices: SCHEDULERS, help: "LR scheduler" }],
  // each schedule's options, from the registry (train/schedulers/mod.ts)
  ...SCHEDULER_OPTIONS.map(([key, o]): [Key, Omit<FlagSpec, "name">] => [
    key,
    { type: o.type, choices: o.choices, help: o.help },
  ]),
  ["epochs", { type: "int", help: "epochs" }],
  ["earlyStop", {
    type: "int",
    help:
      "stop after N epochs without a better validation accuracy (0: never); best.safetensors keeps the best epoch",
  }],
  ["batchSize", { type: "int", help: "batch size" }],
  ["imageSize", {
    type: "int",
    help:
      "input size (square crop) in pixels (0: what pretrained --weights were trained at, 224 for torchvision's; 32 without weights)",
  }],
  ["maxImagePixels", {
    type: "int",
    help: "refuse images with more pixels than this (decompression-bomb limit)",
  }],
  ["evalResize", {
    type: "int",
    help:
      "evaluation: resize the shorter side to N before the centre crop (0: round(--image-size x 256/224) for --augment resized-crop, else --image-size)",
  }],
  ["augment", { type: "choice", choices: AUGMENTS, help: AUGMENT_HELP }],
  ["normalize", {
    type: "choice",
    choices: NORMALIZE,
    help: "normalisation preset (auto: imagenet for RGB input, fashion-mnist for gray)",
  }],
  ["seed", { type: "int", help: "seed of initialisation, shuffling, augmentation and splits" }],
  ["workers", {
    type: "int",
    help: "data loader worker threads (-1: 1 for image files, 0 for in-memory data)",
  }],
  ["cache", {
    type: "bool",
    help:
      "decode image files once into .cache/ (shorter side 1.15 x --image-size for resized-crop); --no-cache decodes every epoch",
  }],
  ["logEvery", {
    type: "int",
    help: "read the training metrics back every N steps (iteration log, progress)",
  }],
  ["out", { type: "string", metavar: "DIR", help: "parent directory of run directories" }],
  ["name", {
    type: "string",
    metavar: "NAME",
    help: "run directory name (default: date and time)",
  }],
];

function show(v: unknown): string {
  if (Array.isArray(v)) return v.length ? v.join(",") : "all";
  if (v === "") return "none";
  return String(v);
}

export const TRAIN_FLAGS: FlagSpec[] = [
  {
    name: "recipe",
    type: "choice",
    choices: Object.keys(RECIPES),
    help: "start from a recipe's settings (flags override them): " +
      Object.entries(RECIPES).map(([n, r]) => `${n}: ${r.description}`).join("; "),
  },
  {
    name: "resume",
    type: "string",
    metavar: "RUN_DIR",
    help:
      "continue an interrupted run (its directory or its last.safetensors); --epochs may extend it",
  },
  ...CONFIG_FLAGS.map(([key, f]) => ({
    ...f,
    name: flagOf(key).slice(2),
    defaultText: show(DEFAULT_CONFIG[key]),
  })),
];

/** Lays the given config flags over `base`; returns the keys that were set. */
export function applyTrainFlags(base: TrainConfig, parsed: Parsed): Key[] {
  const set: Key[] = [];
  for (const [key] of CONFIG_FLAGS) {
    const v = parsed.values.get(flagOf(key).slice(2));
    if (v === undefined) continue;
    (base as unknown as Record<string, unknown>)[key] = v;
    set.push(key);
  }
  return set;
}

/** The config keys a resumed run lets a flag change (the rest come from the checkpoint). */
export const RESUMABLE_KEYS: Key[] = [
  "epochs",
  "earlyStop",
  "workers",
  "cache",
  "logEvery",
  "data",
];

export function checkResumeFlags(keys: Key[], parsed: Parsed): void {
  if (parsed.values.has("recipe")) {
    throw new UsageError("--recipe cannot be combined with --resume (the run keeps its settings)");
  }
  const bad = keys.filter((k) => !RESUMABLE_KEYS.includes(k));
  if (bad.length) {
    throw new UsageError(
      `${
        bad.map(flagOf).join(", ")
      } cannot be changed when resuming (the run keeps its settings; ` +
        `only ${RESUMABLE_KEYS.map(flagOf).join(", ")} may be given)`,
    );
  }
}
