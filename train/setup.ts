// Everything a training run needs, built and checked before anything is written: the settings
// resolved (train/resolve.ts), the data and its splits, the model with its weights and
// freezing, the optimizer, the scheduler and the loaders. A bad flag, a missing file or
// weights that do not fit fail here, with no run directory made. This is the Deno side
// (files, the decode cache, the machine's memory); train/prepared.ts assembles the run from
// what was read, for a page too.

import { gpu } from "../kernels/device.ts";
import type { WeightFile } from "../nn/io/weights_file.ts";
import type { TrainState } from "./checkpoint.ts";
import { ConfigError, type TrainConfig, validateConfig } from "./config.ts";
import { cacheDecoded, detectKind, openData } from "./data.ts";
import { chooseInChannels } from "./model.ts";
import { checkResourceLimits, thisMachine } from "./limits.ts";
import { assemblePrepared, type OpenedData, type Prepared } from "./prepared.ts";
import { resolveRun } from "./resolve.ts";
import { splitFingerprint } from "./splits.ts";
import { readWeights } from "./weights.ts";

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A change to a run's data once opened (before its splits are fingerprinted). */
export type DataAdapter = (data: OpenedData) => OpenedData;

/**
 * Builds a run from a config, or (with `resume`) the state of an interrupted one. `adapt`
 * changes the opened data first (the default experiment's rotation-labelled source task).
 */
export async function prepareTraining(
  given: TrainConfig,
  resume?: TrainState,
  adapt?: DataAdapter,
): Promise<Prepared> {
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
  const { config, trainedWith } = resolveRun(given, weights, inChannels);
  checkResourceLimits(config, thisMachine(gpu().maxBufferBytes), 3);
  const opened = openData(config, inChannels);
  const files = adapt ? adapt(opened) : opened;
  if (resume && !sameList(resume.meta.classes, files.classes)) {
    throw new ConfigError(
      "data",
      `--data: the classes of "${config.data}" (${files.classes.join(", ")}) differ from the ` +
        `checkpoint's (${resume.meta.classes.join(", ")})`,
    );
  }
  const splits = splitFingerprint(files);
  if (resume?.meta.splits && resume.meta.splits !== splits) {
    throw new ConfigError(
      "data",
      `--data: the training, validation or test images of "${config.data}" are not those the ` +
        `run started with (files added, removed or renamed?); resuming would change its splits`,
    );
  }
  const { data, close: closeCaches } = await cacheDecoded(files, config);
  return assemblePrepared({
    config,
    given,
    trainedWith,
    data,
    splits,
    inChannels,
    weights: weights && { dict: weights.dict, name: config.weights },
    resume,
    closeData: closeCaches,
  });
}
