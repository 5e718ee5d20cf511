// The embedded default experiment, shrunk (a few images, one stage, 16x16): it runs both
// stages on the shipped Fashion-MNIST files, prints the four strategies in one table with a
// reading, overlays their curves in one SVG, and a second run reuses the cached stage 1.

import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { memorySink } from "../../cli/progress.ts";
import { loadMnist } from "../../data/mod.ts";
import {
  DEFAULT_DATA,
  type ExperimentOptions,
  readResults,
  runDefaultExperiment,
  sha256Hex,
  SHIPPED_SOURCE,
  SOURCE_CLASSES,
  TARGET_CLASSES,
  verifiedSource,
} from "../../train/default_experiment.ts";
import { onGlSoftwareDriver } from "../../train/driver_note.ts";
import { rotationClassNames } from "../../data/rotation_labels.ts";
import type { AdapterProfile } from "../../kernels/profile.ts";
import { moduleTempDir } from "../temp_dir.ts";

await initGpu();

/** Runs the experiment with its output captured: the exit code and the printed text. */
async function runCaptured(
  o: Omit<ExperimentOptions, "io" | "stop" | "seed">,
): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await runDefaultExperiment({
    seed: 0,
    io: { out: (l) => lines.push(l), sink: memorySink() },
    stop: { requested: false },
    ...o,
  });
  return { code, text: lines.join("\n") };
}

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

Deno.test("default experiment (tiny sizes): four strategies in one table and one plot; stage 1 cached", async () => {
  const tmp = await moduleTempDir("default_experiment_test_");
  const sizes = {
    pretrainPerClass: 6,
    pretrainEpochs: 1,
    targetPerClass: 3,
    targetEpochs: 2,
    freezeEpochs: 1,
    targetBatchSize: 5,
    testPerClass: 3,
    stages: 1,
    earlyStages: 1,
    imageSize: 16,
  };
  const runOnce = () =>
    runCaptured({ out: `${tmp}/runs`, sizes, source: "pretrain", cacheDir: `${tmp}/cache` });
  const first = await runOnce();
  assert.equal(first.code, 0, first.text);
  assert.match(first.text, /Stage 1: pretraining on the source task/);
  // all layers then train at the schedule's lr, the one every strategy uses
  assert.match(first.text, /epoch 2: backbone unfrozen, training all layers\n/);
  assert.match(first.text, /then all layers \(at the schedule's lr, as the head\)/);
  // every stage says what its test data is: held out, capped per class
  assert.match(first.text, /validation: none \(--val-split 0\)/);
  assert.match(
    first.text,
    /test: a random 20% of the data, held out from training \(--test-split 0\.2\), at most 3 per class/,
  );
  for (const label of ["feature extraction", "fine-tuning", "early layers kept", "from scratch"]) {
    assert.match(first.text, new RegExp(`\\n  ${label} +\\d+\\.\\d% +\\d+\\.\\d% +\\d+:\\d\\d`));
  }
  assert.match(first.text, /final +best +time/);
  assert.match(
    first.text,
    /\nReading: (feature extraction|fine-tuning|early layers kept|from scratch) won \(/,
  );
  assert.match(first.text, /Total wall time \d+:\d\d/);
  const plotPath = first.text.match(/Test-accuracy curves of the 4 strategies: (\S+)/)?.[1];
  assert.ok(plotPath, first.text);
  const svg = Deno.readTextFileSync(plotPath);
  assert.match(svg, /^<svg /);
  // one curve of 2 epochs per strategy, each named in the legend
  assert.equal(svg.match(/<polyline /g)?.length, 4);
  for (const label of ["feature extraction", "fine-tuning", "early layers kept", "from scratch"]) {
    assert.ok(svg.includes(`>${label}</text>`), label);
  }
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
      "accuracy_strategies.svg",
      "early-layers",
      "feature-extract",
      "fine-tune",
      "scratch",
    ]);
  }
});

