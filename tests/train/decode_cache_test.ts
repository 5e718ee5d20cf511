// How training assembles the decode cache: one cache per folder and stored size (a
// --val-split's train and test subsets keep their indices and labels), the stored sizes
// per augmentation, and --no-cache.

import assert from "node:assert/strict";
import { DecodedCache, Subset } from "../../data/mod.ts";
import { cacheDecoded, openData, storedShortSide } from "../../train/data.ts";
import { recipeConfig } from "../../train/recipes.ts";
import { writeImageFolder } from "./tiny_data.ts";

Deno.test("stored short side: 1.15 x size for resized-crop, the first resize's size otherwise", () => {
  const c = { ...recipeConfig(undefined), imageSize: 224, evalResize: 256 };
  assert.equal(storedShortSide({ ...c, augment: "resized-crop" }, true), 258);
  assert.equal(storedShortSide({ ...c, augment: "flip" }, true), 224);
  assert.equal(storedShortSide({ ...c, augment: "resized-crop" }, false), 256);
  assert.equal(storedShortSide({ ...c, evalResize: 0 }, false), 224);
});

Deno.test("a --test-split folder gets a train and a test cache; --no-cache leaves the files", async () => {
  const dir = await writeImageFolder(await Deno.makeTempDir(), { perClass: 5, size: 20 });
  const root = await Deno.makeTempDir();
  Deno.env.set("WEBGPU_RESNET_DECODE_CACHE", root);
  try {
    const config = {
      ...recipeConfig(undefined),
      data: dir,
      imageSize: 16,
      augment: "resized-crop" as const,
      evalResize: 16,
      testSplit: 0.3,
      valSplit: 0,
    };
    const files = openData(config, 3);
    const { data, close } = await cacheDecoded(files, config);
    try {
      for (const [ds, raw, side] of [[data.train, files.train, 18], [data.test, files.test, 16]]) {
        assert.ok(ds instanceof Subset && raw instanceof Subset);
        assert.ok(ds.base instanceof DecodedCache);
        assert.equal((ds.base as DecodedCache).shortSide, side);
        assert.deepEqual(ds.indices, raw.indices);
        assert.deepEqual(ds.targets, raw.targets);
        const a = ds.get(0).image, b = raw.get(0).image;
        assert.deepEqual([a.width, a.height], [side, side]); // 20x20 shrunk
        assert.ok(b.width === 20);
      }
      assert.equal([...Deno.readDirSync(root)].length, 2);
    } finally {
      close();
    }
    const off = await cacheDecoded(files, { ...config, cache: false });
    assert.equal(off.data.train, files.train);
  } finally {
    Deno.env.delete("WEBGPU_RESNET_DECODE_CACHE");
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(root, { recursive: true });
  }
});
