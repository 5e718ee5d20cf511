// Evaluation: loss and accuracy accumulated on the GPU (one readback at the end), and, when
// asked, the confusion matrix (the predicted class of each sample is read back per batch).

import type { DataLoader } from "../data/mod.ts";
import {
  accumulateMetrics,
  argmax,
  crossEntropy,
  metricsAccumulator,
  readMetrics,
} from "../nn/ops/loss.ts";
import type { Module } from "../nn/module.ts";
import { noGrad, Scope, Tensor } from "../nn/tensor.ts";
import { batchImages } from "../nn/ops/normalize.ts";

/** Loss and accuracy of a model on a dataset. */
export interface EvalResult {
  /** Mean cross-entropy. */
  loss: number;
  /** Fraction of correct top-1 predictions. */
  accuracy: number;
  /** Samples evaluated. */
  samples: number;
  /** confusion[true][predicted] counts, when requested. */
  confusion?: number[][];
}

/**
 * Evaluates `model` in eval mode without autograd over `loader`'s batches; `onBatch` sees the
 * batches done.
 */
export async function evaluate(
  model: Module,
  loader: DataLoader,
  options: { numClasses: number; confusion?: boolean; onBatch?: (done: number) => void } = {
    numClasses: 0,
  },
): Promise<EvalResult> {
  const wasTraining = model.training;
  model.eval();
  const acc = metricsAccumulator();
  const k = options.numClasses;
  const confusion = options.confusion
    ? Array.from({ length: k }, () => new Array(k).fill(0))
    : undefined;
  try {
    let done = 0;
    for await (const batch of loader.run(0)) {
      let predicted: Tensor | null;
      {
        using _ = new Scope();
        predicted = noGrad(() => {
          const x = batchImages(batch);
          const y = Tensor.fromArray(batch.labels, [batch.labels.length]);
          const logits = model.forward(x);
          accumulateMetrics(crossEntropy(logits, y), logits, y, acc);
          return confusion ? argmax(logits).keep() : null;
        });
      }
      if (confusion && predicted) {
        const pred = await predicted.toInt32Array();
        predicted.dispose();
        batch.labels.forEach((t, i) => confusion[t][pred[i]]++);
      }
      options.onBatch?.(++done);
    }
    const m = await readMetrics(acc);
    return { loss: m.loss, accuracy: m.accuracy, samples: m.samples, confusion };
  } finally {
    acc.dispose();
    model.train(wasTraining);
  }
}

/** Accuracy of each true class from a confusion matrix (NaN for a class with no samples). */
export function perClassAccuracy(confusion: number[][]): number[] {
  return confusion.map((row, i) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n > 0 ? row[i] / n : NaN;
  });
}

/** The confusion matrix as aligned text, rows = true class, columns = predicted. */
export function formatConfusion(confusion: number[][], classes: string[]): string {
  const short = classes.map((c, i) => (c.length > 10 ? c.slice(0, 9) + "." : c) || String(i));
  const cell =
    Math.max(5, ...short.map((s) => s.length), ...confusion.flat().map((v) => String(v).length)) +
    1;
  const label = Math.max(...short.map((s) => s.length)) + 2;
  const lines = [
    " ".repeat(label) + short.map((s) => s.padStart(cell)).join("") + "   <- predicted",
  ];
  confusion.forEach((row, i) =>
    lines.push(short[i].padEnd(label) + row.map((v) => String(v).padStart(cell)).join(""))
  );
  return lines.join("\n");
}
