// The fit loop. Per step: one Scope (the step's tensors go back to the pool at its end),
// forward, loss, metrics added to a GPU accumulator, backward, the optimizer update on the
// GPU. Only the accumulator's four numbers are read back, every `logEvery` steps. Per epoch:
// test evaluation, scheduler step, metric rows, plots, the last (and maybe best) checkpoint.
//
// Divergence: the accumulated loss turns NaN or infinite with the first bad step, so each
// readback of those four numbers (no extra GPU round trip) tells whether training is still
// sane; the test loss and the weights read back for a checkpoint are checked too. On a
// non-finite value the run stops with a DivergenceError before anything of that epoch is
// written, so the checkpoints on disk stay those of the last good epoch and a diverged
// model is never saved, as best or at all.

import { memorySink, ProgressBar, type ProgressSink } from "../cli/progress.ts";
import {
  accumulateMetrics,
  crossEntropy,
  METRIC_SLOTS,
  metricsAccumulator,
} from "../nn/ops/loss.ts";
import { describeNonFinite, nonFiniteTensors } from "../nn/io/finite.ts";
import { ReduceLROnPlateau } from "../nn/schedulers.ts";
import { Scope, Tensor } from "../nn/tensor.ts";
import { batchImages } from "../nn/ops/normalize.ts";
import {
  type PartialEpoch,
  saveTrainState,
  TRAIN_STATE_KIND,
  type TrainMeta,
} from "./checkpoint.ts";
import { TRAIN_META_VERSION } from "./checkpoint_schema.ts";
import { evaluate } from "./evaluate.ts";
import { setBackboneFrozen } from "./model.ts";
import { setLr } from "./optim.ts";
import type { EpochRow, RunDir } from "./run_dir.ts";
import type { Prepared } from "./setup.ts";
import { readModelState } from "./state.ts";
import { DivergenceError } from "./divergence.ts";

/** Set `requested` (e.g. from a SIGINT handler) to stop after the current batch. */
export interface StopFlag {
  requested: boolean;
}

export interface FitIO {
  /** One line of the run's log (epoch summaries, unfreeze and lr messages). */
  log?: (line: string) => void;
  /** Where the progress bar goes (default: nowhere). */
  sink?: ProgressSink;
  stop?: StopFlag;
}

