// Everything a training run needs, built and checked before anything is written: the settings
// resolved (train/resolve.ts), the data and its splits, the model with its weights and
// freezing, the optimizer, the scheduler and the loaders. A bad flag, a missing file or
// weights that do not fit fail here, with no run directory made.

import { DataLoader, type Dataset } from "../data/mod.ts";
import { gpu } from "../kernels/device.ts";
import type { ResNet } from "../nn/resnet.ts";
import type { PartialEpoch, TrainMeta, TrainState } from "./checkpoint.ts";
import { ConfigError, type TrainConfig, validateConfig } from "./config.ts";
import { cacheDecoded, detectKind, openData, type OpenedData, splitFingerprint } from "./data.ts";
import {
  buildModel,
  chooseInChannels,
  loadBackbone,
  type ModelSpec,
  modelSpec,
  readWeights,
  setBackboneFrozen,
} from "./model.ts";
import {
  resolveConfig,
  resolvedWhy,
  smallInputWarning,
  type TrainedWith,
  trainedWith,
} from "./resolve.ts";
import type { WeightFile } from "../nn/io/weights_file.ts";
import { checkResourceLimits, thisMachine } from "./limits.ts";
import { type AnyOptimizer, makeOptimizer, makeScheduler } from "./optim.ts";
import { OptionError, type Schedule } from "./schedulers/schedule.ts";
import { evalTransform, trainTransform } from "./transforms.ts";

export interface StartPoint {
  epoch: number;
  batch: number;
  iteration: number;
  partial: PartialEpoch | null;
  best: TrainMeta["best"];
  frozen: boolean;
}

export interface Prepared {
  /** The settings used: the given ones with their automatic values resolved. */
  config: TrainConfig;
  /** The settings as given (recipe and flags), before resolution. */
  given: TrainConfig;
  /** For each resolved automatic value, where it came from (train/resolve.ts). */
  why: Record<string, string>;
  /** What the pretrained weights were trained on (null: none loaded). */
  trainedWith: TrainedWith | null;
  data: OpenedData;
  spec: ModelSpec;
  model: ResNet;
  optimizer: AnyOptimizer;
  scheduler: Schedule | null;
  trainLoader: DataLoader;
  /** Null when the run has no validation set (the test set picks the best checkpoint). */
  valLoader: DataLoader | null;
  /** Null when the data has a validation but no test split. */
  testLoader: DataLoader | null;
  start: StartPoint;
  /** Lines for the log describing the setup (data, weights, strategy). */
  notes: string[];
  /** Warnings about the settings, for the start-up block. */
  warnings: string[];
  /** Identifies the images of each split (data.ts's splitFingerprint); a resume checks it. */
  splits: string;
  /** Releases the GPU memory and loader workers. */
  dispose(): void;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Loader workers: 1 for image files (decoding), none for in-memory arrays. */
function workersFor(config: TrainConfig, data: OpenedData): number {
  return config.workers >= 0 ? config.workers : data.kind === "image-folder" ? 1 : 0;
}

function loaders(config: TrainConfig, data: OpenedData, inChannels: 1 | 3) {
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
      shuffle: train,
      seed: config.seed,
      dropLast: train && dropLast,
      transform: train ? trainTransform(config, pipe) : evalTransform(config, pipe),
      numWorkers,
      persistentWorkers: numWorkers > 0,
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

/** Builds a run from a config, or (with `resume`) the state of an interrupted one. */
export async function prepareTraining(given: TrainConfig, resume?: TrainState): Promise<Prepared> {
  validateConfig(given);
  let weights: WeightFile | null = null;
  if (given.weights && !resume) {
    weights = await readWeights(given.weights, given.allowNonFiniteWeights);
  }
  const kind = detectKind(given.data);
  const inChannels = resume ? resume.meta.model.inChannels : chooseInChannels(
    given,
    kind === "image-folder" ? 3 : kind === "idx" ? 1 : 3,
    weights?.dict ?? null,
  );
  const resolveInput = {
    inChannels,
    trainedWith: weights ? trainedWith(weights.checkpointMeta) : null,
  };
  const config = resolveConfig(given, resolveInput);
  validateConfig(config);
  checkResourceLimits(config, thisMachine(gpu().maxBufferBytes), 3);
  const files = openData(config, inChannels);
  if (resume && !sameList(resume.meta.classes, files.classes)) {
    throw new ConfigError(
      "data",
      `--data: the classes of "${config.data}" (${files.classes.join(", ")}) differ from the ` +
        `checkpoint's (${resume.meta.classes.join(", ")})`,
    );
  }
  const fingerprint = splitFingerprint(files);
  if (resume?.meta.splits && resume.meta.splits !== fingerprint) {
    throw new ConfigError(
      "data",
      `--data: the training, validation or test images of "${config.data}" are not those the ` +
        `run started with (files added, removed or renamed?); resuming would change its splits`,
    );
  }
  checkWatchedSets(config, files);
  const { data, close: closeCaches } = await cacheDecoded(files, config);
  const spec = resume ? resume.meta.model : modelSpec(config, data.classes.length, inChannels);
  let model: ResNet;
  try {
    model = buildModel(spec, config.seed, config.headInit);
  } catch (e) {
    closeCaches();
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
    if (weights) notes.push(`weights: ${loadBackbone(model, weights.dict, config.weights)}`);
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
    const { trainLoader, valLoader, testLoader } = loaders(config, data, spec.inChannels);
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
    const small = smallInputWarning(config, resolveInput.trainedWith);
    return {
      config,
      given,
      why: resolvedWhy(given, resolveInput),
      trainedWith: resolveInput.trainedWith,
      splits: fingerprint,
      data,
      spec,
      model,
      optimizer: opt,
      scheduler,
      trainLoader,
      valLoader,
      testLoader,
      start,
      notes,
      warnings: small ? [small] : [],
      dispose() {
        closeLoaders();
        closeCaches();
        opt.dispose();
        model.dispose();
      },
    };
  } catch (e) {
    optimizer?.dispose();
    model.dispose();
    closeCaches();
    throw e;
  }
}
