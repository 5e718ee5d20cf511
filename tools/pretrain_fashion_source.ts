// Makes the source-task network the default experiment ships (assets/fashion-source/): ResNet18
// trained from scratch on every training image of the five source classes of Fashion-MNIST
// (Debian's dataset-fashion-mnist: `apt-get install dataset-fashion-mnist`), each in four
// turns (the source task: class and turn), with stage 1's settings, then stored with f16
// weights. Prints the file's sha256 for SHIPPED_SOURCE in train/default_experiment.ts. About
// 20 minutes on two CPU cores with lavapipe.
//
//   deno run -A tools/pretrain_fashion_source.ts [--data DIR] [--work DIR]

import { parseArgs } from "node:util";
import { initGpu } from "../kernels/device.ts";
import { toFloat16 } from "../nn/io/host_tensor.ts";
import { loadTrainState, saveTrainState } from "../train/checkpoint.ts";
import {
  DEFAULT_SIZES,
  sha256Hex,
  SHIPPED_SOURCE,
  sourceTask,
  stageConfigs,
} from "../train/default_experiment.ts";
import { RunDir } from "../train/run_dir.ts";
import { prepareTraining } from "../train/setup.ts";
import { textReport } from "../train/text_report.ts";
import { fit } from "../train/trainer.ts";
import { stdoutSink } from "../cli/progress.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    data: { type: "string", default: "/usr/share/datasets/fashion-mnist" },
    work: { type: "string", default: ".cache/fashion-source-run" },
  },
});
await initGpu();
const sizes = {
  ...DEFAULT_SIZES,
  pretrainPerClass: 0, // all of them
  pretrainEpochs: SHIPPED_SOURCE.epochs,
  testPerClass: 0,
};
const config = stageConfigs(sizes, { source: values.data, target: "" }, 0, values.work).pretrain;
const prepared = await prepareTraining(config, undefined, sourceTask);
const runPath = `${values.work}/${new Date().toISOString().replace(/[-:.]/g, "")}`;
try {
  // each image in four turns
  const counts = [prepared.data.train.length / 4, (prepared.data.test?.length ?? 0) / 4];
  if (counts[0] !== SHIPPED_SOURCE.trainImages || counts[1] !== SHIPPED_SOURCE.testImages) {
    throw new Error(
      `${values.data}: ${counts[0]} training and ${counts[1]} test images of the source classes, ` +
        `not Fashion-MNIST's ${SHIPPED_SOURCE.trainImages} and ${SHIPPED_SOURCE.testImages}`,
    );
  }
  using run = await RunDir.create(runPath, prepared.config);
  for (const note of prepared.notes) console.log(note);
  const r = await fit(prepared, run, {
    onEvent: textReport({ log: console.log, sink: stdoutSink() }),
  });
  if (r.interrupted) throw new Error("interrupted");
} finally {
  prepared.dispose();
}

// the last epoch's model (the cosine schedule has settled it; no test-set selection), its
// weights as f16, without the optimizer state
const last = await loadTrainState(`${runPath}/last.safetensors`, "the run's last checkpoint");
const model = new Map([...last.model].map(([name, t]) => [name, toFloat16(t)]));
await saveTrainState(SHIPPED_SOURCE.file, {
  model,
  optim: null,
  meta: { ...last.meta, optim: null, scheduler: null },
});
const bytes = await Deno.readFile(SHIPPED_SOURCE.file);
console.log(
  `wrote ${SHIPPED_SOURCE.file} (${(bytes.length / 2 ** 20).toFixed(1)} MiB, test accuracy ` +
    `${(100 * (last.meta.test?.accuracy ?? NaN)).toFixed(2)}%)\nsha256 ${await sha256Hex(bytes)}`,
);
