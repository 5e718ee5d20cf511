import assert from "node:assert/strict";
import {
  ArrayImageDataset,
  type Batch,
  byteToFloatTable,
  Compose,
  DataLoader,
  ImageFolder,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  RandomResizedCrop,
  Rng,
  splitTensorTail,
  subsetByClasses,
  ToTensor,
} from "../../data/mod.ts";
import { FIXTURES } from "./fixtures.ts";

/** 20 images of 4x4x1 whose pixels all equal their index, labels index % 3. */
function tinyDataset(n = 20): ArrayImageDataset {
  const pixels = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) pixels.fill(i, i * 16, (i + 1) * 16);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  return ArrayImageDataset.shared(pixels, labels, {
    width: 4,
    height: 4,
    channels: 1,
    classes: ["a", "b", "c"],
  });
}

async function collect(loader: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader) out.push(b);
  return out;
}

const order = (bs: Batch[]) => bs.flatMap((b) => Array.from(b.indices));

Deno.test("batches: NCHW floats, labels, sizes, dropLast", async () => {
  const ds = tinyDataset();
  const bs = await collect(new DataLoader(ds, { batchSize: 6 }));
  assert.deepEqual(bs.map((b) => b.shape[0]), [6, 6, 6, 2]);
  assert.deepEqual(bs[0].shape, [6, 1, 4, 4]);
  assert.equal(bs[0].images.length, 6 * 16);
  assert.equal(bs[1].images[16], Math.fround(7 / 255)); // sample 7, default ToTensor scaling
  assert.deepEqual(Array.from(bs[1].labels), [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(order(bs), Array.from({ length: 20 }, (_, i) => i));
  const dropped = new DataLoader(ds, { batchSize: 6, dropLast: true });
  assert.equal(dropped.length, 3);
  assert.deepEqual((await collect(dropped)).map((b) => b.shape[0]), [6, 6, 6]);
});

Deno.test("shuffle: a permutation, different each epoch, reproducible from the seed", async () => {
  const ds = tinyDataset();
  const a = new DataLoader(ds, { batchSize: 5, shuffle: true, seed: 9 });
  const e0 = order(await collect(a)), e1 = order(await collect(a));
  assert.deepEqual([...e0].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
  assert.notDeepEqual(e0, e1);
  const b = new DataLoader(ds, { batchSize: 5, shuffle: true, seed: 9 });
  assert.deepEqual(order(await collect(b)), e0);
  assert.deepEqual(order(await collect(b)), e1);
  assert.notDeepEqual(
    order(await collect(new DataLoader(ds, { batchSize: 5, shuffle: true, seed: 10 }))),
    e0,
  );
});

Deno.test("workers give exactly the batches of the main thread (shuffle + random augmentation)", async () => {
  const ds = tinyDataset(37);
  const transform = new Compose([
    new RandomCrop({ size: 4, padding: 1 }),
    new RandomHorizontalFlip(),
    new ToTensor(),
    new Normalize({ mean: [0.5], std: [0.25] }),
  ]);
  const opts = { batchSize: 8, shuffle: true, seed: 3, transform };
  const main = await collect(new DataLoader(ds, opts));
  for (const numWorkers of [1, 2]) {
    const loader = new DataLoader(ds, { ...opts, numWorkers, prefetch: 1 });
    const got = await collect(loader);
    assert.equal(got.length, main.length);
    got.forEach((b, k) => {
      assert.deepEqual(b.indices, main[k].indices);
      assert.deepEqual(b.labels, main[k].labels);
      assert.deepEqual(b.images, main[k].images);
    });
  }
});

Deno.test("persistent workers serve several epochs; a subset of an ImageFolder zip rebuilds in a worker", async () => {
  const folder = new ImageFolder(`${FIXTURES}hotdog_mini.zip`, { split: "train", warn: () => {} });
  const ds = subsetByClasses(folder, ["not-hotdog", "hotdog"]);
  const transform = new Compose([
    new RandomResizedCrop({ size: 8 }),
    new ToTensor(),
    new Normalize({ preset: "imagenet" }),
  ]);
  const loader = new DataLoader(ds, {
    batchSize: 2,
    shuffle: true,
    seed: 1,
    transform,
    numWorkers: 2,
    persistentWorkers: true,
  });
  try {
    for (let epoch = 0; epoch < 2; epoch++) {
      const bs = await collect(loader);
      assert.equal(bs.reduce((n, b) => n + b.shape[0], 0), 5);
      assert.deepEqual(bs[0].shape.slice(1), [3, 8, 8]);
      for (const b of bs) {
        for (let i = 0; i < b.shape[0]; i++) assert.equal(b.labels[i], ds.targets[b.indices[i]]);
      }
    }
  } finally {
    loader.close();
  }
});

Deno.test("a file that breaks after the scan is skipped and reported once per epoch, in workers too", async () => {
  const dir = Deno.makeTempDirSync();
  const jpg = Deno.readFileSync(`${FIXTURES}jpeg/baseline.jpg`);
  for (
    const [rel, data] of [["a/1.jpg", jpg], ["a/2.jpg", jpg], ["b/3.jpg", jpg], [
      "b/4.jpg",
      jpg,
    ]] as const
  ) {
    Deno.mkdirSync(`${dir}/${rel[0]}`, { recursive: true });
    Deno.writeFileSync(`${dir}/${rel}`, data);
  }
  const ds = new ImageFolder(dir);
  const bad = jpg.slice();
  bad.fill(0, 200, 400); // header and end intact, entropy data wrecked
  Deno.writeFileSync(`${dir}/b/3.jpg`, bad);
  for (const numWorkers of [0, 1]) {
    const warnings: string[] = [];
    const loader = new DataLoader(ds, { batchSize: 4, numWorkers, warn: (m) => warnings.push(m) });
    const bs = await collect(loader);
    assert.equal(bs[0].shape[0], 3);
    assert.deepEqual(Array.from(bs[0].indices), [0, 1, 3]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /skipped 1 unreadable sample in epoch 0:\n {2}.*b\/3\.jpg/);
    assert.equal(loader.skipped.length, 1);
  }
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("an error in a worker rejects the iteration instead of hanging", async () => {
  const ds = tinyDataset();
  // A crop larger than the 4x4 images throws inside the worker.
  const transform = new Compose([new RandomCrop({ size: 8 }), new ToTensor()]);
  const loader = new DataLoader(ds, { batchSize: 4, transform, numWorkers: 2 });
  await assert.rejects(
    collect(loader),
    /DataLoader worker \d: RangeError: RandomCrop: crop 8x8 is larger/,
  );
  // Same in the main thread, without the worker prefix.
  await assert.rejects(
    collect(new DataLoader(ds, { batchSize: 4, transform })),
    /RandomCrop: crop 8x8/,
  );
});

Deno.test("a dataset that cannot be rebuilt in the worker rejects too", async () => {
  const folder = new ImageFolder(`${FIXTURES}hotdog_mini.zip`, { split: "train", warn: () => {} });
  // Point the spec at a zip that does not exist: the worker fails on its first read.
  const broken = Object.assign(Object.create(Object.getPrototypeOf(folder)), folder, {
    root: `${FIXTURES}missing.zip`,
  });
  const loader = new DataLoader(broken, { batchSize: 2, numWorkers: 1 });
  await assert.rejects(collect(loader), /DataLoader worker 0: NotFound.*missing\.zip/);
});

Deno.test("breaking out of an epoch stops the workers; the next epoch starts cleanly", async () => {
  const ds = tinyDataset();
  const loader = new DataLoader(ds, { batchSize: 2, numWorkers: 2, shuffle: true });
  for await (const _ of loader) break;
  const bs = await collect(loader);
  assert.equal(bs.length, 10);
});

Deno.test("a trailing ToTensor/Normalize is deferred: uint8 NHWC pixels, the same floats on read", async () => {
  const ds = tinyDataset(10);
  const transform = new Compose([
    new RandomCrop({ size: 3, padding: 1 }),
    new RandomHorizontalFlip(),
    new ToTensor(),
    new Normalize({ mean: [0.5], std: [0.25] }),
  ]);
  for (const numWorkers of [0, 1]) {
    const opts = { batchSize: 4, shuffle: true, transform, numWorkers };
    const floats = await collect(new DataLoader(ds, { ...opts, deferTensor: false }));
    const bytes = await collect(new DataLoader(ds, opts));
    assert.equal(floats[0].pixels, undefined);
    bytes.forEach((b, k) => {
      assert.ok(b.pixels instanceof Uint8Array);
      assert.equal(b.pixels.length, b.shape[0] * 9);
      assert.equal(b.pixels.buffer.byteLength % 4, 0, "padded for an upload");
      assert.deepEqual(b.images, floats[k].images, `batch ${k}, ${numWorkers} workers`);
    });
  }
});

Deno.test("splitTensorTail finds the deferrable float tail, or refuses", () => {
  const crop = new RandomCrop({ size: 3 }), norm = new Normalize({ preset: "cifar10" });
  const split = splitTensorTail(new Compose([crop, new ToTensor(), norm]));
  assert.equal(split?.pixels, crop);
  assert.equal(split?.normalize, norm);
  assert.deepEqual(splitTensorTail(null), { pixels: null, normalize: null });
  assert.deepEqual(splitTensorTail(new ToTensor()), { pixels: null, normalize: null });
  assert.equal(splitTensorTail(new Compose([crop]))?.pixels, crop); // the loader's implicit ToTensor
  assert.equal(splitTensorTail(new Compose([new ToTensor(), norm, norm])), null);
  assert.equal(splitTensorTail(new Compose([new Compose([new ToTensor()]), norm])), null);
});

Deno.test("byteToFloatTable holds what ToTensor then Normalize give each byte", () => {
  const norm = new Normalize({ preset: "imagenet" });
  const table = byteToFloatTable(3, norm);
  const img = {
    width: 256,
    height: 1,
    channels: 3,
    data: Uint8Array.from({ length: 768 }, (_, i) => Math.floor(i / 3)),
  };
  const t = norm.apply(new ToTensor().apply(img, Rng.mixed(0)), Rng.mixed(0));
  assert.deepEqual(table, t.data); // plane c holds bytes 0..255 in order: table[c * 256 + v]
});
