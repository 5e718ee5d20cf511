// The decode cache: the same pixels as decoding and resizing directly, reuse after an
// interrupted first epoch (a torn last record included), invalidation when a file
// changes, unreadable files remembered with their message, Workers sharing one index,
// and caches of vanished datasets removed.

import assert from "node:assert/strict";
import jpegJs from "npm:jpeg-js@0.4.4";
import {
  type Batch,
  Compose,
  DataLoader,
  DecodedCache,
  DecodeError,
  decodeImage,
  ImageFolder,
  Normalize,
  RandomHorizontalFlip,
  RandomResizedCrop,
  Resize,
  Rng,
  ToTensor,
} from "../../data/mod.ts";
import type { Image } from "../../data/image.ts";
import { FIXTURES } from "./fixtures.ts";

/** A JPEG of w x h with a smooth pattern (so resizing has something to do). */
function jpeg(w: number, h: number, seed: number): Uint8Array {
  const rng = Rng.mixed(seed);
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    const x = i % w, y = Math.floor(i / w);
    data.set([(x * 7 + seed * 40) & 255, (y * 5) & 255, rng.int(0, 256), 255], i * 4);
  }
  return jpegJs.encode({ width: w, height: h, data }, 90).data;
}

/** Two class folders of JPEGs of various sizes; returns the folder path. */
function makeFolder(count = 8): string {
  const dir = Deno.makeTempDirSync({ prefix: "decoded-cache-test-" });
  for (const c of ["a", "b"]) Deno.mkdirSync(`${dir}/${c}`);
  for (let i = 0; i < count; i++) {
    const [w, h] = [[60, 45], [30, 52], [20, 18], [41, 41]][i % 4];
    Deno.writeFileSync(`${dir}/${i % 2 ? "b" : "a"}/${i}.jpg`, jpeg(w, h, i));
  }
  return dir;
}

/** The reference: decode, then torchvision's Resize(shortSide) unless already small enough. */
function direct(folder: ImageFolder, i: number, shortSide: number): Image {
  const img = decodeImage(Deno.readFileSync(`${folder.root}/${folder.files[i]}`));
  if (Math.min(img.width, img.height) <= shortSide) return img;
  return new Resize({ size: shortSide }).apply(img, Rng.mixed(0)) as Image;
}

function shardFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("shard-"));
}

