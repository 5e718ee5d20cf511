// An image folder dataset over any file tree (data/file_tree.ts: a directory, a zip, files
// in memory): one sub-folder per class, with torchvision's class order, the train/test(val)
// split layout (e.g. the hotdog archive: hotdog/train/hotdog/*.jpg), and unreadable images
// reported once and skipped. data/image_folder.ts opens paths with it; a page opens what
// the user picked.
//
// Differences from torchvision, on purpose: names starting with "." and "__MACOSX"
// folders (zip junk) are ignored; only JPEG and PNG are decoded, other image suffixes
// torchvision knows (.bmp, .webp, ...) count as unreadable and are reported.

import {
  decodeImage,
  type DecodeOptions,
  IMAGE_EXTENSIONS,
  probeImage,
  UNSUPPORTED_IMAGE_EXTENSIONS,
} from "./decode.ts";
import { compareCodePoints, type Dataset, type ImageFolderSpec, type Sample } from "./dataset.ts";
import { DatasetError, DecodeError, EmptyClassError } from "./errors.ts";
import { skipWarning } from "./skip_report.ts";
import type { FileTree } from "./file_tree.ts";
import { DEFAULT_MAX_PIXELS, maxImageFileBytes } from "./limits.ts";

/** Options of `ImageFolder` and `FolderDataset`. */
export interface ImageFolderOptions {
  /** Which split folder to use when the root has train/ and test/ (or val/) folders. */
  split?: string;
  /** 3 (RGB, default) or 1 (grayscale). */
  channels?: 1 | 3;
  /** Refuse images with more pixels than this (default 64 Mpx). */
  maxPixels?: number;
  /** Check every file's header and ending up front, skipping bad ones (default true). */
  validate?: boolean;
  /** Keep class folders that hold no images instead of raising (default false). */
  allowEmptyClasses?: boolean;
  /** Where the skip report (the files and why, the first 10) goes (default console.warn). */
  warn?: (message: string) => void;
}

/** A file ImageFolder left out, and why. */
export interface SkippedFile {
  /** The file's path relative to the root. */
  file: string;
  /** Why it could not be used. */
  reason: string;
}

const SPLIT_NAMES = ["train", "test", "val", "valid", "validation"];

function hasSuffix(path: string, suffixes: string[]): boolean {
  const lower = path.toLowerCase();
  return suffixes.some((s) => lower.endsWith(s));
}

/** Immediate child folder names of `prefix` among the paths. */
function childFolders(paths: string[], prefix: string): string[] {
  const set = new Set<string>();
  for (const p of paths) {
    if (!p.startsWith(prefix)) continue;
    const rest = p.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash > 0) set.add(rest.slice(0, slash));
  }
  return [...set].sort(compareCodePoints);
}

function hasDirectImages(paths: string[], prefix: string): boolean {
  return paths.some((p) =>
    p.startsWith(prefix) && !p.slice(prefix.length).includes("/") && hasSuffix(p, IMAGE_EXTENSIONS)
  );
}

function isSplitLayout(folders: string[]): boolean {
  return folders.includes("train") && folders.some((f) => f !== "train" && SPLIT_NAMES.includes(f));
}

/** Sort key matching torchvision's sorted(os.walk(...)) then sorted(fnames). */
function byDirThenName(a: string, b: string): number {
  const ia = a.lastIndexOf("/"), ib = b.lastIndexOf("/");
  const d = compareCodePoints(a.slice(0, Math.max(ia, 0)), b.slice(0, Math.max(ib, 0)));
  return d !== 0 ? d : compareCodePoints(a.slice(ia + 1), b.slice(ib + 1));
}

/** The split folders at the top of a tree (after wrapper folders), [] without a split layout. */
export function treeSplits(tree: FileTree): string[] {
  const top = childFolders(tree.paths, layoutPrefix(tree));
  return isSplitLayout(top) ? SPLIT_NAMES.filter((f) => top.includes(f)) : [];
}

/**
 * Where the dataset starts: descends through wrapper folders (e.g. hotdog/ in hotdog.zip),
 * a single folder with no images of its own, when it holds a split layout or the tree is
 * not a directory (a zip or a picked folder, whose name is always one wrapper).
 */
function layoutPrefix(tree: FileTree): string {
  const all = tree.paths;
  let prefix = "";
  for (;;) {
    const folders = childFolders(all, prefix);
    if (isSplitLayout(folders) || folders.length !== 1 || hasDirectImages(all, prefix)) break;
    const inner = childFolders(all, `${prefix}${folders[0]}/`);
    if (!(tree.source !== "dir" || isSplitLayout(inner))) break;
    if (hasDirectImages(all, `${prefix}${folders[0]}/`)) break;
    prefix += `${folders[0]}/`;
  }
  return prefix;
}

/**
 * Images in one sub-folder per class (torchvision's ImageFolder) of any file tree: files in
 * memory (MemoryTree), a zip archive (ZipTree); ImageFolder opens a path on disk.
 */
export class FolderDataset implements Dataset {
  /** The number of images kept. */
  readonly length: number;
  /** Class folder names, sorted; label k is classes[k]. */
  readonly classes: string[];
  /** Label of every kept image. */
  readonly targets: Int32Array;
  /** Paths of the kept images relative to root, in sample order. */
  readonly files: string[];
  /** Files left out because they could not be read (each also counted in the warning). */
  readonly skipped: SkippedFile[];
  /** The split folder names found at the root ([] when there is no split layout). */
  readonly splits: string[];
  /** The tree's name (a folder or .zip given, a picked folder's name). */
  readonly root: string;
  /** Whether the images come from a folder, a zip archive or memory. */
  readonly source: FileTree["source"];
  /** Channels the images decode to. */
  protected readonly channels: 1 | 3;
  /** The decompression-bomb limit of every image. */
  protected readonly maxPixels: number;
  /** Where the files are read from (null until ImageFolder reopens it after fromSpec). */
  protected tree: FileTree | null;

