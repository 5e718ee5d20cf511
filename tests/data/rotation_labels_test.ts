// Rotation labels: turnSquare against numpy.rot90's documented example and against one
// quarter turn written out and repeated; rotationLabelled's samples, labels and class names,
// and its errors on images it cannot turn.

import assert from "node:assert/strict";
import { ArrayImageDataset } from "../../data/array_dataset.ts";
import { rotationClassNames, rotationLabelled, turnSquare } from "../../data/rotation_labels.ts";

const turned = (image: number[], s: number, c: number, k: number) => {
  const out = new Uint8Array(s * s * c);
  turnSquare(Uint8Array.from(image), s, c, k, out, 0);
  return [...out];
};

// one counter-clockwise quarter turn of an s×s HWC image, written out: row y of the result is
// column s-1-y of the image
function quarterTurn(image: number[], s: number, c: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      for (let ch = 0; ch < c; ch++) out.push(image[(x * s + (s - 1 - y)) * c + ch]);
    }
  }
  return out;
}

Deno.test("turnSquare turns as numpy.rot90: [[1,2],[3,4]] -> [[2,4],[1,3]], and k turns are k quarter turns", () => {
  assert.deepEqual(turned([1, 2, 3, 4], 2, 1, 1), [2, 4, 1, 3]);
  assert.deepEqual(turned([1, 2, 3, 4], 2, 1, 2), [4, 3, 2, 1]);
  assert.deepEqual(turned([1, 2, 3, 4], 2, 1, 3), [3, 1, 4, 2]);
  assert.deepEqual(turned([1, 2, 3, 4], 2, 1, 0), [1, 2, 3, 4]);
  // a 5x5 image of 3 channels, every value distinct
  const image = Array.from({ length: 75 }, (_, i) => i);
  let reference = image;
  for (let k = 0; k < 4; k++) {
    assert.deepEqual(turned(image, 5, 3, k), reference, `k=${k}`);
    reference = quarterTurn(reference, 5, 3);
  }
  assert.deepEqual(reference, image); // four quarter turns: back where it started
});

Deno.test("rotationLabelled: sample 4i+k is sample i turned k times, labelled 4 x label + k", () => {
  const s = 3;
  const pixels = Uint8Array.from({ length: 2 * s * s }, (_, i) => 10 + i);
  const ds = new ArrayImageDataset(pixels, Int32Array.from([1, 0]), {
    width: s,
    height: s,
    channels: 1,
    classes: ["a", "b"],
  });
  const r = rotationLabelled(ds, "tiny");
  assert.equal(r.length, 8);
  assert.deepEqual(r.classes, [
    "a (turned 0°)",
    "a (turned 90°)",
    "a (turned 180°)",
    "a (turned 270°)",
    "b (turned 0°)",
    "b (turned 90°)",
    "b (turned 180°)",
    "b (turned 270°)",
  ]);
  assert.deepEqual(r.classes, rotationClassNames(["a", "b"]));
  assert.deepEqual([...r.targets], [4, 5, 6, 7, 0, 1, 2, 3]);
  for (let i = 0; i < 2; i++) {
    let reference = [...pixels.slice(i * s * s, (i + 1) * s * s)];
    for (let k = 0; k < 4; k++) {
      const sample = r.get(4 * i + k);
      assert.deepEqual([...sample.image.data], reference, `sample ${i} turn ${k}`);
      assert.equal(sample.label, 4 * ds.targets[i] + k);
      reference = quarterTurn(reference, s, 1);
    }
  }
  // the pixels live in a SharedArrayBuffer, for the loader's Workers
  const spec = r.spec();
  assert.ok(spec.kind === "array" && spec.pixels.buffer instanceof SharedArrayBuffer);
});

Deno.test("rotationLabelled refuses images it cannot turn, naming the dataset", () => {
  const wide = new ArrayImageDataset(new Uint8Array(6), Int32Array.from([0]), {
    width: 3,
    height: 2,
    channels: 1,
    classes: ["a"],
  });
  assert.throws(
    () => rotationLabelled(wide, "the wide set"),
    /the wide set: .*square images, not 3x2/,
  );
  const empty = new ArrayImageDataset(new Uint8Array(0), new Int32Array(0), {
    width: 2,
    height: 2,
    channels: 1,
    classes: ["a"],
  });
  assert.throws(() => rotationLabelled(empty, "the empty set"), /the empty set: no images/);
  // samples of different sizes (a dataset of decoded files): the one that differs is named
  const mixed = {
    length: 2,
    classes: ["a"],
    targets: Int32Array.from([0, 0]),
    get: (i: number) => ({
      image: { width: 2 + i, height: 2 + i, channels: 1, data: new Uint8Array((2 + i) ** 2) },
      label: 0,
    }),
    spec: () => {
      throw new Error("not used");
    },
  };
  assert.throws(() => rotationLabelled(mixed, "photos"), /photos: sample 1 is 3x3x1, not 2x2x1/);
});
