import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";

await initGpu();

Deno.test("info names the adapter, the backend asked for, features and limits", async () => {
  const io = memoryIO();
  assert.equal(await runCli(["info"], io), 0);
  const text = io.text();
  for (
    const line of [
      /^adapter: +\S/m,
      /^backend: +\S/m,
      /^features: /m,
      /maxStorageBufferBindingSize +\d+/m,
      /^profile: +(software|gpu) \(vendor /m,
      /storage offset alignment \d+/m,
      /^ +gemm +(registers|tiled) /m,
      /^ +conv2d +(gather|implicit-gemm) /m,
      /^ +batchnorm +(subgroup|workgroup) reductions/m,
    ]
  ) {
    assert.match(text, line);
  }
  const asked = Deno.env.get("DENO_WEBGPU_BACKEND");
  if (asked) assert.match(text, new RegExp(`^backend: +${asked} \\(DENO_WEBGPU_BACKEND\\)`, "m"));
});
