// The embedded default experiment, shrunk (a few images, one stage, 16x16): it runs both
// stages on the shipped Fashion-MNIST files, prints both accuracies side by side, and a
// second run reuses the cached stage 1.

import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { memorySink } from "../../cli/progress.ts";
import { loadMnist } from "../../data/mod.ts";
import {
  DEFAULT_DATA,
  runDefaultExperiment,
  SOURCE_CLASSES,
  TARGET_CLASSES,
} from "../../train/default_experiment.ts";

await initGpu();

Deno.test("the shipped Fashion-MNIST test split: 10,000 images, 1,000 per class, source and target classes disjoint", () => {
  const ds = loadMnist(DEFAULT_DATA, { split: "test" });
  assert.equal(ds.length, 10000);
  assert.equal(ds.width, 28);
  const counts = new Array(10).fill(0);
  for (const t of ds.targets) counts[t]++;
  assert.deepEqual(counts, new Array(10).fill(1000));
  assert.deepEqual([...SOURCE_CLASSES, ...TARGET_CLASSES].sort(), [...ds.classes].sort());
  assert.ok(Deno.readTextFileSync(`${DEFAULT_DATA}/LICENSE`).includes("Zalando SE"));
});

Deno.test("default experiment (tiny sizes): both accuracies side by side; stage 1 cached", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "default_experiment_test_" });
  const sizes = {
    pretrainPerClass: 6,
    pretrainEpochs: 1,
    targetPerClass: 3,
    targetEpochs: 2,
    freezeEpochs: 1,
    testPerClass: 3,
    stages: 1,
    imageSize: 16,
  };
  const runOnce = async () => {
    const lines: string[] = [];
    const code = await runDefaultExperiment({
      out: `${tmp}/runs`,
      seed: 0,
      io: { out: (l) => lines.push(l), sink: memorySink() },
      stop: { requested: false },
      sizes,
      cacheDir: `${tmp}/cache`,
    });
    return { code, text: lines.join("\n") };
  };
  const first = await runOnce();
  assert.equal(first.code, 0, first.text);
  assert.match(first.text, /Stage 1: pretraining on the source task/);
  assert.match(first.text, /epoch 2: backbone unfrozen/);
  assert.match(first.text, /pretrained, fine-tuned +\d+\.\d% +\d+\.\d%/);
  assert.match(first.text, /from scratch +\d+\.\d% +\d+\.\d%/);
  assert.match(first.text, /Total wall time \d+:\d\d/);
  const cached = [...Deno.readDirSync(`${tmp}/cache`)].map((e) => e.name);
  assert.equal(cached.length, 1);

  const second = await runOnce();
  assert.equal(second.code, 0, second.text);
  assert.match(second.text, /Stage 1: reusing the pretrained network cached in/);
  assert.doesNotMatch(second.text, /Stage 1: pretraining/);
  assert.deepEqual([...Deno.readDirSync(`${tmp}/cache`)].map((e) => e.name), cached);
  // each experiment's stage 2 gets its own folder holding both runs
  const runs = [...Deno.readDirSync(`${tmp}/runs`)].map((e) => e.name);
  assert.equal(runs.length, 2);
  for (const r of runs) {
    assert.deepEqual([...Deno.readDirSync(`${tmp}/runs/${r}`)].map((e) => e.name).sort(), [
      "scratch",
      "transfer",
    ]);
  }
});
