// One epoch's training batches: a step per batch (train/train_step.ts), the metric sums read
// back every `logEvery` steps (the only readback: four numbers), each readback checked for
// divergence and reported as a progress event and an iteration row, and a hook after every
// step (per-iteration schedulers). A resumed epoch skips the batches already done.

import type { DataLoader } from "../data/loader.ts";
import { type CrossEntropyOptions, METRIC_SLOTS, metricsAccumulator } from "../nn/ops/loss.ts";
import type { ResNet } from "../nn/resnet.ts";
import { Tensor } from "../nn/tensor.ts";
import type { PartialEpoch } from "./train_state.ts";
import type { FitEventSink } from "./fit_events.ts";
import type { AnyOptimizer } from "./optim.ts";
import type { RunOutput } from "./run_output.ts";
import { trainStep } from "./train_step.ts";

export interface EpochInput {
  model: ResNet;
  optimizer: AnyOptimizer;
  loader: DataLoader;
  /** 0-based epoch index. */
  epoch: number;
  epochs: number;
  /** Batches of this epoch already done (a resumed run) and their sums. */
  skip: number;
  partial: PartialEpoch | null;
  /** Iterations done before this epoch's first new step. */
  iteration: number;
  classes: number;
  /** The training loss's label smoothing and class weights. */
  loss: CrossEntropyOptions;
  logEvery: number;
  output: RunOutput;
  emit: FitEventSink;
  /** True to stop after the current batch. */
  stopRequested: () => boolean;
  /** Called after every optimizer step. */
  afterStep: () => void;
  /** The error for a non-finite training loss, given the batch range it appeared in. */
  diverged: (value: number, where: string) => Error;
}

export interface EpochOutcome {
  sums: PartialEpoch;
  /** Batches done in this epoch, skipped ones included. */
  done: number;
  iteration: number;
  /** Stopped by the stop flag before the epoch's last batch. */
  stopped: boolean;
}

async function readSums(acc: Tensor): Promise<PartialEpoch> {
  const a = await acc.toArray();
  return {
    lossSum: a[METRIC_SLOTS.lossSum],
    correct: a[METRIC_SLOTS.correct],
    samples: a[METRIC_SLOTS.samples],
    invalid: a[METRIC_SLOTS.invalid],
  };
}

function accumulatorFrom(p: PartialEpoch | null): Tensor {
  if (!p) return metricsAccumulator();
  const a = new Float32Array(4);
  a[METRIC_SLOTS.lossSum] = p.lossSum;
  a[METRIC_SLOTS.correct] = p.correct;
  a[METRIC_SLOTS.samples] = p.samples;
  a[METRIC_SLOTS.invalid] = p.invalid;
  return Tensor.fromArray(a).keep();
}

/** Throws on invalid labels (a data error) or, from `diverged`, on a non-finite loss sum. */
function checkSums(sums: PartialEpoch, classes: number, diverged: () => Error): void {
  if (sums.invalid > 0) {
    throw new Error(`${sums.invalid} training labels were outside [0, ${classes})`);
  }
  if (!Number.isFinite(sums.lossSum)) throw diverged();
}

export async function trainEpoch(i: EpochInput): Promise<EpochOutcome> {
  const { epoch, skip } = i;
  let iteration = i.iteration;
  const began = performance.now();
  const acc = accumulatorFrom(i.partial);
  const total = i.loader.length;
  i.emit({
    type: "epoch-start",
    epoch: epoch + 1,
    epochs: i.epochs,
    batches: total,
    skipped: skip,
  });
  let prev = i.partial ?? { lossSum: 0, correct: 0, samples: 0, invalid: 0 };
  let prevTime = performance.now();
  let done = 0;
  let prevDone = skip; // batches done at the previous readback
  let sums = prev;
  try {
    for await (const batch of i.loader.run(epoch)) {
      if (done < skip) {
        done++;
        continue;
      }
      trainStep(i.model, i.optimizer, batch, acc, i.loss);
      done++;
      iteration++;
      if (done === skip + 1) {
        i.emit({
          type: "first-step",
          epoch: epoch + 1,
          seconds: (performance.now() - began) / 1000,
        });
      }
      if (done % i.logEvery === 0 || done === total || i.stopRequested()) {
        sums = await readSums(acc);
        checkSums(sums, i.classes, () =>
          i.diverged(
            sums.lossSum,
            `epoch ${epoch + 1}, between batches ${
              prevDone + 1
            } and ${done} (iteration ${iteration})`,
          ));
        prevDone = done;
        const now = performance.now();
        const n = sums.samples - prev.samples;
        const ips = n / Math.max(1e-3, (now - prevTime) / 1000);
        const lr = i.optimizer.paramGroups[0].lr;
        if (n > 0) {
          await i.output.addIteration({
            iteration,
            epoch: epoch + 1,
            loss: (sums.lossSum - prev.lossSum) / n,
            accuracy: (sums.correct - prev.correct) / n,
            lr,
            imagesPerSecond: ips,
          });
        }
        i.emit({
          type: "progress",
          epoch: epoch + 1,
          iteration,
          done,
          total,
          loss: sums.lossSum / sums.samples,
          accuracy: sums.correct / sums.samples,
          imagesPerSecond: ips,
          lr,
        });
        prev = sums;
        prevTime = now;
      }
      // After the readback: the row above carries the lr this step used.
      i.afterStep();
      // (a stop requested while the progress event was handled counts for this batch)
      if (i.stopRequested()) return { sums, done, iteration, stopped: true };
    }
    if (done > skip && prevDone !== done) {
      sums = await readSums(acc);
      checkSums(
        sums,
        i.classes,
        () =>
          i.diverged(
            sums.lossSum,
            `epoch ${epoch + 1}, between batches ${prevDone + 1} and ${done}`,
          ),
      );
    }
    return { sums, done, iteration, stopped: false };
  } finally {
    acc.dispose();
    i.emit({ type: "batches-end", epoch: epoch + 1 });
  }
}
