// Classification loss and metrics as tensor ops: softmax cross-entropy with its backward,
// top-1 correct counts and an epoch accumulator that stay on the GPU, softmax and argmax
// for prediction. The WGSL is in kernels/loss.ts.
//
// Labels outside [0, classes) cannot raise on the GPU: they make the loss NaN, get a zero
// gradient, never count as correct and are counted in the accumulator's `invalid` slot.
// Where labels come from the CPU, checkLabels raises PyTorch's error before upload.

import { ArgumentError } from "../../base/errors.ts";
import { gpu } from "../../kernels/device.ts";
import { fill } from "../../kernels/elementwise.ts";
import * as k from "../../kernels/loss.ts";
import { record, Tensor } from "../tensor.ts";

export const METRIC_SLOTS = k.METRIC_SLOTS;

/** Options of `crossEntropy` (torch.nn.functional.cross_entropy's). */
export interface CrossEntropyOptions {
  /** ε in [0, 1]: the target puts 1-ε on the label and ε/classes on every class. */
  labelSmoothing?: number;
  /**
   * f32 [classes]: a weight per class, as CrossEntropyLoss(weight=...): each row's loss is
   * scaled by its label's weight (the smoothing term by each class's weight) and the mean
   * divides by the sum of the labels' weights, as PyTorch 1.13 does.
   */
  weight?: Tensor;
}

/** [rows, classes] of f32 logits [N, C] with i32 labels [N] (labels optional). */
function classification(op: string, logits: Tensor, labels?: Tensor) {
  if (logits.dtype !== "f32" || logits.shape.length !== 2) {
    throw new ArgumentError(`${op}: logits must be f32 [N, C], got ${logits}`);
  }
  const [rows, classes] = logits.shape;
  if (rows === 0 || classes === 0) throw new ArgumentError(`${op}: logits ${logits} are empty`);
  if (labels && (labels.dtype !== "i32" || labels.shape.length !== 1 || labels.shape[0] !== rows)) {
    throw new ArgumentError(
      `${op}: labels must be i32 [${rows}] to match logits [${logits.shape}], got ${labels}`,
    );
  }
  return { rows, classes };
}

/**
 * Mean softmax cross-entropy of logits [N, C] against i32 class labels [N], as
 * torch.nn.functional.cross_entropy(logits, labels, weight=w, label_smoothing=ε). Returns a
 * scalar (shape []) whose backward gives the logits' gradient (no gradient for the weights).
 */
export function crossEntropy(
  logits: Tensor,
  labels: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  const { rows, classes } = classification("crossEntropy", logits, labels);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) {
    throw new ArgumentError(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  }
  const w = options.weight;
  if (w && (w.dtype !== "f32" || w.shape.length !== 1 || w.shape[0] !== classes)) {
    throw new ArgumentError(
      `crossEntropy: weight must be f32 [${classes}] (one per class of logits ${logits}), got ${w}`,
    );
  }
  const weighted = w
    ? { weights: w.buffer, total: Tensor.empty([1]), sums: Tensor.empty([2]) }
    : null;
  const kernelWeights = weighted &&
    { weights: weighted.weights, total: weighted.total.buffer, sums: weighted.sums.buffer };
  const g = gpu();
  const loss = Tensor.empty([]);
  k.crossEntropyForward(
    g,
    logits.buffer,
    labels.buffer,
    loss.buffer,
    rows,
    classes,
    smoothing,
    kernelWeights,
  );
  return record(loss, "crossEntropy", [logits, labels], (grad, needs) => {
    if (!needs[0]) return [null, null];
    const dLogits = Tensor.empty(logits.shape);
    k.crossEntropyBackward(
      gpu(),
      logits.buffer,
      labels.buffer,
      grad.buffer,
      dLogits.buffer,
      rows,
      classes,
      smoothing,
      kernelWeights,
    );
    return [dLogits, null];
  });
}

/** An i32 [1] tensor: how many rows' argmax (first max wins) equals the label. */
export function countCorrect(logits: Tensor, labels: Tensor): Tensor {
  const { rows, classes } = classification("countCorrect", logits, labels);
  const g = gpu();
  const out = Tensor.empty([1], "i32");
  fill(g, out.buffer, 1, 0); // f32 +0.0 and i32 0 have the same bits
  k.countCorrect(g, logits.buffer, labels.buffer, out.buffer, rows, classes);
  return out;
}

