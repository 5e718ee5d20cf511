// Tells whether WebGPU runs on Mesa's GL software driver, which Deno falls back to when the
// Vulkan one (lavapipe, `mesa-vulkan-drivers`) is not installed. Both report the same adapter
// ("llvmpipe (LLVM ...)", Mesa's vendor id), so the GL backend is recognised by
// DENO_WEBGPU_BACKEND or by what only wgpu's GL backend exposes on llvmpipe: ETC2 texture
// compression (part of OpenGL ES 3) and no shader-f16 (lavapipe has it, no ETC2).

import type { AdapterProfile } from "../kernels/profile.ts";

/**
 * The train step's images/s on the GL driver over the Vulkan one, measured on the two-core
 * development machine with `deno run -A cli.ts bench --only train --quick` (README).
 */
export const GL_TRAIN_STEP_RATIO = 1.0;

export function onGlSoftwareDriver(
  profile: AdapterProfile,
  features: ReadonlySet<string>,
  backendVariable = Deno.env.get("DENO_WEBGPU_BACKEND") ?? "",
): boolean {
  if (!profile.software) return false;
  const asked = backendVariable.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s);
  if (asked.length) return asked.every((b) => b === "gl" || b === "gles" || b === "opengl");
  return features.has("texture-compression-etc2") && !features.has("shader-f16");
}

/** The line printed once at the start of the default experiment on the GL driver. */
export function glDriverNote(profile: AdapterProfile): string {
  return `WebGPU runs on Mesa's GL software driver (${profile.description} through OpenGL); ` +
    `its train step measured ${ratioText(GL_TRAIN_STEP_RATIO)} the Vulkan driver's on two ` +
    `cores. The Vulkan one installs with: apt-get install mesa-vulkan-drivers`;
}

function ratioText(r: number): string {
  if (Math.abs(r - 1) < 0.1) return "about as fast as";
  return r < 1 ? `${(1 / r).toFixed(1)}x slower than` : `${r.toFixed(1)}x faster than`;
}
