// The embedded default (`cli.ts train` with no data): a transfer-learning experiment on the
// Fashion-MNIST test split shipped in assets/. Stage 1 trains ResNet18 (1 input channel,
// 28x28) on five classes, the source task, and caches it under .cache/ (a second run
// reuses it). Stage 2 learns the five other classes from 50 labelled images each, twice:
// from the stage-1 weights (head first, backbone unfrozen after 2 epochs) and from scratch
// with the same settings, and prints both test accuracies side by side.

import type { ProgressSink } from "./progress_bar.ts";
import { readStateDictFile } from "../nn/io/weights_file.ts";
import { loadTrainState } from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import { recipeConfig } from "./recipes.ts";
import { RunDir } from "./run_dir.ts";
import { prepareTraining } from "./setup.ts";
import { textReport } from "./text_report.ts";
import { fit, type FitResult, type StopFlag } from "./trainer.ts";
import { formatDuration } from "./progress_bar.ts";

export const SOURCE_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"];
export const TARGET_CLASSES = ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

const root = (rel: string) => decodeURIComponent(new URL(rel, import.meta.url).pathname);
export const DEFAULT_DATA = root("../assets/fashion-mnist");
export const DEFAULT_CACHE = root("../.cache");

/** The sizes of the experiment (tests shrink them). */
export interface ExperimentSizes {
  pretrainPerClass: number;
  pretrainEpochs: number;
  targetPerClass: number;
  targetEpochs: number;
  freezeEpochs: number;
  testPerClass: number;
  /** Residual stages of the network (4: the full ResNet18). */
  stages: number;
  imageSize: number;
}

export const DEFAULT_SIZES: ExperimentSizes = {
  pretrainPerClass: 300,
  pretrainEpochs: 2,
  targetPerClass: 50,
  targetEpochs: 8,
  freezeEpochs: 2,
  testPerClass: 100,
  stages: 4,
  imageSize: 28,
};

export interface ExperimentOptions {
  out: string;
  seed: number;
  io: { out(line: string): void; sink: ProgressSink };
  stop: StopFlag;
  sizes?: Partial<ExperimentSizes>;
  data?: string;
  cacheDir?: string;
}

function stageConfigs(s: ExperimentSizes, data: string, seed: number, out: string) {
  const base = recipeConfig("fashion");
  const common: Partial<TrainConfig> = {
    data,
    seed,
    imageSize: s.imageSize,
    keepStages: s.stages,
    testPerClass: s.testPerClass,
    workers: 0,
    out,
  };
  const pretrain: TrainConfig = {
    ...base,
    ...common,
    recipe: "default:pretrain",
    classes: SOURCE_CLASSES,
    perClass: s.pretrainPerClass,
    epochs: s.pretrainEpochs,
    strategy: "scratch",
    freezeEpochs: 0,
    unfreezeLr: 0,
    headLrMult: 1,
    name: "pretrain",
  };
  const target: TrainConfig = {
    ...base,
    ...common,
    recipe: "default:transfer",
    classes: TARGET_CLASSES,
    perClass: s.targetPerClass,
    epochs: s.targetEpochs,
    freezeEpochs: s.freezeEpochs,
    name: "transfer",
  };
  const scratch: TrainConfig = {
    ...target,
    recipe: "default:scratch",
    strategy: "scratch",
    freezeEpochs: 0,
    unfreezeLr: 0,
    headLrMult: 1,
    name: "scratch",
  };
  return { pretrain, target, scratch };
}

