// The flags eval and predict share to relax the safety checks on what they read: loading a
// checkpoint that holds NaN or infinity, and decoding images above the pixel limit.

import type { FlagSpec, Parsed } from "./args.ts";
import { UsageError } from "./args.ts";

export const CHECKPOINT_SAFETY_FLAGS: FlagSpec[] = [
  {
    name: "allow-non-finite-weights",
    type: "bool",
    help: "load the checkpoint even if its weights hold NaN or infinity (refused by default)",
  },
  {
    name: "max-image-pixels",
    type: "int",
    metavar: "N",
    help: "refuse images with more pixels than this (default: the run's, 67108864)",
  },
];

export interface CheckpointSafety {
  allowNonFinite: boolean;
  maxImagePixels?: number;
}

export function checkpointSafety(parsed: Parsed): CheckpointSafety {
  const max = parsed.values.get("max-image-pixels") as number | undefined;
  if (max !== undefined && max < 1) throw new UsageError("--max-image-pixels must be at least 1");
  return {
    allowNonFinite: parsed.values.get("allow-non-finite-weights") === true,
    maxImagePixels: max,
  };
}
