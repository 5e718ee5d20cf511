// The benchmark run: measures the ceilings on this adapter (a peak-FMA microkernel, the
// best GEMM, a copy's bandwidth), runs every kernel family's rows, and prints one table
// with each row's rate and its fraction of the ceiling measured in the same run.

import { type Gpu, initGpu } from "../kernels/device.ts";
import { copy } from "../kernels/elementwise.ts";
import type { BenchRow, Harness } from "./harness.ts";
import { timeGemm } from "./gemm.ts";
import { benchPeak } from "./peak.ts";
import { WallClockHarness } from "./timing.ts";

/** The families main.ts looks for: a file next to this one exporting `(h) => rows`. */
export const FAMILIES = [
  { name: "gemm", file: "./gemm.ts", fn: "benchGemm" },
  { name: "conv", file: "./conv.ts", fn: "benchConv" },
  { name: "norm_pool", file: "./norm_pool.ts", fn: "benchNormPool" },
  { name: "loss", file: "./loss.ts", fn: "benchLoss" },
  { name: "optim", file: "./optim.ts", fn: "benchOptim" },
  { name: "train", file: "./train_step.ts", fn: "benchTrainStep" },
  { name: "host", file: "./host_overhead.ts", fn: "benchHostOverhead" },
] as const;

export interface Ceilings {
  /** GFLOP/s of the FMA microkernel. */
  peakGflops: number;
  /** GFLOP/s of the reference GEMM (1024^3, or 512^3 in quick mode). */
  gemmGflops: number;
  /** GB/s of a large buffer copy (bytes read + written). */
  copyGBs: number;
  rows: BenchRow[];
}

export interface BenchOptions {
  quick?: boolean;
  /** Family names to run (default all). */
  only?: readonly string[];
  /** Where lines go (default console.log). */
  log?: (line: string) => void;
  gpu?: Gpu;
}

/** Measures the ceilings the table's ratios refer to. */
export async function measureCeilings(h: Harness): Promise<Ceilings> {
  const peak = await benchPeak(h);
  const size = h.quick ? 512 : 1024;
  const gemmRow = await timeGemm(h, size, size, size);
  gemmRow.op = "gemm (ceiling)";
  const copyRow = await timeCopy(h, h.quick ? 1 << 22 : 1 << 24);
  return {
    peakGflops: rate(peak.flops!, peak.ms),
    gemmGflops: rate(gemmRow.flops!, gemmRow.ms),
    copyGBs: rate(copyRow.bytes!, copyRow.ms),
    rows: [peak, gemmRow, copyRow],
  };
}

async function timeCopy(h: Harness, floats: number): Promise<BenchRow> {
  const g = h.gpu;
  const src = g.pool.acquire(floats * 4, "bench copy src");
  const dst = g.pool.acquire(floats * 4, "bench copy dst");
  try {
    const ms = await h.time(() => copy(g, src, dst, floats));
    return { op: "copy (ceiling)", shape: `${floats / (1 << 20)}M floats`, ms, bytes: floats * 8 };
  } finally {
    g.pool.release(src);
    g.pool.release(dst);
  }
}

/** Giga-units per second from a count per run and milliseconds per run. */
function rate(count: number, ms: number): number {
  return ms > 0 ? count / ms / 1e6 : Infinity;
}

const COLUMNS = ["op", "shape", "ms", "rate", "% peak FMA", "% GEMM", "% copy"];
const WIDTHS = [22, 34, 10, 14, 11, 8, 8];

function line(cells: readonly string[]): string {
  return cells.map((c, i) => (i < 2 ? c.padEnd(WIDTHS[i]) : c.padStart(WIDTHS[i]))).join(" ");
}

/** One table line for a row, with its rate relative to the ceilings. */
export function formatRow(row: BenchRow, c: Ceilings): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  let r = "";
  let peak = "";
  let gemm = "";
  let copyPct = "";
  if (row.flops !== undefined) {
    const gf = rate(row.flops, row.ms);
    r = `${gf.toFixed(2)} GFLOP/s`;
    peak = pct(gf / c.peakGflops);
    gemm = pct(gf / c.gemmGflops);
  } else if (row.bytes !== undefined) {
    const gb = rate(row.bytes, row.ms);
    r = `${gb.toFixed(2)} GB/s`;
    copyPct = pct(gb / c.copyGBs);
  }
  return line([row.op, row.shape, row.ms.toFixed(3), r, peak, gemm, copyPct]);
}

/** Runs the benchmarks and prints the table; returns every row measured. */
export async function runBenchmarks(options: BenchOptions = {}): Promise<BenchRow[]> {
  const log = options.log ?? console.log;
  const g = options.gpu ?? await initGpu();
  const h = new WallClockHarness(g, { quick: options.quick });
  const unknown = (options.only ?? []).filter((n) => !FAMILIES.some((f) => f.name === n));
  if (unknown.length) {
    throw new Error(
      `bench: unknown famil${unknown.length > 1 ? "ies" : "y"} ${unknown.join(", ")}; ` +
        `choose from ${FAMILIES.map((f) => f.name).join(", ")}`,
    );
  }
  const d = g.describe();
  log(
    `adapter: ${d.description}${d.vendor ? ` (vendor ${d.vendor})` : ""}${
      d.fallback ? ", software/fallback" : ""
    }`,
  );
  log(
    `mode: ${h.quick ? "quick" : "full"}; ms = median GPU time per run, round trip ` +
      `(${(await h.roundTripMs()).toFixed(2)} ms) removed`,
  );
  const ceilings = await measureCeilings(h);
  log(line(COLUMNS));
  const all = [...ceilings.rows];
  for (const row of ceilings.rows) log(formatRow(row, ceilings));
  const failed: string[] = [];
  for (const family of FAMILIES) {
    if (options.only && !options.only.includes(family.name)) continue;
    let run: ((h: Harness) => Promise<BenchRow[]>) | undefined;
    try {
      const mod = await import(new URL(family.file, import.meta.url).href);
      run = mod[family.fn];
    } catch (e) {
      if (!(e instanceof Error) || !/Module not found|Cannot find module/i.test(e.message)) throw e;
    }
    if (typeof run !== "function") {
      log(
        `${family.name}: not available (bench/${
          family.file.slice(2)
        } with ${family.fn} is missing)`,
      );
      continue;
    }
    try {
      for (const row of await run(h)) {
        all.push(row);
        log(formatRow(row, ceilings));
      }
    } catch (e) {
      // keep going so one broken family does not hide the others; fail at the end
      failed.push(family.name);
      log(`${family.name}: failed: ${e instanceof Error ? e.message : e}`);
      await g.sync().catch(() => {});
    }
  }
  if (failed.length) throw new Error(`bench: ${failed.join(", ")} failed (see above)`);
  return all;
}
