// The validation set at work, on tiny PNG folders (16x16, ResNet18 cut to its first stage):
// the splits openData makes (a stratified --val-split also beside a test/ folder, a val/
// folder used as it is), the best checkpoint and ReduceLROnPlateau following the validation
// metrics and not the test ones (a test/ folder with its labels swapped makes the two
// disagree), early stopping, and a resumed run keeping its splits.

import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";
import { Subset } from "../../data/mod.ts";
import { decodeCheckpoint, loadCheckpoint } from "../../nn/io/checkpoint.ts";
import { DEFAULT_CONFIG, type TrainConfig } from "../../train/config.ts";
import { openData } from "../../train/data.ts";
import { countPerClass, splitFingerprint } from "../../train/splits.ts";
import { MemoryOutput } from "../../train/memory_output.ts";
import { prepareTraining } from "../../train/setup.ts";
import { earlyStopDue, fit, improves } from "../../train/trainer.ts";
import { classImage, encodePng, writeImageFolder } from "./tiny_data.ts";
import { moduleTempDir } from "../temp_dir.ts";

await initGpu();
const tmp = await moduleTempDir("validation_test_");

/** Writes `count` images of each class under dir/<folder name>; `swap` writes class a's
 * images into b/ and b's into a/ (labels that contradict the pixels). */
async function writeSplit(dir: string, count: number, offset: number, swap = false) {
  for (const [label, name] of ["a", "b"].entries()) {
    const folder = swap ? ["b", "a"][label] : name;
    await Deno.mkdir(`${dir}/${folder}`, { recursive: true });
    for (let i = 0; i < count; i++) {
      await Deno.writeFile(
        `${dir}/${folder}/${i}.png`,
        encodePng(16, 16, classImage(label, i + offset, 16)),
      );
    }
  }
}

function tinyConfig(data: string, extra: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...DEFAULT_CONFIG,
    data,
    imageSize: 16,
    keepStages: 1,
    strategy: "truncate",
    optimizer: "adam",
    lr: 3e-3,
    batchSize: 8,
    logEvery: 100,
    epochs: 4,
    workers: 0,
    cache: false,
    out: `${tmp}/runs`,
    ...extra,
  };
}

/** Paths are not exposed by datasets; a sample is told by its pixels. */
function pixelKeys(ds: { length: number; get(i: number): { image: { data: Uint8Array } } }) {
  return new Set(Array.from({ length: ds.length }, (_, i) => ds.get(i).image.data.join(",")));
}

Deno.test("openData: a stratified --val-split beside test/, a val/ folder as it is", async () => {
  const withTest = await writeImageFolder(`${tmp}/with-test`, {
    classes: ["a", "b", "c"],
    perClass: 10,
    split: true,
  });
  const d = openData({ ...tinyConfig(withTest), valSplit: 0.2 });
  assert.deepEqual(countPerClass(d.val!), [2, 2, 2]);
  assert.deepEqual(countPerClass(d.train), [8, 8, 8]);
  assert.deepEqual(countPerClass(d.test!), [4, 4, 4]);
  const train = pixelKeys(d.train), val = pixelKeys(d.val!);
  assert.ok([...val].every((k) => !train.has(k)), "validation images are not trained on");
  assert.equal(train.size + val.size, 30);
  // deterministic by seed: the same config gives the same split, another seed another
  const again = openData({ ...tinyConfig(withTest), valSplit: 0.2 });
  assert.deepEqual((again.val as Subset).indices, (d.val as Subset).indices);
  assert.equal(splitFingerprint(again), splitFingerprint(d));
  const other = openData({ ...tinyConfig(withTest), valSplit: 0.2, seed: 5 });
  assert.notEqual(splitFingerprint(other), splitFingerprint(d));
  // --val-split 0: no validation set
  assert.equal(openData({ ...tinyConfig(withTest), valSplit: 0 }).val, null);

  // a val/ folder is the validation set (--val-split not applied); no test/: no test set
  const withVal = `${tmp}/with-val`;
  await writeSplit(`${withVal}/train`, 6, 0);
  await writeSplit(`${withVal}/val`, 3, 500);
  const v = openData(tinyConfig(withVal));
  assert.equal(v.test, null);
  assert.deepEqual(countPerClass(v.val!), [3, 3]);
  assert.deepEqual(countPerClass(v.train), [6, 6]);
  assert.match(v.valSource, /the val\/ folder/);

  // no split at all: --test-split at random, then --val-split of each class of the rest
  const flat = await writeImageFolder(`${tmp}/flat`, { classes: ["a", "b"], perClass: 20 });
  const f = openData(tinyConfig(flat));
  assert.equal(f.test!.length, 8);
  assert.equal(f.val!.length + f.train.length, 32);
  assert.ok(countPerClass(f.val!).every((n) => n >= 1));
});

