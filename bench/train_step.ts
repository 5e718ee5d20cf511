// End-to-end ResNet18: a full training step (forward, loss, backward, SGD step) and an
// eval forward, in images/s, timed wall-clock as a user experiences them (recording the
// launches included), with PyTorch on the same machine for comparison when it is there.

import { crossEntropy } from "../nn/ops/loss.ts";
import { SGD } from "../nn/optim/sgd.ts";
import { resnet18 } from "../nn/resnet.ts";
import { noGrad, Scope, Tensor } from "../nn/tensor.ts";
import type { BenchRow, Harness } from "./harness.ts";

/** Forward multiply-adds x2 of ResNet18's convs and fc for one image of side `size`. */
export function resnet18Flops(size: number, numClasses = 10): number {
  let flops = 0;
  const conv = (
    c: number,
    o: number,
    k: number,
    out: number,
  ) => (flops += 2 * c * o * k * k * out * out);
  let side = Math.floor((size + 6 - 7) / 2) + 1; // stem 7x7/2 pad 3
  conv(3, 64, 7, side);
  side = Math.floor((side + 2 - 3) / 2) + 1; // max pool 3x3/2 pad 1
  let c = 64;
  for (const [planes, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    const out = Math.floor((side + 2 - 3) / stride) + 1;
    conv(c, planes, 3, out);
    conv(planes, planes, 3, out);
    if (stride !== 1 || c !== planes) conv(c, planes, 1, out);
    conv(planes, planes, 3, out);
    conv(planes, planes, 3, out);
    c = planes;
    side = out;
  }
  return flops + 2 * 512 * numClasses;
}

interface StepResult {
  trainMs: number;
  evalMs: number;
  peakBytes: number[];
}

export async function measure(
  h: Harness,
  batch: number,
  size: number,
  steps: number,
): Promise<StepResult> {
  // measure this case's own footprint, not what earlier benchmarks left in the pool
  await h.gpu.sync();
  h.gpu.pool.trim();
  h.gpu.pool.resetPeak();
  const model = resnet18({ numClasses: 10 });
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = Tensor.randn([batch, 3, size, size], { seed: 1 }).keep();
  const y = Tensor.fromArray(Int32Array.from({ length: batch }, (_, i) => i % 10)).keep();
  const trainStep = async () => {
    using _ = new Scope();
    opt.zeroGrad();
    const loss = crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    await loss.item(); // the one scalar a training loop reads
  };
  const evalStep = async () => {
    using _ = new Scope();
    await noGrad(() => crossEntropy(model.forward(x), y)).item();
  };
  const median = async (fn: () => Promise<void>, peaks?: number[]) => {
    await fn(); // warm-up: pipelines compile, the pool fills
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      await fn();
      times.push(performance.now() - t);
      peaks?.push(h.gpu.pool.stats().peakBytes);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  };
  model.train();
  const peakBytes: number[] = [];
  const trainMs = await median(trainStep, peakBytes);
  model.eval();
  const evalMs = await median(evalStep);
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return { trainMs, evalMs, peakBytes };
}

/** PyTorch's times for the same step, or null when Debian's python3-torch is not installed. */
async function pytorchStep(
  batch: number,
  size: number,
): Promise<{ train_ms: number; eval_ms: number } | null> {
  try {
    const script = new URL("./pytorch_step.py", import.meta.url).pathname;
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [script, String(batch), String(size)],
      stderr: "null",
    }).output();
    return out.success ? JSON.parse(new TextDecoder().decode(out.stdout)) : null;
  } catch {
    return null;
  }
}

export async function benchTrainStep(h: Harness): Promise<BenchRow[]> {
  const cases = h.quick ? [[4, 32]] : [[32, 32], [8, 224]];
  const rows: BenchRow[] = [];
  for (const [batch, size] of cases) {
    const r = await measure(h, batch, size, h.quick ? 2 : 5);
    const torch = h.quick ? null : await pytorchStep(batch, size);
    const flat = r.peakBytes.every((p) => p === r.peakBytes[0]);
    const mb = (r.peakBytes.at(-1)! / 2 ** 20).toFixed(0);
    const vs = (ours: number, theirs?: number) =>
      theirs ? `, ${(theirs / ours).toFixed(2)}x PyTorch` : "";
    const fwd = resnet18Flops(size) * batch;
    rows.push({
      op: "resnet18 train step",
      shape:
        `N${batch} 3x${size}x${size}: ${(batch / r.trainMs * 1000).toFixed(1)} img/s${
          vs(r.trainMs, torch?.train_ms)
        }; ` +
        `pool peak ${mb} MiB ${flat ? "flat" : "GROWING"}`,
      ms: r.trainMs,
      flops: 3 * fwd, // forward + the two backward products
    });
    rows.push({
      op: "resnet18 eval forward",
      shape: `N${batch} 3x${size}x${size}: ${(batch / r.evalMs * 1000).toFixed(1)} img/s${
        vs(r.evalMs, torch?.eval_ms)
      }`,
      ms: r.evalMs,
      flops: fwd,
    });
  }
  return rows;
}
