import assert from "node:assert/strict";
import { hostTensor } from "../../nn/io/host_tensor.ts";
import {
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  Linear,
  ReLU,
  Sequential,
} from "../../nn/layers.ts";
import { sum } from "../../nn/ops/basic.ts";
import { readPth } from "../../nn/io/pth.ts";
import { encodeSafetensors, readSafetensors } from "../../nn/io/safetensors.ts";
import { resnet18 } from "../../nn/resnet.ts";
import { noGrad, Scope, Tensor } from "../../nn/tensor.ts";
import { gpuReady } from "../helpers.ts";

await gpuReady;

Deno.test("Sequential names children 0, 1, ... and collects nested parameters", () => {
  const net = new Sequential(
    new Conv2d(3, 4, 3, { padding: 1 }),
    new BatchNorm2d(4),
    new ReLU(),
    new Flatten(),
    new Linear(4 * 8 * 8, 2),
  );
  assert.deepEqual(net.namedParameters().map(([n]) => n), [
    "0.weight",
    "0.bias",
    "1.weight",
    "1.bias",
    "4.weight",
    "4.bias",
  ]);
  assert.deepEqual(net.namedBuffers().map(([n]) => n), [
    "1.running_mean",
    "1.running_var",
    "1.num_batches_tracked",
  ]);
  using _ = new Scope();
  assert.deepEqual(net.forward(Tensor.rand([2, 3, 8, 8])).shape, [2, 2]);
  net.dispose();
});

Deno.test("loadStateDict: strict lists every problem and loads nothing; non-strict loads what fits", async () => {
  const model = resnet18({ numClasses: 1000 });
  const source = await model.stateDict(); // ImageNet-shaped: fc is 1000 classes
  const target = resnet18({ numClasses: 2 });
  const before = await target.fc.weight.toArray();
  source.set("extra.weight", hostTensor("f32", [1], new Float32Array(1)));
  source.delete("layer1.0.conv1.weight");
  assert.throws(
    () => target.loadStateDict(source),
    (e: Error) =>
      /missing \(1\): layer1\.0\.conv1\.weight/.test(e.message) &&
      /unexpected \(1\): extra\.weight/.test(e.message) &&
      /fc\.weight is \[2,512\] in the model, \[1000,512\] in the file/.test(e.message),
  );
  assert.deepEqual(await target.fc.weight.toArray(), before, "strict failure loads nothing");
  const report = target.loadStateDict(source, { strict: false });
  assert.deepEqual(report.mismatched.map((m) => m.name), ["fc.weight", "fc.bias"]);
  assert.deepEqual(report.missing, ["layer1.0.conv1.weight"]);
  assert.deepEqual(report.unexpected, ["extra.weight"]);
  assert.deepEqual(await target.conv1.weight.toArray(), await model.conv1.weight.toArray());
  assert.deepEqual(await target.fc.weight.toArray(), before, "the new head keeps its own init");
  model.dispose();
  target.dispose();
});

Deno.test("freezing by name, head replacement and truncation", () => {
  const model = resnet18({ numClasses: 1000 });
  model.replaceHead(5, { init: "xavier" });
  assert.deepEqual(model.fc.weight.shape, [5, 512]);
  model.freezeExcept("fc");
  const trainable = model.namedParameters().filter(([, p]) => p.requiresGrad).map(([n]) => n);
  assert.deepEqual(trainable, ["fc.weight", "fc.bias"]);
  model.setRequiresGrad(true, "layer4");
  assert.ok(model.layer4!.parameters().every((p) => p.requiresGrad));
  assert.ok(!model.layer3!.parameters().some((p) => p.requiresGrad));
  assert.throws(
    () => model.setRequiresGrad(true, "layer9"),
    /no parameter name starts with layer9/,
  );
  assert.equal(
    model.getSubmodule("layer2.0.downsample.1"),
    model.layer2!.at(0).namedChildren().find(([n]) => n === "downsample")![1].namedChildren()[1][1],
  );
  assert.equal(model.getSubmodule(""), model);
  assert.throws(() => model.getSubmodule("layer2.7"), /no sub-module 'layer2.7'/);
  model.truncate(2, 3);
  assert.equal(model.layer3, undefined);
  assert.deepEqual(model.fc.weight.shape, [3, 128]);
  assert.ok(!model.namedParameters().some(([n]) => n.startsWith("layer3")));
  using _ = new Scope();
  const out = noGrad(() => model.eval().forward(Tensor.rand([1, 3, 32, 32])));
  assert.deepEqual(out.shape, [1, 3]);
  model.dispose();
});

