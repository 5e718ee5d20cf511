// Loader throughput (images/s), printed not asserted:
// Each figure is a second (warm) epoch.
// - the 224x224 training pipeline: decode JPEG + RandomResizedCrop + flip + normalize,
//   from an ImageFolder of synthetic 500x375 JPEGs, with 0, 1 and 2 Workers;
// - CIFAR-10-like 32x32: RandomCrop(padding 4) + flip + normalize, 0, 1 and 2 Workers.
// Run: deno run -A bench/data.ts [--images N]

import jpegJs from "jpeg-js";
import {
  ArrayImageDataset,
  Compose,
  DataLoader,
  type Dataset,
  ImageFolder,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  RandomResizedCrop,
  Rng,
  ToTensor,
  type Transform,
} from "../data/mod.ts";

export interface DataBenchResult {
  pipeline: string;
  numWorkers: number;
  images: number;
  seconds: number;
  imagesPerSecond: number;
}

/** A smooth colour field with noise, so the JPEG has realistic entropy. */
function syntheticPhoto(width: number, height: number, rng: Rng): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  const fx = rng.uniform(0.01, 0.05), fy = rng.uniform(0.01, 0.05), ph = rng.uniform(0, 6);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const n = rng.int(0, 24);
      rgba[o] = 120 + 90 * Math.sin(x * fx + ph) + n;
      rgba[o + 1] = 120 + 90 * Math.cos(y * fy - ph) + n;
      rgba[o + 2] = 120 + 60 * Math.sin((x + y) * fx * 0.5) + n;
      rgba[o + 3] = 255;
    }
  }
  return rgba;
}

/** Writes `count` JPEGs (500x375, quality 85) into two class folders under a temp dir. */
export function makeJpegFolder(count: number, seed = 0): string {
  const dir = Deno.makeTempDirSync({ prefix: "data-bench-" });
  const rng = new Rng(seed);
  for (const cls of ["a", "b"]) Deno.mkdirSync(`${dir}/${cls}`);
  for (let i = 0; i < count; i++) {
    const w = 500, h = 375;
    const jpg = jpegJs.encode({ width: w, height: h, data: syntheticPhoto(w, h, rng) }, 85).data;
    Deno.writeFileSync(`${dir}/${i % 2 ? "b" : "a"}/${i}.jpg`, jpg);
  }
  return dir;
}

/** Times the second epoch of a persistent loader: the first pays Worker start-up and JIT warm-up. */
async function timeLoader(
  dataset: Dataset,
  transform: Transform,
  batchSize: number,
  numWorkers: number,
  pipeline: string,
): Promise<DataBenchResult> {
  const loader = new DataLoader(dataset, {
    batchSize,
    shuffle: true,
    seed: 1,
    transform,
    numWorkers,
    persistentWorkers: true,
  });
  try {
    for await (const _ of loader) { /* warm-up epoch */ }
    const t0 = performance.now();
    let images = 0;
    for await (const b of loader) images += b.shape[0];
    const seconds = (performance.now() - t0) / 1000;
    return { pipeline, numWorkers, images, seconds, imagesPerSecond: images / seconds };
  } finally {
    loader.close();
  }
}

export async function benchData(
  opts: { jpegImages?: number; cifarImages?: number; workers?: number[] } = {},
): Promise<DataBenchResult[]> {
  const workers = opts.workers ?? [0, 1, 2];
  const results: DataBenchResult[] = [];
  const dir = makeJpegFolder(opts.jpegImages ?? 96);
  try {
    const folder = new ImageFolder(dir);
    const train224 = new Compose([
      new RandomResizedCrop({ size: 224 }),
      new RandomHorizontalFlip(),
      new ToTensor(),
      new Normalize({ preset: "imagenet" }),
    ]);
    for (const nw of workers) {
      results.push(await timeLoader(folder, train224, 32, nw, "jpeg 500x375 -> 224 rrc+flip+norm"));
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  const n = opts.cifarImages ?? 10000;
  const rng = new Rng(2);
  const pixels = new Uint8Array(n * 32 * 32 * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.nextU32() & 255;
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  const cifar = ArrayImageDataset.shared(pixels, labels, {
    width: 32,
    height: 32,
    channels: 3,
    classes: "0123456789".split(""),
  });
  const train32 = new Compose([
    new RandomCrop({ size: 32, padding: 4 }),
    new RandomHorizontalFlip(),
    new ToTensor(),
    new Normalize({ preset: "cifar10" }),
  ]);
  for (const nw of workers) {
    results.push(await timeLoader(cifar, train32, 128, nw, "cifar 32x32 crop+flip+norm"));
  }
  return results;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--images");
  const jpegImages = i >= 0 ? Number(Deno.args[i + 1]) : undefined;
  console.log(`data loader throughput (${navigator.hardwareConcurrency} CPUs)`);
  for (const r of await benchData({ jpegImages })) {
    console.log(
      `${r.pipeline.padEnd(36)} workers=${r.numWorkers}  ${
        r.imagesPerSecond.toFixed(0).padStart(7)
      } images/s  (${r.images} in ${r.seconds.toFixed(2)} s)`,
    );
  }
}
