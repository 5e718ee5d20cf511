// A training run's parts (the Prepared object fit() runs), assembled from what has been
// read already: the opened datasets, the weights as a state dict, a checkpoint to resume.
// No file I/O and no Deno here: the CLI reads files in train/setup.ts, a page reads what
// the user picked, and both build the run with assemblePrepared.

import type { Dataset } from "../data/dataset.ts";
import type { SkippedFile } from "../data/folder_dataset.ts";
import { DataLoader } from "../data/loader.ts";
import type { StateDict } from "../nn/io/host_tensor.ts";
import type { ResNet } from "../nn/resnet.ts";
import type { PartialEpoch, TrainMeta, TrainState } from "./train_state.ts";
import { ConfigError, type TrainConfig } from "./config.ts";
import { buildModel, loadBackbone, type ModelSpec, modelSpec, setBackboneFrozen } from "./model.ts";
import { type AnyOptimizer, makeOptimizer, makeScheduler } from "./optim.ts";
import { OptionError, type Schedule } from "./schedulers/schedule.ts";
import { evalTransform, trainTransform } from "./transforms.ts";
import { balancedClassWeights, balancedSampler } from "./class_balance.ts";
import { Tensor } from "../nn/tensor.ts";
import { resolvedWhy, smallInputWarning, type TrainedWith } from "./resolve.ts";

/** What --data turned out to be: a folder (or .zip) of class folders, CIFAR-10, or IDX files. */
export type DataKind = "image-folder" | "cifar10" | "idx";

/**
 * The data of a run, opened: the training, validation and test sets with the class selection
 * and splits applied (train/splits.ts).
 */
export interface OpenedData {
  /** What kind of data it is. */
  kind: DataKind;
  /** The training samples. */
  train: Dataset;
  /** Picks the best checkpoint and drives the plateau schedule and early stopping (null:
   * none, the test set does). */
  val: Dataset | null;
  /** The test samples (the data's test split, or a held-out part of the training data); null
   * only when the data has a val/ folder but no test split. */
  test: Dataset | null;
  /** Class names in label order. */
  classes: string[];
  /** Channels the images decode to. */
  channels: 1 | 3;
  /** Size of every image when fixed (CIFAR, IDX). */
  knownSize?: [number, number];
  /** Where the validation data came from, for the log. */
  valSource: string;
  /** Where the test data came from, for the log. */
  testSource: string;
  /** Image files left out because they could not be read (paths relative to the data). */
  skipped: SkippedFile[];
}

/** Where fit starts: epoch 0, or where a resumed checkpoint left off. */
export interface StartPoint {
  /** Epochs fully done. */
  epoch: number;
  /** Batches done of epoch `epoch`. */
  batch: number;
  /** Optimizer steps done. */
  iteration: number;
  /** Metric sums of the epoch in progress. */
  partial: PartialEpoch | null;
  /** The best epoch so far. */
  best: TrainMeta["best"];
  /** Whether the backbone is frozen. */
  frozen: boolean;
}

/** A run ready to train: what `prepareTraining` builds and `fit` runs. */
export interface Prepared {
  /** The settings used: the given ones with their automatic values resolved. */
  config: TrainConfig;
  /** The settings as given (recipe and flags), before resolution. */
  given: TrainConfig;
  /** For each resolved automatic value, where it came from (train/resolve.ts). */
  why: Record<string, string>;
  /** What the pretrained weights were trained on (null: none loaded). */
  trainedWith: TrainedWith | null;
  /** The opened data. */
  data: OpenedData;
  /** The network's architecture, as checkpoints record it. */
  spec: ModelSpec;
  /** The network, with its weights loaded and its frozen layers set. */
  model: ResNet;
  /** The optimizer over the model's parameter groups (backbone and head). */
  optimizer: AnyOptimizer;
  /**
   * Internal: the learning-rate schedule fit steps.
   * @ignore
   */
  scheduler: Schedule | null;
  /** Batches of the training data (shuffled or sampled, augmented). */
  trainLoader: DataLoader;
  /** Null when the run has no validation set (the test set picks the best checkpoint). */
  valLoader: DataLoader | null;
  /** Null when the data has a validation but no test split. */
  testLoader: DataLoader | null;
  /** f32 [classes]: the training loss's class weights (--class-weights), or null. */
  classWeights: Tensor | null;
  /**
   * Internal: where fit starts (epoch, batch, best so far; from a resumed checkpoint).
   * @ignore
   */
  start: StartPoint;
  /** Lines for the log describing the setup (data, weights, strategy). */
  notes: string[];
  /** Warnings about the settings, for the start-up block. */
  warnings: string[];
  /** Identifies the images of each split (train/splits.ts's splitFingerprint); a resume
   * checks it. */
  splits: string;
  /** Releases the GPU memory and loader workers. */
  dispose(): void;
}

