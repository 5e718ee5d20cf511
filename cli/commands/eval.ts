// `eval`: a checkpoint on a dataset: loss, accuracy, per-class precision, recall, F1 and
// support (sklearn's classification_report), the confusion matrix (as text, and as an SVG
// with --confusion-svg).

import { initGpu } from "../../kernels/device.ts";
import { confusionMatrixSvg } from "../../train/confusion_svg.ts";
import { formatConfusion } from "../../train/evaluate.ts";
import { formatReport } from "../../train/metrics.ts";
import { evaluateCheckpoint, loadTrained } from "../../train/inference.ts";
import { ProgressBar } from "../../train/progress_bar.ts";
import { type CommandSpec, helpText, parseArgs, UsageError } from "../args.ts";
import { atomicWriteText } from "../../nn/io/atomic.ts";
import { CHECKPOINT_SAFETY_FLAGS, checkpointSafety } from "../checkpoint_flags.ts";
import type { CliIO } from "../io.ts";
import { checkOutputNotInput } from "../outputs.ts";

export const EVAL_SPEC: CommandSpec = {
  name: "eval",
  summary:
    "evaluate a checkpoint: loss, accuracy, per-class precision/recall/F1 and the confusion matrix",
  usage: ["eval --checkpoint runs/NAME/best.safetensors [--data PATH] [--split test|train]"],
  flags: [
    {
      name: "checkpoint",
      type: "string",
      metavar: "FILE",
      help: "a best.safetensors or last.safetensors written by train",
    },
    {
      name: "data",
      type: "string",
      metavar: "PATH",
      help:
        "dataset (default: the one the run was trained on), with the run's classes and preprocessing",
    },
    {
      name: "split",
      type: "choice",
      choices: ["test", "train"],
      defaultText: "test",
      help: "the test split (or the run's held-out part) or the training part",
    },
    { name: "batch-size", type: "int", help: "batch size (default: the run's)" },
    { name: "workers", type: "int", help: "data loader worker threads" },
    { name: "json", type: "string", metavar: "FILE", help: "also write the results as JSON" },
    {
      name: "confusion-svg",
      type: "string",
      metavar: "FILE",
      help: "also draw the confusion matrix as an SVG (cells coloured by share of the true class)",
    },
    ...CHECKPOINT_SAFETY_FLAGS,
  ],
};

export async function evalCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(EVAL_SPEC, argv);
  if (parsed.help) {
    io.out(helpText(EVAL_SPEC));
    return 0;
  }
  const path = parsed.values.get("checkpoint") as string | undefined;
  if (!path) {
    throw new UsageError("eval: --checkpoint FILE is required (e.g. runs/NAME/best.safetensors)");
  }
  const batchSize = parsed.values.get("batch-size") as number | undefined;
  if (batchSize !== undefined && batchSize < 1) {
    throw new UsageError("--batch-size must be at least 1");
  }
  const json = parsed.values.get("json") as string | undefined;
  const svg = parsed.values.get("confusion-svg") as string | undefined;
  const data = parsed.values.get("data") as string | undefined;
  const inputs = [
    { flag: "--checkpoint", path },
    ...(data ? [{ flag: "--data", path: data }] : []),
  ];
  if (json) checkOutputNotInput({ flag: "--json", path: json }, inputs);
  if (svg) checkOutputNotInput({ flag: "--confusion-svg", path: svg }, inputs);
  if (json && svg && json === svg) {
    throw new UsageError(`--json and --confusion-svg name the same file "${json}"`);
  }
  await initGpu();
  const trained = await loadTrained(path, "--checkpoint", checkpointSafety(parsed));
  try {
    let bar: ProgressBar | null = null;
    const r = await evaluateCheckpoint(trained, {
      data,
      split: (parsed.values.get("split") as "test" | "train" | undefined) ?? "test",
      batchSize,
      workers: parsed.values.get("workers") as number | undefined,
      onBatch: (done, total) => {
        bar ??= new ProgressBar({ label: "evaluating", total, sink: io.sink });
        bar.update(done);
      },
    });
    (bar as ProgressBar | null)?.finish();
    io.out(
      `${path} on ${r.dataset} (${r.split}, ${r.samples} images)`,
    );
    io.out(`loss ${r.loss.toFixed(4)}  accuracy ${(100 * r.accuracy).toFixed(2)}%`);
    io.out("per class (recall is the class's accuracy):");
    io.out(formatReport(r.report));
    io.out("confusion matrix (rows: true class):");
    io.out(formatConfusion(r.confusion, r.classes));
    if (json) {
      // each figure once: the report holds the classes, accuracy and confusion matrix too
      const { dataset, split, samples, loss, report } = r;
      const written = { dataset, split, samples, loss, ...report };
      await atomicWriteText(json, JSON.stringify(written, null, 2) + "\n");
    }
    if (svg) {
      await atomicWriteText(
        svg,
        confusionMatrixSvg({
          confusion: r.confusion,
          classes: r.classes,
          title: `Confusion matrix — ${path} on ${r.dataset} (${r.split})`,
        }),
      );
      io.out(`confusion matrix drawn in ${svg}`);
    }
    return 0;
  } finally {
    trained.model.dispose();
  }
}