/** A zeroed f32 accumulator for accumulateMetrics; kept out of scopes (it lives an epoch). */
export function metricsAccumulator(): Tensor {
  return Tensor.zeros([k.METRIC_COUNT]).keep();
}

/**
 * Adds a batch to `into` (from metricsAccumulator) on the GPU: the summed loss
 * (loss × N), correct top-1 predictions, rows, and rows with an invalid label. `loss` is
 * the batch's mean crossEntropy; read `into` once at the end with readMetrics.
 */
export function accumulateMetrics(
  loss: Tensor,
  logits: Tensor,
  labels: Tensor,
  into: Tensor,
): void {
  const { rows, classes } = classification("accumulateMetrics", logits, labels);
  if (loss.size !== 1 || loss.dtype !== "f32") {
    throw new ArgumentError(`accumulateMetrics: loss must be an f32 scalar, got ${loss}`);
  }
  if (into.size !== k.METRIC_COUNT || into.dtype !== "f32") {
    throw new ArgumentError(
      `accumulateMetrics: into must be f32 [${k.METRIC_COUNT}] (metricsAccumulator())`,
    );
  }
  k.accumulateMetrics(gpu(), loss.buffer, logits.buffer, labels.buffer, into.buffer, rows, classes);
}

/** A zeroed i32 [classes, classes] accumulator for accumulateConfusion (kept out of scopes). */
export function confusionAccumulator(classes: number): Tensor {
  if (!(Number.isInteger(classes) && classes > 0)) {
    throw new ArgumentError(`confusionAccumulator: classes must be a positive integer`);
  }
  const t = Tensor.empty([classes, classes], "i32").keep();
  fill(gpu(), t.buffer, classes * classes, 0); // f32 +0.0 and i32 0 have the same bits
  return t;
}

/**
 * Adds a batch to the confusion matrix `into` (from confusionAccumulator) on the GPU:
 * into[label][argmax] += 1 for each row whose label is in [0, classes).
 */
export function accumulateConfusion(logits: Tensor, labels: Tensor, into: Tensor): void {
  const { rows, classes } = classification("accumulateConfusion", logits, labels);
  if (into.dtype !== "i32" || into.size !== classes * classes) {
    throw new ArgumentError(
      `accumulateConfusion: into must be i32 [${classes}, ${classes}] (confusionAccumulator)`,
    );
  }
  k.confusionCounts(gpu(), logits.buffer, labels.buffer, into.buffer, rows, classes);
}

export interface Metrics {
  /** Mean loss per sample (NaN if a label was invalid or nothing was seen). */
  loss: number;
  /** Fraction of samples predicted correctly (NaN if nothing was seen). */
  accuracy: number;
  correct: number;
  samples: number;
  /** Samples whose label was outside [0, classes). */
  invalidLabels: number;
}

/** Reads an accumulator (one GPU round trip). */
export async function readMetrics(acc: Tensor): Promise<Metrics> {
  const a = await acc.toArray();
  const s = METRIC_SLOTS;
  const samples = a[s.samples];
  return {
    loss: samples > 0 ? a[s.lossSum] / samples : NaN,
    accuracy: samples > 0 ? a[s.correct] / samples : NaN,
    correct: a[s.correct],
    samples,
    invalidLabels: a[s.invalid],
  };
}

/** Softmax over the classes of logits [N, C] (prediction only: no backward is recorded). */
export function softmax(logits: Tensor): Tensor {
  const { rows, classes } = classification("softmax", logits);
  const out = Tensor.empty(logits.shape);
  k.softmaxRows(gpu(), logits.buffer, out.buffer, rows, classes);
  return out;
}

/** The predicted class of each row of logits [N, C], as i32 [N] (first max wins). */
export function argmax(logits: Tensor): Tensor {
  const { rows, classes } = classification("argmax", logits);
  const out = Tensor.empty([rows], "i32");
  k.argmaxRows(gpu(), logits.buffer, out.buffer, rows, classes);
  return out;
}

/**
 * Throws, as PyTorch does, when a label is outside [0, classes); call it where labels are
 * still on the CPU (the GPU loss can only signal them as NaN and a count).
 */
export function checkLabels(labels: ArrayLike<number>, classes: number, where = "labels"): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < classes)) {
      throw new RangeError(
        `${where}: label ${y} at index ${i} is out of bounds for ${classes} classes ` +
          `(labels must be integers in [0, ${classes - 1}]); check the dataset's class list ` +
          `and the model's number of outputs`,
      );
    }
  }
}