Deno.test("cached images are the decoded files resized to the stored short side", async () => {
  const dir = makeFolder(), root = Deno.makeTempDirSync();
  try {
    const folder = new ImageFolder(dir);
    for (let pass = 0; pass < 2; pass++) { // pass 0 decodes, pass 1 reads the shards
      using cache = await DecodedCache.open(folder, { root, shortSide: 24 });
      for (let i = 0; i < folder.length; i++) {
        const got = cache.get(i), want = direct(folder, i, 24);
        assert.deepEqual([got.image.width, got.image.height], [want.width, want.height]);
        assert.deepEqual(got.image.data, want.data, `sample ${i}, pass ${pass}`);
        assert.equal(got.label, folder.targets[i]);
      }
      assert.equal(cache.decoded, pass === 0 ? folder.length : 0);
    }
    // the 20x18 image is below the short side and kept as decoded
    using cache = await DecodedCache.open(folder, { root, shortSide: 24 });
    assert.equal(cache.get(folder.files.indexOf("a/2.jpg")).image.width, 20);
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("an interrupted first epoch is resumed: complete records reused, a torn one redone", async () => {
  const dir = makeFolder(), root = Deno.makeTempDirSync();
  try {
    const folder = new ImageFolder(dir);
    let cacheDir: string;
    {
      using cache = await DecodedCache.open(folder, { root, shortSide: 24 });
      for (let i = 0; i < 5; i++) cache.get(i);
      cacheDir = cache.dir;
    }
    // a kill in the middle of the fifth record's pixels
    const [shard] = shardFiles(cacheDir);
    const size = Deno.statSync(`${cacheDir}/${shard}`).size;
    Deno.truncateSync(`${cacheDir}/${shard}`, size - 100);
    using cache = await DecodedCache.open(folder, { root, shortSide: 24 });
    assert.equal(cache.stored, 4);
    for (let i = 0; i < folder.length; i++) {
      assert.deepEqual(cache.get(i).image.data, direct(folder, i, 24).data, `sample ${i}`);
    }
    assert.equal(cache.decoded, folder.length - 4, "only the missing ones were decoded");
    assert.equal(shardFiles(cacheDir).length, 2, "the resumed session wrote a shard of its own");
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a changed file invalidates the cache", async () => {
  const dir = makeFolder(), root = Deno.makeTempDirSync();
  try {
    let folder = new ImageFolder(dir);
    {
      using cache = await DecodedCache.open(folder, { root, shortSide: 24 });
      for (let i = 0; i < folder.length; i++) cache.get(i);
    }
    Deno.writeFileSync(`${dir}/${folder.files[3]}`, jpeg(33, 47, 99));
    folder = new ImageFolder(dir);
    using cache = await DecodedCache.open(folder, { root, shortSide: 24 });
    assert.equal(cache.stored, 0, "every entry dropped");
    const got = cache.get(3).image, want = direct(folder, 3, 24);
    assert.deepEqual([got.width, got.height], [24, 34]);
    assert.deepEqual(got.data, want.data);
    // another stored size is another cache
    using other = await DecodedCache.open(folder, { root, shortSide: 30 });
    assert.notEqual(other.dir, cache.dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("an unreadable file is decoded once and reported with its message every epoch", async () => {
  const dir = Deno.makeTempDirSync(), root = Deno.makeTempDirSync();
  try {
    const jpg = Deno.readFileSync(`${FIXTURES}jpeg/baseline.jpg`);
    for (const rel of ["a/1.jpg", "a/2.jpg", "b/3.jpg", "b/4.jpg"]) {
      Deno.mkdirSync(`${dir}/${rel[0]}`, { recursive: true });
      Deno.writeFileSync(`${dir}/${rel}`, jpg);
    }
    const bad = jpg.slice();
    bad.fill(0, 200, 400); // passes the scan, fails the decode
    Deno.writeFileSync(`${dir}/b/3.jpg`, bad);
    const folder = new ImageFolder(dir);
    let message = "";
    try {
      folder.get(2);
    } catch (e) {
      message = (e as DecodeError).message;
    }
    assert.match(message, /b\/3\.jpg/);
    for (const numWorkers of [0, 1]) {
      using cache = await DecodedCache.open(folder, { root, shortSide: 16 });
      const warnings: string[] = [];
      const loader = new DataLoader(cache, {
        batchSize: 4,
        numWorkers,
        warn: (m) => warnings.push(m),
      });
      for (let epoch = 0; epoch < 2; epoch++) {
        const bs: Batch[] = [];
        for await (const b of loader) bs.push(b);
        assert.deepEqual(Array.from(bs[0].indices), [0, 1, 3]);
      }
      assert.equal(warnings.length, 2);
      for (const [e, w] of warnings.entries()) {
        assert.ok(w.includes(`in epoch ${e}:\n  ${message}`), w);
      }
      // the second run reads the failure from the cache instead of decoding the file
      assert.throws(() => cache.get(2), (e) => e instanceof DecodeError && e.message === message);
      assert.equal(cache.decoded, numWorkers === 0 ? 4 : 0);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("Workers fill and share one cache; batches equal the main thread's", async () => {
  const dir = makeFolder(12), root = Deno.makeTempDirSync();
  try {
    const folder = new ImageFolder(dir);
    const transform = new Compose([
      new RandomResizedCrop({ size: 16 }),
      new RandomHorizontalFlip(),
      new ToTensor(),
      new Normalize({ preset: "imagenet" }),
    ]);
    const run = async (numWorkers: number, epochs: number) => {
      using cache = await DecodedCache.open(folder, { root, shortSide: 24 });
      const loader = new DataLoader(cache, {
        batchSize: 5,
        shuffle: true,
        transform,
        numWorkers,
        persistentWorkers: true,
      });
      const out: Batch[][] = [];
      try {
        for (let e = 0; e < epochs; e++) {
          const bs: Batch[] = [];
          for await (const b of loader) bs.push(b);
          out.push(bs);
        }
      } finally {
        loader.close();
      }
      return { out, stored: cache.stored, decoded: cache.decoded, dir: cache.dir };
    };
    const workers = await run(2, 2); // fills the cache in the Workers, then reads it
    assert.equal(workers.stored, folder.length);
    assert.equal(workers.decoded, 0, "the main thread decoded nothing");
    Deno.removeSync(workers.dir, { recursive: true });
    const main = await run(0, 2);
    assert.equal(main.decoded, folder.length, "decoded once, in the first epoch");
    for (let e = 0; e < 2; e++) {
      main.out[e].forEach((b, k) => {
        assert.deepEqual(workers.out[e][k].indices, b.indices);
        assert.deepEqual(workers.out[e][k].pixels, b.pixels, `epoch ${e} batch ${k}`);
      });
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("the cache of a dataset that no longer exists is removed by the next open", async () => {
  const gone = makeFolder(2), kept = makeFolder(2), root = Deno.makeTempDirSync();
  try {
    let goneDir: string;
    {
      using cache = await DecodedCache.open(new ImageFolder(gone), { root, shortSide: 24 });
      cache.get(0);
      goneDir = cache.dir;
    }
    Deno.removeSync(gone, { recursive: true });
    using _ = await DecodedCache.open(new ImageFolder(kept), { root, shortSide: 24 });
    assert.throws(() => Deno.statSync(goneDir), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(kept, { recursive: true });
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("a cache that cannot be written warns once and still gives the decoded images", async () => {
  const dir = makeFolder(4), root = Deno.makeTempDirSync();
  const warn = console.warn, warnings: string[] = [];
  console.warn = (m: string) => warnings.push(m);
  try {
    const folder = new ImageFolder(dir);
    using cache = await DecodedCache.open(folder, { root, shortSide: 24 });
    Deno.removeSync(cache.dir, { recursive: true }); // no directory to create a shard in
    for (let i = 0; i < folder.length; i++) {
      assert.deepEqual(cache.get(i).image.data, direct(folder, i, 24).data);
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /decode cache .*cannot write .*decoded every epoch/);
    assert.equal(cache.stored, 0);
  } finally {
    console.warn = warn;
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(root, { recursive: true });
  }
});
