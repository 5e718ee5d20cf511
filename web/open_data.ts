// A page's dataset: the files the user picked (a folder, or a zip of one) as a file tree,
// opened as a training and a test dataset the way `cli.ts train --data` opens an image
// folder: the train/ and test/ (or val/) folders when there are, else a random
// --val-split of the whole folder held out. Unreadable images are listed, not dropped
// silently: `skipped` names every one.

import { ZipArchive } from "../base/zip.ts";
import type { Dataset } from "../data/dataset.ts";
import { type FileTree, MemoryTree, ZipTree } from "../data/file_tree.ts";
import { FolderDataset, type SkippedFile, treeSplits } from "../data/folder_dataset.ts";
import { randomSplit } from "../data/subset.ts";
import { ConfigError, type TrainConfig } from "../train/config.ts";
import type { OpenedData } from "../train/prepared.ts";

/** A picked file: its path inside the pick ('/'-separated, the folder's name first) and bytes. */
export interface PickedFile {
  path: string;
  bytes: Uint8Array;
}

/** The tree of what was picked: one .zip file, or the files of a folder. */
export function pickedTree(files: PickedFile[]): FileTree {
  if (files.length === 1 && files[0].path.toLowerCase().endsWith(".zip")) {
    const name = files[0].path.split("/").pop()!;
    return new ZipTree(ZipArchive.fromBytes(files[0].bytes, name), name);
  }
  const top = files[0]?.path.split("/")[0] ?? "<no files>";
  return new MemoryTree(files.map((f) => [f.path, f.bytes]), top);
}

export interface OpenedTree {
  data: OpenedData;
  /** Every image left out because it cannot be read (paths from the tree's root). */
  skipped: SkippedFile[];
}

const UNSUPPORTED: (keyof TrainConfig)[] = ["classes", "perClass", "testPerClass"];

/** Opens a tree with the config's channels, pixel cap, validation split and seed. */
export function openTree(tree: FileTree, config: TrainConfig, channels: 1 | 3 = 3): OpenedTree {
  for (const key of UNSUPPORTED) {
    const v = config[key];
    if (Array.isArray(v) ? v.length > 0 : v !== 0) {
      throw new ConfigError(key, `${key}: not available in the page; train with cli.ts for it`);
    }
  }
  const skipped: OpenedTree["skipped"] = [];
  const open = (split?: string) => {
    const ds = new FolderDataset(tree, {
      split,
      channels,
      maxPixels: config.maxImagePixels,
      warn: () => {}, // reported through `skipped`
    });
    skipped.push(...ds.skipped);
    return ds;
  };
  const splits = treeSplits(tree);
  let train: Dataset, test: Dataset, testSource: string;
  if (splits.length > 0) {
    const other = splits.find((s) => s !== "train")!;
    train = open("train");
    test = open(other);
    testSource = `the ${other}/ folder`;
    if (test.classes.join("\n") !== train.classes.join("\n")) {
      throw new ConfigError(
        "data",
        `the train and ${other} folders of "${tree.root}" have different classes ` +
          `(train: ${train.classes.join(", ")}; ${other}: ${test.classes.join(", ")})`,
      );
    }
  } else {
    const all = open();
    [train, test] = randomSplit(all, [1 - config.valSplit, config.valSplit], config.seed);
    testSource = `a random ${Math.round(config.valSplit * 100)}% of the data, held out`;
  }
  const counts = new Array(train.classes.length).fill(0);
  for (const t of train.targets) counts[t]++;
  const empty = train.classes.filter((_, k) => counts[k] === 0);
  if (empty.length) {
    throw new ConfigError("data", `"${tree.root}": no training images of ${empty.join(", ")}`);
  }
  if (test.length === 0) {
    throw new ConfigError("valSplit", `the test set is empty; raise the validation split`);
  }
  return {
    data: { kind: "image-folder", train, test, classes: [...train.classes], channels, testSource },
    skipped,
  };
}