Deno.test("BatchNorm2d counts batches, and lockedEval keeps running statistics fixed", async () => {
  using _ = new Scope();
  const bn = new BatchNorm2d(3);
  const x = Tensor.randn([4, 3, 5, 5], { seed: 2, mean: 1 });
  bn.train().forward(x);
  assert.deepEqual([...await bn.num_batches_tracked.toInt32Array()], [1]);
  const mean1 = await bn.running_mean.toArray();
  assert.ok(mean1.every((v) => v > 0.05), "running mean moved towards the batch mean");
  bn.lockedEval = true;
  bn.train();
  assert.equal(bn.training, false);
  bn.forward(x);
  assert.deepEqual(await bn.running_mean.toArray(), mean1);
  const sd = await bn.stateDict();
  assert.deepEqual([...sd.keys()], [
    "weight",
    "bias",
    "running_mean",
    "running_var",
    "num_batches_tracked",
  ]);
  assert.equal(sd.get("num_batches_tracked")!.data[0], 1n);
  bn.dispose();
});

Deno.test("num_batches_tracked is a buffer that round-trips as int64 through safetensors and .pth", async () => {
  using _ = new Scope();
  const bn = new BatchNorm2d(2);
  const x = Tensor.randn([2, 2, 3, 3], { seed: 4 });
  for (let i = 0; i < 3; i++) bn.train().forward(x);
  const [, counter] = bn.namedBuffers().find(([n]) => n === "num_batches_tracked")!;
  assert.equal(counter.dtype, "i32");
  const file = readSafetensors(encodeSafetensors(await bn.stateDict())).tensors;
  assert.equal(file.get("num_batches_tracked")!.dtype, "i64");
  assert.deepEqual(file.get("num_batches_tracked")!.shape, []);
  const copy = new BatchNorm2d(2);
  copy.loadStateDict(file);
  assert.deepEqual([...await copy.num_batches_tracked.toInt32Array()], [3]);
  copy.eval().forward(x);
  assert.deepEqual([...await copy.num_batches_tracked.toInt32Array()], [3], "eval does not count");
  // torchvision's files: int64 from a .pth loads; a file without the counter loads strictly
  const pth = readPth(
    await Deno.readFile(new URL("../fixtures/io/resnet18_subset.pth", import.meta.url)),
  );
  const bn1 = [...pth].filter(([k]) => k.startsWith("bn1."));
  const fromTorch = new BatchNorm2d(bn1.find(([k]) => k === "bn1.weight")![1].shape[0]);
  fromTorch.loadStateDict(new Map(bn1.map(([k, v]) => [k.slice(4), v])));
  assert.deepEqual(
    [...await fromTorch.num_batches_tracked.toInt32Array()],
    [Number(pth.get("bn1.num_batches_tracked")!.data[0])],
  );
  file.delete("num_batches_tracked");
  const older = new BatchNorm2d(2);
  assert.equal(older.loadStateDict(file).missing.length, 0);
  assert.deepEqual([...await older.num_batches_tracked.toInt32Array()], [0]);
  for (const m of [bn, copy, fromTorch, older]) m.dispose();
});

Deno.test("Dropout zeroes about p of the elements, scales the rest, and reuses its mask in backward", async () => {
  using _ = new Scope();
  const d = new Dropout(0.3, 42);
  const x = Tensor.fromArray(new Float32Array(20_000).fill(1), [20_000], { requiresGrad: true });
  const y = d.forward(x);
  const v = await y.toArray();
  const zeros = v.filter((e) => e === 0).length / v.length;
  assert.ok(Math.abs(zeros - 0.3) < 0.02, `dropped fraction ${zeros}`);
  assert.ok(v.every((e) => e === 0 || Math.abs(e - 1 / 0.7) < 1e-6));
  sum(y).backward();
  assert.deepEqual(await x.grad!.toArray(), v, "d(sum y)/dx is the scaled mask itself");
  assert.equal(d.eval().forward(x), x, "identity in eval mode");
  x.grad!.dispose();
});
