import assert from "node:assert/strict";
import {
  ArrayImageDataset,
  balancedSampleWeights,
  type Batch,
  Compose,
  DataLoader,
  RandomCrop,
  ToTensor,
  WeightedRandomSampler,
} from "../../data/mod.ts";
import { classCounts } from "../../data/weighted_sampler.ts";

/** n 4x4 gray images, pixel (y, x) of image i = 16·(i % 8) + 4y + x, with the given labels. */
function dataset(labels: number[], classes = 3): ArrayImageDataset {
  const n = labels.length;
  const pixels = new Uint8Array(n * 16);
  for (let i = 0; i < n; i++) for (let p = 0; p < 16; p++) pixels[i * 16 + p] = 16 * (i % 8) + p;
  return ArrayImageDataset.shared(pixels, Int32Array.from(labels), {
    width: 4,
    height: 4,
    channels: 1,
    classes: Array.from({ length: classes }, (_, c) => `c${c}`),
  });
}

// 900 / 90 / 10: an imbalance of 90 to 1
const LABELS = [...new Array(900).fill(0), ...new Array(90).fill(1), ...new Array(10).fill(2)];

Deno.test("balanced sampler: classes drawn equally often over many draws, samples of a class uniformly", () => {
  const weights = balancedSampleWeights(LABELS, 3);
  const sampler = new WeightedRandomSampler(weights, LABELS.length, 3);
  const epochs = 200, draws = epochs * LABELS.length; // 200,000 draws
  const perClass = [0, 0, 0];
  const perSample = new Array(LABELS.length).fill(0);
  for (let e = 0; e < epochs; e++) {
    for (const i of sampler.order(e)) {
      perClass[LABELS[i]]++;
      perSample[i]++;
    }
  }
  // a class's share is binomial: sd = sqrt(p(1-p)/N) = 0.0011 for p = 1/3, N = 200,000;
  // ±0.01 is 9 sd (no false failures) while the unbalanced shares would be 0.90/0.09/0.01
  for (const n of perClass) {
    assert.ok(Math.abs(n / draws - 1 / 3) < 0.01, `class shares ${perClass.map((c) => c / draws)}`);
  }
  // class 2's 10 images: 6,667 draws each expected, sd ~ 80; ±10% is over 8 sd
  for (let i = 990; i < 1000; i++) {
    assert.ok(Math.abs(perSample[i] / (draws / 30) - 1) < 0.1, `sample ${i}: ${perSample[i]}`);
  }
});

Deno.test("WeightedRandomSampler: deterministic by seed and epoch, zero weights never drawn, bad weights refused", () => {
  const w = [1, 0, 3, 0, 2];
  const a = new WeightedRandomSampler(w, 1000, 7), b = new WeightedRandomSampler(w, 1000, 7);
  assert.deepEqual(a.order(4), b.order(4), "same seed and epoch: the same draws");
  assert.deepEqual(a.order(4), a.order(4), "an epoch can be rebuilt");
  assert.notDeepEqual(a.order(4), a.order(5), "another epoch, other draws");
  assert.notDeepEqual(a.order(4), new WeightedRandomSampler(w, 1000, 8).order(4));
  const counts = classCounts(a.order(0), 5);
  assert.equal(counts[1] + counts[3], 0, "zero-weight indices are never drawn");
  // shares 1/6, 3/6, 2/6 (sd ~0.015 for 1000 draws; ±0.06 is 4 sd)
  [[0, 1 / 6], [2, 3 / 6], [4, 2 / 6]].forEach(([i, p]) =>
    assert.ok(Math.abs(counts[i] / 1000 - p) < 0.06, `index ${i}: ${counts[i]}`)
  );
  assert.throws(() => new WeightedRandomSampler([1, -1], 5), /weight 1 is -1/);
  assert.throws(() => new WeightedRandomSampler([1, NaN], 5), /weight 1 is NaN/);
  assert.throws(() => new WeightedRandomSampler([0, 0], 5), /sum to 0/);
  assert.throws(() => new WeightedRandomSampler([1], 0), /positive integer/);
});

const order = (bs: Batch[]) => bs.flatMap((b) => Array.from(b.indices));
async function epoch(loader: DataLoader, e: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.run(e)) out.push(b);
  return out;
}

Deno.test("DataLoader with a sampler: its order, an epoch of sampler.length, the same in workers and after a restart", async () => {
  const labels = [...new Array(12).fill(0), 1, 1, 2, 2]; // 16 samples
  const ds = dataset(labels);
  const transform = new Compose([new RandomCrop({ size: 4, padding: 1 }), new ToTensor()]);
  const sampler = () => new WeightedRandomSampler(balancedSampleWeights(labels, 3), 16, 5);
  const options = { batchSize: 5, seed: 1, transform, sampler: sampler() };
  const loader = new DataLoader(ds, options);
  assert.equal(loader.length, 4, "16 draws in batches of 5");
  const e2 = await epoch(loader, 2);
  assert.deepEqual(order(e2), Array.from(sampler().order(2)));
  // a fresh loader (a resumed process) rebuilds epoch 2 exactly, pixels included
  const again = await epoch(new DataLoader(ds, { ...options, sampler: sampler() }), 2);
  assert.deepEqual(again.map((b) => [...b.images]), e2.map((b) => [...b.images]));
  // Workers give the same batches
  const inWorkers = new DataLoader(ds, { ...options, numWorkers: 2 });
  const w2 = await epoch(inWorkers, 2);
  assert.deepEqual(w2.map((b) => [...b.indices]), e2.map((b) => [...b.indices]));
  assert.deepEqual(w2.map((b) => [...b.images]), e2.map((b) => [...b.images]));
  assert.throws(
    () => new DataLoader(ds, { sampler: sampler(), shuffle: true }),
    /sampler and shuffle cannot be used together/,
  );
});

Deno.test("a sample drawn twice in an epoch is augmented anew; the first draw keeps the plain seed", async () => {
  const ds = dataset([0, 1]);
  const transform = new Compose([new RandomCrop({ size: 4, padding: 2 }), new ToTensor()]);
  // always index 1: 40 copies in one epoch
  const copies = await epoch(
    new DataLoader(ds, {
      batchSize: 40,
      seed: 3,
      transform,
      sampler: new WeightedRandomSampler([0, 1], 40, 0),
    }),
    0,
  );
  const images = Array.from({ length: 40 }, (_, k) => copies[0].images.slice(k * 16, (k + 1) * 16));
  const distinct = new Set(images.map((im) => im.join(",")));
  assert.ok(distinct.size > 10, `40 copies gave only ${distinct.size} different crops`);
  // the first copy equals what the loader gives index 1 in the same epoch without a sampler
  const plain = await epoch(new DataLoader(ds, { batchSize: 2, seed: 3, transform }), 0);
  assert.deepEqual([...images[0]], [...plain[0].images.slice(16, 32)]);
});
