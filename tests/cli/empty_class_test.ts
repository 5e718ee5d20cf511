// `train --classes` and an empty class folder; the run directory's list of skipped images.

import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";
import { writeImageFolder } from "../train/tiny_data.ts";
import { moduleTempDir } from "../temp_dir.ts";

await initGpu();
const tmp = await moduleTempDir("empty_class_test_");
const data = await writeImageFolder(`${tmp}/shapes`, { classes: ["a", "b", "c"], perClass: 4 });
await Deno.mkdir(`${data}/empty`);
const TINY = ["--image-size", "16", "--keep-stages", "1", "--batch-size", "4", "--epochs", "1"];

async function train(name: string, ...extra: string[]) {
  const io = memoryIO();
  const code = await runCli(
    ["train", "--data", data, ...TINY, "--out", `${tmp}/runs`, "--name", name, ...extra],
    io,
  );
  return { code, io, text: io.text() };
}

Deno.test("an empty class folder: refused without --classes, ignored when --classes leaves it out, a clear error when --classes names it", async () => {
  const all = await train("all");
  assert.equal(all.code, 2, all.text);
  assert.match(
    all.io.errors.join("\n"),
    /--data: ImageFolder: class folder ".*shapes\/empty" holds no readable .jpg\/.jpeg\/.png images; add images, remove the folder, or leave it out by naming the classes to train with --classes$/,
  );

  const picked = await train("picked", "--classes", "a,c");
  assert.equal(picked.code, 0, picked.text);
  assert.match(picked.text, /of 2 classes/);

  const named = await train("named", "--classes", "a,empty");
  assert.equal(named.code, 2, named.text);
  assert.match(
    named.io.errors.join("\n"),
    /--classes: class "empty" of ".*shapes" has no readable training images; add .* to its folder or leave it out of --classes/,
  );
});

Deno.test("train writes every skipped image to skipped_images.txt in the run directory and says so", async () => {
  const broken = await writeImageFolder(`${tmp}/broken`, { classes: ["a", "b"], perClass: 4 });
  for (let i = 0; i < 12; i++) await Deno.writeFile(`${broken}/b/bad${i}.png`, new Uint8Array(0));
  const io = memoryIO();
  const code = await runCli(
    ["train", "--data", broken, ...TINY, "--out", `${tmp}/runs`, "--name", "skips"],
    io,
  );
  assert.equal(code, 0, io.text());
  const list = `${tmp}/runs/skips/skipped_images.txt`;
  assert.match(
    io.errors.join("\n"),
    new RegExp(`all 12 skipped image file\\(s\\) are listed in ${list}`),
  );
  const rows = (await Deno.readTextFile(list)).trim().split("\n");
  assert.equal(rows.length, 12);
  assert.ok(rows.every((r) => /^b\/bad\d+\.png\tthe file is empty/.test(r)), rows.join("\n"));
});
