// Using a trained checkpoint: rebuild its network and preprocessing, evaluate it on a
// dataset (loss, accuracy, per-class precision/recall/F1, confusion matrix), or predict the top-k
// classes of image files.

import { DataLoader, decodeImage, type Image } from "../data/mod.ts";
import { maxImageFileBytes } from "../data/limits.ts";
import { readRegularFileSync } from "../data/regular_file.ts";
import { gpu } from "../kernels/device.ts";
import { loadTrainState } from "./checkpoint.ts";
import { ConfigError, type TrainConfig } from "./config.ts";
import { openData } from "./data.ts";
import { type EvalResult, evaluate } from "./evaluate.ts";
import { type ClassificationReport, classificationReport } from "./metrics.ts";
import { checkResourceLimits, thisMachine } from "./limits.ts";
import { buildModel } from "./model.ts";
import { predictImages, type Prediction, type Trained } from "./predict.ts";
import { evalTransform } from "./transforms.ts";

export type { Prediction, Trained } from "./predict.ts";

/** Loads a checkpoint of `train` (best or last) into a network in eval mode. */
export async function loadTrained(
  path: string,
  flag = "--checkpoint",
  options: { allowNonFinite?: boolean; maxImagePixels?: number } = {},
): Promise<Trained> {
  const state = await loadTrainState(path, flag, options);
  if (options.maxImagePixels !== undefined) {
    state.meta.config.maxImagePixels = options.maxImagePixels;
  }
  const model = buildModel(state.meta.model, 0);
  try {
    model.loadStateDict(state.model);
  } catch (e) {
    model.dispose();
    throw new Error(`${flag}: ${path}: ${(e as Error).message}`);
  }
  model.eval();
  return { model, meta: state.meta };
}

/** What evaluateCheckpoint returns: loss, accuracy and the per-class view. */
export interface EvalReport extends EvalResult {
  /** Class names in label order. */
  classes: string[];
  /** Precision, recall, F1 and support per class, with their averages. */
  report: ClassificationReport;
  /** The dataset evaluated. */
  dataset: string;
  /** The part evaluated: "test", "train", or "validation" for data with no test split. */
  split: string;
}

/**
 * Evaluates on `data` (default: the data the run was trained on) with the run's class
 * selection and preprocessing; `split` picks the test split (or the run's held-out part)
 * or the training part.
 */
export async function evaluateCheckpoint(
  t: Trained,
  options: {
    data?: string;
    split?: "test" | "train";
    batchSize?: number;
    workers?: number;
    /** Called after each batch with the batches done and the total (a progress display). */
    onBatch?: (done: number, total: number) => void;
  } = {},
): Promise<EvalReport> {
  for (
    const [flag, v, min] of [["--batch-size", options.batchSize, 1], [
      "--workers",
      options.workers,
      0,
    ]] as const
  ) {
    if (v !== undefined && !(Number.isInteger(v) && v >= min)) {
      throw new ConfigError(
        flag === "--workers" ? "workers" : "batchSize",
        `${flag} must be an integer >= ${min}, got ${v}`,
      );
    }
  }
  const config: TrainConfig = {
    ...t.meta.config,
    data: options.data ?? t.meta.config.data,
    perClass: options.split === "train" ? t.meta.config.perClass : 0,
    // the run's own class selection (if any) applies; any other class in the data is an error
    classes: t.meta.config.classes,
  };
  checkResourceLimits(
    {
      imageSize: config.imageSize,
      evalResize: config.evalResize,
      batchSize: options.batchSize ?? config.batchSize,
      workers: options.workers ?? 0,
    },
    thisMachine(gpu().maxBufferBytes),
    t.meta.model.inChannels,
  );
  const data = openData(config, t.meta.model.inChannels);
  if (data.classes.join("\n") !== t.meta.classes.join("\n")) {
    const extra = data.classes.filter((c) => !t.meta.classes.includes(c));
    const missing = t.meta.classes.filter((c) => !data.classes.includes(c));
    throw new ConfigError(
      "data",
      `--data: the classes of "${config.data}" (${data.classes.join(", ")}) differ from the ` +
        `checkpoint's (${t.meta.classes.join(", ")})` +
        (extra.length ? `; not in the checkpoint: ${extra.join(", ")}` : "") +
        (missing.length ? `; missing: ${missing.join(", ")}` : "") +
        (extra.length || missing.length ? "" : "; the order differs") +
        `. The model can only be evaluated on the classes it was trained on`,
    );
  }
  // data with a val/ folder and no test split: its validation set is all there is to test on
  const [split, ds] = options.split === "train"
    ? ["train", data.train]
    : data.test
    ? ["test", data.test]
    : ["validation", data.val!];
  const transform = evalTransform(config, {
    dataChannels: data.channels,
    modelChannels: t.meta.model.inChannels,
    knownSize: data.knownSize,
  });
  const loader = new DataLoader(ds, {
    batchSize: options.batchSize ?? config.batchSize,
    transform,
    numWorkers: options.workers ?? (data.kind === "image-folder" ? 1 : 0),
  });
  const r = await evaluate(t.model, loader, {
    numClasses: t.meta.classes.length,
    onBatch: (done) => options.onBatch?.(done, loader.length),
  });
  loader.close();
  return {
    ...r,
    classes: t.meta.classes,
    report: classificationReport(r.confusion, t.meta.classes),
    dataset: config.data,
    split,
  };
}

/** A file that could not be predicted: missing, not a regular file, or not a decodable image. */
export interface PredictionFailure {
  /** The file, as given. */
  file: string;
  /** What is wrong with it (the error's message, naming the file). */
  error: string;
}

/** What predictFiles returns: a prediction per readable file, and the files that were not. */
export interface PredictionResult {
  /** In the order of the files given. */
  predictions: Prediction[];
  /** In the order of the files given. */
  failures: PredictionFailure[];
}

/**
 * Top-k classes of each image file, with softmax probabilities. A file that cannot be read
 * or decoded does not stop the others: it is listed in `failures` with the reason.
 */
export async function predictFiles(
  t: Trained,
  files: string[],
  topK = 5,
  batchSize = 16,
  maxPixels = t.meta.config.maxImagePixels,
): Promise<PredictionResult> {
  const c = t.meta.model.inChannels;
  const failures: PredictionFailure[] = [];
  // decoded a batch at a time, so a folder of many photos never sits decoded in memory at once
  const decode = (file: string): Image[] => {
    try {
      const bytes = readRegularFileSync(file, {
        what: "image",
        maxBytes: maxImageFileBytes(maxPixels),
      });
      return [decodeImage(bytes, file, { channels: c as 1 | 3, maxPixels })];
    } catch (e) {
      failures.push({ file, error: e instanceof Error ? e.message : String(e) });
      return [];
    }
  };
  const predictions: Prediction[] = [];
  for (let s = 0; s < files.length; s += batchSize) {
    const chunk = files.slice(s, s + batchSize).flatMap((file) =>
      decode(file).map((image) => ({ file, image }))
    );
    if (chunk.length === 0) continue;
    predictions.push(
      ...await predictImages(
        t,
        chunk.map((x) => x.image),
        chunk.map((x) => x.file),
        topK,
        batchSize,
      ),
    );
  }
  return { predictions, failures };
}
