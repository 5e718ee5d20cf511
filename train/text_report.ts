// fit()'s events as the CLI's text: a progress bar per epoch's training and one per its test
// evaluation (train/progress_bar.ts), a line while the first step compiles the GPU kernels,
// and one line per epoch, per unfreeze and per lr cut (printed after its epoch's line).

import { type FitEvent, type FitEventSink, formatLr } from "./fit_events.ts";
import { memorySink, ProgressBar, type ProgressSink } from "./progress_bar.ts";

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** Renders events as lines to `log` and the progress bar to `sink` (default: nowhere). */
export function textReport(o: { log?: (line: string) => void; sink?: ProgressSink }): FitEventSink {
  const log = o.log ?? (() => {});
  const sink = o.sink ?? memorySink();
  let bar: ProgressBar | null = null;
  let firstStepSeen = false;
  // A plateau cut is decided from the epoch's test metrics, before the epoch's results are
  // reported; its line is held so that it reads after the epoch it concludes.
  let lrLines: string[] = [];
  const endBar = () => {
    bar?.finish();
    bar = null;
  };
  const flushLr = () => {
    lrLines.forEach((l) => log(l));
    lrLines = [];
  };
  return (e: FitEvent) => {
    switch (e.type) {
      case "epoch-start":
        flushLr();
        if (!firstStepSeen) {
          log(
            `epoch ${e.epoch}: loading the first batch and compiling the GPU kernels ` +
              `(the first step takes longest: up to minutes on a software driver)...`,
          );
        }
        bar = new ProgressBar({
          label: `epoch ${e.epoch}/${e.epochs}`,
          total: e.batches,
          sink,
          start: e.skipped,
        });
        return;
      case "first-step":
        if (!firstStepSeen) {
          log(`epoch ${e.epoch}: first step ready after ${e.seconds.toFixed(1)}s`);
        }
        firstStepSeen = true;
        return;
      case "progress":
        bar?.update(e.done, {
          loss: e.loss,
          accuracy: e.accuracy,
          imagesPerSecond: e.imagesPerSecond,
        });
        return;
      case "batches-end":
        endBar();
        return;
      case "eval-progress": {
        const label = `epoch ${e.epoch} ${e.set}`;
        if (bar?.label !== label) {
          endBar();
          bar = new ProgressBar({ label, total: e.total, sink });
        }
        bar.update(e.done);
        return;
      }
      case "unfreeze":
        flushLr();
        log(
          `epoch ${e.epoch}: backbone unfrozen, training all layers` +
            (e.lr !== null ? ` at lr ${formatLr(e.lr)}` : ""),
        );
        return;
      case "lr-change":
        lrLines.push(
          `  lr of the ${e.groupName} reduced from ${formatLr(e.oldLr)} to ${
            formatLr(e.newLr)
          } (${e.reason})`,
        );
        return;
      case "epoch-end": {
        endBar();
        const r = e.row;
        const set = (name: string, loss: number, acc: number) =>
          Number.isFinite(loss) ? `  ${name} loss ${loss.toFixed(4)} acc ${pct(acc)}` : "";
        log(
          `epoch ${r.epoch}/${e.epochs}` + set("train", r.trainLoss, r.trainAccuracy) +
            set("val", r.valLoss, r.valAccuracy) + set("test", r.testLoss, r.testAccuracy) +
            `  lr ${formatLr(r.lr)}  ${r.seconds.toFixed(1)}s${e.improved ? "  *best" : ""}`,
        );
        flushLr();
        return;
      }
      case "early-stop":
        log(
          `early stop after epoch ${e.epoch}/${e.epochs}: the validation accuracy has not ` +
            `improved for ${e.patience} epoch${e.patience > 1 ? "s" : ""} (--early-stop ` +
            `${e.patience}); the best ` +
            `checkpoint is epoch ${e.bestEpoch}'s (${pct(e.bestAccuracy)})`,
        );
        return;
    }
  };
}
