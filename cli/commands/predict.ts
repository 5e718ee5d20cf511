// `predict`: image files -> top-k classes with probabilities.

import { initGpu } from "../../kernels/device.ts";
import { loadTrained, predictFiles } from "../../train/inference.ts";
import { type CommandSpec, helpText, parseArgs, UsageError } from "../args.ts";
import { CHECKPOINT_SAFETY_FLAGS, checkpointSafety } from "../checkpoint_flags.ts";
import type { CliIO } from "../io.ts";

export const PREDICT_SPEC: CommandSpec = {
  name: "predict",
  summary:
    "classify image files (JPEG/PNG) with a trained checkpoint: top-k classes and probabilities",
  usage: ["predict --checkpoint runs/NAME/best.safetensors [--top-k 3] IMAGE..."],
  positionals: "IMAGE...",
  flags: [
    {
      name: "checkpoint",
      type: "string",
      metavar: "FILE",
      help: "a best.safetensors or last.safetensors written by train",
    },
    { name: "top-k", type: "int", defaultText: "5", help: "classes shown per image" },
    { name: "json", type: "bool", help: "print one JSON object per image instead of text" },
    ...CHECKPOINT_SAFETY_FLAGS,
  ],
};

export async function predictCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(PREDICT_SPEC, argv);
  if (parsed.help) {
    io.out(helpText(PREDICT_SPEC));
    return 0;
  }
  const path = parsed.values.get("checkpoint") as string | undefined;
  if (!path) throw new UsageError("predict: --checkpoint FILE is required");
  if (parsed.positionals.length === 0) {
    throw new UsageError("predict: give at least one image file");
  }
  const k = (parsed.values.get("top-k") as number | undefined) ?? 5;
  if (k < 1) throw new UsageError("--top-k must be at least 1");
  await initGpu();
  const safety = checkpointSafety(parsed);
  const trained = await loadTrained(path, "--checkpoint", safety);
  try {
    const preds = await predictFiles(trained, parsed.positionals, k, 16, safety.maxImagePixels);
    for (const p of preds) {
      if (parsed.values.get("json")) io.out(JSON.stringify(p));
      else {
        io.out(
          `${p.file}: ${
            p.top.map((t) => `${t.className} ${(100 * t.probability).toFixed(1)}%`).join(", ")
          }`,
        );
      }
    }
    return 0;
  } finally {
    trained.model.dispose();
  }
}
