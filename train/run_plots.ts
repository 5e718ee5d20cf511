// The plots of a run directory, from its metric rows: loss per iteration, loss and accuracy
// per epoch, and the lr of each parameter group per epoch (log axis). Titles name the run;
// dashed markers show where the backbone was unfrozen and where a step or plateau schedule
// cut the lr (a cosine schedule lowers it every epoch, which the lr plot shows instead).

import { PARAM_GROUP_NAMES } from "./optim.ts";
import { lineChart, type Marker } from "./plot.ts";
import type { EpochRow, IterationRow } from "./run_output.ts";

export interface RunPlotOptions {
  /** The run's name, written in every title. */
  run: string;
  /** Mark the epochs after which the lr fell (true for step and plateau schedules). */
  markLrCuts: boolean;
}

const ratioText = (r: number) => `lr ×${Number(r.toPrecision(2))}`;

/**
 * Markers at epoch boundaries: x = e is the end of epoch e (1-based), where an unfreeze or
 * an lr cut takes effect for epoch e + 1.
 */
export function epochMarkers(rows: readonly EpochRow[], markLrCuts: boolean): Marker[] {
  const out: Marker[] = [];
  for (let i = 1; i < rows.length; i++) {
    const prev = rows[i - 1], row = rows[i];
    if (prev.frozen && !row.frozen) {
      out.push({ x: prev.epoch, label: "unfreeze" });
    } else if (markLrCuts && row.lrs[0] < prev.lrs[0]) {
      out.push({ x: prev.epoch, label: ratioText(row.lrs[0] / prev.lrs[0]) });
    }
  }
  return out;
}

/** File name → SVG text for every plot of the run. */
export function runPlots(
  iterations: readonly IterationRow[],
  epochs: readonly EpochRow[],
  o: RunPlotOptions,
): Map<string, string> {
  const markers = epochMarkers(epochs, o.markLrCuts);
  // the same markers on the iteration axis: the last iteration of the marked epoch
  const lastIteration = (epoch: number) =>
    Math.max(...iterations.filter((r) => r.epoch <= epoch).map((r) => r.iteration));
  const iterMarkers = markers.map((m) => ({ ...m, x: lastIteration(m.x) }))
    .filter((m) => Number.isFinite(m.x));
  const groups = Math.max(1, ...epochs.map((r) => r.lrs.length));
  const title = (what: string) => `${what} — ${o.run}`;
  return new Map([
    [
      "loss_iter.svg",
      lineChart({
        title: title("Training loss per iteration"),
        xLabel: "iteration",
        yLabel: "loss",
        series: [{ name: "train", points: iterations.map((r) => [r.iteration, r.loss]) }],
        markers: iterMarkers,
      }),
    ],
    [
      "loss_epoch.svg",
      lineChart({
        title: title("Loss per epoch"),
        xLabel: "epoch",
        xInteger: true,
        yLabel: "loss",
        series: present([
          { name: "train", points: epochs.map((r) => [r.epoch, r.trainLoss]) },
          { name: "validation", points: epochs.map((r) => [r.epoch, r.valLoss]) },
          { name: "test", points: epochs.map((r) => [r.epoch, r.testLoss]) },
        ]),
        markers,
      }),
    ],
    [
      "accuracy_epoch.svg",
      lineChart({
        title: title("Accuracy per epoch"),
        xLabel: "epoch",
        xInteger: true,
        yLabel: "accuracy",
        yRange: [0, 1],
        series: present([
          { name: "train", points: epochs.map((r) => [r.epoch, r.trainAccuracy]) },
          { name: "validation", points: epochs.map((r) => [r.epoch, r.valAccuracy]) },
          { name: "test", points: epochs.map((r) => [r.epoch, r.testAccuracy]) },
        ]),
        markers,
      }),
    ],
    [
      "lr_epoch.svg",
      lineChart({
        title: title("Learning rate per epoch"),
        xLabel: "epoch",
        xInteger: true,
        yLabel: "lr (log scale)",
        yLog: true,
        series: Array.from({ length: groups }, (_, g) => ({
          name: PARAM_GROUP_NAMES[g] ?? `group ${g}`,
          points: epochs.map((r) => [r.epoch, r.lrs[g] ?? NaN] as const),
        })),
        markers,
      }),
    ],
  ]);
}

/** The series that have a value (a run without a validation or test set has none of it). */
function present<S extends { points: readonly (readonly [number, number])[] }>(series: S[]): S[] {
  return series.filter((s) => s.points.some(([, y]) => Number.isFinite(y)));
}
