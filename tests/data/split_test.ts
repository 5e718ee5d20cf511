// stratifiedSplit: every class held out in proportion (round(n_c x fraction), at least one,
// never the whole class), the two parts disjoint and covering the dataset, the same split for
// the same seed and another for another seed.

import assert from "node:assert/strict";
import { ArrayImageDataset, stratifiedSplit } from "../../data/mod.ts";

/** Imbalanced labels: 50 of class 0, 20 of class 1, 3 of class 2, 1 of class 3, shuffled. */
function dataset(): ArrayImageDataset {
  const labels = [...Array(50).fill(0), ...Array(20).fill(1), 0, 2, 2, 3, 2, ...Array(9).fill(0)];
  return new ArrayImageDataset(new Uint8Array(labels.length), Int32Array.from(labels), {
    width: 1,
    height: 1,
    channels: 1,
    classes: ["a", "b", "c", "d"],
  });
}

const count = (targets: Int32Array, c: number) => targets.filter((t) => t === c).length;

Deno.test("stratifiedSplit: each class in proportion, disjoint, covering, in dataset order", () => {
  const ds = dataset();
  const [kept, held] = stratifiedSplit(ds, 0.1, 0);
  // class sizes 60, 20, 3, 1: round(6) = 6, round(2) = 2, max(1, round(0.3)) = 1, none of 1
  assert.deepEqual([0, 1, 2, 3].map((c) => count(held.targets, c)), [6, 2, 1, 0]);
  assert.deepEqual([0, 1, 2, 3].map((c) => count(kept.targets, c)), [54, 18, 2, 1]);
  const all = [...kept.indices, ...held.indices].sort((a, b) => a - b);
  assert.deepEqual(all, [...Array(ds.length).keys()]);
  for (const part of [kept, held]) {
    assert.ok(part.indices.every((v, i) => i === 0 || v > part.indices[i - 1]), "sorted");
    part.indices.forEach((v, i) => assert.equal(part.targets[i], ds.targets[v]));
  }
});

Deno.test("stratifiedSplit: the same seed gives the same split, another seed another", () => {
  const ds = dataset();
  const [, a] = stratifiedSplit(ds, 0.2, 7);
  const [, b] = stratifiedSplit(dataset(), 0.2, 7);
  const [, c] = stratifiedSplit(ds, 0.2, 8);
  assert.deepEqual(a.indices, b.indices);
  assert.notDeepEqual(a.indices, c.indices);
  assert.deepEqual(a.targets.filter((t) => t === 0).length, 12);
  assert.throws(() => stratifiedSplit(ds, 0, 1), /fraction must be in \(0, 1\)/);
});
