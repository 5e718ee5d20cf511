import assert from "node:assert/strict";
import type { EpochRow, IterationRow } from "../../train/run_output.ts";
import { epochMarkers, runPlots } from "../../train/run_plots.ts";
import { parseSvg } from "./svg_check.ts";

function row(epoch: number, frozen: boolean, lrs: number[]): EpochRow {
  return {
    epoch,
    trainLoss: 1 / epoch,
    trainAccuracy: 0.5,
    valLoss: 1.1 / epoch,
    valAccuracy: 0.45,
    testLoss: 1.2 / epoch,
    testAccuracy: 0.4,
    lr: lrs[0],
    seconds: 1,
    frozen,
    lrs,
  };
}

// freeze-unfreeze for 2 epochs, then a plateau cut after epoch 4 (the head's lr is 10x)
const EPOCHS = [
  row(1, true, [1e-3, 1e-2]),
  row(2, true, [1e-3, 1e-2]),
  row(3, false, [1e-4, 1e-3]),
  row(4, false, [1e-4, 1e-3]),
  row(5, false, [1e-5, 1e-4]),
];
const ITERATIONS: IterationRow[] = EPOCHS.flatMap((e) =>
  [1, 2].map((k) => ({
    iteration: 2 * (e.epoch - 1) + k,
    epoch: e.epoch,
    loss: 1,
    accuracy: 0.5,
    lr: e.lr,
    imagesPerSecond: 10,
  }))
);

Deno.test("epochMarkers: the unfreeze, and lr cuts only where the schedule cuts", () => {
  // the unfreeze also lowered the lr: it is marked once, as the unfreeze
  assert.deepEqual(epochMarkers(EPOCHS, true), [
    { x: 2, label: "unfreeze" },
    { x: 4, label: "lr ×0.1" },
  ]);
  assert.deepEqual(epochMarkers(EPOCHS, false), [{ x: 2, label: "unfreeze" }]);
});

Deno.test("runPlots: four well-formed plots titled with the run, markers, an lr line per group", () => {
  const plots = runPlots(ITERATIONS, EPOCHS, { run: "my-run", markLrCuts: true });
  assert.deepEqual([...plots.keys()], [
    "loss_iter.svg",
    "loss_epoch.svg",
    "accuracy_epoch.svg",
    "lr_epoch.svg",
  ]);
  for (const [file, svg] of plots) {
    const els = parseSvg(svg);
    const texts = els.filter((e) => e.name === "text").map((e) => e.text);
    assert.ok(texts.some((t) => t.endsWith("— my-run")), `${file} names the run`);
    assert.ok(texts.includes("unfreeze") && texts.includes("lr ×0.1"), `${file} markers`);
    assert.equal(els.filter((e) => e.attrs.class === "marker").length, 2, file);
  }
  const lr = parseSvg(plots.get("lr_epoch.svg")!);
  const names = lr.filter((e) => e.name === "text").map((e) => e.text);
  assert.ok(names.includes("backbone") && names.includes("head"));
  assert.equal(lr.filter((e) => e.name === "polyline").length, 2);
  // on the iteration axis the markers sit at the last iteration of epochs 2 and 4
  const iter = parseSvg(plots.get("loss_iter.svg")!);
  const xs = iter.filter((e) => e.attrs.class === "marker").map((e) => Number(e.attrs.x1));
  const ticks = iter.filter((e) => e.name === "text" && ["4", "8"].includes(e.text))
    .map((e) => Number(e.attrs.x));
  assert.deepEqual(xs, ticks);
});
