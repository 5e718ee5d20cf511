// `info`: the adapter, backend, features and the limits the engine works within.

import { gpu, initGpu } from "../../kernels/device.ts";
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
  return 0;
}