async function cacheKey(config: TrainConfig): Promise<string> {
  const { out: _o, name: _n, ...rest } = config;
  const bytes = new TextEncoder().encode(JSON.stringify(rest));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...hash.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function runStage(
  config: TrainConfig,
  dir: string,
  o: ExperimentOptions,
  resumeFrom?: string,
): Promise<FitResult> {
  const resume = resumeFrom ? await loadTrainState(resumeFrom, "cache") : undefined;
  const prepared = await prepareTraining(config, resume);
  try {
    const run = resume
      ? await RunDir.reopen(dir, resume.meta.iteration, resume.meta.epoch)
      : await RunDir.create(dir, config);
    using _run = run;
    for (const note of prepared.notes) o.io.out(`  ${note}`);
    return await fit(prepared, run, {
      onEvent: textReport({ log: (l) => o.io.out(`  ${l}`), sink: o.io.sink }),
      stop: o.stop,
    });
  } finally {
    prepared.dispose();
  }
}

const pct = (
  x: number | undefined,
) => (x === undefined || !Number.isFinite(x) ? "  n/a" : `${(100 * x).toFixed(1)}%`);

/** Runs the experiment; returns the process exit code (130 when stopped by Ctrl-C). */
export async function runDefaultExperiment(o: ExperimentOptions): Promise<number> {
  const t0 = performance.now();
  const sizes = { ...DEFAULT_SIZES, ...o.sizes };
  const data = o.data ?? DEFAULT_DATA;
  const { pretrain, target, scratch } = stageConfigs(sizes, data, o.seed, o.out);
  const say = o.io.out;
  say(
    "Embedded default: transfer learning on Fashion-MNIST (its 10,000-image test split, shipped in assets/)",
  );
  say(`  source task: ${SOURCE_CLASSES.join(", ")} (${sizes.pretrainPerClass} images per class)`);
  say(
    `  target task: ${
      TARGET_CLASSES.join(", ")
    } (${sizes.targetPerClass} labelled images per class)`,
  );
  say(
    `  ResNet18 with 1 input channel at ${sizes.imageSize}x${sizes.imageSize}${
      sizes.stages < 4 ? `, first ${sizes.stages} stage(s)` : ""
    }`,
  );

  // Stage 1, cached by its settings
  const cache = `${o.cacheDir ?? DEFAULT_CACHE}/default-pretrain-${await cacheKey(pretrain)}`;
  const last = `${cache}/last.safetensors`;
  let cached = false;
  if (await exists(last)) {
    const meta = (await loadTrainState(last, "cache")).meta;
    if (meta.epoch >= pretrain.epochs) cached = true;
    else {
      say(`\nStage 1: resuming the interrupted pretraining in ${cache}`);
      const r = await runStage(pretrain, cache, o, last);
      if (r.interrupted) return stopped(say, "stage 1");
    }
  } else {
    if (await exists(cache)) await Deno.remove(cache, { recursive: true }); // never got to a checkpoint
    await Deno.mkdir(o.cacheDir ?? DEFAULT_CACHE, { recursive: true });
    say(`\nStage 1: pretraining on the source task (cached in ${cache})`);
    const r = await runStage(pretrain, cache, o);
    if (r.interrupted) return stopped(say, "stage 1");
  }
  if (cached) say(`\nStage 1: reusing the pretrained network cached in ${cache}`);
  const sourceMeta = (await loadTrainState(last, "cache")).meta;
  await readStateDictFile(last); // fails early with a clear message if the cache is damaged

  // Stage 2: the same target data, with and without the pretrained backbone
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  let parent = `${o.out}/default-${stamp}`;
  for (let i = 2; await exists(parent); i++) parent = `${o.out}/default-${stamp}-${i}`;
  const results: [string, FitResult][] = [];
  for (
    const [label, config] of [
      ["pretrained, fine-tuned", { ...target, weights: last, out: parent }],
      ["from scratch", { ...scratch, out: parent }],
    ] as [string, TrainConfig][]
  ) {
    say(`\nStage 2: target task, ${label} -> ${parent}/${config.name}`);
    const r = await runStage(config, `${parent}/${config.name}`, o);
    if (r.interrupted) return stopped(say, `stage 2 (${label})`);
    results.push([label, r]);
  }

  say("");
  say(
    `Target task test accuracy (${sizes.targetPerClass} labelled images per class, ${sizes.testPerClass} test images per class):`,
  );
  say(`  ${"".padEnd(24)}  final    best`);
  for (const [label, r] of results) {
    say(
      `  ${label.padEnd(24)}  ${pct(r.lastTest?.accuracy).padStart(6)}  ${
        pct(r.best?.accuracy).padStart(6)
      }`,
    );
  }
  say(
    `  (source-task network: test accuracy ${
      pct(sourceMeta.test?.accuracy)
    } after ${sourceMeta.epoch} epochs` +
      `${cached ? ", cached" : ""})`,
  );
  say(`Total wall time ${formatDuration((performance.now() - t0) / 1000)}; runs in ${parent}`);
  return 0;
}

function stopped(say: (l: string) => void, where: string): number {
  say(
    `stopped during ${where}; run the same command again to continue (stage 1 resumes from its cache)`,
  );
  return 130;
}
