// `predict` on folders and on bad files, and `eval`'s progress display: a tiny run trained
// in-process (16x16 PNGs, ResNet18 cut to its first stage), then predictions from it.

import assert from "node:assert/strict";
import { initGpu } from "../../kernels/device.ts";
import { memoryIO } from "../../cli/io.ts";
import { runCli } from "../../cli/main.ts";
import { memorySink } from "../../train/progress_bar.ts";
import { writeImageFolder } from "../train/tiny_data.ts";
import { moduleTempDir } from "../temp_dir.ts";

await initGpu();
const tmp = await moduleTempDir("predict_test_");
const data = await writeImageFolder(`${tmp}/shapes`, { classes: ["a", "b"], perClass: 6 });
const TINY = ["--image-size", "16", "--keep-stages", "1", "--batch-size", "4"];

async function cli(argv: string[], terminal = false) {
  const io = { ...memoryIO(), sink: memorySink(terminal) };
  const code = await runCli(argv, io);
  return { code, io, text: io.text(), progress: io.sink.text() };
}

const trained = await cli([
  "train",
  "--data",
  data,
  ...TINY,
  "--epochs",
  "1",
  "--out",
  `${tmp}/runs`,
]);
assert.equal(trained.code, 0, trained.text);
const run = trained.text.match(/results in (\S+)/)![1];
const checkpoint = `${run}/best.safetensors`;

// a folder to predict: images in nested folders, one corrupt, one unsupported, one non-image
const photos = `${tmp}/photos`;
await Deno.mkdir(`${photos}/z/deeper`, { recursive: true });
await Deno.mkdir(`${photos}/b`, { recursive: true });
await Deno.copyFile(`${data}/a/0.png`, `${photos}/z/deeper/1.png`);
await Deno.copyFile(`${data}/b/0.png`, `${photos}/b/2.png`);
await Deno.copyFile(`${data}/a/1.png`, `${photos}/A.png`);
await Deno.writeFile(`${photos}/b/broken.png`, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2]));
await Deno.writeTextFile(`${photos}/b/scan.bmp`, "BM not really");
await Deno.writeTextFile(`${photos}/notes.txt`, "not an image, not a suffix predict takes");

Deno.test("predict FOLDER: its images recursively in sorted order; bad ones reported, the rest predicted, exit 1", async () => {
  const r = await cli(["predict", "--checkpoint", checkpoint, "--json", photos]);
  assert.equal(r.code, 1, r.text);
  const rows = r.io.lines.map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((p) => p.file.slice(photos.length + 1)), [
    "A.png",
    "b/2.png",
    "b/broken.png",
    "b/scan.bmp",
    "z/deeper/1.png",
  ]);
  for (const p of rows) {
    if (/broken|scan/.test(p.file)) assert.ok(p.error && !p.top, JSON.stringify(p));
    else assert.equal(p.top.length, 2);
  }
  assert.match(r.io.errors.join("\n"), /broken\.png: not predicted: .*broken\.png/);
  assert.match(r.io.errors.join("\n"), /scan\.bmp: not predicted: /);
  assert.match(r.io.errors.at(-1)!, /2 of 5 file\(s\) could not be read/);
});

Deno.test("predict: one bad file among good ones does not abort; text output, exit 1", async () => {
  const good = `${photos}/A.png`;
  const r = await cli([
    "predict",
    "--checkpoint",
    checkpoint,
    good,
    `${tmp}/missing.png`,
    `${photos}/b/broken.png`,
    `${photos}/b/2.png`,
  ]);
  assert.equal(r.code, 1, r.text);
  assert.deepEqual(r.io.lines.map((l) => l.split(":")[0]), [good, `${photos}/b/2.png`]);
  assert.match(r.io.errors[0], /missing\.png: not predicted: .*not found/);
  assert.match(r.io.errors[1], /broken\.png: not predicted/);
  const ok = await cli(["predict", "--checkpoint", checkpoint, good]);
  assert.equal(ok.code, 0, ok.text);
});

Deno.test("predict: a folder without images is a usage error naming it", async () => {
  await Deno.mkdir(`${tmp}/empty`);
  const r = await cli(["predict", "--checkpoint", checkpoint, `${tmp}/empty`]);
  assert.equal(r.code, 2);
  assert.match(r.io.errors.join("\n"), /the folder .*empty holds no image files/);
});

Deno.test("eval shows a progress bar over its batches on a terminal", async () => {
  const r = await cli(["eval", "--checkpoint", checkpoint, "--batch-size", "1"], true);
  assert.equal(r.code, 0, r.text);
  assert.match(r.progress, /\revaluating {2}\[#+-*\] {2}1\/\d+/);
  assert.ok(r.progress.endsWith("\r\x1b[K"), "the bar is cleared before the results");
});
