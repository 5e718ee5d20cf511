// The fit loop, made of parts: per epoch, the unfreeze hook, the epoch's training batches
// (train/train_epoch.ts: a step per batch, readbacks every `logEvery` steps, the
// per-iteration schedule after each step), the test evaluation, the per-epoch schedule, the
// epoch's row and the checkpoints (train/fit_hooks.ts). What happens is reported as events
// (train/fit_events.ts: the CLI prints them, a page charts them); results go to a RunOutput
// (a run directory on disk, or memory).
//
// Divergence: the accumulated loss turns NaN or infinite with the first bad step, so each
// readback of the metric sums (no extra GPU round trip) tells whether training is still
// sane; the test loss and the weights read back for a checkpoint are checked too. On a
// non-finite value the run stops with a DivergenceError before anything of that epoch is
// written, so the checkpoints stay those of the last good epoch and a diverged model is
// never saved, as best or at all.

import { TRAIN_STATE_KIND, type TrainMeta } from "./train_state.ts";
import { TRAIN_META_VERSION } from "./checkpoint_schema.ts";
import { DivergenceError } from "./divergence.ts";
import { evaluate } from "./evaluate.ts";
import { type FitEventSink, formatLr } from "./fit_events.ts";
import { CheckpointWriter, stepSchedule, unfreezeIfDue } from "./fit_hooks.ts";
import type { EpochRow, RunOutput } from "./run_output.ts";
import type { Prepared } from "./setup.ts";
import { trainEpoch } from "./train_epoch.ts";

export { formatLr } from "./fit_events.ts";

/** Set `requested` (e.g. from a SIGINT handler) to stop after the current batch. */
export interface StopFlag {
  /** Whether a stop was asked for. */
  requested: boolean;
}

/** What fit reports to and listens to while it runs. */
export interface FitIO {
  /** Receives what happens (default: nothing); train/text_report.ts renders it as text. */
  onEvent?: FitEventSink;
  /** Set its `requested` to stop after the current batch (a checkpoint is written). */
  stop?: StopFlag;
}

/** What fit returns. */
export interface FitResult {
  /** True when stopped by the stop flag before the last epoch ended. */
  interrupted: boolean;
  /** Epochs finished. */
  epochsDone: number;
  /** Optimizer steps done in the run. */
  iterations: number;
  /** The best epoch and its test metrics. */
  best: TrainMeta["best"];
  /** Test metrics of the last finished epoch. */
  lastTest: { loss: number; accuracy: number } | null;
  /** Seconds of this session. */
  seconds: number;
}

/**
 * Trains `p` from its start point to `p.config.epochs`, writing rows, plots, checkpoints and the
 * summary to `output`.
 */
export async function fit(p: Prepared, output: RunOutput, io: FitIO = {}): Promise<FitResult> {
  const { config, model, optimizer, scheduler, trainLoader, testLoader } = p;
  const emit = io.onEvent ?? (() => {});
  const stop = io.stop ?? { requested: false };
  let { epoch, batch: skip, iteration, partial, best, frozen } = p.start;
  let lastTest: FitResult["lastTest"] = null;
  const started = performance.now();
  const classes = p.data.classes.length;
  const result = (interrupted: boolean, epochsDone: number): FitResult => ({
    interrupted,
    epochsDone,
    iterations: iteration,
    best,
    lastTest,
    seconds: (performance.now() - started) / 1000,
  });

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
    scheduler: scheduler ? scheduler.stateDict() : null,
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
      run: output.where,
    });
  const checkpoints = new CheckpointWriter(
    model,
    optimizer,
    output,
    (what, where) => diverged(what, NaN, where),
  );

  for (; epoch < config.epochs; epoch++) {
    frozen = unfreezeIfDue(config, model, optimizer, epoch, frozen, emit);
    model.train();
    const epochStart = performance.now();
    const trained = await trainEpoch({
      model,
      optimizer,
      loader: trainLoader,
      epoch,
      epochs: config.epochs,
      skip,
      partial,
      iteration,
      classes,
      labelSmoothing: config.labelSmoothing,
      logEvery: config.logEvery,
      output,
      emit,
      stopRequested: () => stop.requested,
      afterStep: () => stepSchedule(scheduler, "iteration", null, epoch, emit),
      diverged: (value, where) => diverged("the training loss", value, where),
    });
    iteration = trained.iteration;
    const sums = trained.sums;
    if (trained.stopped) {
      const where = `epoch ${epoch + 1}, batch ${trained.done}`;
      // the last checkpoint only: a partial epoch is never the best
      await checkpoints.save(
        { best: false },
        (optim) => meta({ batch: trained.done, partial: sums, interrupted: true, optim }),
        where,
      );
      await output.writePlots();
      return result(true, epoch);
    }
    skip = 0;
    partial = null;

    const test = await evaluate(model, testLoader, {
      numClasses: classes,
      onBatch: (done) =>
        emit({ type: "eval-progress", epoch: epoch + 1, done, total: testLoader.length }),
    });
    if (!Number.isFinite(test.loss)) {
      throw diverged("the test loss", test.loss, `the evaluation after epoch ${epoch + 1}`);
    }
    lastTest = { loss: test.loss, accuracy: test.accuracy };
    const trainLoss = sums.lossSum / sums.samples, trainAcc = sums.correct / sums.samples;
    const lrUsed = optimizer.paramGroups[0].lr;
    stepSchedule(
      scheduler,
      "epoch",
      { trainLoss, testLoss: test.loss, testAccuracy: test.accuracy },
      epoch,
      emit,
    );
    const row: EpochRow = {
      epoch: epoch + 1,
      trainLoss,
      trainAccuracy: trainAcc,
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      lr: lrUsed,
      seconds: (performance.now() - epochStart) / 1000,
      frozen,
    };
    await output.addEpoch(row);
    const improved = !best || test.accuracy > best.accuracy ||
      (test.accuracy === best.accuracy && test.loss < best.loss);
    if (improved) best = { accuracy: test.accuracy, loss: test.loss, epoch: epoch + 1 };
    emit({ type: "epoch-end", epochs: config.epochs, row, improved });
    const afterEpoch = epoch + 1;
    await checkpoints.save(
      { best: improved },
      (optim) => meta({ epoch: afterEpoch, best, optim }),
      `the end of epoch ${afterEpoch}`,
    );
    if (stop.requested && afterEpoch < config.epochs) return result(true, afterEpoch);
  }
  await output.writeSummary({
    epochs: config.epochs,
    iterations: iteration,
    best,
    lastTest,
    classes: p.data.classes,
    trainImages: p.data.train.length,
    testImages: p.data.test.length,
    secondsThisSession: (performance.now() - started) / 1000,
  });
  return result(false, config.epochs);
}
