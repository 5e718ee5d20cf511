// Hostile cases, class 3: inputs are size-checked before memory is taken and none hangs
// (bombs run as child processes under a memory cap, hangs under a time limit); class 4:
// files the tool wrote are validated when read back; class 5: errors name the right thing.

import assert from "node:assert/strict";
import jpegJs from "npm:jpeg-js@0.4.4";
import { unpickle } from "../../nn/io/pickle.ts";
import { readPth } from "../../nn/io/pth.ts";
import { readSafetensors } from "../../nn/io/safetensors.ts";
import { decodeImage } from "../../data/decode.ts";
import { type CheckpointMeta, decodeCheckpoint, encodeCheckpoint } from "../../nn/io/checkpoint.ts";
import { atomicWriteFile } from "../../nn/io/atomic.ts";
import { gpuReady } from "../helpers.ts";
import { encodePng, writeImageFolder } from "../train/tiny_data.ts";
import {
  jpegClaiming,
  jpegWithScans,
  pickleAppends,
  pthWithView,
  safetensorsRaw,
  smallJpeg,
  zip,
} from "./build.ts";
import { arena, child, cli, cliChild, expectCli, ROOT } from "./helpers.ts";

await gpuReady;

const TINY = ["--image-size", "16", "--keep-stages", "1", "--batch-size", "4", "--epochs", "1"];
const GIB = 2 ** 30;
const readChild = (kind: string, path: string) =>
  child(["run", "-A", `${ROOT}tests/hostile/read_child.ts`, kind, path], {
    seconds: 60,
    maxMiB: 400,
  });

Deno.test("hostile 3: a zip entry declaring 1 GiB, or inflating past its declared size, is skipped without inflating it", async () => {
  const a = await arena();
  const png = encodePng(8, 8, new Uint8Array(8 * 8 * 3).fill(90));
  const zeros = new Uint8Array(1 << 20); // 1 MiB of data claiming 1 GiB, and a liar
  const path = `${a.scratch}/bomb.zip`;
  await Deno.writeFile(
    path,
    zip([
      ...["a", "b"].flatMap((c) => [0, 1].map((i) => ({ name: `${c}/${i}.png`, data: png }))),
      { name: "a/huge.png", data: zeros, deflate: true, declaredSize: GIB },
      { name: "b/liar.png", data: new Uint8Array(64 << 20), deflate: true, declaredSize: 1000 },
    ]),
  );
  const r = await readChild("zip-folder", path);
  assert.equal(r.killed, null, `killed for ${r.killed} at ${r.peakMiB} MiB`);
  assert.match(
    r.stdout,
    /skipped 2 unreadable images[\s\S]*declares 1073741824 bytes uncompressed, more than the limit/,
  );
  assert.match(r.stdout, /ok 4 images, 2 skipped/);
  console.log(`    zip bomb: peak ${r.peakMiB} MiB`);
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 3: .pth bombs: an unused 1 GiB entry is never inflated; stride-0 and 2^52 views are refused", async () => {
  const a = await arena();
  const junk = {
    name: "archive/junk",
    data: new Uint8Array(1 << 20),
    deflate: true,
    declaredSize: GIB,
  };
  await Deno.writeFile(`${a.scratch}/junk.pth`, pthWithView(4, [2, 2], [2, 1], [junk]));
  const r = await readChild("weights", `${a.scratch}/junk.pth`);
  assert.equal(r.killed, null, `killed for ${r.killed} at ${r.peakMiB} MiB`);
  assert.match(r.stdout, /^ok 1 tensors/);
  console.log(`    .pth junk entry: peak ${r.peakMiB} MiB`);
  const stride0 = pthWithView(1, [16384, 16384], [0, 0]);
  assert.ok(stride0.length < 2000);
  assert.throws(
    () => readPth(stride0, "s.pth"),
    /expanded or overlapping view of 268435456 elements over storage data\/0 of 1/,
  );
  assert.throws(
    () => readPth(pthWithView(4, [2 ** 26, 2 ** 26], [2 ** 26, 1]), "big.pth"),
    /reaches element \d+ of storage data\/0, which has only 4/,
  );
  assert.throws(
    () => readPth(pthWithView(2 ** 40, [4], [1], [], 16), "count.pth"),
    /storage archive\/data\/0 holds 1099511627776|holds \d+ bytes but the pickle says 1099511627776 elements/,
  );
  // small expanded views are materialised as .contiguous() would
  assert.deepEqual(readPth(pthWithView(2, [3, 2], [0, 1]), "e.pth").get("w")!.shape, [3, 2]);
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 3: a pickle with 300k APPENDS loads without overflowing the stack", () => {
  const list = unpickle(pickleAppends(300_000), { globals: new Map() }) as number[];
  assert.equal(list.length, 300_000);
  assert.equal(list[299_999], 7);
});

