// Loss-family benchmark rows: cross-entropy forward, backward and the accuracy metrics for
// the class counts the engine trains on (CIFAR's 10, the hotdog set's 2, ImageNet's 1000).
// All are memory-bound, so rows report bytes moved (GB/s).

import * as loss from "../kernels/loss.ts";
import type { BenchRow, Harness } from "./harness.ts";

export async function timeLoss(h: Harness, rows: number, classes: number): Promise<BenchRow[]> {
  const g = h.gpu;
  const x = new Float32Array(rows * classes);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 1000) / 100 - 5;
  const y = Int32Array.from({ length: rows }, (_, r) => (r * 37) % classes);
  const logits = g.upload(x, "bench logits");
  const labels = g.upload(y, "bench labels");
  const out = g.pool.acquire(4, "bench loss");
  const dLoss = g.upload(new Float32Array([1]), "bench dLoss");
  const dLogits = g.pool.acquire(rows * classes * 4, "bench dLogits");
  const acc = g.upload(new Float32Array(loss.METRIC_COUNT), "bench metrics");
  const shape = `N${rows} C${classes}`;
  const logitBytes = rows * classes * 4;
  try {
    const fwd = await h.time(() =>
      loss.crossEntropyForward(g, logits, labels, out, rows, classes, 0.1)
    );
    const bwd = await h.time(() =>
      loss.crossEntropyBackward(g, logits, labels, dLoss, dLogits, rows, classes, 0.1)
    );
    const metrics = await h.time(() =>
      loss.accumulateMetrics(g, out, logits, labels, acc, rows, classes)
    );
    return [
      { op: "cross-entropy fwd", shape, ms: fwd, bytes: logitBytes + rows * 8 },
      // reads the logits twice (log-sum-exp, then the gradient) and writes the gradient
      { op: "cross-entropy bwd", shape, ms: bwd, bytes: 3 * logitBytes + rows * 12 },
      { op: "accuracy metrics", shape, ms: metrics, bytes: logitBytes + rows * 4 },
    ];
  } finally {
    for (const b of [logits, labels, out, dLoss, dLogits, acc]) g.pool.release(b);
  }
}

export async function benchLoss(h: Harness): Promise<BenchRow[]> {
  const shapes: [number, number][] = h.quick ? [[32, 10]] : [[32, 10], [128, 2], [128, 1000]];
  const rows: BenchRow[] = [];
  for (const [n, c] of shapes) rows.push(...await timeLoss(h, n, c));
  return rows;
}
