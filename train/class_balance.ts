// What --class-weights balanced and --balanced-sampler derive from the training labels: the
// loss weight of each class (sklearn's compute_class_weight("balanced")) and the loader's
// WeightedRandomSampler (weight 1 / class count per sample, an epoch as long as the set).

import type { Dataset } from "../data/dataset.ts";
import {
  balancedSampleWeights,
  classCounts,
  WeightedRandomSampler,
} from "../data/weighted_sampler.ts";
import { ConfigError } from "./config.ts";

/** n_samples / (n_classes × count_c) for each class; throws for a class with no samples. */
export function balancedClassWeights(train: Dataset): number[] {
  const k = train.classes.length;
  const counts = classCounts(train.targets, k);
  const empty = counts.findIndex((n) => n === 0);
  if (empty >= 0) {
    throw new ConfigError(
      "classWeights",
      `--class-weights balanced: class "${train.classes[empty]}" has no training images, so ` +
        `its weight n / (classes × count) is infinite; add images of it or leave it out with --classes`,
    );
  }
  return counts.map((n) => train.length / (k * n));
}

/** The sampler of --balanced-sampler, seeded by the run's seed. */
export function balancedSampler(train: Dataset, seed: number): WeightedRandomSampler {
  return new WeightedRandomSampler(
    balancedSampleWeights(train.targets, train.classes.length),
    train.length,
    seed,
  );
}
