// Everything a training run needs, built and checked before anything is written: the data,
// the model with its weights and freezing, the optimizer, the scheduler and the loaders.
// A bad flag, a missing file or weights that do not fit fail here, with no run directory made.
// This is the Deno side (files, the decode cache, the machine's memory); train/prepared.ts
// assembles the run from what was read, for a page too.

import { gpu } from "../kernels/device.ts";
import type { StateDict } from "../nn/io/host_tensor.ts";
import type { TrainState } from "./checkpoint.ts";
import { ConfigError, type TrainConfig, validateConfig } from "./config.ts";
import { cacheDecoded, detectKind, openData } from "./data.ts";
import { chooseInChannels } from "./model.ts";
import { checkResourceLimits, thisMachine } from "./limits.ts";
import { assemblePrepared, type Prepared } from "./prepared.ts";
import { readWeights } from "./weights.ts";

export type { Prepared, StartPoint } from "./prepared.ts";

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
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
  return assemblePrepared({
    config,
    data,
    inChannels,
    weights: weights && { dict: weights, name: config.weights },
    resume,
    closeData: closeCaches,
  });
}
