// Settings that are right by default: the image size of pretrained weights (224 for a plain
// state dict, taken as torchvision's ImageNet weights; the recorded size for a checkpoint of
// this tool), the eval resize following the image size, channels and normalisation resolved;
// config.json recording the resolved values; a version-1 checkpoint (inChannels 0, normalize
// auto, eval resize 0, its --val-split the test split) resuming as before; the start-up block
// and its warnings (imbalanced classes, ImageNet weights at under 64 px).

import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";
import { loadCheckpoint, saveCheckpoint } from "../../nn/io/checkpoint.ts";
import { encodeSafetensors } from "../../nn/io/safetensors.ts";
import { resnet18 } from "../../nn/resnet.ts";
import { validateTrainMeta } from "../../train/checkpoint_schema.ts";
import { DEFAULT_CONFIG, type TrainConfig } from "../../train/config.ts";
import { readWeights } from "../../train/weights.ts";
import { recipeConfig } from "../../train/recipes.ts";
import {
  defaultEvalResize,
  IMAGENET_TRAINED,
  resolveConfig,
  smallInputWarning,
  trainedWith,
} from "../../train/resolve.ts";
import { prepareTraining } from "../../train/setup.ts";
import { imbalanceWarning, startupReport } from "../../train/startup_report.ts";
import { TRAIN_STATE_KIND } from "../../train/train_state.ts";
import { writeImageFolder } from "./tiny_data.ts";
import { moduleTempDir } from "../temp_dir.ts";

await initGpu();
const tmp = await moduleTempDir("resolve_test_");
const data = await writeImageFolder(`${tmp}/data`, {
  classes: ["a", "b"],
  perClass: 8,
  split: true,
});
// a plain state dict (no checkpoint metadata), as torchvision's weights are
const plainWeights = `${tmp}/plain.safetensors`;
{
  const model = resnet18({ numClasses: 10, stages: 1 });
  await Deno.writeFile(plainWeights, encodeSafetensors(await model.stateDict()));
  model.dispose();
}

const resolve = (c: Partial<TrainConfig>, weights = false, inChannels: 1 | 3 = 3) =>
  resolveConfig({ ...DEFAULT_CONFIG, ...c }, {
    inChannels,
    trainedWith: weights ? IMAGENET_TRAINED : null,
  });

Deno.test("resolveConfig: image size, eval resize, channels and normalisation", () => {
  // pretrained weights: their 224; the eval resize as the training pipeline sees the image
  assert.deepEqual(
    [resolve({}, true).imageSize, resolve({}, true).evalResize],
    [224, 224],
  );
  const rrc = resolve({ augment: "resized-crop" }, true);
  assert.deepEqual([rrc.imageSize, rrc.evalResize], [224, 256]);
  // the hotdog recipe at 64: Resize(73) + CenterCrop(64), no longer Resize(256)
  const hotdog = resolveConfig({ ...recipeConfig("hotdog"), imageSize: 64 }, {
    inChannels: 3,
    trainedWith: IMAGENET_TRAINED,
  });
  assert.deepEqual([hotdog.imageSize, hotdog.evalResize], [64, 73]);
  assert.equal(defaultEvalResize(224, "resized-crop"), 256);
  assert.equal(defaultEvalResize(100, "flip"), 100);
  // without weights: 32 as before; flags always win
  assert.equal(resolve({}).imageSize, 32);
  const given = resolve({ imageSize: 100, evalResize: 120 }, true);
  assert.deepEqual([given.imageSize, given.evalResize], [100, 120]);
  // channels and normalisation: what was used, never 0 or "auto"
  assert.deepEqual([resolve({}).inChannels, resolve({}).normalize], [3, "imagenet"]);
  assert.equal(resolve({}, false, 1).normalize, "fashion-mnist");
  assert.equal(resolve({ normalize: "none" }).normalize, "none");
  // resolving twice changes nothing (a resumed run resolves its recorded config again)
  const once = resolve({ augment: "resized-crop" }, true);
  assert.deepEqual(resolveConfig(once, { inChannels: 3, trainedWith: null }), once);
});

