// fit()'s events as the CLI's text: a progress bar per epoch (train/progress_bar.ts) and one
// line per epoch, per unfreeze and per lr cut.

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
  return (e: FitEvent) => {
    switch (e.type) {
      case "epoch-start":
        bar = new ProgressBar({ label: `epoch ${e.epoch}/${e.epochs}`, total: e.batches, sink });
        return;
      case "progress":
        bar?.update(e.done, {
          loss: e.loss,
          accuracy: e.accuracy,
          imagesPerSecond: e.imagesPerSecond,
        });
        return;
      case "batches-end":
        bar?.finish();
        bar = null;
        return;
      case "unfreeze":
        log(
          `epoch ${e.epoch}: backbone unfrozen, training all layers` +
            (e.lr !== null ? ` at lr ${formatLr(e.lr)}` : ""),
        );
        return;
      case "lr-change":
        log(
          `  lr of the ${e.groupName} reduced from ${formatLr(e.oldLr)} to ${
            formatLr(e.newLr)
          } (${e.reason})`,
        );
        return;
      case "epoch-end": {
        const r = e.row;
        const set = (name: string, loss: number, acc: number) =>
          Number.isFinite(loss) ? `  ${name} loss ${loss.toFixed(4)} acc ${pct(acc)}` : "";
        log(
          `epoch ${r.epoch}/${e.epochs}` + set("train", r.trainLoss, r.trainAccuracy) +
            set("val", r.valLoss, r.valAccuracy) + set("test", r.testLoss, r.testAccuracy) +
            `  lr ${formatLr(r.lr)}  ${r.seconds.toFixed(1)}s${e.improved ? "  *best" : ""}`,
        );
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