export interface FitResult {
  /** True when stopped by the stop flag before the last epoch ended. */
  interrupted: boolean;
  epochsDone: number;
  iterations: number;
  best: TrainMeta["best"];
  /** Test metrics of the last finished epoch. */
  lastTest: { loss: number; accuracy: number } | null;
  seconds: number;
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

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

export function formatLr(lr: number): string {
  return lr.toExponential(2).replace(/\.?0+e/, "e");
}

export async function fit(p: Prepared, run: RunDir, io: FitIO = {}): Promise<FitResult> {
  const { config, model, optimizer, scheduler, trainLoader, testLoader } = p;
  const log = io.log ?? (() => {});
  const sink = io.sink ?? memorySink();
  const stop = io.stop ?? { requested: false };
  let { epoch, batch: skip, iteration, partial, best, frozen } = p.start;
  let lastTest: FitResult["lastTest"] = null;
  const started = performance.now();
  const classes = p.data.classes.length;
  p.onLrReduced = (r) =>
    log(
      `  lr of the ${r.group === 0 ? "backbone" : "head"} reduced from ${formatLr(r.oldLr)} to ${
        formatLr(r.newLr)
      } (plateau)`,
    );

  const meta = (extra: Partial<TrainMeta>): TrainMeta => ({
    kind: TRAIN_STATE_KIND,
    schema: TRAIN_META_VERSION,
    model: p.spec,
    classes: p.data.classes,
    config,
    epoch,
    batch: 0,
    iteration,
    partial: null,
    best,
    frozen,
    test: lastTest,
    optim: null,
    scheduler: scheduler ? scheduler.stateDict() as unknown as Record<string, unknown> : null,
    interrupted: false,
    ...extra,
  });
  const diverged = (what: string, value: number, where: string) =>
    new DivergenceError({
      what,
      value,
      where,
      lr: optimizer.paramGroups[0].lr,
      lrText: formatLr,
      run: run.path,
    });
  /** The model's state, read back for a checkpoint; throws if it holds NaN or infinity. */
  const finiteState = async (where: string) => {
    const state = await readModelState(model);
    const bad = nonFiniteTensors(state);
    if (bad.length) throw diverged(`the weights (${describeNonFinite(bad, 3)})`, NaN, where);
    return state;
  };
  const saveLast = async (extra: Partial<TrainMeta>, where: string) => {
    const sd = await optimizer.stateDict();
    await saveTrainState(run.lastCheckpoint, {
      model: await finiteState(where),
      optim: sd.tensors,
      meta: meta({ ...extra, optim: sd.meta }),
    });
  };

  for (; epoch < config.epochs; epoch++) {
    if (config.strategy === "freeze-unfreeze" && frozen && epoch >= config.freezeEpochs) {
      setBackboneFrozen(model, false, config.freezeBatchNorm);
      frozen = false;
      if (config.unfreezeLr > 0) setLr(optimizer, config.unfreezeLr, config.headLrMult);
      log(
        `epoch ${epoch + 1}: backbone unfrozen, training all layers` +
          (config.unfreezeLr > 0 ? ` at lr ${formatLr(config.unfreezeLr)}` : ""),
      );
    }
    model.train();
    const epochStart = performance.now();
    const acc = accumulatorFrom(partial);
    const total = trainLoader.length;
    const bar = new ProgressBar({ label: `epoch ${epoch + 1}/${config.epochs}`, total, sink });
    let prev = partial ?? { lossSum: 0, correct: 0, samples: 0, invalid: 0 };
    let prevTime = performance.now();
    let done = 0;
    let prevDone = skip; // batches done at the previous readback
    let sums = prev;
    try {
      for await (const batch of trainLoader.run(epoch)) {
        if (done < skip) {
          done++;
          continue;
        }
        {
          using _ = new Scope();
          const x = batchImages(batch);
          const y = Tensor.fromArray(batch.labels, [batch.labels.length]);
          const logits = model.forward(x);
          const loss = crossEntropy(logits, y, { labelSmoothing: config.labelSmoothing });
          accumulateMetrics(loss, logits, y, acc);
          optimizer.zeroGrad();
          loss.backward();
          optimizer.step();
        }
        done++;
        iteration++;
        if (done % config.logEvery === 0 || done === total || stop.requested) {
          sums = await readSums(acc);
          checkSums(sums, classes, () =>
            diverged(
              "the training loss",
              sums.lossSum,
              `epoch ${epoch + 1}, between batches ${
                prevDone + 1
              } and ${done} (iteration ${iteration})`,
            ));
          prevDone = done;
          const now = performance.now();
          const n = sums.samples - prev.samples;
          const ips = n / Math.max(1e-3, (now - prevTime) / 1000);
          if (n > 0) {
            await run.addIteration({
              iteration,
              epoch: epoch + 1,
              loss: (sums.lossSum - prev.lossSum) / n,
              accuracy: (sums.correct - prev.correct) / n,
              lr: optimizer.paramGroups[0].lr,
              imagesPerSecond: ips,
            });
          }
          bar.update(done, {
            loss: sums.lossSum / sums.samples,
            accuracy: sums.correct / sums.samples,
            imagesPerSecond: ips,
          });
          prev = sums;
          prevTime = now;
        }
        if (stop.requested) {
          bar.finish();
          await saveLast(
            { batch: done, partial: sums, interrupted: true },
            `epoch ${epoch + 1}, batch ${done}`,
          );
          await run.writePlots();
          return {
            interrupted: true,
            epochsDone: epoch,
            iterations: iteration,
            best,
            lastTest,
            seconds: (performance.now() - started) / 1000,
          };
        }
      }
      if (done > skip && prevDone !== done) {
        sums = await readSums(acc);
        checkSums(sums, classes, () =>
          diverged(
            "the training loss",
            sums.lossSum,
            `epoch ${epoch + 1}, between batches ${prevDone + 1} and ${done}`,
          ));
      }
    } finally {
      acc.dispose();
      bar.finish();
    }
    skip = 0;
    partial = null;

    const test = await evaluate(model, testLoader, { numClasses: classes });
    if (!Number.isFinite(test.loss)) {
      throw diverged("the test loss", test.loss, `the evaluation after epoch ${epoch + 1}`);
    }
    lastTest = { loss: test.loss, accuracy: test.accuracy };
    const trainLoss = sums.lossSum / sums.samples, trainAcc = sums.correct / sums.samples;
    const lrUsed = optimizer.paramGroups[0].lr;
    if (scheduler instanceof ReduceLROnPlateau) {
      scheduler.step(
        config.plateauMetric === "test-acc"
          ? test.accuracy
          : config.plateauMetric === "train-loss"
          ? trainLoss
          : test.loss,
      );
    } else if (scheduler) scheduler.step();
    const seconds = (performance.now() - epochStart) / 1000;
    const row: EpochRow = {
      epoch: epoch + 1,
      trainLoss,
      trainAccuracy: trainAcc,
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      lr: lrUsed,
      seconds,
      frozen,
    };
    await run.addEpoch(row);
    const improved = !best || test.accuracy > best.accuracy ||
      (test.accuracy === best.accuracy && test.loss < best.loss);
    if (improved) best = { accuracy: test.accuracy, loss: test.loss, epoch: epoch + 1 };
    log(
      `epoch ${epoch + 1}/${config.epochs}  train loss ${trainLoss.toFixed(4)} acc ${
        pct(trainAcc)
      }  ` +
        `test loss ${test.loss.toFixed(4)} acc ${pct(test.accuracy)}  lr ${formatLr(lrUsed)}  ` +
        `${seconds.toFixed(1)}s${improved ? "  *best" : ""}`,
    );
    const afterEpoch = epoch + 1;
    const state = await finiteState(`the end of epoch ${afterEpoch}`);
    if (improved) {
      await saveTrainState(run.bestCheckpoint, {
        model: state,
        optim: null,
        meta: meta({ epoch: afterEpoch, best }),
      });
    }
    const sd = await optimizer.stateDict();
    await saveTrainState(run.lastCheckpoint, {
      model: state,
      optim: sd.tensors,
      meta: meta({ epoch: afterEpoch, best, optim: sd.meta }),
    });
    if (stop.requested && afterEpoch < config.epochs) {
      return {
        interrupted: true,
        epochsDone: afterEpoch,
        iterations: iteration,
        best,
        lastTest,
        seconds: (performance.now() - started) / 1000,
      };
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await run.writeSummary({
    epochs: config.epochs,
    iterations: iteration,
    best,
    lastTest,
    classes: p.data.classes,
    trainImages: p.data.train.length,
    testImages: p.data.test.length,
    secondsThisSession: seconds,
  });
  return {
    interrupted: false,
    epochsDone: config.epochs,
    iterations: iteration,
    best,
    lastTest,
    seconds,
  };
}