/** train/ and val/ with the true labels; test/ with a's and b's swapped. */
const disagreeing = `${tmp}/disagreeing`;
await writeSplit(`${disagreeing}/train`, 12, 0);
await writeSplit(`${disagreeing}/val`, 6, 500);
await writeSplit(`${disagreeing}/test`, 6, 900, true);

Deno.test("the validation set picks the best checkpoint and drives the plateau schedule", async () => {
  const prepared = await prepareTraining(
    tinyConfig(disagreeing, {
      epochs: 5,
      scheduler: "plateau",
      plateauPatience: 0,
      plateauFactor: 0.5,
    }),
  );
  const output = new MemoryOutput();
  try {
    const r = await fit(prepared, output);
    assert.equal(r.best?.set, "validation");
    const rows = output.epochs;
    // the run must make the two sets disagree for this test to tell them apart
    const byVal = rows.reduce(
      (b, r) =>
        improves({ accuracy: r.valAccuracy, loss: r.valLoss }, b)
          ? { accuracy: r.valAccuracy, loss: r.valLoss, epoch: r.epoch }
          : b,
      null as null | { accuracy: number; loss: number; epoch: number },
    );
    const byTest = rows.reduce(
      (b, r) =>
        improves({ accuracy: r.testAccuracy, loss: r.testLoss }, b)
          ? { accuracy: r.testAccuracy, loss: r.testLoss, epoch: r.epoch }
          : b,
      null as null | { accuracy: number; loss: number; epoch: number },
    );
    assert.notEqual(byVal!.epoch, byTest!.epoch, JSON.stringify(rows));
    assert.equal(r.best!.epoch, byVal!.epoch);
    assert.equal(r.best!.accuracy, rows[byVal!.epoch - 1].valAccuracy);
    assert.deepEqual(r.best!.test, {
      loss: rows[byVal!.epoch - 1].testLoss,
      accuracy: rows[byVal!.epoch - 1].testAccuracy,
    });
    const best = decodeCheckpoint(output.checkpoints.get("best")!);
    assert.equal((best.meta as { epoch: number }).epoch, byVal!.epoch);
    // ReduceLROnPlateau(patience 0): the lr halves after every epoch whose validation loss is
    // not below the best so far by the relative threshold 1e-4; replayed on the rows
    const replay = (losses: number[]) => {
      let lr = 3e-3, best = Infinity;
      return losses.map((l) => {
        const used = lr;
        if (l < best * (1 - 1e-4)) best = l;
        else lr *= 0.5;
        return used;
      });
    };
    const lrs = rows.map((r) => r.lr);
    assert.deepEqual(lrs.map((x) => Number(x.toPrecision(6))), replay(rows.map((r) => r.valLoss)));
    assert.notDeepEqual(replay(rows.map((r) => r.valLoss)), replay(rows.map((r) => r.testLoss)));
  } finally {
    prepared.dispose();
  }
});

