// End-to-end runs of `train`, `eval` and `predict` in-process on tiny PNG folders (16x16,
// ResNet18 cut to its first stage so each run takes about a second): every strategy, what a
// run leaves on disk, frozen layers staying frozen, eval/predict on the result.

import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";
import { loadCheckpoint } from "../../nn/io/checkpoint.ts";
import type { StateDict } from "../../nn/io/host_tensor.ts";
import { readStateDictFile } from "../../nn/io/weights_file.ts";
import { writeImageFolder } from "../train/tiny_data.ts";
import { moduleTempDir } from "../temp_dir.ts";

await initGpu();
const tmp = await moduleTempDir("train_cli_test_");
const data = await writeImageFolder(`${tmp}/shapes`, {
  classes: ["a", "b", "c"],
  perClass: 8,
  testPerClass: 4,
  split: true,
});
const out = `${tmp}/runs`;
const TINY = ["--image-size", "16", "--keep-stages", "1", "--batch-size", "8", "--log-every", "1"];

async function cli(...argv: string[]) {
  const io = memoryIO();
  const code = await runCli(argv, io);
  return { code, io, text: io.text() };
}

async function train(name: string, ...extra: string[]) {
  const r = await cli("train", "--data", data, ...TINY, "--out", out, "--name", name, ...extra);
  assert.equal(r.code, 0, r.text);
  return r;
}

function csvRows(path: string): Record<string, string>[] {
  const [head, ...rows] = Deno.readTextFileSync(path).trim().split("\n");
  const cols = head.split(",");
  return rows.map((r) => Object.fromEntries(r.split(",").map((v, i) => [cols[i], v])));
}

