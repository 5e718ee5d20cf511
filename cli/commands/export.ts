// `export`: a trained checkpoint -> a plain torchvision-named state dict (.safetensors, no
// prefix, num_batches_tracked included, so torchvision's resnet18 loads it strictly) and a
// JSON file beside it with the labels and the preprocessing the model expects.

import { atomicWriteFile, atomicWriteText } from "../../nn/io/atomic.ts";
import { safetensorsChunks } from "../../nn/io/safetensors.ts";
import { loadTrainState } from "../../train/checkpoint.ts";
import { normalization } from "../../train/transforms.ts";
import { type CommandSpec, helpText, parseArgs, UsageError } from "../args.ts";
import type { CliIO } from "../io.ts";
import { checkOutputNotInput } from "../outputs.ts";

export const EXPORT_SPEC: CommandSpec = {
  name: "export",
  summary:
    "write a checkpoint's model as a plain torchvision state dict (.safetensors) and its labels",
  usage: ["export --checkpoint runs/NAME/best.safetensors --out model.safetensors"],
  flags: [
    {
      name: "checkpoint",
      type: "string",
      metavar: "FILE",
      help: "a best.safetensors or last.safetensors written by train",
    },
    {
      name: "out",
      type: "string",
      metavar: "FILE",
      help: "the state dict to write (.safetensors); the labels go to the same name with .json",
    },
    {
      name: "allow-non-finite-weights",
      type: "bool",
      help: "export even if the weights hold NaN or infinity (refused by default)",
    },
  ],
};

/** What travels with the weights: the classes in head order and how inputs are prepared. */
export interface ExportedLabels {
  format: "webgpu-resnet/export";
  version: 1;
  arch: "resnet18";
  /** Residual stages kept (4: torchvision's whole resnet18). */
  stages: number;
  classes: string[];
  inChannels: number;
  /** Square input side, and the shorter side the eval pipeline resizes to before cropping. */
  imageSize: number;
  evalResize: number;
  /** Per channel; null when inputs are only scaled to [0, 1]. */
  normalize: { mean: number[]; std: number[] } | null;
}

export async function exportCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(EXPORT_SPEC, argv);
  if (parsed.help) {
    io.out(helpText(EXPORT_SPEC));
    return 0;
  }
  const checkpoint = parsed.values.get("checkpoint") as string | undefined;
  const out = parsed.values.get("out") as string | undefined;
  if (!checkpoint) throw new UsageError("export: --checkpoint FILE is required");
  if (!out) throw new UsageError("export: --out FILE is required");
  if (!out.endsWith(".safetensors")) {
    throw new UsageError(`--out ${out}: the state dict is written as .safetensors; name it so`);
  }
  const labelsPath = out.slice(0, -".safetensors".length) + ".json";
  for (const path of [out, labelsPath]) {
    checkOutputNotInput({ flag: "--out", path }, [{ flag: "--checkpoint", path: checkpoint }]);
  }
  const state = await loadTrainState(checkpoint, "--checkpoint", {
    allowNonFinite: parsed.values.get("allow-non-finite-weights") === true,
  });
  const { meta } = state;
  const labels: ExportedLabels = {
    format: "webgpu-resnet/export",
    version: 1,
    arch: meta.model.arch,
    stages: meta.model.stages,
    classes: meta.classes,
    inChannels: meta.model.inChannels,
    imageSize: meta.config.imageSize,
    evalResize: meta.config.evalResize || meta.config.imageSize,
    normalize: normalization(meta.config, meta.model.inChannels),
  };
  await atomicWriteFile(out, safetensorsChunks(state.model, { format: "pt" }));
  await atomicWriteText(labelsPath, JSON.stringify(labels, null, 2) + "\n");
  io.out(`wrote ${out} (${state.model.size} tensors, torchvision names) and ${labelsPath}`);
  if (meta.model.stages !== 4) {
    io.out(
      `note: the model keeps ${meta.model.stages} of resnet18's 4 stages (--strategy truncate); ` +
        `torchvision's resnet18 loads it with strict=False and needs its fc resized`,
    );
  }
  return 0;
}
