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
        log(
          `epoch ${r.epoch}/${e.epochs}  train loss ${r.trainLoss.toFixed(4)} acc ${
            pct(r.trainAccuracy)
          }  ` +
            `test loss ${r.testLoss.toFixed(4)} acc ${pct(r.testAccuracy)}  lr ${
              formatLr(r.lr)
            }  ` +
            `${r.seconds.toFixed(1)}s${e.improved ? "  *best" : ""}`,
        );
        return;
      }
    }
  };
}
