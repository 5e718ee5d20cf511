// DENO_WEBGPU_BACKEND picks the WebGPU backend; a value the runtime does not know makes
// it find no adapter at all, which would be reported as a missing GPU driver. Checked
// before the GPU starts, so the message names the variable instead.

import { UsageError } from "./args.ts";

/** Backend names wgpu accepts (comma-separated lists of them are allowed). */
const BACKENDS = [
  "vulkan",
  "vk",
  "metal",
  "mtl",
  "dx12",
  "d3d12",
  "gl",
  "gles",
  "opengl",
  "webgpu",
];

/** Throws a UsageError naming DENO_WEBGPU_BACKEND when it holds an unknown backend. */
export function checkBackendVariable(value = Deno.env.get("DENO_WEBGPU_BACKEND")): void {
  if (value === undefined || value.trim() === "") return;
  const bad = value.split(",").map((s) => s.trim().toLowerCase()).filter((s) =>
    !BACKENDS.includes(s)
  );
  if (bad.length) {
    throw new UsageError(
      `DENO_WEBGPU_BACKEND="${value}": unknown WebGPU backend ${
        bad.map((b) => `"${b}"`).join(", ")
      }; use one of vulkan, gl, metal, dx12 (or unset it to let Deno choose)`,
    );
  }
}
