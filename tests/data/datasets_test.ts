import assert from "node:assert/strict";
import {
  ArchiveError,
  CIFAR10_CLASSES,
  DatasetError,
  ImageFolder,
  loadCifar10,
  loadIdx,
  loadMnist,
  openZipFile,
  randomSplit,
  readTar,
  subsetByClasses,
  subsetPerClass,
  ZipArchive,
} from "../../data/mod.ts";
import { fixture, fixtureRaw, FIXTURES, readFixture } from "./fixtures.ts";

const ZIP = `${FIXTURES}hotdog_mini.zip`;

Deno.test("zip: lists entries and reads stored and deflated ones byte-exactly", () => {
  const z = openZipFile(ZIP);
  const want = fixtureRaw("zip/hotdog_mini") as Record<string, number[]>;
  assert.deepEqual(z.entries.map((e) => e.name).sort(), Object.keys(want).sort());
  for (const [name, head] of Object.entries(want)) {
    assert.deepEqual(Array.from(z.read(name).subarray(0, 16)), head);
  }
  assert.deepEqual(new Set(z.entries.map((e) => e.method)), new Set([0, 8]));
  z.close();
});

Deno.test("zip: a corrupt or truncated archive names the file", () => {
  const bytes = readFixture("hotdog_mini.zip");
  assert.throws(
    () => ZipArchive.fromBytes(bytes.subarray(0, bytes.length - 30), "cut.zip"),
    /cut\.zip.*end-of-central-directory/,
  );
  assert.throws(() => ZipArchive.fromBytes(new Uint8Array(0), "empty.zip"), /empty\.zip.*empty/);
  const z = ZipArchive.fromBytes(bytes.slice(), "flip.zip");
  const e = z.entries.find((x) => x.method === 0 && x.size > 100)!;
  const damaged = bytes.slice();
  damaged[e.localHeaderOffset + 30 + e.name.length + 50] ^= 0xff;
  assert.throws(() => ZipArchive.fromBytes(damaged, "flip.zip").read(e.name), (err: unknown) => {
    assert.ok(err instanceof ArchiveError);
    assert.match(err.message, /flip\.zip:.*CRC mismatch/);
    return true;
  });
});

Deno.test("tar: pax and GNU long names, tar.gz", () => {
  const entries = readTar(readFixture("cifar10_mini.tar.gz"), "c.tar.gz");
  const long = entries.find((e) => e.name.endsWith(".txt") && e.name.length > 100)!;
  assert.equal(long.name, "cifar-10-batches-bin/" + "a_rather_long_file_name_".repeat(5) + ".txt");
  assert.equal(new TextDecoder().decode(long.data), "long names need pax records");
  const gnu = readTar(readFixture("gnu_longname.tar"), "g.tar");
  assert.deepEqual(gnu.map((e) => e.name), ["dir/" + "x".repeat(120) + ".bin", "short.txt"]);
  assert.equal(new TextDecoder().decode(gnu[1].data), "hello");
  const raw = readFixture("gnu_longname.tar");
  assert.throws(() => readTar(raw.subarray(0, 1500), "cut.tar"), /cut\.tar.*truncated/);
});

Deno.test("CIFAR-10 from tar.gz: splits, labels, HWC pixels, class names", () => {
  const train = loadCifar10(`${FIXTURES}cifar10_mini.tar.gz`);
  const test = loadCifar10(`${FIXTURES}cifar10_mini.tar.gz`, { split: "test" });
  assert.equal(train.length, 10);
  assert.equal(test.length, 3);
  assert.deepEqual(Array.from(test.targets), fixtureRaw("cifar/test_labels"));
  assert.deepEqual(test.classes, CIFAR10_CLASSES);
  const s = test.get(1);
  assert.deepEqual([s.image.height, s.image.width, s.image.channels], [32, 32, 3]);
  assert.deepEqual(Array.from(s.image.data), fixture("cifar/test_image1_hwc").data);
  assert.throws(() => loadCifar10(`${FIXTURES}nope.tar.gz`), /does not exist/);
  assert.throws(() => loadCifar10(`${FIXTURES}gnu_longname.tar`), /data_batch_1\.bin.*not found/);
});

