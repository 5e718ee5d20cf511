// The command line. Thin: it parses arguments and calls into the engine.
// Subcommands so far: bench.

import { FAMILIES, runBenchmarks } from "./bench/main.ts";

const HELP = `usage: deno run -A cli.ts <command> [options]

commands:
  bench [--quick] [--only a,b,...]   kernel benchmarks: ms, GFLOP/s or GB/s, and the fraction
                                     of ceilings measured in the same run
                                     --quick   fewer shapes and repeats
                                     --only    families: ${FAMILIES.map((f) => f.name).join(", ")}
  --help                             this text`;

/** Parses `bench` options; throws with a usage hint on anything unknown. */
export function parseBenchArgs(args: readonly string[]): { quick: boolean; only?: string[] } {
  const out: { quick: boolean; only?: string[] } = { quick: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--quick") out.quick = true;
    else if (a === "--only" || a.startsWith("--only=")) {
      const value = a === "--only" ? args[++i] : a.slice("--only=".length);
      if (!value) throw new Error("bench: --only needs a comma-separated list of families");
      out.only = value.split(",").map((s) => s.trim()).filter(Boolean);
    } else throw new Error(`bench: unknown option '${a}' (see --help)`);
  }
  return out;
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (!command || command === "--help" || command === "-h" || command === "help" || rest.includes("--help")) {
    console.log(HELP);
    return command ? 0 : 1;
  }
  if (command === "bench") {
    await runBenchmarks(parseBenchArgs(rest));
    return 0;
  }
  console.error(`unknown command '${command}'\n\n${HELP}`);
  return 2;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    Deno.exit(1);
  }
}
