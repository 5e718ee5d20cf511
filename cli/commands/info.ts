// `info`: the adapter, backend, features and the limits the engine works within.

import { gpu, initGpu } from "../../kernels/device.ts";
import { tuning } from "../../kernels/tuning.ts";
import { type CommandSpec, helpText, parseArgs } from "../args.ts";
import type { CliIO } from "../io.ts";

export const INFO_SPEC: CommandSpec = {
  name: "info",
  summary: "show the WebGPU adapter, its features and limits",
  usage: ["info"],
  flags: [],
};

const LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupStorageSize",
  "maxStorageBuffersPerShaderStage",
] as const;

export async function infoCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(INFO_SPEC, argv);
  if (parsed.help) {
    io.out(helpText(INFO_SPEC));
    return 0;
  }
  await initGpu();
  const g = gpu();
  const d = g.describe();
  io.out(`adapter:      ${d.description}`);
  io.out(`vendor:       ${d.vendor || "unknown"}  architecture: ${d.architecture || "unknown"}`);
  io.out(`software:     ${d.fallback ? "yes (fallback adapter: a CPU implementation)" : "no"}`);
  // WebGPU does not say which native API serves the adapter; report what was asked for
  const backend = Deno.env.get("DENO_WEBGPU_BACKEND");
  io.out(
    `backend:      ${
      backend
        ? `${backend} (DENO_WEBGPU_BACKEND)`
        : "Deno's default (Vulkan, Metal or DX12; GL when none is available); set DENO_WEBGPU_BACKEND to choose"
    }`,
  );
  io.out(`deno:         ${Deno.version.deno} (v8 ${Deno.version.v8})`);
  io.out(`features:     ${[...g.features].sort().join(", ") || "none"}`);
  io.out("limits:");
  for (const name of LIMITS) io.out(`  ${name.padEnd(36)} ${g.device.limits[name]}`);
  const p = g.profile;
  io.out(`profile:      ${p.kind} (vendor ${p.vendor}, architecture ${p.architecture})`);
  io.out(
    `  subgroups ${
      p.features.subgroups ? `yes (${p.subgroupMinSize}-${p.subgroupMaxSize})` : "no"
    }` +
      `, shader-f16 ${p.features.shaderF16 ? "yes" : "no"}` +
      `, timestamp-query ${p.features.timestampQuery ? "yes" : "no"}` +
      `, storage offset alignment ${p.limits.minStorageBufferOffsetAlignment}`,
  );
  io.out("variants for a ResNet18 step (tuning table; measured choices may refine them):");
  for (const line of describeTuning(g)) io.out(`  ${line}`);
  return 0;
}

/** One line per kernel family: the variant and tiles its launches use on `g`. */
export function describeTuning(g: Parameters<typeof tuning>[0]): string[] {
  const t = tuning(g);
  const tiles = (o: object) =>
    Object.entries(o).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join(" ");
  const sub = (on: boolean) => (on ? "subgroup reductions" : "workgroup reductions");
  return [
    `gemm       ${t.gemm.variant} ${tiles(t.gemm[t.gemm.variant])}`,
    `conv2d     ${t.conv.variant} ${
      t.conv.variant === "gather"
        ? `gather=${JSON.stringify(t.conv.gather)} weight=${JSON.stringify(t.conv.weight)}`
        : tiles(t.conv.tiled)
    }`,
    `batchnorm  ${sub(t.batchnorm.subgroups)} wg=${t.batchnorm.wg} span=${t.batchnorm.span}`,
    `pooling    wg=${t.pool.wgX}x${t.pool.wgY} flat=${t.pool.wg}`,
    `reduce     ${sub(t.reduce.subgroups)}`,
    `loss       ${t.loss.subgroups ? "one subgroup per row" : "one invocation per row"}`,
  ];
}
