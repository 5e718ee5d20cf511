// Recipes: the settings common practice uses for a kind of data, as partial configs that
// command-line flags override. Each follows a source that picks its best epoch (and, for
// cifar10, cuts the lr) on the test set, so each sets --val-split 0 and says so; --val-split
// 0.1 (with --plateau-metric val-loss for cifar10) selects on a validation split instead.

import { DEFAULT_CONFIG, type TrainConfig } from "./config.ts";

/** A named set of settings (a partial config that flags override). */
export interface Recipe {
  /** What the recipe is for, for --help. */
  description: string;
  /** The settings it changes. */
  config: Partial<TrainConfig>;
}

/** The recipes by name (--recipe): hotdog, cifar10, fashion. */
export const RECIPES: Record<string, Recipe> = {
  hotdog: {
    description: "ImageNet-pretrained fine-tuning of a small photo dataset (the hotdog archive): " +
      "RandomResizedCrop 224 + flip, ImageNet normalisation, SGD lr 5e-5 with a 10x head, " +
      "weight decay 1e-3, batch 128, 5 epochs; no validation split (the test set picks the best epoch)",
    config: {
      strategy: "finetune",
      imageSize: 224,
      // 0: follows the image size (Resize(256) + CenterCrop(224) at 224)
      evalResize: 0,
      valSplit: 0,
      augment: "resized-crop",
      normalize: "imagenet",
      inChannels: 3,
      optimizer: "sgd",
      lr: 5e-5,
      momentum: 0,
      headLrMult: 10,
      headInit: "xavier",
      weightDecay: 1e-3,
      batchSize: 128,
      epochs: 5,
    },
  },
  cifar10: {
    description:
      "CIFAR-10 at 32x32: RandomCrop 32 pad 4, flip, color jitter, rotation 15 degrees, " +
      "CIFAR normalisation, Adam lr 1e-3 weight decay 1e-4, ReduceLROnPlateau(factor 0.5, " +
      "patience 2) on the test loss, backbone frozen 5 epochs then unfrozen at lr 1e-4, 40 epochs; " +
      "no validation split (the test set picks the best epoch)",
    config: {
      strategy: "freeze-unfreeze",
      freezeEpochs: 5,
      unfreezeLr: 1e-4,
      imageSize: 32,
      valSplit: 0,
      augment: "cifar",
      normalize: "cifar10",
      inChannels: 3,
      optimizer: "adam",
      lr: 1e-3,
      weightDecay: 1e-4,
      scheduler: "plateau",
      plateauMetric: "test-loss",
      plateauFactor: 0.5,
      plateauPatience: 2,
      batchSize: 64,
      epochs: 40,
    },
  },
  /**
   * What the embedded default's stage 2 starts from (also usable on any small grayscale
   * dataset): 28x28 Fashion-MNIST-sized inputs, Adam, backbone frozen for the first epochs then
   * unfrozen at a lower lr. Sized for a few minutes on two CPU cores with a software GPU driver.
   */
  fashion: {
    description: "small grayscale images (Fashion-MNIST sized): 28x28, RandomCrop pad 2 + flip, " +
      "Fashion-MNIST normalisation, Adam lr 1e-3 with a 10x head, backbone frozen 2 epochs " +
      "then unfrozen at lr 3e-4, 8 epochs, batch 32; no validation split (the test set picks the best epoch)",
    config: {
      strategy: "freeze-unfreeze",
      freezeEpochs: 2,
      unfreezeLr: 3e-4,
      headLrMult: 10,
      imageSize: 28,
      valSplit: 0,
      augment: "crop-flip",
      normalize: "fashion-mnist",
      inChannels: 1,
      optimizer: "adam",
      lr: 1e-3,
      weightDecay: 0,
      batchSize: 32,
      epochs: 8,
    },
  },
};

/** The defaults with a recipe laid over them (no recipe: the defaults). */
export function recipeConfig(name: string | undefined): TrainConfig {
  const base = structuredClone(DEFAULT_CONFIG) as TrainConfig;
  if (!name || name === "none") return base;
  const r = RECIPES[name];
  if (!r) {
    throw new Error(`unknown recipe "${name}" (recipes: ${Object.keys(RECIPES).join(", ")})`);
  }
  return { ...base, ...structuredClone(r.config), recipe: name };
}
