// Opens what --data points at (an image folder, a .zip of one, CIFAR-10, or IDX files) as a
// training, a validation and a test dataset, applying --classes, --test-split, --val-split,
// --per-class and --test-per-class. Every problem is a ConfigError naming the flag.
//
// The splits: a test/ folder (test_batch.bin, t10k files) is the test set, else --test-split
// of the data is held out at random. A val/ folder is the validation set, else --val-split of
// each class of the training data is held out (stratified); both depend only on the files,
// the flags and --seed, so a resumed run gets the same ones.

import {
  ArrayImageDataset,
  type Dataset,
  DatasetError,
  DecodedCache,
  EmptyClassError,
  ImageFolder,
  loadCifar10,
  loadMnist,
  MissingSplitError,
  withDecodedCache,
} from "../data/mod.ts";
import { ConfigError, type TrainConfig } from "./config.ts";
import { defaultEvalResize } from "./resolve.ts";

import type { DataKind, OpenedData } from "./prepared.ts";
import { type RawData, splitData, VAL_FOLDERS } from "./splits.ts";

function stat(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

function listDir(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** Guesses the dataset kind from the path and its contents. */
export function detectKind(path: string): DataKind {
  const info = stat(path);
  if (!info) throw new ConfigError("data", `--data: "${path}" does not exist`);
  const lower = path.toLowerCase();
  if (info.isFile) {
    if (lower.endsWith(".zip")) return "image-folder";
    if (/\.(tar\.gz|tgz|tar)$/.test(lower)) return "cifar10";
    throw new ConfigError(
      "data",
      `--data: "${path}" is a file of a kind this tool does not read; pass a folder of class ` +
        `folders, a .zip of one, a CIFAR-10 binary .tar.gz, or a folder of IDX files`,
    );
  }
  const names = listDir(path);
  if (names.some((n) => /-images-idx3-ubyte(\.gz)?$/.test(n))) return "idx";
  if (
    names.some((n) => /^data_batch_\d\.bin$|^test_batch\.bin$/.test(n)) ||
    names.includes("cifar-10-batches-bin")
  ) {
    return "cifar10";
  }
  return "image-folder";
}

function hasIdxSplit(dir: string, prefix: "train" | "t10k"): boolean {
  return listDir(dir).some((n) => n.startsWith(`${prefix}-images-idx3-ubyte`));
}

/** Wraps data-layer errors so the message says which flag to fix. */
function asDataError(e: unknown): never {
  if (e instanceof ConfigError) throw e;
  if (e instanceof EmptyClassError) {
    throw new ConfigError(
      "data",
      `--data: ${e.message.replace(/, or pass allowEmptyClasses: true$/, "")}, or leave ` +
        `${e.classes.length > 1 ? "them" : "it"} out by naming the classes to train with --classes`,
    );
  }
  if (e instanceof DatasetError || e instanceof Error) {
    throw new ConfigError("data", `--data: ${e.message}`);
  }
  throw e;
}

/** The raw train and (optional) test datasets of a path. */
function openRaw(
  path: string,
  channels: 1 | 3,
  maxPixels: number,
  allowEmptyClasses: boolean,
): RawData {
  const kind = detectKind(path);
  try {
    if (kind === "idx") {
      const hasTrain = hasIdxSplit(path, "train"), hasTest = hasIdxSplit(path, "t10k");
      const train = loadMnist(path, { split: hasTrain ? "train" : "test" });
      const test = hasTrain && hasTest ? loadMnist(path, { split: "test" }) : null;
      return {
        kind,
        train,
        val: null,
        test,
        testName: "t10k files",
        valName: "",
        skipped: [],
        channels: 1,
        knownSize: [train.height, train.width],
      };
    }
    if (kind === "cifar10") {
      const train = loadCifar10(path, { split: "train" });
      // Without test_batch.bin a validation split is made; a test_batch.bin that is there
      // but truncated or corrupt is an error, never silently replaced.
      let test: ArrayImageDataset | null = null;
      try {
        test = loadCifar10(path, { split: "test" });
      } catch (e) {
        if (!(e instanceof MissingSplitError)) throw e;
      }
      return {
        kind,
        train,
        val: null,
        test,
        testName: "test_batch.bin",
        valName: "",
        skipped: [],
        channels: 3,
        knownSize: [32, 32],
      };
    }
    // image folder: with a train/ + test/ and/or val/ layout when it has one
    let train: ImageFolder;
    let test: ImageFolder | null = null, val: ImageFolder | null = null;
    let testName = "", valName = "";
    // an empty class folder is refused unless --classes may leave it out (checked in splitData)
    const options = { channels, maxPixels, allowEmptyClasses };
    try {
      train = new ImageFolder(path, { split: "train", ...options });
      const valFolder = train.splits.find((s) => VAL_FOLDERS.includes(s));
      if (train.splits.includes("test")) {
        test = new ImageFolder(path, { split: "test", ...options });
        testName = "the test/ folder";
      }
      if (valFolder) {
        val = new ImageFolder(path, { split: valFolder, ...options });
        valName = `the ${valFolder}/ folder`;
      }
    } catch (e) {
      if (!(e instanceof DatasetError && /no train\/test folders/.test(e.message))) throw e;
      train = new ImageFolder(path, options);
    }
    const skipped = [train, val, test].flatMap((ds) => ds?.skipped ?? []);
    return { kind, train, val, test, testName, valName, skipped, channels };
  } catch (e) {
    asDataError(e);
  }
}

/** Opens --data with the config's class selection, splits and per-class caps. */
export function openData(config: TrainConfig, imageChannels: 1 | 3 = 3): OpenedData {
  if (!config.data) throw new ConfigError("data", "--data: no dataset given");
  const raw = openRaw(
    config.data,
    imageChannels,
    config.maxImagePixels,
    config.classes.length > 0,
  );
  return splitData(raw, config);
}

/** Where decoded images are cached: the project's .cache/ (WEBGPU_RESNET_DECODE_CACHE overrides). */
export function decodeCacheRoot(): string {
  return Deno.env.get("WEBGPU_RESNET_DECODE_CACHE") ||
    decodeURIComponent(new URL("../.cache", import.meta.url).pathname);
}

/**
 * The shorter side images are stored at: a margin of 1.15 x --image-size for
 * RandomResizedCrop (its crops are taken from the stored image), otherwise exactly the
 * size the pipeline resizes to first, so that Resize becomes a no-op and the result is
 * the same as without the cache.
 */
export function storedShortSide(config: TrainConfig, train: boolean): number {
  if (!train) return config.evalResize || defaultEvalResize(config.imageSize, config.augment);
  return config.augment === "resized-crop" ? Math.round(1.15 * config.imageSize) : config.imageSize;
}

/**
 * Reads the image files of `data` through decode caches (one per folder, split and
 * stored size) unless --no-cache; close() releases their files.
 */
export async function cacheDecoded(
  data: OpenedData,
  config: TrainConfig,
): Promise<{ data: OpenedData; close: () => void }> {
  const opened: DecodedCache[] = [];
  const close = () => opened.forEach((c) => c.close());
  if (config.cache === false || data.kind !== "image-folder") return { data, close };
  // one cache per folder and size (a --val-split train and validation share their folder)
  const open = (shortSide: number) => async (folder: ImageFolder) => {
    const known = opened.find((c) => c.base === folder && c.shortSide === shortSide);
    if (known) return known;
    const cache = await DecodedCache.open(folder, { root: decodeCacheRoot(), shortSide });
    opened.push(cache);
    return cache;
  };
  try {
    const train = await withDecodedCache(data.train, open(storedShortSide(config, true)));
    const evalCache = (ds: Dataset | null) =>
      ds ? withDecodedCache(ds, open(storedShortSide(config, false))) : null;
    const val = await evalCache(data.val);
    const test = await evalCache(data.test);
    return { data: { ...data, train, val, test }, close };
  } catch (e) {
    close();
    throw new ConfigError(
      "cache",
      `--cache: cannot use the decode cache under ${decodeCacheRoot()} (${
        (e as Error).message
      }); ` +
        `pass --no-cache to decode every epoch`,
    );
  }
}
