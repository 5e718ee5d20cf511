// `bench`: the kernel and end-to-end benchmarks of bench/main.ts.

import { FAMILIES, runBenchmarks } from "../../bench/main.ts";
import { type CommandSpec, helpText, parseArgs } from "../args.ts";
import type { CliIO } from "../io.ts";

export const BENCH_SPEC: CommandSpec = {
  name: "bench",
  summary:
    "kernel benchmarks: ms, GFLOP/s or GB/s, and the fraction of ceilings measured in the same run",
  usage: ["bench [--quick] [--only a,b,...]"],
  flags: [
    { name: "quick", type: "bool", help: "fewer shapes and repeats" },
    {
      name: "only",
      type: "list",
      help: `families to run: ${FAMILIES.map((f) => f.name).join(", ")}`,
    },
  ],
};

/** Parses `bench` options (kept for callers of the first cli.ts). */
export function parseBenchArgs(args: readonly string[]): { quick: boolean; only?: string[] } {
  const parsed = parseArgs(BENCH_SPEC, args);
  const only = parsed.values.get("only") as string[] | undefined;
  return { quick: Boolean(parsed.values.get("quick")), ...(only ? { only } : {}) };
}

export async function benchCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(BENCH_SPEC, argv);
  if (parsed.help) {
    io.out(helpText(BENCH_SPEC));
    return 0;
  }
  await runBenchmarks({ ...parseBenchArgs(argv), log: io.out });
  return 0;
}