Deno.test("hostile 3: a JPEG claiming 8192x8192 with tiny data is refused before decoding and at folder validation", async () => {
  const a = await arena();
  const bomb = jpegClaiming(8192, 8192);
  assert.throws(
    () => decodeImage(bomb, "bomb.jpg"),
    /bomb\.jpg.*claims 8192x8192 pixels but has only \d+ bytes, fewer than the 131072/,
  );
  // no false alarm: a real 512x512 JPEG of one flat colour (the most compressible) decodes
  const flat = new Uint8Array(512 * 512 * 4).fill(128);
  const flatJpeg = new Uint8Array(jpegJs.encode({ width: 512, height: 512, data: flat }, 50).data);
  assert.equal(decodeImage(flatJpeg, "flat.jpg").width, 512);
  // ...nor a flat 2048x2048 PNG at zlib's best (12.3 KB; the bound is 12.2 KB)
  assert.equal(
    decodeImage(encodePng(2048, 2048, new Uint8Array(2048 * 2048 * 3)), "f.png").width,
    2048,
  );
  const data = await writeImageFolder(`${a.scratch}/data`, { perClass: 4, size: 16 });
  await Deno.writeFile(`${data}/cat/bomb.jpg`, bomb);
  const warnings: string[] = [];
  const { ImageFolder } = await import("../../data/image_folder.ts");
  const f = new ImageFolder(data, { warn: (m) => warnings.push(m) });
  assert.equal(f.length, 8);
  assert.match(warnings[0], /skipped 1 unreadable image [\s\S]*bomb\.jpg: claims 8192x8192/);
  // a PNG claiming more than deflate can hold
  const png = encodePng(4, 4, new Uint8Array(48));
  const dv = new DataView(png.buffer);
  dv.setUint32(16, 60000);
  dv.setUint32(20, 60000);
  assert.throws(() => decodeImage(png, "p.png"), /p\.png|PNG/);
  assert.throws(() => decodeImage(png, "p.png", { maxPixels: 2 ** 40 }), /./);
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 3: a JPEG with 3,000 scans is refused at once (no hang)", () => {
  const t0 = performance.now();
  assert.throws(
    () => decodeImage(jpegWithScans(3000), "scans.jpg"),
    /scans\.jpg.*has 3000 scans, more than the limit of 100/,
  );
  assert.ok(performance.now() - t0 < 5000);
  assert.equal(decodeImage(smallJpeg(), "ok.jpg").width, 16);
});

Deno.test("hostile 3: devices, FIFOs and directories as --weights or images get named errors, no hang", async () => {
  const a = await arena();
  const data = await writeImageFolder(`${a.scratch}/data`, { perClass: 4, size: 16 });
  const base = ["train", "--data", data, ...TINY, "--out", `${a.scratch}/runs`, "--name", "x"];
  await expectCli(
    [...base, "--weights", "/dev/zero"],
    2,
    /--weights: \/dev\/zero: the weight file is a character device, not a regular file/,
  );
  await expectCli([...base, "--weights", a.victim], 2, /the weight file is a directory/);
  const fifo = `${a.scratch}/fifo`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const r = await cliChild([...base, "--weights", fifo], { seconds: 30 });
  assert.equal(r.killed, null, "the FIFO made it hang");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /the weight file is a FIFO \(named pipe\), not a regular file/);
  await assert.rejects(Deno.stat(`${a.scratch}/runs`), Deno.errors.NotFound);
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 3: --image-size, --batch-size and --workers have upper bounds checked before anything is written", async () => {
  const a = await arena();
  const data = await writeImageFolder(`${a.scratch}/data`, { perClass: 4, size: 16 });
  const out = `${a.scratch}/runs`;
  const base = ["train", "--data", data, "--keep-stages", "1", "--epochs", "1", "--out", out];
  await expectCli(
    [...base, "--image-size", "100000"],
    2,
    /--image-size 100000: one image's first activation .* exceeds the GPU's largest buffer/,
  );
  await expectCli(
    [...base, "--batch-size", "10000000"],
    2,
    /--batch-size 10000000 at image size 32: .*use at most/,
  );
  await expectCli(
    [...base, "--workers", "64"],
    2,
    /--workers 64: this machine has \d+ CPU cores; use at most/,
  );
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
  await a.assertOutsideUnchanged();
  await a.remove();
});