/** Loader workers: 1 for image files (decoding), none for in-memory arrays. */
function workersFor(config: TrainConfig, data: OpenedData): number {
  return config.workers >= 0 ? config.workers : data.kind === "image-folder" ? 1 : 0;
}

/** The training, validation and test loaders of a config; `warn` receives their skipped-file
 * reports. */
export function makeLoaders(
  config: TrainConfig,
  data: OpenedData,
  inChannels: 1 | 3,
  warn?: (message: string) => void,
): { trainLoader: DataLoader; valLoader: DataLoader | null; testLoader: DataLoader | null } {
  const pipe = {
    dataChannels: data.channels,
    modelChannels: inChannels,
    knownSize: data.knownSize,
  };
  const numWorkers = workersFor(config, data);
  const n = data.train.length, b = config.batchSize;
  // A last batch of one sample would give BatchNorm a single value per channel.
  const dropLast = n > b && n % b === 1;
  const make = (ds: Dataset, train: boolean) =>
    new DataLoader(ds, {
      batchSize: b,
      // --balanced-sampler replaces the shuffle (an epoch is still n samples long)
      shuffle: train && !config.balancedSampler,
      sampler: train && config.balancedSampler ? balancedSampler(ds, config.seed) : undefined,
      seed: config.seed,
      dropLast: train && dropLast,
      transform: train ? trainTransform(config, pipe) : evalTransform(config, pipe),
      numWorkers,
      persistentWorkers: numWorkers > 0,
      warn,
    });
  return {
    trainLoader: make(data.train, true),
    valLoader: data.val ? make(data.val, false) : null,
    testLoader: data.test ? make(data.test, false) : null,
  };
}

/** The plateau metric and early stopping need the set they watch. */
function checkWatchedSets(config: TrainConfig, data: OpenedData): void {
  const noVal = "there is none (--val-split 0 and no val/ folder)";
  if (config.scheduler === "plateau") {
    const m = config.plateauMetric;
    if (m.startsWith("val-") && !data.val) {
      throw new ConfigError(
        "plateauMetric",
        `--plateau-metric ${m} watches the validation set, but ${noVal}; pass --val-split ` +
          `0.1, or --plateau-metric ${m.replace("val-", "test-")} to watch the test set ` +
          `(its accuracy is then optimistic)`,
      );
    }
    if (m.startsWith("test-") && !data.test) {
      throw new ConfigError(
        "plateauMetric",
        `--plateau-metric ${m} watches the test set, but "${config.data}" has none; ` +
          `use --plateau-metric ${m.replace("test-", "val-")}`,
      );
    }
  }
  if (config.earlyStop > 0 && !data.val) {
    throw new ConfigError(
      "earlyStop",
      `--early-stop watches the validation accuracy, but ${noVal}; pass --val-split 0.1 ` +
        `(stopping on the test set would make its accuracy optimistic)`,
    );
  }
}

export interface PreparedInput {
  /** The resolved settings (train/resolve.ts), checked already (validateConfig). */
  config: TrainConfig;
  /** The settings as given, before resolution. */
  given: TrainConfig;
  /** What the pretrained weights were trained on (null: none loaded). */
  trainedWith: TrainedWith | null;
  data: OpenedData;
  /** The splits' fingerprint (train/splits.ts splitFingerprint), taken before any decode cache
   * wraps the datasets. */
  splits: string;
  /** The model's input channels (train/model.ts chooseInChannels). */
  inChannels: 1 | 3;
  /** Pretrained weights and their name for messages, or null. */
  weights: { dict: StateDict; name: string } | null;
  resume?: TrainState;
  /** Releases what the data holds open (decode caches); called on failure and by dispose(). */
  closeData: () => void;
  /** Where the loaders' skipped-file reports go (default console.warn). */
  warn?: (message: string) => void;
}

