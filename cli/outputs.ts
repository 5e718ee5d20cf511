// Outputs of a command never replace one of its inputs: `eval --json best.safetensors`
// must not turn the checkpoint it evaluates into JSON. Files are compared by identity
// (device and inode), so another spelling of the same path or a link to it is caught.

import { UsageError } from "./args.ts";

function identity(path: string): string | null {
  try {
    const info = Deno.statSync(path);
    return info.dev !== null && info.ino !== null ? `${info.dev}:${info.ino}` : null;
  } catch {
    return null; // does not exist (yet): cannot be an input
  }
}

/** Throws a UsageError when `output` is the same file as one of `inputs`. */
export function checkOutputNotInput(
  output: { flag: string; path: string },
  inputs: { flag: string; path: string }[],
): void {
  const out = identity(output.path);
  if (out === null) return;
  for (const input of inputs) {
    if (identity(input.path) === out) {
      throw new UsageError(
        `${output.flag} ${output.path} is the ${input.flag} file of this command; ` +
          `writing it would destroy the input: pass another ${output.flag} path`,
      );
    }
  }
}