function same(a: StateDict, b: StateDict, key: string): boolean {
  const x = a.get(key)!.data, y = b.get(key)!.data;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

Deno.test("train CLI end-to-end on tiny image folders", async (t) => {
  await t.step(
    "scratch: the run directory holds config, metrics, plots, checkpoints, summary",
    async () => {
      const r = await train("scratch", "--strategy", "scratch", "--epochs", "2");
      // --val-split 0.1 by default: one image of each class of 8 held out for validation
      assert.match(r.text, /21 training, 3 validation and 12 test images of 3 classes/);
      assert.match(r.text, /test: the test\/ folder/);
      assert.match(
        r.text,
        /epoch 1\/2 +train loss \d\.\d{4} acc [\d.]+% +val loss \d\.\d{4} acc [\d.]+% +test loss/,
      );
      assert.match(r.text, /done: 2 epochs/);
      const dir = `${out}/scratch`;
      const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(files, [
        "accuracy_epoch.svg",
        "best.safetensors",
        "config.json",
        "confusion_matrix.svg",
        "last.safetensors",
        "loss_epoch.svg",
        "loss_iter.svg",
        "lr_epoch.svg",
        "metrics_epoch.csv",
        "metrics_iter.csv",
        "summary.json",
      ]);
      const config = JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
      assert.equal(config.strategy, "scratch");
      assert.equal(config.imageSize, 16);
      const iters = csvRows(`${dir}/metrics_iter.csv`);
      assert.deepEqual(iters.map((r) => r.iteration), ["1", "2", "3", "4", "5", "6"]);
      const epochs = csvRows(`${dir}/metrics_epoch.csv`);
      assert.equal(epochs.length, 2);
      for (const e of epochs) {
        assert.ok(Number(e.testAccuracy) >= 0 && Number(e.testAccuracy) <= 1);
        assert.ok(Number.isFinite(Number(e.trainLoss)));
      }
      const summary = JSON.parse(Deno.readTextFileSync(`${dir}/summary.json`));
      assert.equal(summary.epochs, 2);
      assert.deepEqual(summary.classes, ["a", "b", "c"]);
      const last = await loadCheckpoint(`${dir}/last.safetensors`);
      const meta = last.meta as Record<string, unknown>;
      assert.equal(meta.epoch, 2);
      assert.ok([...last.tensors.keys()].some((k) => k.startsWith("optim.state.")));
      assert.ok(!last.tensors.has("model.layer2.0.conv1.weight"), "one stage kept");
    },
  );

  const weights = `${out}/scratch/best.safetensors`;

  await t.step("finetune from weights: backbone loaded, new head, all layers train", async () => {
    const r = await train("finetune", "--weights", weights, "--epochs", "1");
    assert.match(
      r.text,
      /weights: loaded \d+ tensors from .*best\.safetensors; new head for 3 classes/,
    );
    const before = await readStateDictFile(weights);
    const after = await readStateDictFile(`${out}/finetune/last.safetensors`);
    assert.ok(!same(before, after, "conv1.weight"), "the backbone trained");
  });

  await t.step(
    "feature-extract: backbone and its BatchNorm statistics stay exactly as loaded",
    async () => {
      const r = await train(
        "features",
        "--weights",
        weights,
        "--strategy",
        "feature-extract",
        "--epochs",
        "2",
      );
      assert.match(r.text, /backbone frozen, training the head/);
      const before = await readStateDictFile(weights);
      const after = await readStateDictFile(`${out}/features/last.safetensors`);
      for (
        const key of [
          "conv1.weight",
          "bn1.running_mean",
          "bn1.running_var",
          "layer1.1.conv2.weight",
        ]
      ) {
        assert.ok(same(before, after, key), `${key} unchanged`);
      }
      // only the head's two tensors were ever updated (they alone have optimizer state)
      const meta = (await loadCheckpoint(`${out}/features/last.safetensors`)).meta as {
        optim: { state: Record<string, unknown> };
      };
      assert.equal(Object.keys(meta.optim.state).length, 2);
      assert.ok(csvRows(`${out}/features/metrics_epoch.csv`).every((e) => e.frozen === "true"));
    },
  );

  await t.step(
    "freeze-unfreeze: frozen for K epochs, then all layers at the lower lr",
    async () => {
      const r = await train(
        "unfreeze",
        "--weights",
        weights,
        "--strategy",
        "freeze-unfreeze",
        "--freeze-epochs",
        "1",
        "--epochs",
        "2",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--unfreeze-lr",
        "0.001",
      );
      assert.match(r.text, /epoch 2: backbone unfrozen, training all layers at lr 1e-3/);
      const epochs = csvRows(`${out}/unfreeze/metrics_epoch.csv`);
      assert.deepEqual(epochs.map((e) => [e.frozen, e.lr]), [["true", "0.01"], ["false", "0.001"]]);
      const before = await readStateDictFile(weights);
      const after = await readStateDictFile(`${out}/unfreeze/last.safetensors`);
      assert.ok(!same(before, after, "conv1.weight"));
    },
  );

  await t.step("truncate: stages beyond --keep-stages are dropped from the weights", async () => {
    await train("two-stages", "--strategy", "scratch", "--keep-stages", "2", "--epochs", "1");
    const r = await train(
      "truncated",
      "--weights",
      `${out}/two-stages/last.safetensors`,
      "--strategy",
      "truncate",
      "--keep-stages",
      "1",
      "--epochs",
      "1",
    );
    assert.match(r.text, /tensors of dropped stages ignored/);
    assert.match(r.text, /truncated to its first 1 stage/);
    const after = await readStateDictFile(`${out}/truncated/last.safetensors`);
    assert.ok(after.has("layer1.0.conv1.weight") && !after.has("layer2.0.conv1.weight"));
    assert.deepEqual(after.get("fc.weight")!.shape, [3, 64]);
  });

  await t.step(
    "options: sgd with nesterov, head lr x10, step scheduler, label smoothing, cifar augment",
    async () => {
      const r = await train(
        "options",
        "--strategy",
        "scratch",
        "--epochs",
        "2",
        "--nesterov",
        "--momentum",
        "0.9",
        "--head-lr-mult",
        "10",
        "--scheduler",
        "step",
        "--step-size",
        "1",
        "--step-gamma",
        "0.5",
        "--label-smoothing",
        "0.1",
        "--augment",
        "cifar",
        "--weight-decay",
        "1e-4",
      );
      assert.match(r.text, /done: 2 epochs/);
      const rows = csvRows(`${out}/options/metrics_epoch.csv`);
      assert.deepEqual(rows.map((e) => Number(e.lr)), [0.01, 0.005]);
      // each group's lr used in the epoch (the head at 10x), space-separated in one cell
      assert.deepEqual(rows.map((e) => e.lrs), ["0.01 0.1", "0.005 0.05"]);
      // step cuts are marked on the plots (the legend and the title name what they show)
      const accuracy = Deno.readTextFileSync(`${out}/options/accuracy_epoch.svg`);
      assert.match(accuracy, />lr ×0\.5<\/text>/);
      assert.match(accuracy, /Accuracy per epoch — options/);
      assert.match(Deno.readTextFileSync(`${out}/options/lr_epoch.svg`), />head<\/text>/);
      const meta = (await loadCheckpoint(`${out}/options/last.safetensors`)).meta as {
        optim: { paramGroups: { lr: number }[] };
      };
      assert.deepEqual(meta.optim.paramGroups.map((g) => g.lr), [0.0025, 0.025]);
    },
  );

  await t.step(
    "eval: the best checkpoint reproduces its test accuracy, with a per-class report and a confusion matrix",
    async () => {
      const jsonPath = `${tmp}/eval.json`, svgPath = `${tmp}/confusion.svg`;
      const r = await cli(
        "eval",
        "--checkpoint",
        weights,
        "--json",
        jsonPath,
        "--confusion-svg",
        svgPath,
      );
      assert.equal(r.code, 0, r.text);
      const result = JSON.parse(Deno.readTextFileSync(jsonPath));
      const epochs = csvRows(`${out}/scratch/metrics_epoch.csv`);
      const bestEpoch = (await loadCheckpoint(weights)).meta as { best: { epoch: number } };
      const expected = Number(epochs[bestEpoch.best.epoch - 1].testAccuracy);
      assert.ok(Math.abs(result.accuracy - expected) < 1e-6, `${result.accuracy} vs ${expected}`);
      assert.equal(result.samples, 12);
      assert.equal(result.confusion.flat().reduce((a: number, b: number) => a + b, 0), 12);
      assert.deepEqual(result.confusion.map((row: number[]) => row.reduce((a, b) => a + b, 0)), [
        4,
        4,
        4,
      ]);
      // each figure once; the per-class rows come from the confusion matrix (recall is the
      // class's accuracy)
      assert.deepEqual(Object.keys(result), [
        "dataset",
        "split",
        "samples",
        "loss",
        "classes",
        "perClass",
        "macro",
        "weighted",
        "accuracy",
        "confusion",
      ]);
      assert.deepEqual(result.perClass.map((s: { support: number }) => s.support), [4, 4, 4]);
      result.perClass.forEach((s: { recall: number }, i: number) =>
        assert.equal(s.recall, result.confusion[i][i] / 4)
      );
      assert.match(
        r.text,
        /precision +recall +f1-score +support\n +a +[\d.]+ +[\d.]+ +[\d.]+ +4\n/,
      );
      assert.match(r.text, /macro avg +[\d.]+ +[\d.]+ +[\d.]+ +12\n/);
      assert.match(r.text, /weighted avg +[\d.]+ +[\d.]+ +[\d.]+ +12\n/);
      assert.match(r.text, /confusion matrix/);
      const svg = Deno.readTextFileSync(svgPath);
      assert.match(svg, /^<svg xmlns/);
      for (const c of ["a", "b", "c"]) assert.match(svg, new RegExp(`>${c}</text>`));
      // the run directory holds the last test evaluation's matrix too
      assert.match(
        Deno.readTextFileSync(`${out}/scratch/confusion_matrix.svg`),
        /Confusion matrix/,
      );
      const summary = JSON.parse(Deno.readTextFileSync(`${out}/scratch/summary.json`));
      assert.equal(summary.testReport.perClass.length, 3);
      assert.equal(summary.testReport.macro.support, 12);
      const train = await cli("eval", "--checkpoint", weights, "--split", "train");
      assert.match(train.text, /\(train, 21 images\)/);
    },
  );

  await t.step("predict: top-k classes with probabilities, sorted", async () => {
    const files = [`${data}/test/a/0.png`, `${data}/test/c/1.png`];
    const r = await cli("predict", "--checkpoint", weights, "--top-k", "2", "--json", ...files);
    assert.equal(r.code, 0, r.text);
    const preds = r.io.lines.map((l) => JSON.parse(l));
    assert.deepEqual(preds.map((p) => p.file), files);
    for (const p of preds) {
      assert.equal(p.top.length, 2);
      assert.ok(p.top[0].probability >= p.top[1].probability);
      assert.ok(
        p.top.every((x: { probability: number; className: string }) =>
          x.probability >= 0 && x.probability <= 1 && ["a", "b", "c"].includes(x.className)
        ),
      );
    }
    const text = await cli("predict", "--checkpoint", weights, files[0]);
    assert.match(text.text, /0\.png: [abc] [\d.]+%, [abc] [\d.]+%, [abc] [\d.]+%$/);
  });
});
