// Loader throughput (images/s), printed not asserted, for the first epoch (decoding, and
// filling the decode cache; Worker start-up included) and the later ones (the median of 3):
// - the 224x224 training pipeline: RandomResizedCrop + flip (ToTensor + Normalize deferred
//   to the GPU) over an ImageFolder of synthetic 500x375 JPEGs through a decode cache at
//   shorter side 258 (1.15 x 224), with 0, 1 and 2 Workers; --no-cache adds the same
//   without the cache (every epoch decodes);
// - CIFAR-10-like 32x32 in memory: RandomCrop(padding 4) + flip, 0, 1 and 2 Workers.
// Run: deno run -A bench/data.ts [--images N] [--no-cache]

import jpegJs from "npm:jpeg-js@0.4.4";
import {
  ArrayImageDataset,
  Compose,
  DataLoader,
  type Dataset,
  DecodedCache,
  ImageFolder,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  RandomResizedCrop,
  Rng,
  ToTensor,
  type Transform,
} from "../data/mod.ts";

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
  const rng = Rng.mixed(seed);
  for (const cls of ["a", "b"]) Deno.mkdirSync(`${dir}/${cls}`);
  for (let i = 0; i < count; i++) {
    const w = 500, h = 375;
    const jpg = jpegJs.encode({ width: w, height: h, data: syntheticPhoto(w, h, rng) }, 85).data;
    Deno.writeFileSync(`${dir}/${i % 2 ? "b" : "a"}/${i}.jpg`, jpg);
  }
  return dir;
}

export interface DataBenchResult {
  pipeline: string;
  numWorkers: number;
  images: number;
  /** The first epoch: decoding (and filling the cache), Worker start-up included. */
  firstEpoch: number;
  /** The median of the later epochs (read from the cache, when there is one). */
  laterEpochs: number;
}

/** img/s of epoch 0 and the median img/s of `later` more epochs of one persistent loader. */
async function timeEpochs(
  dataset: Dataset,
  transform: Transform,
  batchSize: number,
  numWorkers: number,
  pipeline: string,
  later = 3,
): Promise<DataBenchResult> {
  const loader = new DataLoader(dataset, {
    batchSize,
    shuffle: true,
    seed: 1,
    transform,
    numWorkers,
    persistentWorkers: true,
  });
  const epoch = async () => {
    const t0 = performance.now();
    let images = 0;
    for await (const b of loader) images += b.shape[0];
    return { images, rate: images / ((performance.now() - t0) / 1000) };
  };
  try {
    const first = await epoch();
    const rates: number[] = [];
    for (let e = 0; e < later; e++) rates.push((await epoch()).rate);
    rates.sort((a, b) => a - b);
    return {
      pipeline,
      numWorkers,
      images: first.images,
      firstEpoch: first.rate,
      laterEpochs: rates[rates.length >> 1],
    };
  } finally {
    loader.close();
  }
}

export async function benchData(
  opts: { jpegImages?: number; cifarImages?: number; workers?: number[]; noCache?: boolean } = {},
): Promise<DataBenchResult[]> {
  const workers = opts.workers ?? [0, 1, 2];
  const results: DataBenchResult[] = [];
  const dir = makeJpegFolder(opts.jpegImages ?? 128);
  const cacheRoot = Deno.makeTempDirSync({ prefix: "data-bench-cache-" });
  try {
    const folder = new ImageFolder(dir);
    const train224 = new Compose([
      new RandomResizedCrop({ size: 224 }),
      new RandomHorizontalFlip(),
      new ToTensor(),
      new Normalize({ preset: "imagenet" }),
    ]);
    // warm the main thread's JIT (decoder, resampling) so the first run is not penalised
    for (let i = 0; i < 8; i++) train224.apply(folder.get(i).image, Rng.mixed(i));
    for (const nw of workers) {
      // a fresh cache each time, so the first epoch decodes
      Deno.removeSync(cacheRoot, { recursive: true });
      using cache = await DecodedCache.open(folder, { root: cacheRoot, shortSide: 258 });
      results.push(
        await timeEpochs(cache, train224, 32, nw, "jpeg 500x375 -> 224 rrc+flip, cache"),
      );
      if (opts.noCache) {
        results.push(
          await timeEpochs(folder, train224, 32, nw, "jpeg 500x375 -> 224, no cache", 1),
        );
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(cacheRoot, { recursive: true });
  }
  const n = opts.cifarImages ?? 10000;
  const rng = Rng.mixed(2);
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
    results.push(await timeEpochs(cifar, train32, 128, nw, "cifar 32x32 crop+flip (in memory)"));
  }
  return results;
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Number(Deno.args[i + 1]) : undefined;
  };
  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`data loader throughput (${navigator.hardwareConcurrency} CPUs, load ${load})`);
  console.log(`${"pipeline".padEnd(40)} workers  first epoch   later epochs  (images/s)`);
  const results = await benchData({
    jpegImages: arg("--images"),
    noCache: Deno.args.includes("--no-cache"),
  });
  for (const r of results) {
    console.log(
      `${r.pipeline.padEnd(40)} ${String(r.numWorkers).padStart(7)}  ${
        r.firstEpoch.toFixed(0).padStart(11)
      }  ${r.laterEpochs.toFixed(0).padStart(13)}  (${r.images} images)`,
    );
  }
  console.log(`load after: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}