Deno.test("--early-stop N: stops N epochs after the best, says why, keeps the best", async () => {
  assert.equal(earlyStopDue(3, { epoch: 1 }, 2), true);
  assert.equal(earlyStopDue(2, { epoch: 1 }, 2), false);
  assert.equal(earlyStopDue(9, { epoch: 1 }, 0), false);
  // the validation labels swapped: learning the training data makes validation worse
  const worsening = `${tmp}/worsening`;
  await writeSplit(`${worsening}/train`, 12, 0);
  await writeSplit(`${worsening}/val`, 6, 500, true);
  await writeSplit(`${worsening}/test`, 6, 900);
  const io = memoryIO();
  const code = await runCli([
    "train",
    "--data",
    worsening,
    ...["--image-size", "16", "--keep-stages", "1", "--batch-size", "8", "--workers", "0"],
    ...["--optimizer", "adam", "--lr", "3e-3", "--epochs", "8", "--early-stop", "2"],
    ...["--out", `${tmp}/runs`, "--name", "early"],
  ], io);
  assert.equal(code, 0, io.text());
  const summary = JSON.parse(Deno.readTextFileSync(`${tmp}/runs/early/summary.json`));
  assert.equal(summary.stoppedEarly, true, io.text());
  assert.equal(summary.epochs, summary.best.epoch + 2);
  assert.equal(summary.epochsPlanned, 8);
  assert.match(
    io.text(),
    new RegExp(
      `early stop after epoch ${summary.epochs}/8: the validation accuracy has not improved ` +
        `for 2 epochs \\(--early-stop 2\\); the best checkpoint is epoch ${summary.best.epoch}'s`,
    ),
  );
  assert.match(io.text(), /done: \d+ epochs \(stopped early\)/);
  const best = await loadCheckpoint(`${tmp}/runs/early/best.safetensors`);
  assert.equal((best.meta as { epoch: number }).epoch, summary.best.epoch);
});

Deno.test("a resumed run keeps its splits, and refuses data whose splits changed", async () => {
  const dir = await writeImageFolder(`${tmp}/resumed`, {
    classes: ["a", "b"],
    perClass: 10,
    split: true,
  });
  const cli = async (...argv: string[]) => {
    const io = memoryIO();
    return { code: await runCli(argv, io), text: io.text() };
  };
  const tiny = ["--image-size", "16", "--keep-stages", "1", "--batch-size", "8", "--workers", "0"];
  const first = await cli(
    "train",
    "--data",
    dir,
    ...tiny,
    ...["--val-split", "0.3", "--epochs", "1", "--out", `${tmp}/runs`, "--name", "resumed"],
  );
  assert.equal(first.code, 0, first.text);
  const run = `${tmp}/runs/resumed`;
  const before = (await loadCheckpoint(`${run}/last.safetensors`)).meta as { splits: string };
  // one more training image would move every later index: refused, naming the reason
  const extra = `${dir}/train/a/extra.png`;
  await Deno.copyFile(`${dir}/train/a/0.png`, extra);
  const refused = await cli("train", "--resume", run, "--epochs", "2");
  assert.equal(refused.code, 2, refused.text);
  assert.match(refused.text, /not those the run started with.*would change its splits/);
  await Deno.remove(extra);
  const resumed = await cli("train", "--resume", run, "--epochs", "2");
  assert.equal(resumed.code, 0, resumed.text);
  assert.match(resumed.text, /14 training, 6 validation and 8 test images/);
  const after = (await loadCheckpoint(`${run}/last.safetensors`)).meta as { splits: string };
  assert.equal(after.splits, before.splits);
});

Deno.test("the plateau metric and --early-stop refuse a run without the set they watch", async () => {
  const dir = await writeImageFolder(`${tmp}/refused`, { classes: ["a", "b"], split: true });
  await assert.rejects(
    () => prepareTraining(tinyConfig(dir, { valSplit: 0, earlyStop: 2 })),
    /--early-stop watches the validation accuracy, but there is none \(--val-split 0/,
  );
  await assert.rejects(
    () => prepareTraining(tinyConfig(dir, { valSplit: 0, scheduler: "plateau" })),
    /--plateau-metric val-loss watches the validation set, but there is none.*--plateau-metric test-loss/,
  );
});
