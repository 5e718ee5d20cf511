// `export`: a checkpoint of `train` becomes a plain torchvision-named state dict and a labels
// file. The checkpoint carries the ResNet fixture's weights (tests/fixtures/resnet/), so
// the exported file must reproduce what torchvision computed from them; and its names,
// shapes and dtypes must be exactly those torchvision's resnet18 loads strictly, as
// recorded by tests/fixtures/export/check_with_torchvision.py, which loaded an exported
// file with torchvision and compared its logits.

import assert from "node:assert/strict";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";
import { initGpu } from "../../kernels/device.ts";
import { toFloat32 } from "../../nn/io/host_tensor.ts";
import { readSafetensors } from "../../nn/io/safetensors.ts";
import { Rng } from "../../base/rng.ts";
import { resnet18 } from "../../nn/resnet.ts";
import { noGrad, Tensor } from "../../nn/tensor.ts";
import {
  FIXTURE_CLASSES,
  fixtureCheckpoint,
  resnetParity,
} from "../fixtures/export/fixture_checkpoint.ts";
import { assertClose } from "../helpers.ts";

await initGpu();

const parity = await resnetParity();
const torchvision: { keys: [string, number[], string][]; max_abs_diff: number } = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/export/torchvision_load.json", import.meta.url)),
);

async function cli(...argv: string[]): Promise<string> {
  const io = memoryIO();
  const code = await runCli(argv, io);
  assert.equal(code, 0, io.text());
  return io.text();
}
Deno.test("export: a torchvision state dict (names, shapes, dtypes) that computes the same logits", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const checkpoint = await fixtureCheckpoint(dir);
    const out = `${dir}/export/model.safetensors`;
    await Deno.mkdir(`${dir}/export`);
    assert.match(
      await cli("export", "--checkpoint", checkpoint, "--out", out),
      /torchvision names/,
    );
    const exported = readSafetensors(await Deno.readFile(out));
    const got = [...exported.tensors].map(([k, t]) => [k, t.shape, t.dtype]);
    const want = torchvision.keys.map(([k, shape, dtype]) => [k, shape, dtype.toLowerCase()]);
    const sort = (xs: unknown[][]) => xs.map((x) => JSON.stringify(x)).sort();
    assert.deepEqual(sort(got), sort(want), "exactly torchvision's entries, no prefix");
    assert.ok(torchvision.max_abs_diff < 1e-4, "torchvision's logits from an exported file");

    // the exported file loads strictly and gives torchvision's float64 logits (case b)
    const model = resnet18({ numClasses: 10 });
    model.loadStateDict(exported.tensors);
    model.eval();
    const x = Tensor.fromArray(new Rng(8).fillNormal(new Float32Array(3 * 64 * 64)), [
      1,
      3,
      64,
      64,
    ]);
    const logits = await noGrad(() => model.forward(x)).toArray();
    const ref = toFloat32(parity.tensors.get("b.eval_logits")!);
    assertClose(logits, ref, { atol: 2e-5 * Math.max(...ref.map(Math.abs)), rtol: 0 });
    model.dispose();

    const labels = JSON.parse(await Deno.readTextFile(`${dir}/export/model.json`));
    assert.deepEqual(labels.classes, FIXTURE_CLASSES);
    assert.equal(labels.arch, "resnet18");
    assert.equal(labels.stages, 4);
    assert.equal(labels.inChannels, 3);
    assert.deepEqual(labels.normalize.mean, [0.485, 0.456, 0.406]);
    assert.equal(typeof labels.imageSize, "number");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export: errors name the flag; the output never replaces the checkpoint", async () => {
  const io = memoryIO();
  assert.equal(await runCli(["export", "--out", "x.safetensors"], io), 2);
  assert.match(io.text(), /--checkpoint FILE is required/);
  const io2 = memoryIO();
  assert.equal(await runCli(["export", "--checkpoint", "a.safetensors", "--out", "x.pt"], io2), 2);
  assert.match(io2.text(), /--out x.pt: .* \.safetensors/);
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/best.safetensors`;
    await Deno.writeFile(path, new Uint8Array([1, 2, 3]));
    const io3 = memoryIO();
    assert.equal(await runCli(["export", "--checkpoint", path, "--out", path], io3), 2);
    assert.match(io3.text(), /is the --checkpoint file/);
    assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
