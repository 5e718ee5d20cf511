// `predict`: image files (or folders of them) -> top-k classes with probabilities. A file that
// cannot be read is reported and the others still predicted; the exit code is 1 if any failed.

import { IMAGE_EXTENSIONS, UNSUPPORTED_IMAGE_EXTENSIONS } from "../../data/decode.ts";
import { initGpu } from "../../kernels/device.ts";
import { loadTrained, predictFiles } from "../../train/inference.ts";
import { type CommandSpec, helpText, parseArgs, UsageError } from "../args.ts";
import { CHECKPOINT_SAFETY_FLAGS, checkpointSafety } from "../checkpoint_flags.ts";
import type { CliIO } from "../io.ts";

export const PREDICT_SPEC: CommandSpec = {
  name: "predict",
  summary:
    "classify image files (JPEG/PNG; a folder: its images, recursively, sorted) with a trained " +
    "checkpoint: top-k classes and probabilities",
  usage: ["predict --checkpoint runs/NAME/best.safetensors [--top-k 3] IMAGE|FOLDER..."],
  positionals: "IMAGE|FOLDER...",
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

// Image suffixes, also those the decoder lacks: such a file in a folder is reported, not
// silently passed over.
const IMAGE_SUFFIXES = [...IMAGE_EXTENSIONS, ...UNSUPPORTED_IMAGE_EXTENSIONS];

/** The image files below `dir`, recursively, in code-point order of their paths. */
function imagesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const path = `${d}/${e.name}`;
      if (e.isDirectory) walk(path);
      else if (IMAGE_SUFFIXES.some((x) => e.name.toLowerCase().endsWith(x))) out.push(path);
    }
  };
  walk(dir.replace(/\/+$/, "") || "/");
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The positionals with each folder replaced by its images; an empty folder is an error. */
function expandFolders(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    let isDir = false;
    try {
      isDir = Deno.statSync(p).isDirectory;
    } catch {
      return [p]; // reported as a failed file when it is read
    }
    if (!isDir) return [p];
    const found = imagesUnder(p);
    if (found.length === 0) {
      throw new UsageError(
        `predict: the folder ${p} holds no image files (${IMAGE_EXTENSIONS.join(", ")})`,
      );
    }
    return found;
  });
}

export async function predictCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(PREDICT_SPEC, argv);
  if (parsed.help) {
    io.out(helpText(PREDICT_SPEC));
    return 0;
  }
  const path = parsed.values.get("checkpoint") as string | undefined;
  if (!path) throw new UsageError("predict: --checkpoint FILE is required");
  if (parsed.positionals.length === 0) {
    throw new UsageError("predict: give at least one image file or folder");
  }
  const k = (parsed.values.get("top-k") as number | undefined) ?? 5;
  if (k < 1) throw new UsageError("--top-k must be at least 1");
  const files = expandFolders(parsed.positionals);
  await initGpu();
  const safety = checkpointSafety(parsed);
  const trained = await loadTrained(path, "--checkpoint", safety);
  try {
    const { predictions, failures } = await predictFiles(
      trained,
      files,
      k,
      16,
      safety.maxImagePixels,
    );
    const json = parsed.values.get("json");
    const failed = new Map(failures.map((f) => [f.file, f.error]));
    const predicted = new Map(predictions.map((p) => [p.file, p]));
    // in the order given, each file once: its prediction or its error
    for (const file of new Set(files)) {
      const p = predicted.get(file);
      if (p && json) io.out(JSON.stringify(p));
      else if (p) {
        io.out(
          `${p.file}: ${
            p.top.map((t) => `${t.className} ${(100 * t.probability).toFixed(1)}%`).join(", ")
          }`,
        );
      } else {
        const error = failed.get(file)!;
        if (json) io.out(JSON.stringify({ file, error }));
        io.err(`${file}: not predicted: ${error}`);
      }
    }
    if (failures.length === 0) return 0;
    io.err(
      `predict: ${failures.length} of ${files.length} file(s) could not be read (listed above); ` +
        `the others were predicted`,
    );
    return 1;
  } finally {
    trained.model.dispose();
  }
}
