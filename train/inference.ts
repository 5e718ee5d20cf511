// Using a trained checkpoint: rebuild its network and preprocessing, evaluate it on a
// dataset (loss, accuracy, per-class accuracy, confusion matrix), or predict the top-k
// classes of image files.

import { DataLoader, decodeImage, type Image, mixSeed, Rng } from "../data/mod.ts";
import { maxImageFileBytes } from "../data/limits.ts";
import { readRegularFileSync } from "../data/regular_file.ts";
import { gpu } from "../kernels/device.ts";
import { softmax } from "../nn/ops/loss.ts";
import type { ResNet } from "../nn/resnet.ts";
import { noGrad, Scope, Tensor } from "../nn/tensor.ts";
import { loadTrainState, type TrainMeta } from "./checkpoint.ts";
import { ConfigError, type TrainConfig } from "./config.ts";
import { openData } from "./data.ts";
import { type EvalResult, evaluate, perClassAccuracy } from "./evaluate.ts";
import { checkResourceLimits, thisMachine } from "./limits.ts";
import { buildModel } from "./model.ts";
import { evalTransform } from "./transforms.ts";

/** A trained network rebuilt from a checkpoint, with the checkpoint's metadata. */
export interface Trained {
  /** The network, in eval mode. */
  model: ResNet;
  /** The checkpoint's metadata (classes, config, metrics). */
  meta: TrainMeta;
}

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
  /** Accuracy of each true class (NaN without samples). */
  perClass: number[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** The dataset evaluated. */
  dataset: string;
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
  const ds = options.split === "train" ? data.train : data.test;
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
    confusion: true,
    onBatch: (done) => options.onBatch?.(done, loader.length),
  });
  loader.close();
  return {
    ...r,
    classes: t.meta.classes,
    perClass: perClassAccuracy(r.confusion!),
    confusion: r.confusion!,
    dataset: config.data,
  };
}

/** The top classes of one image file. */
export interface Prediction {
  /** The file, as given. */
  file: string;
  /** The `topK` most probable classes, most probable first (ties: lower label first). */
  top: { label: number; className: string; probability: number }[];
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
  const transform = evalTransform(t.meta.config, { dataChannels: c, modelChannels: c });
  const k = Math.min(topK, t.meta.classes.length);
  const failures: PredictionFailure[] = [];
  // decoded a batch at a time, so a folder of many photos never sits decoded in memory at once
  const decode = (file: string): Image | null => {
    try {
      const bytes = readRegularFileSync(file, {
        what: "image",
        maxBytes: maxImageFileBytes(maxPixels),
      });
      return decodeImage(bytes, file, { channels: c as 1 | 3, maxPixels });
    } catch (e) {
      failures.push({ file, error: e instanceof Error ? e.message : String(e) });
      return null;
    }
  };
  const out: Prediction[] = [];
  for (let s = 0; s < files.length; s += batchSize) {
    const chunk = files.slice(s, s + batchSize).flatMap((file) => {
      const image = decode(file);
      return image ? [{ file, image }] : [];
    });
    if (chunk.length === 0) continue;
    const tensors = chunk.map(({ image }, i) => {
      const x = transform.apply(image, Rng.mixed(mixSeed(0, 0, out.length + i)));
      if (!(x.data instanceof Float32Array)) {
        throw new Error("evaluation transform must end with ToTensor");
      }
      return x as { data: Float32Array; channels: number; height: number; width: number };
    });
    const [C, H, W] = [tensors[0].channels, tensors[0].height, tensors[0].width];
    const batch = new Float32Array(chunk.length * C * H * W);
    tensors.forEach((x, i) => batch.set(x.data, i * C * H * W));
    let probs: Float32Array;
    {
      using _ = new Scope();
      const p = noGrad(() =>
        softmax(t.model.forward(Tensor.fromArray(batch, [chunk.length, C, H, W])))
      );
      probs = await p.toArray();
    }
    const n = t.meta.classes.length;
    chunk.forEach((_, i) => {
      const row = Array.from(probs.subarray(i * n, (i + 1) * n), (p, label) => ({ label, p }));
      row.sort((a, b) => b.p - a.p || a.label - b.label);
      out.push({
        file: chunk[i].file,
        top: row.slice(0, k).map(({ label, p }) => ({
          label,
          className: t.meta.classes[label],
          probability: p,
        })),
      });
    });
  }
  return { predictions: out, failures };
}
