// fit() without a run directory: results into a MemoryOutput (the browser's RunOutput), what
// happens as events in order, the checkpoints as bytes that decode to the train state, and
// the warmup-cosine schedule stepping per iteration (lr rising over the warmup, then falling).

import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { decodeCheckpoint } from "../../nn/io/checkpoint.ts";
import { DEFAULT_CONFIG, type TrainConfig } from "../../train/config.ts";
import type { FitEvent } from "../../train/fit_events.ts";
import { MemoryOutput } from "../../train/memory_output.ts";
import { prepareTraining } from "../../train/setup.ts";
import { textReport } from "../../train/text_report.ts";
import { fit } from "../../train/trainer.ts";
import { writeImageFolder } from "./tiny_data.ts";
import { moduleTempDir } from "../temp_dir.ts";

await initGpu();
const tmp = await moduleTempDir("fit_output_test_");
const data = await writeImageFolder(`${tmp}/data`, {
  classes: ["a", "b"],
  perClass: 8,
  split: true,
});

function tinyConfig(extra: Partial<TrainConfig>): TrainConfig {
  return {
    ...DEFAULT_CONFIG,
    data,
    imageSize: 16,
    keepStages: 1,
    strategy: "truncate",
    batchSize: 4,
    logEvery: 1,
    epochs: 2,
    workers: 0,
    cache: false,
    out: `${tmp}/runs`,
    ...extra,
  };
}

Deno.test("fit into memory: events in order, rows, checkpoints as bytes, no files", async () => {
  const prepared = await prepareTraining(
    // patience 0 and a threshold no epoch meets: the lr is cut after epoch 2, whatever the loss
    tinyConfig({
      optimizer: "adam",
      lr: 1e-3,
      scheduler: "plateau",
      plateauPatience: 0,
      plateauThreshold: 0.99,
    }),
  );
  const output = new MemoryOutput();
  const events: FitEvent[] = [];
  const lines: string[] = [];
  const text = textReport({ log: (l) => lines.push(l) });
  try {
    const r = await fit(prepared, output, {
      onEvent: (e) => {
        events.push(e);
        text(e);
      },
    });
    assert.equal(r.interrupted, false);
  } finally {
    prepared.dispose();
  }
  // 16 training images less the --val-split 0.1 (one of each class) held out, batch 4
  const batches = 4;
  assert.equal(prepared.data.train.length, 14);
  const types = events.filter((e) => e.type !== "lr-change").map((e) => e.type);
  // each epoch evaluates the validation set, then the test set, a progress event per batch
  const evalSets = events.flatMap((e) => e.type === "eval-progress" ? [e.set] : []);
  const valBatches = evalSets.filter((s) => s === "validation").length / 2;
  const testBatches = evalSets.filter((s) => s === "test").length / 2;
  const epochSets = [...Array(valBatches).fill("validation"), ...Array(testBatches).fill("test")];
  assert.deepEqual(evalSets, [...epochSets, ...epochSets]);
  assert.deepEqual([valBatches, testBatches], [1, 2]); // 2 validation and 8 test images
  const epoch = [
    "epoch-start",
    "first-step",
    ...Array(batches).fill("progress"),
    "batches-end",
    ...Array(valBatches + testBatches).fill("eval-progress"),
    "epoch-end",
  ];
  assert.deepEqual(types, [...epoch, ...epoch]);
  // the text: the compilation notice once, and each lr cut after its epoch's summary line
  assert.equal(
    lines.filter((l) => /compiling the GPU kernels/.test(l)).length,
    1,
    lines.join("\n"),
  );
  assert.equal(lines.filter((l) => /first step ready after \d/.test(l)).length, 1);
  const cutEvents = events.flatMap((e) => e.type === "lr-change" ? [e] : []);
  const cutLines = lines.flatMap((l, i) => /lr of the .* reduced/.test(l) ? [i] : []);
  assert.ok(cutLines.length > 0, `patience 0 cuts the lr: ${lines.join("\n")}`);
  cutLines.forEach((i, k) => {
    const epochLine = lines.slice(0, i).findLast((l) => !/lr of the/.test(l))!;
    assert.match(epochLine, new RegExp(`^epoch ${cutEvents[k].epoch}/2 `), lines.join("\n"));
  });
  assert.equal(output.iterations.length, 2 * batches);
  assert.deepEqual(output.epochs.map((r) => r.epoch), [1, 2]);
  assert.equal(output.summary?.iterations, 2 * batches);
  const last = decodeCheckpoint(output.checkpoints.get("last")!);
  assert.ok([...last.tensors.keys()].some((k) => k.startsWith("model.")));
  assert.ok([...last.tensors.keys()].some((k) => k.startsWith("optim.")));
  assert.equal((last.meta as { epoch: number }).epoch, 2);
  assert.ok(output.checkpoints.has("best"));
  assert.throws(() => Deno.statSync(`${tmp}/runs`), Deno.errors.NotFound);
  // the text the CLI prints: one line per epoch (and one per lr cut)
  assert.equal(lines.filter((l) => /^epoch \d\/2 {2}train loss/.test(l)).length, 2);
  const cuts = events.filter((e) => e.type === "lr-change");
  assert.equal(lines.filter((l) => /reduced from .* \(plateau\)$/.test(l)).length, cuts.length);
});

Deno.test("warmup-cosine steps per iteration: up over the warmup, then down the cosine", async () => {
  const prepared = await prepareTraining(
    tinyConfig({
      scheduler: "warmup-cosine",
      warmupEpochs: 1,
      warmupStartFactor: 0.25,
      lr: 0.01,
      epochs: 3,
    }),
  );
  const output = new MemoryOutput();
  try {
    await fit(prepared, output);
  } finally {
    prepared.dispose();
  }
  const lrs = output.iterations.map((r) => r.lr); // the lr each step used
  assert.equal(lrs.length, 12);
  assert.ok(Math.abs(lrs[0] - 0.0025) < 1e-12, `first step at lr x 0.25, got ${lrs[0]}`);
  for (let i = 1; i <= 4; i++) assert.ok(lrs[i] > lrs[i - 1], `warmup rises at step ${i + 1}`);
  assert.ok(Math.abs(lrs[4] - 0.01) < 1e-12, `the cosine starts at lr, got ${lrs[4]}`);
  for (let i = 5; i < 12; i++) assert.ok(lrs[i] < lrs[i - 1], `cosine falls at step ${i + 1}`);
});

Deno.test("warmup-cosine refuses a warmup as long as the run, naming the flag", async () => {
  await assert.rejects(
    () => prepareTraining(tinyConfig({ scheduler: "warmup-cosine", warmupEpochs: 2 })),
    /--warmup-epochs: the warmup \(8 iterations\) must be shorter/,
  );
});