/** A run to edit: its best checkpoint's tensors and metadata. */
async function trainedCheckpoint(scratch: string) {
  const data = await writeImageFolder(`${scratch}/data`, { perClass: 4, size: 16 });
  const out = `${scratch}/runs`;
  const r = await cli(["train", "--data", data, ...TINY, "--out", out, "--name", "base"]);
  assert.equal(r.code, 0, r.text);
  const path = `${out}/base/best.safetensors`;
  return { data, run: `${out}/base`, path, ckpt: decodeCheckpoint(await Deno.readFile(path)) };
}

Deno.test("hostile 4: an edited checkpoint's metadata is refused field by field", async () => {
  const a = await arena();
  const { path, ckpt, run } = await trainedCheckpoint(a.scratch);
  const meta = ckpt.meta as Record<string, unknown>;
  const edits: [string, (m: Record<string, any>) => void, RegExp][] = [
    ["model removed", (m) => delete m.model, /field "model" must be an object/],
    ["config removed", (m) => delete m.config, /field "config" must be an object/],
    [
      "classes not a list",
      (m) => (m.classes = "cat"),
      /field "classes" must be a list of 2 class names/,
    ],
    ["short class list", (m) => (m.classes = ["cat"]), /field "classes" must be a list of 2/],
    [
      "10^9 classes",
      (m) => (m.model.numClasses = 1e9),
      /field "model\.numClasses" must be an integer in \[2, 100000\]/,
    ],
    [
      "image size 0",
      (m) => (m.config.imageSize = 0),
      /field "config\.imageSize" is invalid: --image-size must be an integer >= 8/,
    ],
    [
      "epoch as a string",
      (m) => (m.epoch = "1"),
      /field "epoch" must be a non-negative integer, got "1"/,
    ],
    ["newer schema", (m) => (m.schema = 99), /field "schema" must be at most 2/],
    [
      "2 input channels",
      (m) => (m.model.inChannels = 2),
      /field "model\.inChannels" must be 1 or 3/,
    ],
    [
      "duplicate classes",
      (m) => (m.classes = ["cat", "cat"]),
      /field "classes" must be a list of distinct names/,
    ],
    [
      "accuracy above 1",
      (m) => (m.best.accuracy = 7),
      /field "best\.accuracy" must be a fraction in \[0, 1\]/,
    ],
    [
      "config.classes not a list",
      (m) => (m.config.classes = 3),
      /field "config\.classes" must be a list/,
    ],
    [
      "kind of another tool",
      (m) => (m.kind = "x"),
      /is a checkpoint, but not one written by 'cli\.ts train'/,
    ],
  ];
  for (const [what, edit, message] of edits) {
    const m = structuredClone(meta);
    edit(m);
    const file = `${a.scratch}/edited.safetensors`;
    await atomicWriteFile(
      file,
      encodeCheckpoint({ tensors: ckpt.tensors, meta: m as CheckpointMeta }),
    );
    const r = await cli(["eval", "--checkpoint", file]);
    assert.equal(r.code, 1, `${what}: ${r.text}`);
    assert.match(r.text, message, what);
    if (what !== "kind of another tool") {
      assert.match(r.text, /the file was edited or damaged/, what);
    }
  }
  // resume of a run whose last checkpoint was edited: refused, metrics history intact
  const csv = await Deno.readTextFile(`${run}/metrics_epoch.csv`);
  const last = decodeCheckpoint(await Deno.readFile(`${run}/last.safetensors`));
  (last.meta as Record<string, unknown>).epoch = "1";
  await atomicWriteFile(`${run}/last.safetensors`, encodeCheckpoint(last));
  await expectCli(["train", "--resume", run, "--epochs", "2"], 1, /--resume: .*field "epoch"/);
  assert.equal(await Deno.readTextFile(`${run}/metrics_epoch.csv`), csv);
  // a head that does not match the class list
  const t = new Map(ckpt.tensors);
  t.delete("model.fc.weight");
  await atomicWriteFile(
    `${a.scratch}/nohead.safetensors`,
    encodeCheckpoint({ tensors: t, meta: meta as CheckpointMeta }),
  );
  await expectCli(
    ["predict", "--checkpoint", `${a.scratch}/nohead.safetensors`, path],
    1,
    /the head fc\.weight is missing but the metadata lists 2 classes/,
  );
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 5: bad safetensors headers, duplicate keys and gaps are reported as safetensors problems", () => {
  const cases: [Uint8Array, RegExp][] = [
    [
      safetensorsRaw("{}", new Uint8Array(0), 2 ** 60),
      /header length 1152921504606846976 exceeds the file/,
    ],
    [safetensorsRaw("[1, 2]    "), /header is not a JSON object/],
    [safetensorsRaw("", new Uint8Array(16), 0), /header is not valid JSON/],
    [
      safetensorsRaw(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        new Uint8Array(4),
      ),
      /header names "a" twice/,
    ],
    [
      safetensorsRaw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)),
      /the data section has a gap: bytes \[0, 4\) before tensor "a"/,
    ],
    [
      safetensorsRaw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(8)),
      /tensors account for 4; the file is corrupt or has trailing data/,
    ],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => readSafetensors(bytes, "w.safetensors"), message);
  }
});