Deno.test("warnings: ImageNet weights under 64 px; imbalanced classes", () => {
  const at32 = resolve({ imageSize: 32 }, true);
  assert.match(smallInputWarning(at32, IMAGENET_TRAINED)!, /ImageNet-normalised.*32 px/);
  assert.equal(smallInputWarning(resolve({ imageSize: 64 }, true), IMAGENET_TRAINED), null);
  assert.equal(smallInputWarning(resolve({ imageSize: 32 }), null), null);
  const gray = { imageSize: 28, normalize: "fashion-mnist", source: "a checkpoint of this tool" };
  assert.equal(smallInputWarning(resolve({ imageSize: 28 }, false, 1), gray), null);
  assert.match(
    imbalanceWarning(["cat", "dog"], [10, 30])!,
    /largest\/smallest 3\.0: "dog" 30, "cat" 10 .*consider --class-weights balanced or --balanced-sampler/,
  );
  assert.equal(imbalanceWarning(["cat", "dog"], [10, 20]), null);
});

Deno.test("weights: a plain state dict is taken as ImageNet's, a checkpoint gives its size", async () => {
  assert.deepEqual(trainedWith((await readWeights(plainWeights)).checkpointMeta), IMAGENET_TRAINED);
  const p = await prepareTraining({
    ...DEFAULT_CONFIG,
    data,
    weights: plainWeights,
    keepStages: 1,
    strategy: "truncate",
    workers: 0,
    cache: false,
  });
  try {
    assert.equal(p.config.imageSize, 224);
    assert.equal(p.config.evalResize, 224);
    assert.equal(p.warnings.length, 0);
    const block = startupReport(p).join("\n");
    assert.match(block, /image size: 224x224 \(what the weights were trained at \(ImageNet/);
    assert.match(block, /eval resize: Resize\(224\) \+ CenterCrop\(224\)/);
  } finally {
    p.dispose();
  }
});

Deno.test("a CLI run: the start-up block, config.json resolved, a checkpoint's own size", async () => {
  const imbalanced = `${tmp}/imbalanced`;
  await writeImageFolder(imbalanced, { classes: ["a"], perClass: 9, split: true, testPerClass: 2 });
  await writeImageFolder(imbalanced, { classes: ["b"], perClass: 3, split: true, testPerClass: 2 });
  const io = memoryIO();
  const run = [
    "train",
    "--data",
    imbalanced,
    ...["--weights", plainWeights, "--image-size", "16", "--keep-stages", "1"],
    ...["--strategy", "truncate", "--head-lr-mult", "10", "--lr", "0.01", "--batch-size", "4"],
    ...["--epochs", "1", "--workers", "0", "--out", `${tmp}/runs`, "--name", "block"],
  ];
  assert.equal(await runCli(run, io), 0, io.text());
  const text = io.text();
  const block = text.slice(text.indexOf("settings:"), text.indexOf("\nepoch 1/1"));
  for (
    const line of [
      / {2}images per class: +train +val +test\n {4}a +8 +1 +2\n {4}b +2 +1 +2/,
      / {2}image size: 16x16; augmentation: flip/,
      / {2}eval resize: Resize\(16\) \+ CenterCrop\(16\) \(the image size: training resizes/,
      / {2}normalisation: imagenet \(mean 0\.485, 0\.456, 0\.406; std 0\.229, 0\.224, 0\.225\)/,
      / {2}input channels: 3 \(the weights' stem\)/,
      / {2}optimizer: sgd \(momentum 0\.9, weight decay 0\); lr: backbone 1e-2, head 1e-1/,
      / {2}batch 4, 1 epoch, scheduler: none/,
      / {2}best checkpoint: the epoch with the best validation accuracy/,
      / {2}early stopping: off/,
      /warning: the weights were trained on ImageNet-normalised images of 224 px, but the input is 16 px/,
      /warning: the training classes are imbalanced \(largest\/smallest 4\.0: "a" 8, "b" 2 images\)/,
    ]
  ) assert.match(block, line);
  const config = JSON.parse(Deno.readTextFileSync(`${tmp}/runs/block/config.json`));
  assert.deepEqual(
    [config.imageSize, config.evalResize, config.inChannels, config.normalize],
    [16, 16, 3, "imagenet"],
  );
  // a checkpoint of this tool as --weights: the size it was trained at (16), not 224
  const from = await prepareTraining({
    ...DEFAULT_CONFIG,
    data,
    weights: `${tmp}/runs/block/best.safetensors`,
    keepStages: 1,
    strategy: "truncate",
    workers: 0,
    cache: false,
  });
  try {
    assert.equal(from.config.imageSize, 16);
    assert.equal(from.trainedWith?.source, "a checkpoint of this tool");
  } finally {
    from.dispose();
  }
});

Deno.test("a version-1 checkpoint (unresolved config, --val-split as the test split) resumes", async () => {
  const flat = await writeImageFolder(`${tmp}/flat`, { classes: ["a", "b"], perClass: 10 });
  const io = memoryIO();
  const args = ["--image-size", "16", "--keep-stages", "1", "--batch-size", "4", "--workers", "0"];
  const first = ["train", "--data", flat, ...args, "--epochs", "1", "--val-split", "0"];
  assert.equal(await runCli([...first, "--out", `${tmp}/runs`, "--name", "v1"], io), 0, io.text());
  // rewrite last.safetensors as version 1 wrote it
  const path = `${tmp}/runs/v1/last.safetensors`;
  const ckpt = await loadCheckpoint(path);
  const meta = structuredClone(ckpt.meta) as Record<string, unknown>;
  const config = meta.config as Record<string, unknown>;
  delete config.testSplit;
  delete config.earlyStop;
  Object.assign(config, { valSplit: 0.2, inChannels: 0, normalize: "auto", evalResize: 0 });
  delete meta.splits;
  delete meta.val;
  meta.schema = 1;
  const best = meta.best as Record<string, unknown>;
  delete best.set;
  delete best.test;
  await saveCheckpoint(path, { tensors: ckpt.tensors, meta: meta as never });
  const upgraded = validateTrainMeta(meta, TRAIN_STATE_KIND).config as TrainConfig;
  assert.deepEqual(
    [upgraded.testSplit, upgraded.valSplit, upgraded.evalResize],
    [0.2, 0, 16],
  );
  const again = memoryIO();
  const code = await runCli(["train", "--resume", `${tmp}/runs/v1`, "--epochs", "2"], again);
  assert.equal(code, 0, again.text());
  // the same 16 training and 4 test images as before, no validation set
  assert.match(again.text(), /16 training, 0 validation and 4 test images/);
  assert.match(again.text(), /epoch 2\/2 +train loss/);
  assert.match(again.text(), /best checkpoint: epoch \d by test accuracy/);
});

Deno.test("a recipe that selects on the test set says so", async () => {
  const p = await prepareTraining({
    ...recipeConfig("hotdog"),
    data,
    imageSize: 16,
    keepStages: 1,
    strategy: "truncate",
    batchSize: 4,
    workers: 0,
    cache: false,
  });
  try {
    assert.equal(p.data.val, null);
    const block = startupReport(p).join("\n");
    assert.match(
      block,
      /best checkpoint: the epoch with the best TEST accuracy, since there is no validation set \(the hotdog recipe selects on the test set, as its source does; --val-split 0\.1 holds one out\)/,
    );
    assert.match(
      block,
      /eval resize: Resize\(18\) \+ CenterCrop\(16\) \(256\/224 of the image size/,
    );
  } finally {
    p.dispose();
  }
});
