// Evaluation: loss, accuracy and the confusion matrix accumulated on the GPU (one readback
// at the end). The loss is the plain mean cross-entropy (no class weights, no smoothing).

import type { DataLoader } from "../data/loader.ts";
import {
  accumulateConfusion,
  accumulateMetrics,
  confusionAccumulator,
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
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

/**
 * Evaluates `model` in eval mode without autograd over `loader`'s batches; `onBatch` sees the
 * batches done.
 */
export async function evaluate(
  model: Module,
  loader: DataLoader,
  options: { numClasses: number; onBatch?: (done: number) => void },
): Promise<EvalResult> {
  const k = options.numClasses;
  const wasTraining = model.training;
  model.eval();
  const acc = metricsAccumulator();
  const counts = confusionAccumulator(k);
  try {
    let done = 0;
    for await (const batch of loader.run(0)) {
      using _ = new Scope();
      noGrad(() => {
        const x = batchImages(batch);
        const y = Tensor.fromArray(batch.labels, [batch.labels.length]);
        const logits = model.forward(x);
        accumulateMetrics(crossEntropy(logits, y), logits, y, acc);
        accumulateConfusion(logits, y, counts);
      });
      options.onBatch?.(++done);
    }
    const m = await readMetrics(acc);
    const flat = await counts.toInt32Array();
    const confusion = Array.from(
      { length: k },
      (_, t) => Array.from(flat.subarray(t * k, (t + 1) * k)),
    );
    return { loss: m.loss, accuracy: m.accuracy, samples: m.samples, confusion };
  } finally {
    acc.dispose();
    counts.dispose();
    model.train(wasTraining);
  }
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