Deno.test("CIFAR-10 from an extracted folder", () => {
  const dir = Deno.makeTempDirSync();
  for (const e of readTar(readFixture("cifar10_mini.tar.gz"))) {
    if (e.type === "file" && e.name.endsWith(".bin")) {
      Deno.writeFileSync(`${dir}/${e.name.split("/").pop()}`, e.data);
    }
  }
  assert.equal(loadCifar10(dir, { split: "test" }).length, 3);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("IDX: gzipped images with plain labels", () => {
  const ds = loadIdx(
    `${FIXTURES}idx/train-images-idx3-ubyte.gz`,
    `${FIXTURES}idx/train-labels-idx1-ubyte`,
  );
  assert.equal(ds.length, 5);
  assert.deepEqual(Array.from(ds.targets), fixture("idx/labels").data);
  const s = ds.get(2);
  assert.deepEqual([s.image.height, s.image.width, s.image.channels], [4, 3, 1]);
  assert.deepEqual(Array.from(s.image.data), fixture("idx/images").data.slice(24, 36));
  assert.deepEqual(loadMnist(`${FIXTURES}idx`).classes[0], "0");
});

const FASHION = "/usr/share/datasets/fashion-mnist";
const haveFashion = (() => {
  try {
    return Deno.statSync(FASHION).isDirectory;
  } catch {
    return false;
  }
})();
Deno.test({ name: "Fashion-MNIST (real files, when installed)", ignore: !haveFashion }, () => {
  const test = loadMnist(FASHION, { split: "test" });
  assert.equal(test.length, 10000);
  assert.equal(test.classes[9], "Ankle boot");
  const counts = new Array(10).fill(0);
  for (const l of test.targets) counts[l]++;
  assert.deepEqual(counts, new Array(10).fill(1000));
  assert.deepEqual([test.width, test.height, test.channels], [28, 28, 1]);
});

Deno.test("ImageFolder from the hotdog-like zip: split layout, classes, junk and a broken file", () => {
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  assert.throws(
    () => new ImageFolder(ZIP, { warn }),
    /split layout \(train, test\).*split: "train"/,
  );
  const train = new ImageFolder(ZIP, { split: "train", warn });
  assert.deepEqual(train.classes, ["hotdog", "not-hotdog"]);
  assert.deepEqual(train.files, [
    "hotdog/train/hotdog/1.jpg",
    "hotdog/train/hotdog/2.png",
    "hotdog/train/hotdog/3.jpg",
    "hotdog/train/not-hotdog/10.jpg",
    "hotdog/train/not-hotdog/11.jpg",
  ]);
  assert.deepEqual(Array.from(train.targets), [0, 0, 0, 1, 1]);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /skipped 1 unreadable image of 6 [^\n]*:\n {2}[^\n]*broken\.jpg: truncated JPEG/,
  );
  assert.equal(train.skipped.length, 1);
  const s = train.get(1);
  assert.deepEqual([s.image.width, s.image.height, s.image.channels, s.label], [14, 10, 3, 0]);
  const test = new ImageFolder(ZIP, { split: "test", warn });
  assert.equal(test.length, 2);
  assert.throws(() => new ImageFolder(ZIP, { split: "val", warn }), /no split "val"/);
});

function makeTree(files: Record<string, Uint8Array>): string {
  const dir = Deno.makeTempDirSync();
  for (const [rel, data] of Object.entries(files)) {
    Deno.mkdirSync(`${dir}/${rel.slice(0, rel.lastIndexOf("/"))}`, { recursive: true });
    Deno.writeFileSync(`${dir}/${rel}`, data);
  }
  return dir;
}

Deno.test("ImageFolder on a directory: torchvision order, nested files, errors a person can act on", () => {
  const jpg = readFixture("jpeg/baseline.jpg"), png = readFixture("png/rgb8.png");
  const dir = makeTree({
    "b/z.jpg": jpg,
    "b/sub/a.png": png,
    "b/sub-x/c.JPG": jpg,
    "B/1.png": png,
    "a/x.jpeg": jpg,
    "a/zero.jpg": new Uint8Array(0),
    "a/readme.txt": new TextEncoder().encode("hi"),
    ".hidden/q.jpg": jpg,
  });
  const warnings: string[] = [];
  const ds = new ImageFolder(dir, { warn: (m) => warnings.push(m) });
  assert.deepEqual(ds.classes, ["B", "a", "b"]); // code point order: uppercase first
  // sorted(os.walk(...)): folder "b/sub" sorts before "b/sub-x" (a prefix sorts first).
  assert.deepEqual(ds.files, ["B/1.png", "a/x.jpeg", "b/z.jpg", "b/sub/a.png", "b/sub-x/c.JPG"]);
  assert.match(
    warnings[0],
    /skipped 1 unreadable image of 6[^\n]*:\n {2}[^\n]*zero\.jpg: the file is empty/,
  );
  // A broken file that passed the cheap check still fails loudly, naming it.
  Deno.writeFileSync(`${dir}/b/z.jpg`, jpg.slice(0, 40));
  assert.throws(() => ds.get(2), /b\/z\.jpg/);

  const empty = makeTree({ "cat/1.jpg": jpg, "dog/notes.txt": new Uint8Array(3) });
  Deno.mkdirSync(`${empty}/dog/more`);
  assert.throws(() => new ImageFolder(empty), /class folder ".*dog" holds no readable/);
  assert.equal(new ImageFolder(empty, { allowEmptyClasses: true }).length, 1);
  const one = makeTree({ "cat/1.jpg": jpg });
  assert.throws(() => new ImageFolder(one), /only one class folder \("cat"\).*at least two/);
  assert.throws(() => new ImageFolder(`${one}/cat`), /no class folders/);
  assert.throws(() => new ImageFolder(`${one}/nothing-here`), /does not exist/);
  for (const d of [dir, empty, one]) Deno.removeSync(d, { recursive: true });
});

Deno.test("randomSplit, subsetByClasses and subsetPerClass", () => {
  const ds = loadCifar10(`${FIXTURES}cifar10_mini.tar.gz`);
  const [a, b] = randomSplit(ds, [0.8, 0.2], 1);
  assert.equal(a.length + b.length, 10);
  assert.equal(b.length, 2);
  const all = [...a.indices, ...b.indices].sort((x, y) => x - y);
  assert.deepEqual(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(randomSplit(ds, [8, 2], 1)[1].indices, b.indices);
  assert.notDeepEqual(
    randomSplit(ds, [0.5, 0.5], 2)[0].indices,
    randomSplit(ds, [0.5, 0.5], 3)[0].indices,
  );
  assert.throws(() => randomSplit(ds, [3, 3], 1), /neither sum/);

  const cats = subsetByClasses(ds, ["cat", "bird"]);
  assert.deepEqual(cats.classes, ["cat", "bird"]);
  for (let i = 0; i < cats.length; i++) {
    const orig = ds.targets[cats.indices[i]];
    assert.equal(cats.get(i).label, orig === 3 ? 0 : 1);
  }
  assert.throws(() => subsetByClasses(ds, ["unicorn"]), /no class "unicorn"/);

  const few = subsetPerClass(ds, 1, 0);
  assert.equal(few.length, 10); // the mini training set has one image per class
  assert.throws(() => subsetPerClass(ds, 2, 0), DatasetError);
});

Deno.test("ImageFolder refuses an empty class folder (a directory with nothing in it)", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const cls of ["a", "b"]) {
      await Deno.mkdir(`${root}/${cls}`);
      await Deno.copyFile(
        new URL("../fixtures/data/png/rgb8.png", import.meta.url),
        `${root}/${cls}/x.png`,
      );
    }
    await Deno.mkdir(`${root}/c`);
    assert.throws(() => new ImageFolder(root), /class folder ".*\/c" holds no readable/);
    assert.deepEqual(new ImageFolder(root, { allowEmptyClasses: true }).classes, ["a", "b", "c"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
