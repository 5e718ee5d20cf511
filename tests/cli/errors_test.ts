// The error paths of the CLI: each gives one clear line naming the flag or file, a non-zero
// exit code, and leaves no run directory behind.

import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";
import { hostTensor } from "../../nn/io/host_tensor.ts";
import { encodeSafetensors } from "../../nn/io/safetensors.ts";
import { writeImageFolder } from "../train/tiny_data.ts";
import { moduleTempDir } from "../temp_dir.ts";

await initGpu();
const tmp = await moduleTempDir("cli_errors_test_");
const data = await writeImageFolder(`${tmp}/ok`, { classes: ["a", "b"], perClass: 4, size: 16 });
const out = `${tmp}/runs`;
const TINY = ["--image-size", "16", "--keep-stages", "1", "--batch-size", "4", "--epochs", "1"];

async function cli(...argv: string[]) {
  const io = memoryIO();
  const code = await runCli(argv, io);
  return { code, text: io.text(), errors: io.errors.join("\n") };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs train with `args`, expecting failure with `pattern` and no run directory. */
async function failsTrain(pattern: RegExp, ...args: string[]) {
  const name = `fail-${crypto.randomUUID().slice(0, 8)}`;
  const r = await cli("train", ...TINY, "--out", out, "--name", name, ...args);
  assert.notEqual(r.code, 0, r.text);
  assert.match(r.errors, pattern);
  assert.ok(r.errors.startsWith("error: "), r.errors);
  assert.ok(!exists(`${out}/${name}`), "no run directory is left behind");
}

Deno.test("CLI errors: bad flags and values", async () => {
  await failsTrain(
    /unknown option --epoch \(did you mean --epochs\?\)/,
    "--data",
    data,
    "--epoch",
    "2",
  );
  await failsTrain(/--lr: expected a number, got "fast"/, "--data", data, "--lr", "fast");
  await failsTrain(
    /--optimizer: "rmsprop" is not one of sgd, adam, adamw/,
    "--data",
    data,
    "--optimizer",
    "rmsprop",
  );
  await failsTrain(/--lr must be > 0/, "--data", data, "--lr", "0");
  await failsTrain(/--keep-stages must be between 1 and 4/, "--data", data, "--keep-stages", "5");
  await failsTrain(
    /--freeze-epochs must be between 1 and --epochs - 1/,
    "--data",
    data,
    "--weights",
    "x",
    "--strategy",
    "freeze-unfreeze",
  );
  await failsTrain(
    /--strategy feature-extract freezes the backbone, which only makes sense with pretrained --weights/,
    "--data",
    data,
    "--strategy",
    "feature-extract",
  );
  await failsTrain(
    /--nesterov must be used with --optimizer sgd/,
    "--data",
    data,
    "--nesterov",
    "--optimizer",
    "adam",
  );
  await failsTrain(/without --data, train runs the embedded default experiment/, "--lr", "0.1");
  const r = await cli("nonsense");
  assert.equal(r.code, 2);
  assert.match(r.errors, /unknown command 'nonsense'/);
  const help = await cli("train", "--help");
  assert.equal(help.code, 0);
  assert.match(help.text, /--head-lr-mult N/);
  assert.match(help.text, /--recipe hotdog\|cifar10\|fashion/);
  for (const cmd of ["eval", "predict", "info", "bench"]) {
    const h = await cli(cmd, "--help");
    assert.equal(h.code, 0, cmd);
    assert.match(h.text, new RegExp(`^${cmd}: `));
  }
});

Deno.test("CLI errors: missing or unusable data", async () => {
  await failsTrain(/--data: ".*nowhere" does not exist/, "--data", `${tmp}/nowhere`);
  const one = await writeImageFolder(`${tmp}/one`, { classes: ["only"], perClass: 2 });
  await failsTrain(/only one class folder \("only"\).*at least two/, "--data", one);
  const empty = await writeImageFolder(`${tmp}/empty`, { classes: ["a", "b"], perClass: 2 });
  await Deno.mkdir(`${empty}/c`);
  await failsTrain(/class folder ".*\/empty\/c" holds no readable/, "--data", empty);
  await Deno.writeTextFile(`${empty}/c/readme.txt`, "no images here");
  await failsTrain(/class folder ".*\/c" holds no readable/, "--data", empty);
  await failsTrain(/--classes: no class "zebra"/, "--data", data, "--classes", "a,zebra");
  await failsTrain(/a classifier needs at least two classes/, "--data", data, "--classes", "a");
  await failsTrain(
    /--per-class 6: classes "a" \(\d\), "b" \(\d\) have fewer training images/,
    "--data",
    data,
    "--per-class",
    "6",
  );
  await Deno.writeTextFile(`${tmp}/notes.txt`, "hello");
  await failsTrain(
    /--data: ".*notes\.txt" is a file of a kind this tool does not read/,
    "--data",
    `${tmp}/notes.txt`,
  );
});

Deno.test("CLI errors: weights that are missing or do not fit", async () => {
  await failsTrain(
    /--weights: .*missing\.pth: weight file not found/,
    "--data",
    data,
    "--weights",
    `${tmp}/missing.pth`,
  );
  const alien = `${tmp}/alien.safetensors`;
  await Deno.writeFile(
    alien,
    encodeSafetensors(
      new Map([["features.0.weight", hostTensor("f32", [2], new Float32Array(2))]]),
    ),
  );
  await failsTrain(
    /--weights: .*alien\.safetensors does not fit ResNet18: missing \d+ tensors .*is it a ResNet18 state dict/,
    "--data",
    data,
    "--weights",
    alien,
  );
  // a 3-channel network's weights into a 1-channel model
  const ok = await cli(
    "train",
    "--data",
    data,
    ...TINY,
    "--out",
    out,
    "--name",
    "rgb",
    "--strategy",
    "scratch",
  );
  assert.equal(ok.code, 0, ok.text);
  await failsTrain(
    /conv1\.weight is \[64,3,7,7\] in the file but \[64,1,7,7\] in the model \(the stem's input channels differ/,
    "--data",
    data,
    "--weights",
    `${out}/rgb/best.safetensors`,
    "--in-channels",
    "1",
  );
  await Deno.writeTextFile(`${tmp}/junk.pth`, "not a zip at all");
  await failsTrain(/--weights: .*junk\.pth/, "--data", data, "--weights", `${tmp}/junk.pth`);

  // resume: finished runs, settings that cannot change, missing runs
  let r = await cli("train", "--resume", `${out}/rgb`);
  assert.equal(r.code, 2);
  assert.match(r.errors, /already finished 1 epoch\(s\); pass --epochs N \(> 1\)/);
  r = await cli("train", "--resume", `${out}/rgb`, "--epochs", "2", "--lr", "0.5");
  assert.match(r.errors, /--lr cannot be changed when resuming/);
  r = await cli("train", "--resume", `${tmp}/no-run`);
  assert.match(r.errors, /--resume: ".*no-run" does not exist/);
  // an existing run directory is not overwritten
  r = await cli(
    "train",
    "--data",
    data,
    ...TINY,
    "--out",
    out,
    "--name",
    "rgb",
    "--strategy",
    "scratch",
  );
  assert.equal(r.code, 2);
  assert.match(r.errors, /run directory .*rgb already exists/);

  // eval / predict
  r = await cli("eval");
  assert.match(r.errors, /--checkpoint FILE is required/);
  r = await cli("eval", "--checkpoint", `${tmp}/none.safetensors`);
  assert.equal(r.code, 1);
  assert.match(r.errors, /none\.safetensors: checkpoint file not found/);
  r = await cli("eval", "--checkpoint", alien);
  assert.match(r.errors, /alien\.safetensors: is a safetensors file but not a checkpoint/);
  r = await cli("predict", "--checkpoint", `${out}/rgb/best.safetensors`, `${tmp}/nope.png`);
  assert.equal(r.code, 1);
  assert.match(r.errors, /nope\.png: image file not found; check the path/);
  r = await cli("predict", "--checkpoint", `${out}/rgb/best.safetensors`, `${tmp}/notes.txt`);
  assert.equal(r.code, 1);
  assert.match(r.errors, /notes\.txt/);
  r = await cli("predict", "--checkpoint", `${out}/rgb/best.safetensors`);
  assert.match(r.errors, /give at least one image file/);
});
