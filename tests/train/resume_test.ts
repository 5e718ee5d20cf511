// Resume: a run stopped in the middle of an epoch (as Ctrl-C does) and resumed from its
// checkpoint ends exactly where the same run without a stop ends: same metric rows, same
// weights.

import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { parseArgs } from "../../cli/args.ts";
import { TRAIN_SPEC } from "../../cli/commands/train.ts";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";
import { applyTrainFlags } from "../../cli/train_flags.ts";
import { loadCheckpoint } from "../../nn/io/checkpoint.ts";
import { readStateDictFile } from "../../nn/io/weights_file.ts";
import { recipeConfig } from "../../train/recipes.ts";
import { RunDir } from "../../train/run_dir.ts";
import { prepareTraining } from "../../train/setup.ts";
import { textReport } from "../../train/text_report.ts";
import { fit } from "../../train/trainer.ts";
import { writeImageFolder } from "./tiny_data.ts";
import { moduleTempDir } from "../temp_dir.ts";

await initGpu();
const tmp = await moduleTempDir("resume_test_");
const data = await writeImageFolder(`${tmp}/data`, {
  classes: ["a", "b", "c"],
  perClass: 8,
  split: true,
});
const out = `${tmp}/runs`;
const ARGS = [
  "--data",
  data,
  "--image-size",
  "16",
  "--keep-stages",
  "1",
  "--batch-size",
  "8",
  "--log-every",
  "1",
  "--epochs",
  "2",
  "--optimizer",
  "adam",
  "--scheduler",
  "plateau",
  "--augment",
  "crop-flip",
  "--out",
  out,
];

function csvRowsOf(path: string): string[] {
  return Deno.readTextFileSync(path).trim().split("\n").slice(1);
}

function withoutTimes(csv: string): string[] {
  const [head, ...rows] = csv.trim().split("\n");
  const drop = new Set(["seconds", "imagesPerSecond"].map((c) => head.split(",").indexOf(c)));
  return rows.map((r) => r.split(",").filter((_, i) => !drop.has(i)).join(","));
}

/**
 * Trains `full` uninterrupted and `cut` stopped after its second batch then resumed, with
 * `args`; checks that both end with the same rows and weights.
 */
async function stopAndResume(args: string[], full: string, cut: string): Promise<void> {
  const io = memoryIO();
  assert.equal(await runCli(["train", ...args, "--name", full], io), 0, io.text());

  // the same run, stopped after its second batch (the flag the SIGINT handler sets)
  const config = recipeConfig(undefined);
  applyTrainFlags(config, parseArgs(TRAIN_SPEC, [...args, "--name", cut]));
  const prepared = await prepareTraining(config);
  const stop = { requested: false };
  let updates = 0;
  const sink = {
    isTerminal: true,
    write: (s: string) =>
      void (!s.startsWith("\r\x1b[K") && ++updates === 2 && (stop.requested = true)),
  };
  const run = await RunDir.create(`${out}/${cut}`, config);
  const r = await fit(prepared, run, { onEvent: textReport({ sink }), stop });
  run.close();
  prepared.dispose();
  assert.equal(r.interrupted, true);
  const meta = (await loadCheckpoint(`${out}/${cut}/last.safetensors`)).meta as Record<
    string,
    unknown
  >;
  assert.deepEqual([meta.epoch, meta.batch, meta.iteration, meta.interrupted], [0, 2, 2, true]);

  const io2 = memoryIO();
  assert.equal(await runCli(["train", "--resume", `${out}/${cut}`], io2), 0, io2.text());
  assert.match(io2.text(), new RegExp(`resuming .*${cut} at epoch 1, batch 3 \\(iteration 2\\)`));

  for (const file of ["metrics_epoch.csv", "metrics_iter.csv"]) {
    assert.deepEqual(
      withoutTimes(Deno.readTextFileSync(`${out}/${cut}/${file}`)),
      withoutTimes(Deno.readTextFileSync(`${out}/${full}/${file}`)),
      file,
    );
  }
  const a = await readStateDictFile(`${out}/${full}/last.safetensors`);
  const b = await readStateDictFile(`${out}/${cut}/last.safetensors`);
  for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, k);
}

Deno.test("a run stopped mid-epoch and resumed matches the uninterrupted run exactly", async () => {
  await stopAndResume(ARGS, "full", "cut");
  // --epochs extends a finished run
  const io3 = memoryIO();
  assert.equal(
    await runCli(["train", "--resume", `${out}/full`, "--epochs", "3"], io3),
    0,
    io3.text(),
  );
  assert.match(io3.text(), /epoch 3\/3 /);
  assert.equal(withoutTimes(Deno.readTextFileSync(`${out}/full/metrics_epoch.csv`)).length, 3);
});

Deno.test("resume is exact with --balanced-sampler and --class-weights balanced on imbalanced data", async () => {
  const skewed = await writeImageFolder(`${tmp}/skewed`, {
    classes: ["a", "b", "c"],
    perClass: 8,
    split: true,
  });
  // 3 / 5 / 8 images: three different class weights, so that no batch of two or more classes
  // has the same loss with and without them
  for (let i = 0; i < 5; i++) await Deno.remove(`${skewed}/train/a/${i}.png`);
  for (let i = 0; i < 3; i++) await Deno.remove(`${skewed}/train/b/${i}.png`);
  const args = [
    ...ARGS.map((v) => (v === data ? skewed : v)),
    "--balanced-sampler",
    "--class-weights",
    "balanced",
  ];
  await stopAndResume(args, "balanced-full", "balanced-cut");
  const config = JSON.parse(Deno.readTextFileSync(`${out}/balanced-cut/config.json`));
  assert.equal(config.classWeights, "balanced");
  assert.equal(config.balancedSampler, true);
  // --val-split 0.1 holds one image of each class out: 2 / 4 / 7 train, 13 draws an epoch in
  // batches of 8; the start-up notes name the weights n / (3 x count) of the training part
  assert.equal(csvRowsOf(`${out}/balanced-full/metrics_iter.csv`).length, 4);
  const io = memoryIO();
  assert.equal(
    await runCli(["train", ...args, "--name", "balanced-notes", "--epochs", "1"], io),
    0,
    io.text(),
  );
  assert.match(
    io.text(),
    /class weights \(balanced, n \/ \(classes x count\)\): a 2\.17, b 1\.08, c 0\.619/,
  );
  assert.match(io.text(), /sampler: balanced .* each epoch draws 13 samples/);
  // the weights reach the training loss: the same first batch without them gives another loss
  const io2 = memoryIO();
  const unweighted = args.filter((v) => v !== "--class-weights" && v !== "balanced");
  assert.equal(
    await runCli(["train", ...unweighted, "--name", "sampler-only", "--epochs", "1"], io2),
    0,
    io2.text(),
  );
  const firstLoss = (run: string) =>
    Number(csvRowsOf(`${out}/${run}/metrics_iter.csv`)[0].split(",")[2]);
  const [weighted, plain] = [firstLoss("balanced-notes"), firstLoss("sampler-only")];
  assert.ok(Math.abs(weighted - plain) > 1e-3, `weighted ${weighted}, unweighted ${plain}`);
});
