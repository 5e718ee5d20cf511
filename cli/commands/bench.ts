// `bench`: the kernel and end-to-end benchmarks of bench/main.ts.

import { FAMILIES, runBenchmarks } from "../../bench/main.ts";
import { runTuning } from "../../bench/tune.ts";
import { initGpu } from "../../kernels/device.ts";
import { enableAutotune } from "../autotune.ts";
import { type CommandSpec, helpText, parseArgs } from "../args.ts";
import type { CliIO } from "../io.ts";

export const BENCH_SPEC: CommandSpec = {
  name: "bench",
  summary:
    "kernel benchmarks: ms, GFLOP/s or GB/s, and the fraction of ceilings measured in the same run",
  usage: ["bench [--quick] [--only a,b,...]", "bench --tune [--quick]"],
  flags: [
    { name: "quick", type: "bool", help: "fewer shapes and repeats" },
    {
      name: "tune",
      type: "bool",
      help:
        "measure the kernel variants of ResNet18 steps on this adapter and remember the winners",
    },
    {
      name: "only",
      type: "list",
      help: `families to run: ${FAMILIES.map((f) => f.name).join(", ")}`,
    },
  ],
};

export async function benchCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(BENCH_SPEC, argv);
  if (parsed.help) {
    io.out(helpText(BENCH_SPEC));
    return 0;
  }
  const quick = Boolean(parsed.values.get("quick"));
  if (parsed.values.get("tune")) {
    await runTuning(await initGpu(), quick, io.out);
    return 0;
  }
  const only = parsed.values.get("only") as string[] | undefined;
  // rows run with the winners `bench --tune` (or `train`) measured, as training would
  await enableAutotune(await initGpu());
  await runBenchmarks({ quick, ...(only ? { only } : {}), log: io.out });
  return 0;
}