/** Builds the model, its weights and freezing, the optimizer, scheduler and loaders. */
export function assemblePrepared(input: PreparedInput): Prepared {
  const { config, given, trainedWith, data, inChannels, weights, resume, closeData, warn } = input;
  const spec = resume ? resume.meta.model : modelSpec(config, data.classes.length, inChannels);
  let model: ResNet;
  try {
    checkWatchedSets(config, data);
    model = buildModel(spec, config.seed, config.headInit);
  } catch (e) {
    closeData();
    throw e;
  }
  const notes: string[] = [];
  let optimizer: AnyOptimizer | null = null;
  try {
    notes.push(
      `data: ${config.data} (${data.kind}): ${data.train.length} training, ` +
        `${data.val?.length ?? 0} validation and ${data.test?.length ?? 0} test images of ` +
        `${data.classes.length} classes`,
    );
    notes.push(`  validation: ${data.val ? data.valSource : "none (--val-split 0)"}`);
    notes.push(`  test: ${data.test ? data.testSource : "none (the data has no test split)"}`);
    if (weights) notes.push(`weights: ${loadBackbone(model, weights.dict, weights.name)}`);
    else if (resume) model.loadStateDict(resume.model);
    else notes.push("weights: random initialisation (training from scratch)");
    if (spec.stages < 4) {
      notes.push(`model: ResNet18 truncated to its first ${spec.stages} stage(s) + new head`);
    }

    const frozen = resume
      ? resume.meta.frozen
      : config.strategy === "feature-extract" || config.strategy === "freeze-unfreeze";
    setBackboneFrozen(model, frozen, config.freezeBatchNorm);
    notes.push(
      `strategy: ${config.strategy}${frozen ? " (backbone frozen, training the head)" : ""}`,
    );

    optimizer = makeOptimizer(config, model);
    if (resume) {
      if (!resume.optim || !resume.meta.optim) {
        throw new ConfigError(
          "data",
          `--resume: the checkpoint holds no optimizer state (is it a best.safetensors?)`,
        );
      }
      optimizer.loadStateDict({ tensors: resume.optim, meta: resume.meta.optim });
    }
    const lossWeights = config.classWeights === "balanced"
      ? balancedClassWeights(data.train)
      : null;
    if (lossWeights) {
      notes.push(
        `class weights (balanced, n / (classes x count)): ${
          data.classes.map((c, i) => `${c} ${lossWeights[i].toPrecision(3)}`).join(", ")
        }`,
      );
    }
    if (config.balancedSampler) {
      notes.push(
        "sampler: balanced (with replacement, weight 1 / class count; each epoch draws " +
          `${data.train.length} samples)`,
      );
    }
    const { trainLoader, valLoader, testLoader } = makeLoaders(
      config,
      data,
      spec.inChannels,
      warn,
    );
    const closeLoaders = () => [trainLoader, valLoader, testLoader].forEach((l) => l?.close());
    let scheduler: Schedule | null;
    try {
      scheduler = makeScheduler(config, optimizer, trainLoader.length);
    } catch (e) {
      closeLoaders();
      if (e instanceof OptionError) {
        throw new ConfigError(e.key as keyof TrainConfig, e.message);
      }
      throw e;
    }
    if (resume && scheduler && resume.meta.scheduler) {
      scheduler.loadStateDict(resume.meta.scheduler);
    }
    const start: StartPoint = resume
      ? {
        epoch: resume.meta.epoch,
        batch: resume.meta.batch,
        iteration: resume.meta.iteration,
        partial: resume.meta.partial,
        best: resume.meta.best,
        frozen,
      }
      : { epoch: 0, batch: 0, iteration: 0, partial: null, best: null, frozen };
    const opt = optimizer;
    const resolveInput = { inChannels, trainedWith };
    const small = smallInputWarning(config, trainedWith);
    const classWeights = lossWeights && Tensor.fromArray(Float32Array.from(lossWeights)).keep();
    return {
      config,
      given,
      why: resolvedWhy(given, resolveInput),
      trainedWith,
      splits: input.splits,
      data,
      spec,
      model,
      optimizer: opt,
      scheduler,
      trainLoader,
      valLoader,
      testLoader,
      classWeights,
      start,
      notes,
      warnings: small ? [small] : [],
      dispose() {
        classWeights?.dispose();
        closeLoaders();
        closeData();
        opt.dispose();
        model.dispose();
      },
    };
  } catch (e) {
    optimizer?.dispose();
    model.dispose();
    closeData();
    throw e;
  }
}
