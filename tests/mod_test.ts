import assert from "node:assert/strict";
import * as lib from "../mod.ts";

Deno.test("mod.ts exposes the library's pieces", () => {
  for (
    const name of [
      "initGpu",
      "Tensor",
      "resnet18",
      "SGD",
      "Adam",
      "AdamW",
      "ReduceLROnPlateau",
      "crossEntropy",
      "DataLoader",
      "ImageFolder",
      "readPth",
      "saveCheckpoint",
      "Linear",
      "BatchNorm2d",
    ]
  ) {
    assert.ok(name in lib, `mod.ts exports ${name}`);
  }
});

Deno.test("mod.ts keeps CLI internals out and exports the workflow and option types", () => {
  for (
    const name of [
      "prepareTraining",
      "startupReport",
      "fit",
      "evaluateCheckpoint",
      "predictFiles",
      "RunDir",
      "FolderDataset",
      "MemoryTree",
      "WeightedRandomSampler",
      "CLASS_WEIGHTS",
    ]
  ) {
    assert.ok(name in lib, `mod.ts exports ${name}`);
  }
  for (const name of ["flagOf", "niceTicks", "readWeights", "lineChart", "formatLr", "mixSeed"]) {
    assert.ok(!(name in lib), `mod.ts does not export the CLI internal ${name}`);
  }
  // type-level: these compile only if the types are exported and there is one Rng
  const options: lib.CrossEntropyOptions = { labelSmoothing: 0.1 };
  const image: lib.Image = { width: 2, height: 1, channels: 1, data: Uint8Array.of(1, 2) };
  const flipped = new lib.RandomHorizontalFlip({ p: 1 }).apply(image, new lib.Rng(1));
  assert.deepEqual([...(flipped as lib.Image).data], [2, 1]);
  assert.equal(options.labelSmoothing, 0.1);
});

Deno.test("mod.ts works from a script outside the project (no config): one training step", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mod = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/step.ts`,
      `import { crossEntropy, initGpu, resnet18, Scope, SGD, Tensor } from "${mod}";
await initGpu();
const model = resnet18({ numClasses: 3 });
const opt = new SGD(model.parameters(), { lr: 0.1 });
const x = Tensor.randn([2, 3, 16, 16], { seed: 1 });
const y = Tensor.fromArray(Int32Array.from([0, 2]));
const losses = [];
for (let i = 0; i < 2; i++) {
  using _ = new Scope();
  opt.zeroGrad();
  const loss = crossEntropy(model.forward(x), y);
  loss.backward();
  opt.step();
  losses.push(await loss.item());
}
console.log(JSON.stringify(losses));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--no-lock", "step.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const [first, second] = JSON.parse(text.trim().split("\n").at(-1)!);
    assert.ok(Number.isFinite(first) && second < first, `the loss falls: ${text}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