Deno.test("hostile 5: the weight reader reports safetensors problems, not 'not a .pth'", async () => {
  const a = await arena();
  const data = await writeImageFolder(`${a.scratch}/data`, { perClass: 4, size: 16 });
  const w = `${a.scratch}/w.safetensors`;
  await Deno.writeFile(w, safetensorsRaw("{}", new Uint8Array(0), 2 ** 60));
  const base = ["train", "--data", data, ...TINY, "--out", `${a.scratch}/runs`, "--name", "x"];
  const text = await expectCli(
    [...base, "--weights", w],
    2,
    /--weights: .*w\.safetensors: header length/,
  );
  assert.doesNotMatch(text, /not a PyTorch/);
  await a.assertOutsideUnchanged();
  await a.remove();
});

/** A CIFAR-10 binary folder of tiny batches (2 records each). */
async function tinyCifar(dir: string, testBatch: Uint8Array | null) {
  await Deno.mkdir(dir, { recursive: true });
  const record = (label: number) => {
    const r = new Uint8Array(3073).fill(label * 20);
    r[0] = label;
    return r;
  };
  const batch = new Uint8Array(3073 * 4);
  [0, 1, 0, 1].forEach((l, i) => batch.set(record(l), i * 3073));
  for (let i = 1; i <= 5; i++) await Deno.writeFile(`${dir}/data_batch_${i}.bin`, batch);
  if (testBatch) await Deno.writeFile(`${dir}/test_batch.bin`, testBatch);
  return dir;
}

