// Opens what --data points at (an image folder, a .zip of one, CIFAR-10, or IDX files) as a
// training and a test dataset, applying --classes, --val-split, --per-class and
// --test-per-class. Every problem is a ConfigError naming the flag.

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
  randomSplit,
  type SkippedFile,
  subsetByClasses,
  subsetPerClass,
  withDecodedCache,
} from "../data/mod.ts";
import { ConfigError, type TrainConfig } from "./config.ts";

/** What --data turned out to be: a folder (or .zip) of class folders, CIFAR-10, or IDX files. */
export type DataKind = "image-folder" | "cifar10" | "idx";

/**
 * The data of a run, opened: training and test sets with the class selection and splits applied.
 */
export interface OpenedData {
  /** What kind of data it is. */
  kind: DataKind;
  /** The training samples. */
  train: Dataset;
  /** The test samples (the data's test split, or a held-out part of the training data). */
  test: Dataset;
  /** Class names in label order. */
  classes: string[];
  /** Channels the images decode to. */
  channels: 1 | 3;
  /** Size of every image when fixed (CIFAR, IDX). */
  knownSize?: [number, number];
  /** Where the test data came from, for the log. */
  testSource: string;
  /** Image files left out because they could not be read (paths relative to the data). */
  skipped: SkippedFile[];
}

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
): Omit<OpenedData, "classes" | "test" | "testSource"> & {
  test: Dataset | null;
  testName: string;
} {
  const kind = detectKind(path);
  try {
    if (kind === "idx") {
      const hasTrain = hasIdxSplit(path, "train"), hasTest = hasIdxSplit(path, "t10k");
      const train = loadMnist(path, { split: hasTrain ? "train" : "test" });
      const test = hasTrain && hasTest ? loadMnist(path, { split: "test" }) : null;
      return {
        kind,
        train,
        test,
        testName: "t10k files",
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
        test,
        testName: "test_batch.bin",
        skipped: [],
        channels: 3,
        knownSize: [32, 32],
      };
    }
    // image folder: with a train/test (or val) layout when it has one
    let train: ImageFolder;
    let test: ImageFolder | null = null;
    let testName = "";
    // an empty class folder is refused unless --classes may leave it out (checked in openData)
    const options = { channels, maxPixels, allowEmptyClasses };
    try {
      train = new ImageFolder(path, { split: "train", ...options });
      const other = train.splits.find((s) => s !== "train")!;
      test = new ImageFolder(path, { split: other, ...options });
      testName = `the ${other}/ folder`;
    } catch (e) {
      if (!(e instanceof DatasetError && /no train\/test folders/.test(e.message))) throw e;
      train = new ImageFolder(path, options);
    }
    const skipped = [...train.skipped, ...(test?.skipped ?? [])];
    return { kind, train, test, testName, skipped, channels };
  } catch (e) {
    asDataError(e);
  }
}

/** Opens --data with the config's class selection, splits and per-class caps. */
export function openData(config: TrainConfig, imageChannels: 1 | 3 = 3): OpenedData {
  if (!config.data) throw new ConfigError("data", "--data: no dataset given");
  const raw = openRaw(config.data, imageChannels, config.maxImagePixels, config.classes.length > 0);
  let train: Dataset = raw.train;
  let test: Dataset | null = raw.test;
  if (test && test.classes.join("\n") !== train.classes.join("\n")) {
    throw new ConfigError(
      "data",
      `--data: the train and test splits of "${config.data}" have different classes ` +
        `(train: ${train.classes.join(", ")}; test: ${test.classes.join(", ")})`,
    );
  }
  if (config.classes.length > 0) {
    const unknown = config.classes.filter((c) => !train.classes.includes(c));
    if (unknown.length) {
      throw new ConfigError(
        "classes",
        `--classes: no class ${unknown.map((c) => `"${c}"`).join(", ")} in "${config.data}" ` +
          `(classes: ${train.classes.join(", ")})`,
      );
    }
    if (new Set(config.classes).size !== config.classes.length) {
      throw new ConfigError("classes", `--classes: a class is listed twice`);
    }
    train = subsetByClasses(train, config.classes);
    if (test) test = subsetByClasses(test, config.classes);
  }
  const classes = [...train.classes];
  if (classes.length < 2) {
    throw new ConfigError(
      "classes",
      `a classifier needs at least two classes; "${config.data}" gives ${classes.length} ` +
        `(${classes.join(", ")})`,
    );
  }
  let testSource = raw.testName;
  if (!test) {
    const [a, b] = randomSplit(train, [1 - config.valSplit, config.valSplit], config.seed);
    train = a;
    test = b;
    testSource = `a random ${
      Math.round(config.valSplit * 100)
    }% of the data, held out from training (--val-split)`;
  }
  const counts = countPerClass(train);
  const empty = classes.filter((_, k) => counts[k] === 0);
  if (empty.length) {
    const named = `class${empty.length > 1 ? "es" : ""} ${empty.map((c) => `"${c}"`).join(", ")}`;
    const have = `ha${empty.length > 1 ? "ve" : "s"}`;
    throw config.classes.length > 0
      ? new ConfigError(
        "classes",
        `--classes: ${named} of "${config.data}" ${have} no readable training images; ` +
          `add .jpg/.jpeg/.png images to ${empty.length > 1 ? "their folders" : "its folder"} ` +
          `or leave ${empty.length > 1 ? "them" : "it"} out of --classes`,
      )
      : new ConfigError("data", `--data: ${named} of "${config.data}" ${have} no training images`);
  }
  if (config.perClass > 0) {
    const few = classes.filter((_, k) => counts[k] < config.perClass);
    if (few.length) {
      throw new ConfigError(
        "perClass",
        `--per-class ${config.perClass}: class${few.length > 1 ? "es" : ""} ` +
          `${few.map((c) => `"${c}" (${counts[classes.indexOf(c)]})`).join(", ")} ha${
            few.length > 1 ? "ve" : "s"
          } fewer training images`,
      );
    }
    train = subsetPerClass(train, config.perClass, config.seed);
  }
  if (config.testPerClass > 0) {
    test = subsetPerClass(test, config.testPerClass, config.seed + 1, true);
    testSource += `, at most ${config.testPerClass} per class (--test-per-class)`;
  }
  if (test.length === 0) {
    throw new ConfigError(
      "valSplit",
      `the test set is empty; raise --val-split or add test images`,
    );
  }
  return {
    kind: raw.kind,
    train,
    test,
    classes,
    channels: raw.channels,
    knownSize: raw.knownSize,
    testSource,
    skipped: raw.skipped,
  };
}

export function countPerClass(ds: Dataset): number[] {
  const counts = new Array(ds.classes.length).fill(0);
  for (const t of ds.targets) counts[t]++;
  return counts;
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
  if (!train) return config.evalResize || config.imageSize;
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
  // one cache per folder and size (a --val-split train and test share their folder)
  const open = (shortSide: number) => async (folder: ImageFolder) => {
    const known = opened.find((c) => c.base === folder && c.shortSide === shortSide);
    if (known) return known;
    const cache = await DecodedCache.open(folder, { root: decodeCacheRoot(), shortSide });
    opened.push(cache);
    return cache;
  };
  try {
    const train = await withDecodedCache(data.train, open(storedShortSide(config, true)));
    const test = await withDecodedCache(data.test, open(storedShortSide(config, false)));
    return { data: { ...data, train, test }, close };
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
