import assert from "node:assert/strict";
import {
  type Checkpoint,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  tensorsUnder,
  withPrefix,
} from "../../nn/io/checkpoint.ts";
import { hostTensor, type StateDict } from "../../nn/io/host_tensor.ts";
import { encodeSafetensors } from "../../nn/io/safetensors.ts";
import { readStateDictFile } from "../../nn/io/weights_file.ts";
import { isTempName } from "../../nn/io/atomic.ts";
import { assertStateDict, fixturePath } from "./expected.ts";

function model(): StateDict {
  return new Map([
    ["conv1.weight", hostTensor("f32", [2, 1, 1, 1], new Float32Array([0.25, -1]))],
    ["bn1.num_batches_tracked", hostTensor("i64", [], new BigInt64Array([42n]))],
  ]);
}

function sampleCheckpoint(): Checkpoint {
  const optim: StateDict = new Map([
    ["state.0.exp_avg", hostTensor("f32", [2], new Float32Array([1e-3, 2e-3]))],
  ]);
  return {
    tensors: new Map([...withPrefix(model(), "model."), ...withPrefix(optim, "optim.")]),
    meta: {
      epoch: 4,
      best: { metric: "val_loss", value: 0.125 },
      classes: ["hotdog", "not-hotdog"],
      config: { lr: 0.01, batch: 32, augment: true, resume: null },
      scheduler: { best: Infinity, worst: -Infinity, last: NaN, num_bad_epochs: 2 },
    },
  };
}

Deno.test("checkpoint: save/load round trip of tensors and JSON meta (Infinity and NaN kept)", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/run.ckpt`;
  const ckpt = sampleCheckpoint();
  await saveCheckpoint(path, ckpt);
  const back = await loadCheckpoint(path);
  assert.deepEqual(back.meta, ckpt.meta);
  assert.deepEqual(back.tensors, ckpt.tensors);
  assert.deepEqual([...tensorsUnder(back.tensors, "model.").keys()], [
    "conv1.weight",
    "bn1.num_batches_tracked",
  ]);
  assert.deepEqual([...tensorsUnder(back.tensors, "optim.").keys()], ["state.0.exp_avg"]);
  assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => isTempName(e.name)), []);
  // A second save replaces the first.
  await saveCheckpoint(path, { tensors: new Map(), meta: { epoch: 5 } });
  assert.deepEqual((await loadCheckpoint(path)).meta, { epoch: 5 });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoint: clear errors for a missing file, plain safetensors and bad meta", async () => {
  await assert.rejects(
    loadCheckpoint("/nonexistent/run.ckpt"),
    /^Error: \/nonexistent\/run\.ckpt: checkpoint file not found/,
  );
  assert.throws(
    () => decodeCheckpoint(encodeSafetensors(model()), "w.safetensors"),
    /w\.safetensors: is a safetensors file but not a checkpoint written by saveCheckpoint/,
  );
  const future = encodeSafetensors(model(), {
    format: "deno-webgpu-nn/checkpoint",
    version: "9",
    meta: "{}",
  });
  assert.throws(
    () => decodeCheckpoint(future, "f.ckpt"),
    /f\.ckpt: checkpoint version 9 is not supported/,
  );
  assert.throws(
    () => encodeCheckpoint({ tensors: new Map(), meta: { n: 1n } as never }),
    /"n" is a bigint/,
  );
});

Deno.test("weights file: reads .pth, safetensors and checkpoints by content", async () => {
  assertStateDict(
    await readStateDictFile(fixturePath("resnet18_subset.pth")),
    "resnet18_subset.pth",
  );
  assertStateDict(
    await readStateDictFile(fixturePath("by_python.safetensors"), { allowNonFinite: true }),
    "by_python.safetensors",
    false,
  );
  const dir = await Deno.makeTempDir();
  await saveCheckpoint(`${dir}/c.ckpt`, sampleCheckpoint());
  assert.deepEqual(await readStateDictFile(`${dir}/c.ckpt`), model());
  await Deno.writeTextFile(`${dir}/notes.txt`, "not weights at all");
  await assert.rejects(
    readStateDictFile(`${dir}/notes.txt`),
    /notes\.txt: is not a PyTorch \.pth file/,
  );
  await assert.rejects(
    readStateDictFile(`${dir}/missing.pth`),
    /missing\.pth: weight file not found/,
  );
  await Deno.remove(dir, { recursive: true });
});
