// The fit loop, made of parts: per epoch, the unfreeze hook, the epoch's training batches
// (train/train_epoch.ts: a step per batch, readbacks every `logEvery` steps, the
// per-iteration schedule after each step), the validation and test evaluations, the
// per-epoch schedule, the epoch's row and the checkpoints (train/fit_hooks.ts), and early
// stopping. The validation set, when the run has one, picks the best checkpoint and is what
// ReduceLROnPlateau and early stopping watch by default; without one the test set picks (a
// recipe's explicit choice). The test set is evaluated every epoch for the curves and the
// report, never to choose. What happens is reported as events
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
import type { DataLoader } from "../data/loader.ts";
import { type EvalResult, evaluate } from "./evaluate.ts";
import { type ClassificationReport, classificationReport } from "./metrics.ts";
import { type FitEventSink, formatLr } from "./fit_events.ts";
import { CheckpointWriter, stepSchedule, unfreezeIfDue } from "./fit_hooks.ts";
import type { EpochRow, RunOutput } from "./run_output.ts";
import type { Prepared } from "./prepared.ts";
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
  /** True when early stopping ended the run before --epochs. */
  stoppedEarly: boolean;
  /** Epochs finished. */
  epochsDone: number;
  /** Optimizer steps done in the run. */
  iterations: number;
  /** The best epoch by the selection set (`best.set`), with its test metrics. */
  best: TrainMeta["best"];
  /** Validation metrics of the last finished epoch (null: no validation set). */
  lastVal: { loss: number; accuracy: number } | null;
  /** Test metrics of the last finished epoch (null: no test set). */
  lastTest: { loss: number; accuracy: number } | null;
  /** Seconds of this session. */
  seconds: number;
}

type Metrics = { loss: number; accuracy: number };

/** True when `m` beats `best`: a higher accuracy, or the same at a lower loss. */
export function improves(m: Metrics, best: Metrics | null): boolean {
  return !best || m.accuracy > best.accuracy ||
    (m.accuracy === best.accuracy && m.loss < best.loss);
}

/** Early stopping: true once `patience` epochs after the best one have not improved on it. */
export function earlyStopDue(
  epochsDone: number,
  best: { epoch: number } | null,
  patience: number,
): boolean {
  return patience > 0 && best !== null && epochsDone - best.epoch >= patience;
}

/**
 * Trains `p` from its start point to `p.config.epochs`, writing rows, plots, checkpoints and the
 * summary to `output`.
 */
export async function fit(p: Prepared, output: RunOutput, io: FitIO = {}): Promise<FitResult> {
  const { config, model, optimizer, scheduler, trainLoader, valLoader, testLoader } = p;
  const emit = io.onEvent ?? (() => {});
  const stop = io.stop ?? { requested: false };
  let { epoch, batch: skip, iteration, partial, best, frozen } = p.start;
  let lastTest: Metrics | null = null, lastVal: Metrics | null = null;
  let testReport: ClassificationReport | null = null;
  const selectedBy = valLoader ? "validation" : "test";
  const started = performance.now();
  const classes = p.data.classes.length;
  const result = (interrupted: boolean, epochsDone: number, stoppedEarly = false): FitResult => ({
    interrupted,
    stoppedEarly,
    epochsDone,
    iterations: iteration,
    best,
    lastVal,
    lastTest,
    seconds: (performance.now() - started) / 1000,
  });
  const evaluated = async (
    loader: DataLoader | null,
    set: "validation" | "test",
  ): Promise<EvalResult | null> => {
    if (!loader) return null;
    const r = await evaluate(model, loader, {
      numClasses: classes,
      onBatch: (done) =>
        emit({ type: "eval-progress", epoch: epoch + 1, set, done, total: loader.length }),
    });
    if (!Number.isFinite(r.loss)) {
      throw diverged(`the ${set} loss`, r.loss, `the evaluation after epoch ${epoch + 1}`);
    }
    return r;
  };

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
    val: lastVal,
    test: lastTest,
    splits: p.splits,
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

  let stoppedEarly = false;
  for (; epoch < config.epochs; epoch++) {
    if (earlyStopDue(epoch, best, config.earlyStop)) {
      stoppedEarly = true;
      emit({
        type: "early-stop",
        epoch,
        epochs: config.epochs,
        patience: config.earlyStop,
        bestEpoch: best!.epoch,
        bestAccuracy: best!.accuracy,
      });
      break;
    }
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
      loss: { labelSmoothing: config.labelSmoothing, weight: p.classWeights ?? undefined },
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

    const val = await evaluated(valLoader, "validation");
    const testEval = await evaluated(testLoader, "test");
    const test = testEval && { loss: testEval.loss, accuracy: testEval.accuracy };
    lastVal = val && { loss: val.loss, accuracy: val.accuracy };
    lastTest = test;
    if (testEval) {
      testReport = classificationReport(testEval.confusion, p.data.classes);
      await output.writeConfusion(epoch + 1, testReport);
    }
    const picked = (lastVal ?? test)!;
    const trainLoss = sums.lossSum / sums.samples, trainAcc = sums.correct / sums.samples;
    const lrUsed = optimizer.paramGroups[0].lr;
    const lrsUsed = optimizer.paramGroups.map((g) => g.lr);
    const row: EpochRow = {
      epoch: epoch + 1,
      trainLoss,
      trainAccuracy: trainAcc,
      valLoss: val?.loss ?? NaN,
      valAccuracy: val?.accuracy ?? NaN,
      testLoss: test?.loss ?? NaN,
      testAccuracy: test?.accuracy ?? NaN,
      lr: lrUsed,
      seconds: (performance.now() - epochStart) / 1000,
      frozen,
      lrs: lrsUsed,
    };
    stepSchedule(scheduler, "epoch", row, epoch, emit);
    await output.addEpoch(row);
    const improved = improves(picked, best);
    if (improved) best = { ...picked, epoch: epoch + 1, set: selectedBy, test };
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
    epochs: epoch,
    epochsPlanned: config.epochs,
    stoppedEarly,
    iterations: iteration,
    selectedBy,
    best,
    lastVal,
    lastTest,
    testReport,
    classes: p.data.classes,
    trainImages: p.data.train.length,
    valImages: p.data.val?.length ?? 0,
    testImages: p.data.test?.length ?? 0,
    secondsThisSession: (performance.now() - started) / 1000,
  });
  return result(false, epoch, stoppedEarly);
}