  /** Lists the classes and images of `tree`, checking each image's header (opts.validate). */
  constructor(tree: FileTree, opts: ImageFolderOptions = {}) {
    this.tree = tree;
    this.root = tree.root;
    this.source = tree.source;
    this.channels = opts.channels ?? 3;
    this.maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
    const all = tree.paths;
    let prefix = layoutPrefix(tree);
    this.splits = treeSplits(tree);
    const top = childFolders(all, prefix);
    const where = `${this.root}${prefix ? `/${prefix.slice(0, -1)}` : ""}`;
    if (this.splits.length > 0) {
      if (opts.split === undefined) {
        throw new DatasetError(
          `ImageFolder: "${where}" has a split layout (${this.splits.join(", ")}); pass split: "${
            this.splits[0]
          }" or another of them`,
        );
      }
      if (!this.splits.includes(opts.split)) {
        throw new DatasetError(
          `ImageFolder: no split "${opts.split}" in "${where}" (found: ${this.splits.join(", ")})`,
        );
      }
      prefix += `${opts.split}/`;
    } else if (opts.split !== undefined) {
      throw new DatasetError(
        `ImageFolder: split "${opts.split}" requested, but "${where}" has no train/test folders (found: ${
          top.join(", ") || "none"
        })`,
      );
    }

    const classes = childFolders(all, prefix);
    const base = `${this.root}/${prefix}`;
    if (classes.length === 0) {
      throw new DatasetError(
        `ImageFolder: no class folders in "${base}"; expected one sub-folder per class holding its images`,
      );
    }
    if (classes.length === 1) {
      throw new DatasetError(
        `ImageFolder: only one class folder ("${
          classes[0]
        }") in "${base}"; a classifier needs at least two. Did you point at a class folder instead of its parent?`,
      );
    }

    const skipped: SkippedFile[] = [];
    const files: string[] = [];
    const labels: number[] = [];
    const emptyClasses: string[] = [];
    classes.forEach((cls, label) => {
      const clsPrefix = `${prefix}${cls}/`;
      const mine = all.filter((p) => p.startsWith(clsPrefix)).sort(byDirThenName);
      let kept = 0;
      for (const p of mine) {
        if (hasSuffix(p, UNSUPPORTED_IMAGE_EXTENSIONS)) {
          skipped.push({
            file: p,
            reason: "unsupported image format (only JPEG and PNG are decoded)",
          });
          continue;
        }
        if (!hasSuffix(p, IMAGE_EXTENSIONS)) continue;
        if (opts.validate ?? true) {
          const problem = this.check(tree, p);
          if (problem) {
            skipped.push({ file: p, reason: problem });
            continue;
          }
        }
        files.push(p);
        labels.push(label);
        kept++;
      }
      if (kept === 0) emptyClasses.push(cls);
    });
    if (skipped.length > 0) {
      (opts.warn ?? console.warn)(skipWarning(
        `ImageFolder: skipped ${skipped.length} unreadable image${
          skipped.length > 1 ? "s" : ""
        } of ${files.length + skipped.length} in "${base}":`,
        skipped.map((f) => `${f.file}: ${f.reason}`),
        " (all of them in ImageFolder.skipped)",
      ));
    }
    if (emptyClasses.length > 0 && !opts.allowEmptyClasses) {
      throw new EmptyClassError(
        `ImageFolder: class folder${emptyClasses.length > 1 ? "s" : ""} ${
          emptyClasses.map((c) => `"${base}${c}"`).join(", ")
        } hold${
          emptyClasses.length > 1 ? "" : "s"
        } no readable .jpg/.jpeg/.png images; add images, remove the folder, or pass allowEmptyClasses: true`,
        emptyClasses,
      );
    }
    this.classes = classes;
    this.files = files;
    this.targets = Int32Array.from(labels);
    this.length = files.length;
    this.skipped = skipped;
  }

  /** The tree the files are read from (data/image_folder.ts reopens it after fromSpec). */
  protected openTree(): FileTree {
    if (!this.tree) throw new Error(`ImageFolder: "${this.root}" has no file tree`);
    return this.tree;
  }

  /** Cheap validity check of one file; returns a reason when it is unreadable. */
  private check(tree: FileTree, rel: string): string | null {
    try {
      const { head, tail, size } = tree.probe(rel, maxImageFileBytes(this.maxPixels));
      probeImage(head, tail, rel, this.maxPixels, size);
      return null;
    } catch (e) {
      if (e instanceof DecodeError) return e.reason;
      return (e as Error).message;
    }
  }

  /** Decodes image i; throws DecodeError naming the file when it is unreadable. */
  get(i: number): Sample {
    if (!(i >= 0 && i < this.length)) {
      throw new RangeError(`index ${i} out of range [0, ${this.length})`);
    }
    const rel = this.files[i];
    const tree = this.openTree();
    const opts: DecodeOptions = { channels: this.channels, maxPixels: this.maxPixels };
    return {
      image: decodeImage(
        tree.read(rel, maxImageFileBytes(this.maxPixels)),
        tree.display(rel),
        opts,
      ),
      label: this.targets[i],
    };
  }

  /**
   * Internal: a plain description from which loader Workers rebuild the dataset.
   * @ignore
   */
  spec(): ImageFolderSpec {
    return {
      kind: "imageFolder",
      source: this.source,
      root: this.root,
      files: this.files,
      labels: this.targets,
      classes: this.classes,
      channels: this.channels,
      maxPixels: this.maxPixels,
    };
  }
}
