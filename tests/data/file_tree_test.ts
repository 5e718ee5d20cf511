// Image folder datasets over file trees in memory (what the training page builds from a
// picked folder or zip) against ImageFolder on the same files on disk: same classes, files,
// labels, skipped files and decoded pixels.

import assert from "node:assert/strict";
import { zipSync } from "npm:fflate@0.8.3";
import { ZipArchive } from "../../base/zip.ts";
import { MemoryTree, ZipTree } from "../../data/file_tree.ts";
import { FolderDataset, treeSplits } from "../../data/folder_dataset.ts";
import { ImageFolder } from "../../data/image_folder.ts";
import { DEFAULT_CONFIG } from "../../train/config.ts";
import { openTree, pickedTree } from "../../web/open_data.ts";
import { classImage, encodePng } from "../train/tiny_data.ts";

/** pets/{cat,dog}/i.png, a corrupt one, and junk that must be ignored. */
function petFiles(prefix = "pets/"): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  ["cat", "dog"].forEach((cls, label) => {
    for (let i = 0; i < 3; i++) {
      files[`${prefix}${cls}/${i}.png`] = encodePng(8, 8, classImage(label, i, 8));
    }
  });
  files[`${prefix}dog/bad.png`] = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
  files[`${prefix}dog/.DS_Store`] = new Uint8Array(3);
  files[`${prefix}notes.txt`] = new TextEncoder().encode("not an image");
  return files;
}

/** `a` and `b` hold the same images. */
function sameDataset(a: FolderDataset, b: FolderDataset) {
  assert.deepEqual(a.classes, b.classes);
  assert.deepEqual(a.files, b.files);
  assert.deepEqual(a.targets, b.targets);
  assert.deepEqual(a.skipped, b.skipped);
  for (let i = 0; i < a.length; i++) assert.deepEqual(a.get(i).image, b.get(i).image);
}

Deno.test("a picked folder in memory opens as ImageFolder opens it on disk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = petFiles("");
    for (const [p, bytes] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/pets/${p.split("/").slice(0, -1).join("/")}`, { recursive: true });
      await Deno.writeFile(`${dir}/pets/${p}`, bytes);
    }
    const quiet = { warn: () => {} };
    const onDisk = new ImageFolder(`${dir}/pets`, quiet);
    // <input webkitdirectory> paths start with the picked folder's name: the tree's root
    const picked = Object.entries(petFiles()).map(([path, bytes]) => ({ path, bytes }));
    const inMemory = new FolderDataset(pickedTree(picked), quiet);
    assert.equal(inMemory.source, "memory");
    assert.equal(inMemory.root, "pets");
    sameDataset(inMemory, onDisk);
    assert.deepEqual(inMemory.classes, ["cat", "dog"]);
    assert.equal(inMemory.length, 6);
    assert.deepEqual(inMemory.skipped.map((s) => s.file), ["dog/bad.png"]);
    // messages name the folder once
    const withEmpty = pickedTree([...picked, {
      path: "pets/horse/a.txt",
      bytes: new Uint8Array(1),
    }]);
    assert.throws(() => new FolderDataset(withEmpty, quiet), (e: Error) => {
      assert.match(e.message, /"pets\/horse"/);
      assert.doesNotMatch(e.message, /pets\/pets/);
      return true;
    });
    // files picked without a folder are named as such
    const loose = pickedTree([{ path: "a.png", bytes: new Uint8Array(1) }]);
    assert.equal(loose.root, "the picked files");
    assert.deepEqual(loose.paths, ["a.png"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a zip in memory opens as ImageFolder opens the zip file", async () => {
  const bytes = zipSync(petFiles("archive/"));
  const path = await Deno.makeTempFile({ suffix: ".zip" });
  try {
    await Deno.writeFile(path, bytes);
    const quiet = { warn: () => {} };
    const tree = pickedTree([{ path: "archive.zip", bytes }]);
    assert.ok(tree instanceof ZipTree);
    sameDataset(new FolderDataset(tree, quiet), new ImageFolder(path, quiet));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("openTree splits a picked tree as cli.ts train splits a folder", () => {
  const split: [string, Uint8Array][] = [];
  for (const [p, b] of Object.entries(petFiles("x/train/"))) split.push([p, b]);
  for (const [p, b] of Object.entries(petFiles("x/test/"))) split.push([p, b]);
  const tree = new MemoryTree(split, "x");
  assert.deepEqual(treeSplits(tree), ["train", "test"]);
  const opened = openTree(tree, { ...DEFAULT_CONFIG, valSplit: 0 });
  assert.equal(opened.train.length, 6);
  assert.equal(opened.test!.length, 6);
  assert.equal(opened.val, null);
  assert.equal(opened.testSource, "the test/ folder");
  assert.deepEqual(opened.skipped.map((s) => s.file), [
    "x/train/dog/bad.png",
    "x/test/dog/bad.png",
  ]);
  // the validation split is stratified out of train/, as in the CLI
  const withVal = openTree(tree, { ...DEFAULT_CONFIG, valSplit: 0.34 });
  assert.deepEqual([...withVal.val!.targets], [0, 1]);
  assert.equal(withVal.train.length, 4);

  const flat = new MemoryTree(Object.entries(petFiles()), "pets");
  const config = { ...DEFAULT_CONFIG, testSplit: 0.5, valSplit: 0, seed: 3 };
  const a = openTree(flat, config);
  const b = openTree(flat, config);
  assert.equal(a.train.length + a.test!.length, 6);
  assert.equal(a.test!.length, 3);
  assert.deepEqual(a.test!.targets, b.test!.targets);
  // --classes and --per-class apply as in the CLI
  const few = openTree(tree, { ...DEFAULT_CONFIG, valSplit: 0, perClass: 2 });
  assert.deepEqual([...few.train.targets].sort(), [0, 0, 1, 1]);
  assert.throws(
    () => openTree(tree, { ...DEFAULT_CONFIG, classes: ["cat", "horse"] }),
    /no class "horse"/,
  );
  // an empty class folder is refused, unless --classes leaves it out (as in the CLI)
  const withEmpty = new MemoryTree(
    [...Object.entries(petFiles()), ["pets/horse/readme.txt", new Uint8Array(1)]],
    "pets",
  );
  assert.throws(() => openTree(withEmpty, config), /horse" holds no readable/);
  const left = openTree(withEmpty, { ...config, classes: ["dog", "cat"] });
  assert.deepEqual(left.classes, ["dog", "cat"]);
  assert.equal(left.train.length + left.test!.length, 6);
});

Deno.test("a memory tree refuses a file over the size cap, naming it", () => {
  const tree = new MemoryTree([["a/b.png", new Uint8Array(100)]], "picked");
  assert.throws(() => tree.read("a/b.png", 10), /picked\/a\/b\.png.*100 bytes/);
  assert.throws(() => tree.read("a/none.png", 10), /no such file/);
  assert.ok(!(ZipArchive.fromBytes(zipSync({ "a.txt": new Uint8Array(1) })).has("b")));
});
