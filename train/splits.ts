// The datasets a run trains, validates and tests on, from the raw splits its data has (a
// train/, test/ and val/ folder, CIFAR's test_batch.bin, IDX's t10k files): --classes, the
// random --test-split when there is no test split, the stratified --val-split when there is
// no val/ folder, --per-class and --test-per-class. Every split depends only on the files,
// the flags and --seed, so a resumed run gets the same ones. No file I/O: train/data.ts opens
// paths, a page (web/open_data.ts) opens the files picked, and both split here.

import type { Dataset } from "../data/dataset.ts";
import type { SkippedFile } from "../data/folder_dataset.ts";
import {
  randomSplit,
  stratifiedSplit,
  Subset,
  subsetByClasses,
  subsetPerClass,
} from "../data/subset.ts";
import { classCounts } from "../data/weighted_sampler.ts";
import { ConfigError, type TrainConfig } from "./config.ts";
import type { DataKind, OpenedData } from "./prepared.ts";

/** The folder names of a validation split (an image folder's split names besides train, test). */
export const VAL_FOLDERS = ["val", "valid", "validation"];

/** What a dataset holds before the run's splits: its own train and, if it has them, test and
 * validation splits, with their names for the log. */
export interface RawData {
  kind: DataKind;
  train: Dataset;
  val: Dataset | null;
  test: Dataset | null;
  /** Where the test split came from ("the test/ folder"), when there is one. */
  testName: string;
  /** Where the validation split came from, when there is one. */
  valName: string;
  /** Channels the images decode to. */
  channels: 1 | 3;
  /** Size of every image when fixed (CIFAR, IDX). */
  knownSize?: [number, number];
  /** Image files left out because they could not be read (paths relative to the data). */
  skipped: SkippedFile[];
}

/**
 * The datasets a run uses, from the raw splits of its data: --classes, the test split (when
 * the data has none), the stratified validation split (when it has no val/ folder),
 * --per-class and --test-per-class. Errors name the flag; `config.data` names the data.
 */
export function splitData(raw: RawData, config: TrainConfig): OpenedData {
  let train: Dataset = raw.train;
  let test: Dataset | null = raw.test;
  let val: Dataset | null = raw.val;
  for (const [name, other] of [["test", test], ["val", val]] as const) {
    if (other && other.classes.join("\n") !== train.classes.join("\n")) {
      throw new ConfigError(
        "data",
        `--data: the train and ${name} splits of "${config.data}" have different classes ` +
          `(train: ${train.classes.join(", ")}; ${name}: ${other.classes.join(", ")})`,
      );
    }
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
    if (val) val = subsetByClasses(val, config.classes);
  }
  const classes = [...train.classes];
  if (classes.length < 2) {
    throw new ConfigError(
      "classes",
      `a classifier needs at least two classes; "${config.data}" gives ${classes.length} ` +
        `(${classes.join(", ")})`,
    );
  }
  let testSource = raw.testName, valSource = raw.valName;
  if (!test && !val) {
    const [a, b] = randomSplit(train, [1 - config.testSplit, config.testSplit], config.seed);
    train = a;
    test = b;
    testSource = `a random ${percent(config.testSplit)} of the data, held out from training ` +
      `(--test-split ${config.testSplit})`;
  }
  if (!val && config.valSplit > 0) {
    [train, val] = stratifiedSplit(train, config.valSplit, config.seed);
    valSource = `${percent(config.valSplit)} of each class of the training data, held out at ` +
      `random (--val-split ${config.valSplit}, --seed ${config.seed})`;
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
          } fewer training images` +
          (!raw.val && config.valSplit > 0
            ? ` once --val-split ${config.valSplit} is held out (--val-split 0 keeps them all)`
            : ""),
      );
    }
    train = subsetPerClass(train, config.perClass, config.seed);
  }
  if (config.testPerClass > 0 && test) {
    test = subsetPerClass(test, config.testPerClass, config.seed + 1, true);
    testSource += `, at most ${config.testPerClass} per class (--test-per-class)`;
  }
  if (test && test.length === 0) {
    throw new ConfigError(
      "testSplit",
      `the test set is empty; raise --test-split or add test images`,
    );
  }
  if (val && val.length === 0) {
    throw new ConfigError(
      "valSplit",
      `the validation set is empty; raise --val-split, add images, or pass --val-split 0`,
    );
  }
  return {
    kind: raw.kind,
    train,
    val,
    test,
    classes,
    channels: raw.channels,
    knownSize: raw.knownSize,
    valSource,
    testSource,
    skipped: raw.skipped,
  };
}

function percent(f: number): string {
  return `${Number((100 * f).toPrecision(3))}%`;
}

/** The positions of a dataset's samples in the dataset under its Subsets. */
function rootIndices(ds: Dataset): Int32Array {
  if (!(ds instanceof Subset)) return Int32Array.from({ length: ds.length }, (_, i) => i);
  const below = rootIndices(ds.base);
  return ds.indices.map((i) => below[i]);
}

/**
 * A short hash of which images (their positions in the files and their labels) each split
 * holds, so that a resumed run can tell that its splits are the ones it started with.
 */
export function splitFingerprint(data: OpenedData): string {
  let h = 0x811c9dc5; // FNV-1a, 32-bit
  const mix = (x: number) => {
    for (let b = 0; b < 4; b++) h = Math.imul(h ^ ((x >>> (8 * b)) & 0xff), 0x01000193);
  };
  for (const ds of [data.train, data.val, data.test]) {
    mix(ds ? ds.length : -1);
    if (!ds) continue;
    rootIndices(ds).forEach(mix);
    ds.targets.forEach(mix);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

/** The number of images of each class. */
export function countPerClass(ds: Dataset): number[] {
  return classCounts(ds.targets, ds.classes.length);
}