Deno.test("the shipped source network: the file whose sha256 the code names, its task's classes, f16", async () => {
  const bytes = await Deno.readFile(SHIPPED_SOURCE.file);
  assert.equal(await sha256Hex(bytes), SHIPPED_SOURCE.sha256);
  const meta = await verifiedSource(SHIPPED_SOURCE.file, SHIPPED_SOURCE.sha256);
  assert.deepEqual(meta.classes, rotationClassNames(SOURCE_CLASSES));
  assert.deepEqual(meta.model, { arch: "resnet18", numClasses: 20, inChannels: 1, stages: 4 });
  assert.equal(meta.epoch, SHIPPED_SOURCE.epochs);
  assert.equal(meta.config.imageSize, 28);
  assert.ok(meta.test!.accuracy > 0.9, `source test accuracy ${meta.test!.accuracy}`);
  assert.ok(bytes.length < 24 * 2 ** 20, `${bytes.length} bytes: not f16?`);

  // one byte changed: refused, naming the file and how to restore it
  const tmp = await Deno.makeTempDir({ prefix: "shipped_source_test_" });
  try {
    const damaged = `${tmp}/source.safetensors`;
    const copy = bytes.slice();
    copy[copy.length - 1] ^= 1;
    await Deno.writeFile(damaged, copy);
    await assert.rejects(
      () => verifiedSource(damaged, SHIPPED_SOURCE.sha256),
      /source\.safetensors has sha256 [0-9a-f]{64}, not the shipped .*git checkout/,
    );
    await assert.rejects(
      () => verifiedSource(`${tmp}/missing.safetensors`, SHIPPED_SOURCE.sha256),
      /missing\.safetensors cannot be read/,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("default experiment from the shipped source network (stage 2 at tiny sizes)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "default_experiment_shipped_" });
  try {
    const { code, text } = await runCaptured({
      out: `${tmp}/runs`,
      sizes: {
        targetPerClass: 2,
        targetEpochs: 2,
        freezeEpochs: 1,
        targetBatchSize: 5,
        testPerClass: 2,
      },
      cacheDir: `${tmp}/cache`,
    });
    assert.equal(code, 0, text);
    assert.match(text, /Stage 1: the source-task network shipped in .* \(sha256 verified\)/);
    assert.match(
      text,
      /source task: .* \(all 6000 training images per class .*\), each image in four turns: the class and the turn to tell, 20 classes/,
    );
    assert.match(
      text,
      /\(source-task network: test accuracy \d+\.\d% on its own task \(class and turn\) after 1 epoch, shipped\)/,
    );
    assert.doesNotMatch(text, /Stage 1: pretraining/);
    // the three transfer strategies load it (its 20-class head left out); "early layers
    // kept" drops its last stage
    assert.equal(text.match(/weights: .*resnet18_fashion_source\.safetensors/g)?.length, 3, text);
    assert.match(
      text,
      /resnet18_fashion_source\.safetensors, \d+ tensors of dropped stages ignored/,
    );
    assert.match(text, /model: ResNet18 truncated to its first 3 stage\(s\) \+ new head/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the reading names the winner and its lead over the runner-up and over scratch", () => {
  const text = readResults([
    { label: "feature extraction", final: 0.8 },
    { label: "fine-tuning", final: 0.75 },
    { label: "from scratch", final: 0.5 },
  ]);
  assert.equal(
    text,
    "Reading: feature extraction won (80.0% final test accuracy, +5.0 points over fine-tuning, " +
      "+30.0 points over training from scratch); every transferred network beat the one trained " +
      "from scratch.",
  );
  assert.match(
    readResults([
      { label: "feature extraction", final: 0.5 },
      { label: "fine-tuning", final: 0.6 },
      { label: "from scratch", final: 0.7 },
    ]),
    /^Reading: from scratch won \(70\.0% .*\+10\.0 points over fine-tuning\); no transferred network beat the one trained from scratch\.$/,
  );
});

Deno.test("the GL software driver is told from the Vulkan one by DENO_WEBGPU_BACKEND or its features", () => {
  const llvmpipe = {
    software: true,
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
  } as AdapterProfile;
  const vulkan = new Set(["shader-f16", "texture-compression-bc", "timestamp-query"]);
  const gl = new Set(["texture-compression-bc", "texture-compression-etc2", "timestamp-query"]);
  assert.equal(onGlSoftwareDriver(llvmpipe, vulkan, ""), false);
  assert.equal(onGlSoftwareDriver(llvmpipe, gl, ""), true);
  assert.equal(onGlSoftwareDriver(llvmpipe, vulkan, "gl"), true);
  assert.equal(onGlSoftwareDriver(llvmpipe, gl, "vulkan"), false);
  assert.equal(onGlSoftwareDriver({ ...llvmpipe, software: false }, gl, "gl"), false);
});
