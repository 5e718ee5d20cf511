// Dispatch: the subcommand's name picks its module; errors become one clear line and an
// exit code (2 for usage errors, 1 for everything else). Used by cli.ts and by tests.

import { ConfigError } from "../train/config.ts";
import { UsageError } from "./args.ts";
import { BENCH_SPEC, benchCommand } from "./commands/bench.ts";
import { EVAL_SPEC, evalCommand } from "./commands/eval.ts";
import { EXPORT_SPEC, exportCommand } from "./commands/export.ts";
import { INFO_SPEC, infoCommand } from "./commands/info.ts";
import { PREDICT_SPEC, predictCommand } from "./commands/predict.ts";
import { TRAIN_SPEC, trainCommand } from "./commands/train.ts";
import { checkBackendVariable } from "./gpu_env.ts";
import type { CliIO } from "./io.ts";

const COMMANDS = [
  [TRAIN_SPEC, trainCommand],
  [EVAL_SPEC, evalCommand],
  [PREDICT_SPEC, predictCommand],
  [EXPORT_SPEC, exportCommand],
  [BENCH_SPEC, benchCommand],
  [INFO_SPEC, infoCommand],
] as const;

export function mainHelp(): string {
  const w = Math.max(...COMMANDS.map(([s]) => s.name.length)) + 2;
  return [
    "usage: deno run -A cli.ts <command> [options]",
    "",
    "commands:",
    ...COMMANDS.map(([s]) => `  ${s.name.padEnd(w)}${s.summary}`),
    "",
    "'deno run -A cli.ts <command> --help' lists a command's options.",
  ].join("\n");
}

/** Runs one command line; returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    (name ? io.out : io.err)(mainHelp());
    return name ? 0 : 2;
  }
  const entry = COMMANDS.find(([s]) => s.name === name);
  if (!entry) {
    io.err(`error: unknown command '${name}'\n\n${mainHelp()}`);
    return 2;
  }
  try {
    if (!rest.includes("--help") && !rest.includes("-h")) checkBackendVariable();
    return await entry[1](rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    io.err(`error: ${e instanceof Error ? e.message : String(e)}`);
    if (Deno.env.get("DEBUG") && e instanceof Error && e.stack) io.err(e.stack);
    return 1;
  }
}
