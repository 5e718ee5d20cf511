// `train`: a run on --data (recipe + flags), a resumed run (--resume), or, with no data flag,
// the embedded Fashion-MNIST transfer experiment.

import { gpu, initGpu } from "../../kernels/device.ts";
import { enableAutotune, tuningFile } from "../autotune.ts";
import { tuneResnetStep } from "../../train/autotune.ts";
import { loadTrainState, type TrainState } from "../../train/checkpoint.ts";
import { ConfigError, type TrainConfig } from "../../train/config.ts";
import { runDefaultExperiment } from "../../train/default_experiment.ts";
import { recipeConfig } from "../../train/recipes.ts";
import { RunDir } from "../../train/run_dir.ts";
import { prepareTraining } from "../../train/setup.ts";
import { startupReport } from "../../train/startup_report.ts";
import { textReport } from "../../train/text_report.ts";
import { fit, type FitResult } from "../../train/trainer.ts";
import { type CommandSpec, helpText, parseArgs, UsageError } from "../args.ts";
import { interruptExitCode, signalStop, withInterrupt } from "../interrupt.ts";
import type { CliIO } from "../io.ts";
import { applyTrainFlags, checkResumeFlags, TRAIN_FLAGS } from "../train_flags.ts";

export const TRAIN_SPEC: CommandSpec = {
  name: "train",
  summary:
    "fine-tune (or train from scratch) ResNet18 on a dataset; with no --data, run the embedded default experiment",
  usage: [
    "train                                   # the embedded Fashion-MNIST transfer experiment",
    "train --data DIR|ZIP|CIFAR|IDX [--weights FILE] [--recipe NAME] [options]",
    "train --resume runs/NAME [--epochs N]",
  ],
  flags: TRAIN_FLAGS,
  notes: [
    "A run directory (--out/--name) receives config.json (the settings used, automatic values resolved), metrics_iter.csv, metrics_epoch.csv, " +
    "loss_iter.svg, loss_epoch.svg, accuracy_epoch.svg, lr_epoch.svg, confusion_matrix.svg, " +
    "best.safetensors, last.safetensors and summary.json. Ctrl-C stops after the current batch and writes last.safetensors; resume with --resume.",
    "Examples:\n" +
    "  deno run -A cli.ts train --data hotdog.zip --weights resnet18-f37072fd.pth --recipe hotdog\n" +
    "  deno run -A cli.ts train --data cifar-10-binary.tar.gz --weights resnet18.safetensors --recipe cifar10\n" +
    "  deno run -A cli.ts train --data photos/ --strategy feature-extract --weights w.pth --epochs 5",
  ],
};

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${
    p(d.getMinutes())
  }${p(d.getSeconds())}`;
}

/** The checkpoint behind --resume: a run directory or its last.safetensors. */
async function resumeTarget(path: string): Promise<{ dir: string; state: TrainState }> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new UsageError(`--resume: "${path}" does not exist`);
  }
  const file = info.isDirectory ? `${path}/last.safetensors` : path;
  const dir = info.isDirectory
    ? path
    : (path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".");
  try {
    await Deno.stat(file);
  } catch {
    throw new UsageError(`--resume: no last.safetensors in "${path}" (was the run started?)`);
  }
  return { dir, state: await loadTrainState(file, "--resume") };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** The last line: epochs, the best checkpoint (by which set, with its test accuracy), the end. */
function doneLine(r: FitResult, dir: string): string {
  const b = r.best;
  const best = !b
    ? "no best checkpoint"
    : b.set === "validation"
    ? `best checkpoint: epoch ${b.epoch} by validation accuracy ${pct(b.accuracy)}` +
      (b.test ? ` (its test accuracy ${pct(b.test.accuracy)})` : "")
    : `best checkpoint: epoch ${b.epoch} by test accuracy ${pct(b.accuracy)}`;
  const final = [
    ...(r.lastVal ? [`validation ${pct(r.lastVal.accuracy)}`] : []),
    ...(r.lastTest ? [`test ${pct(r.lastTest.accuracy)}`] : []),
  ].join(", ");
  return `done: ${r.epochsDone} epochs${r.stoppedEarly ? " (stopped early)" : ""} in ` +
    `${r.seconds.toFixed(1)}s; ${best}; final accuracy: ${final}; results in ${dir}`;
}

export async function trainCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(TRAIN_SPEC, argv);
  if (parsed.help) {
    io.out(helpText(TRAIN_SPEC));
    return 0;
  }
  const stop = signalStop();
  const guarded = <T>(fn: () => Promise<T>) =>
    io.handleSignals ? withInterrupt(stop, (l) => io.err(l), fn) : fn();

  let config: TrainConfig;
  let resume: { dir: string; state: TrainState } | undefined;
  const resumePath = parsed.values.get("resume") as string | undefined;
  if (resumePath) {
    resume = await resumeTarget(resumePath);
    config = structuredClone(resume.state.meta.config);
    checkResumeFlags(applyTrainFlags(config, parsed), parsed);
    const m = resume.state.meta;
    if (m.epoch >= config.epochs) {
      throw new UsageError(
        `--resume: the run in ${resume.dir} already finished ${m.epoch} epoch(s); pass --epochs N (> ${m.epoch}) to train further`,
      );
    }
  } else {
    config = recipeConfig(parsed.values.get("recipe") as string | undefined);
    const keys = applyTrainFlags(config, parsed);
    if (!config.data) {
      const allowed = ["out", "seed", "workers", "logEvery"];
      const bad = keys.filter((k) => !allowed.includes(k));
      if (bad.length || parsed.values.has("recipe")) {
        throw new UsageError(
          `without --data, train runs the embedded default experiment, which takes only --out, --seed, --workers and --log-every; ` +
            `pass --data to use the other options`,
        );
      }
      await initGpu();
      const code = await guarded(() =>
        runDefaultExperiment({ out: config.out, seed: config.seed, io, stop })
      );
      return code === 130 ? interruptExitCode(stop) : code;
    }
  }

  await initGpu();
  const prepared = await prepareTraining(config, resume?.state);
  try {
    let run: RunDir;
    if (resume) {
      try {
        run = await RunDir.reopen(resume.dir, resume.state.meta.iteration, resume.state.meta.epoch);
      } catch (e) {
        throw new UsageError(`--resume: ${(e as Error).message}`);
      }
      const m = resume.state.meta;
      io.out(
        `resuming ${resume.dir} at epoch ${m.epoch + 1}${
          m.batch ? `, batch ${m.batch + 1}` : ""
        } (iteration ${m.iteration})`,
      );
    } else {
      const path = `${config.out}/${config.name || timestamp()}`;
      try {
        run = await RunDir.create(path, prepared.config); // the settings used, resolved
      } catch (e) {
        throw new ConfigError("name", `--name: ${(e as Error).message}`);
      }
      io.out(`run directory: ${path}`);
    }
    using _run = run; // closes the metric files and releases the run's lock at the end
    if (prepared.data.skipped.length > 0) {
      const list = await run.writeSkipped(prepared.data.skipped);
      io.err(`all ${prepared.data.skipped.length} skipped image file(s) are listed in ${list}`);
    }
    for (const line of startupReport(prepared)) io.out(line);
    if (await enableAutotune(gpu())) {
      const c = prepared.config;
      const measured = await tuneResnetStep(gpu(), {
        batch: c.batchSize,
        inChannels: prepared.spec.inChannels,
        size: c.imageSize,
        numClasses: prepared.spec.numClasses,
      });
      if (measured) {
        io.out(
          `autotune: timed the kernel variants of ${measured} shape classes on this adapter ` +
            `(kept in ${tuningFile()}; WEBGPU_RESNET_AUTOTUNE=0 turns this off)`,
        );
      }
    }
    const result = await guarded(() =>
      fit(prepared, run, { onEvent: textReport({ log: io.out, sink: io.sink }), stop })
    );
    if (result.interrupted) {
      io.out(
        `stopped: checkpoint written to ${run.lastCheckpoint}; continue with: deno run -A cli.ts train --resume ${run.path}`,
      );
      return interruptExitCode(stop);
    }
    io.out(doneLine(result, run.path));
    return 0;
  } finally {
    prepared.dispose();
  }
}