Deno.test("hostile 5: a damaged CIFAR test_batch.bin is an error, never replaced by a split", async () => {
  const a = await arena();
  const args = (
    d: string,
  ) => [
    "train",
    "--data",
    d,
    ...TINY,
    "--classes",
    "airplane,automobile",
    "--out",
    `${a.scratch}/runs`,
  ];
  const cut = await tinyCifar(`${a.scratch}/cut`, new Uint8Array(3073 + 100));
  await expectCli(
    [...args(cut), "--name", "a"],
    2,
    /--data: CIFAR-10: test_batch\.bin .* has 3173 bytes, not a multiple/,
  );
  const label = new Uint8Array(3073);
  label[0] = 42;
  const bad = await tinyCifar(`${a.scratch}/label`, label);
  await expectCli([...args(bad), "--name", "b"], 2, /test_batch\.bin record 0 has label 42 > 9/);
  await assert.rejects(Deno.stat(`${a.scratch}/runs/a`), Deno.errors.NotFound);
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 5: eval names extra classes and bad flags; IDX 0x0 images and a bogus backend are refused", async () => {
  const a = await arena();
  const { path } = await trainedCheckpoint(a.scratch);
  const other = await writeImageFolder(`${a.scratch}/other`, {
    classes: ["cat", "dog", "emu"],
    perClass: 2,
    size: 16,
  });
  await expectCli(
    ["eval", "--checkpoint", path, "--data", other],
    2,
    /--data: the classes of .* differ from the checkpoint's \(cat, dog\); not in the checkpoint: emu/,
  );
  await expectCli(
    ["eval", "--checkpoint", path, "--workers", "-5"],
    2,
    /--workers must be an integer >= 0, got -5/,
  );
  // IDX with 0x0 images
  const idx = `${a.scratch}/idx`;
  await Deno.mkdir(idx);
  const header = (dims: number[]) => {
    const b = new Uint8Array(4 + 4 * dims.length);
    b[2] = 8;
    b[3] = dims.length;
    dims.forEach((d, i) => new DataView(b.buffer).setUint32(4 + 4 * i, d));
    return b;
  };
  await Deno.writeFile(`${idx}/train-images-idx3-ubyte`, header([10, 0, 0]));
  await Deno.writeFile(
    `${idx}/train-labels-idx1-ubyte`,
    new Uint8Array([...header([10]), ...new Array(10).fill(1)]),
  );
  await expectCli(
    ["train", "--data", idx, ...TINY, "--out", `${a.scratch}/runs`, "--name", "i"],
    2,
    /holds 10 images of 0x0 pixels/,
  );
  const r = await cliChild(["info"], { seconds: 60 });
  assert.equal(r.code, 0);
  const env = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli.ts`, "info"],
    env: { DENO_WEBGPU_BACKEND: "bogus", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(env.code, 2);
  assert.match(
    new TextDecoder().decode(env.stderr),
    /DENO_WEBGPU_BACKEND="bogus": unknown WebGPU backend "bogus"/,
  );
  await a.assertOutsideUnchanged();
  await a.remove();
});

Deno.test("hostile 3: gzip output is capped while inflating; a safetensors shape of 2^60 elements is refused", async () => {
  const { gunzip } = await import("../../data/gzip.ts");
  const { gzipSync } = await import("npm:fflate@0.8.3");
  const bomb = gzipSync(new Uint8Array(8 << 20));
  assert.throws(
    () => gunzip(bomb, "x.gz", 1 << 20),
    /x\.gz.*decompresses to more than 1048576 bytes/,
  );
  assert.equal(gunzip(bomb, "x.gz").length, 8 << 20);
  const huge = safetensorsRaw(
    '{"a":{"dtype":"F32","shape":[1073741824,1073741824],"data_offsets":[0,4]}}',
    new Uint8Array(4),
  );
  assert.throws(
    () => readSafetensors(huge, "h.safetensors"),
    /needs \d+ bytes but its data_offsets span 4/,
  );
});

Deno.test("hostile 3: predict refuses a device as an image and honours --max-image-pixels", async () => {
  const a = await arena();
  const { path } = await trainedCheckpoint(a.scratch);
  await expectCli(
    ["predict", "--checkpoint", path, "/dev/zero"],
    1,
    /\/dev\/zero: the image file is a character device/,
  );
  const img = `${a.scratch}/data/cat/0.png`;
  await expectCli(
    ["predict", "--checkpoint", path, "--max-image-pixels", "100", img],
    1,
    /16x16 exceeds the limit of 100 pixels/,
  );
  await expectCli(["predict", "--checkpoint", path, img], 0, /0\.png: (cat|dog) /);
  await a.assertOutsideUnchanged();
  await a.remove();
});
