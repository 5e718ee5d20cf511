// The uint8 -> f32 input kernel against the CPU path it replaces: ToTensor then Normalize
// on every image (data/transforms/tensor.ts). The kernel looks bytes up in a table that
// holds exactly that arithmetic, so the tolerance is zero (bit-identical), on image sizes
// whose byte counts are not multiples of 4 and in chunks that start mid-word.

import assert from "node:assert/strict";
import {
  ArrayImageDataset,
  byteToFloatTable,
  Compose,
  DataLoader,
  Normalize,
  RandomHorizontalFlip,
  RandomResizedCrop,
  Rng,
  ToTensor,
} from "../../data/mod.ts";
import type { Image } from "../../data/image.ts";
import { batchImages, imagesFromBytes } from "../../nn/ops/normalize.ts";
import { Scope } from "../../nn/tensor.ts";
import { assertClose, gpuReady, withBindingLimits } from "../helpers.ts";

await gpuReady;

function randomImages(n: number, h: number, w: number, c: number, seed: number): Image[] {
  const rng = Rng.mixed(seed);
  return Array.from({ length: n }, () => ({
    width: w,
    height: h,
    channels: c,
    data: Uint8Array.from({ length: h * w * c }, () => rng.int(0, 256)),
  }));
}

/** The f32 path: ToTensor + Normalize per image, stacked NCHW. */
function cpuFloats(images: Image[], normalize: Normalize | null): Float32Array {
  const per = images[0].width * images[0].height * images[0].channels;
  const out = new Float32Array(images.length * per);
  const steps = new Compose(normalize ? [new ToTensor(), normalize] : [new ToTensor()]);
  images.forEach((img, k) => {
    const t = steps.apply({ ...img, data: img.data.slice() }, Rng.mixed(0));
    out.set(t.data as Float32Array, k * per);
  });
  return out;
}

function stackBytes(images: Image[]): Uint8Array {
  const per = images[0].data.length;
  const out = new Uint8Array(images.length * per);
  images.forEach((img, k) => out.set(img.data, k * per));
  return out;
}

async function gpuFloats(images: Image[], normalize: Normalize | null): Promise<Float32Array> {
  using _ = new Scope();
  const { width: w, height: h, channels: c } = images[0];
  const t = imagesFromBytes(
    stackBytes(images),
    [images.length, c, h, w],
    byteToFloatTable(c, normalize),
  );
  return await t.toArray();
}

const CASES: [string, number, number, number, number, Normalize | null][] = [
  ["RGB imagenet, 7x9 (189 bytes an image)", 5, 7, 9, 3, new Normalize({ preset: "imagenet" })],
  ["gray, one mean", 3, 5, 5, 1, new Normalize({ preset: "fashion-mnist" })],
  ["RGB ToTensor only", 2, 4, 6, 3, null],
  ["gray with a 3-channel-free custom mean", 4, 3, 3, 1, new Normalize({ mean: [0.3], std: [2] })],
];

Deno.test("imagesFromBytes is bit-identical to ToTensor + Normalize on the CPU", async () => {
  for (const [what, n, h, w, c, norm] of CASES) {
    const images = randomImages(n, h, w, c, n * 31 + h);
    assertClose(await gpuFloats(images, norm), cpuFloats(images, norm), { atol: 0, rtol: 0, what });
  }
});

Deno.test("imagesFromBytes in chunks that start mid-word (binding limit, alignment 256)", async () => {
  const images = randomImages(9, 13, 17, 3, 5); // 663 bytes, 663 floats (2652 bytes) an image
  const norm = new Normalize({ preset: "imagenet" });
  const whole = await gpuFloats(images, norm);
  const g = await gpuReady;
  const launches = g.counters.launches;
  // two images of floats per binding: five chunks, most starting off a word boundary
  const chunked = await withBindingLimits(
    { maxBindingBytes: 2 * 2652 + 256, storageAlign: 256 },
    () => gpuFloats(images, norm),
  );
  assert.equal(g.counters.launches - launches, 5, "five chunked launches");
  assertClose(chunked, whole, { atol: 0, rtol: 0, what: "chunked" });
  assertClose(chunked, cpuFloats(images, norm), { atol: 0, rtol: 0, what: "chunked vs CPU" });
});

Deno.test("a loader batch of uint8 crops gives the f32 path's floats, on the GPU and on read", async () => {
  const src = randomImages(12, 20, 27, 3, 9);
  const ds = new ArrayImageDataset(stackBytes(src), Int32Array.from(src, (_, i) => i % 2), {
    width: 27,
    height: 20,
    channels: 3,
    classes: ["a", "b"],
  });
  const transform = new Compose([
    new RandomResizedCrop({ size: [11, 13] }),
    new RandomHorizontalFlip(),
    new ToTensor(),
    new Normalize({ preset: "imagenet" }),
  ]);
  const opts = { batchSize: 5, shuffle: true, seed: 3, transform };
  const floats = new DataLoader(ds, { ...opts, deferTensor: false });
  const bytes = new DataLoader(ds, opts);
  const expected = [];
  for await (const b of floats) expected.push(b);
  let k = 0;
  for await (const b of bytes) {
    assert.ok(b.pixels instanceof Uint8Array && b.pixels.length === 5 * 11 * 13 * 3 || k === 2);
    using _ = new Scope();
    const onGpu = await batchImages(b).toArray();
    assertClose(onGpu, expected[k].images, { atol: 0, rtol: 0, what: `batch ${k} on the GPU` });
    assertClose(b.images, expected[k].images, { atol: 0, rtol: 0, what: `batch ${k} on read` });
    k++;
  }
  assert.equal(k, 3);
});

Deno.test("imagesFromBytes refuses bytes or a table that do not fit the shape", () => {
  const t = byteToFloatTable(3, null);
  assert.throws(() => imagesFromBytes(new Uint8Array(10), [1, 3, 2, 2], t), /10 bytes do not fill/);
  assert.throws(() => imagesFromBytes(new Uint8Array(12), [1, 3, 2, 2], t.subarray(0, 256)), /256/);
});
