// Everything a training run needs, built and checked before anything is written: the data,
// the model with its weights and freezing, the optimizer, the scheduler and the loaders.
// A bad flag, a missing file or weights that do not fit fail here, with no run directory made.

import { DataLoader, type Dataset } from "../data/mod.ts";
import { gpu } from "../kernels/device.ts";
import type { StateDict } from "../nn/io/host_tensor.ts";
import type { ResNet } from "../nn/resnet.ts";
import type { PartialEpoch, TrainMeta, TrainState } from "./checkpoint.ts";
import { ConfigError, type TrainConfig, validateConfig } from "./config.ts";
import { cacheDecoded, detectKind, openData, type OpenedData } from "./data.ts";
import {
  buildModel,
  chooseInChannels,
  loadBackbone,
  type ModelSpec,
  modelSpec,
  readWeights,
  setBackboneFrozen,
} from "./model.ts";
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

/** A run ready to train: what `prepareTraining` builds and `fit` runs. */
export interface Prepared {
  /** The run's settings, as validated. */
  config: TrainConfig;
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
  /** Batches of the training data (shuffled, augmented). */
  trainLoader: DataLoader;
  /** Batches of the test data. */
  testLoader: DataLoader;
  /**
   * Internal: where fit starts (epoch, batch, best so far; from a resumed checkpoint).
   * @ignore
   */
  start: StartPoint;
  /** Lines for the log describing the setup (data, weights, strategy). */
  notes: string[];
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
  return { trainLoader: make(data.train, true), testLoader: make(data.test, false) };
}

/** Builds a run from a config, or (with `resume`) the state of an interrupted one. */
export async function prepareTraining(config: TrainConfig, resume?: TrainState): Promise<Prepared> {
  validateConfig(config);
  checkResourceLimits(config, thisMachine(gpu().maxBufferBytes), 3);
  let weights: StateDict | null = null;
  if (config.weights && !resume) {
    weights = await readWeights(config.weights, config.allowNonFiniteWeights);
  }
  const kind = detectKind(config.data);
  const inChannels = resume
    ? resume.meta.model.inChannels
    : chooseInChannels(config, kind === "image-folder" ? 3 : kind === "idx" ? 1 : 3, weights);
  const files = openData(config, inChannels);
  if (resume && !sameList(resume.meta.classes, files.classes)) {
    throw new ConfigError(
      "data",
      `--data: the classes of "${config.data}" (${files.classes.join(", ")}) differ from the ` +
        `checkpoint's (${resume.meta.classes.join(", ")})`,
    );
  }
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
      `data: ${config.data} (${data.kind}): ${data.train.length} training and ${data.test.length} ` +
        `test images of ${data.classes.length} classes; test data: ${data.testSource}`,
    );
    if (weights) notes.push(`weights: ${loadBackbone(model, weights, config.weights)}`);
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
    const { trainLoader, testLoader } = loaders(config, data, spec.inChannels);
    let scheduler: Schedule | null;
    try {
      scheduler = makeScheduler(config, optimizer, trainLoader.length);
    } catch (e) {
      trainLoader.close();
      testLoader.close();
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
    return {
      config,
      data,
      spec,
      model,
      optimizer: opt,
      scheduler,
      trainLoader,
      testLoader,
      start,
      notes,
      dispose() {
        trainLoader.close();
        testLoader.close();
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
