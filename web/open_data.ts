// A page's dataset: the files the user picked (a folder, or a zip of one) as a file tree,
// opened as training, validation and test datasets the way `cli.ts train --data` opens an
// image folder (train/data.ts): its train/, test/ and val/ folders when it has them, the rest
// held out by --test-split and --val-split (train/splits.ts). Unreadable images are listed,
// not dropped silently: the opened data's `skipped` names every one.

import { ZipArchive } from "../base/zip.ts";
import { type FileTree, MemoryTree, ZipTree } from "../data/file_tree.ts";
import { FolderDataset, type SkippedFile, treeSplits } from "../data/folder_dataset.ts";
import type { TrainConfig } from "../train/config.ts";
import type { OpenedData } from "../train/prepared.ts";
import { type RawData, splitData, VAL_FOLDERS } from "../train/splits.ts";

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
  // a folder's files all start with its name: the tree's root is that folder, named by it in
  // messages (its paths relative to it, so that a message does not name the folder twice)
  const top = files[0]?.path.split("/")[0];
  const inTop = top !== undefined && files.every((f) => f.path.startsWith(`${top}/`));
  return inTop
    ? new MemoryTree(files.map((f) => [f.path.slice(top.length + 1), f.bytes]), top)
    : new MemoryTree(files.map((f) => [f.path, f.bytes]), "the picked files");
}

/** Opens a tree with the config's channels and pixel cap, then splits it as `cli.ts train`
 * splits an image folder (train/splits.ts: --classes, the test and validation splits, the
 * per-class caps). Every image left out because it cannot be read is in `skipped` (paths
 * from the tree's root). */
export function openTree(tree: FileTree, config: TrainConfig, channels: 1 | 3 = 3): OpenedData {
  const skipped: SkippedFile[] = [];
  const open = (split?: string) => {
    const ds = new FolderDataset(tree, {
      split,
      channels,
      maxPixels: config.maxImagePixels,
      // as in the CLI: an empty class folder is refused unless --classes may leave it out
      allowEmptyClasses: config.classes.length > 0,
      warn: () => {}, // reported through `skipped`
    });
    skipped.push(...ds.skipped);
    return ds;
  };
  const splits = treeSplits(tree);
  const valFolder = splits.find((s) => VAL_FOLDERS.includes(s));
  const raw: RawData = {
    kind: "image-folder",
    train: open(splits.length > 0 ? "train" : undefined),
    test: splits.includes("test") ? open("test") : null,
    val: valFolder ? open(valFolder) : null,
    testName: splits.includes("test") ? "the test/ folder" : "",
    valName: valFolder ? `the ${valFolder}/ folder` : "",
    skipped,
    channels,
  };
  return splitData(raw, { ...config, data: tree.root });
}
