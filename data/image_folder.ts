// ImageFolder: one sub-folder per class, from a directory or a .zip of one, with
// torchvision's class order, the train/test(val) split layout (e.g. the hotdog archive:
// hotdog/train/hotdog/*.jpg), and unreadable images reported once and skipped.
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
import { ArchiveError, DatasetError, DecodeError, EmptyClassError } from "./errors.ts";
import { DEFAULT_MAX_PIXELS, maxImageFileBytes } from "./limits.ts";
import { checkRegularFile, readRegularFileSync } from "./regular_file.ts";
import { skipWarning } from "./skip_report.ts";
import type { ZipArchive } from "../base/zip.ts";
import { openZipFile } from "./file_source.ts";

/** Options of `ImageFolder`. */
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

function ignored(component: string): boolean {
  return component.startsWith(".") || component === "__MACOSX";
}

function hasSuffix(path: string, suffixes: string[]): boolean {
  const lower = path.toLowerCase();
  return suffixes.some((s) => lower.endsWith(s));
}

/** Relative '/'-separated paths of every regular file under dir (symlinks followed). */
function walkDirectory(root: string): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const e of Deno.readDirSync(rel ? `${root}/${rel}` : root)) {
      if (ignored(e.name)) continue;
      const child = rel ? `${rel}/${e.name}` : e.name;
      let isDir = e.isDirectory, isFile = e.isFile;
      if (e.isSymlink) {
        const s = Deno.statSync(`${root}/${child}`);
        isDir = s.isDirectory;
        isFile = s.isFile;
      }
      // folders are listed too ("name/", as zips list them), so an empty class folder is
      // seen and refused rather than silently missing from the classes
      if (isDir) {
        out.push(`${child}/`);
        visit(child);
      } else if (isFile) out.push(child);
    }
  };
  visit("");
  return out;
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

/** Images in one sub-folder per class, in a folder or a .zip (torchvision's ImageFolder). */
export class ImageFolder implements Dataset {
  /** The number of images kept. */
  readonly length: number;
  readonly classes: string[];
  readonly targets: Int32Array;
  /** Paths of the kept images relative to root, in sample order. */
  readonly files: string[];
  /** Files left out because they could not be read (each also counted in the warning). */
  readonly skipped: SkippedFile[];
  /** The split folder names found at the root ([] when there is no split layout). */
  readonly splits: string[];
  /** The folder or .zip given. */
  readonly root: string;
  /** Whether the images come from a folder or a zip archive. */
  readonly source: "dir" | "zip";
  private readonly channels: 1 | 3;
  private readonly maxPixels: number;
  private zip: ZipArchive | null = null;

  /** Lists the classes and images under `root` (a folder or a .zip). */
  constructor(root: string, opts: ImageFolderOptions = {}) {
    this.root = root;
    this.channels = opts.channels ?? 3;
    this.maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(root);
    } catch {
      throw new DatasetError(`ImageFolder: "${root}" does not exist`);
    }
    this.source = info.isDirectory ? "dir" : "zip";
    let all: string[];
    if (this.source === "dir") all = walkDirectory(root);
    else {
      if (!root.toLowerCase().endsWith(".zip")) {
        throw new DatasetError(
          `ImageFolder: "${root}" is a file but not a .zip; pass a folder or a .zip of one`,
        );
      }
      checkRegularFile(root, info, { what: "dataset", maxBytes: Number.MAX_SAFE_INTEGER });
      this.zip = openZipFile(root);
      all = this.zip.entries.filter((e) => !e.name.split("/").some(ignored)).map((e) => e.name);
    }

    // Descend through wrapper folders (e.g. hotdog/ in hotdog.zip): a single folder with
    // no images of its own, when it holds a split layout or we are inside a zip.
    let prefix = "";
    for (;;) {
      const folders = childFolders(all, prefix);
      if (isSplitLayout(folders) || folders.length !== 1 || hasDirectImages(all, prefix)) break;
      const inner = childFolders(all, `${prefix}${folders[0]}/`);
      if (!(this.source === "zip" || isSplitLayout(inner))) break;
      if (hasDirectImages(all, `${prefix}${folders[0]}/`)) break;
      prefix += `${folders[0]}/`;
    }
    const top = childFolders(all, prefix);
    this.splits = isSplitLayout(top) ? SPLIT_NAMES.filter((f) => top.includes(f)) : [];
    const where = `${root}${prefix ? `/${prefix.slice(0, -1)}` : ""}`;
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
    const base = `${root}/${prefix}`;
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
          const problem = this.check(p);
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

  /** Rebuilds from a spec (no scan, no validation): used inside loader Workers. */
  static fromSpec(spec: ImageFolderSpec): ImageFolder {
    const self = Object.create(ImageFolder.prototype) as ImageFolder;
    Object.assign(self, {
      root: spec.root,
      source: spec.source,
      files: spec.files,
      targets: spec.labels,
      classes: spec.classes,
      length: spec.files.length,
      channels: spec.channels,
      maxPixels: spec.maxPixels,
      skipped: [],
      splits: [],
      zip: null,
    });
    return self;
  }

  /** Display name of a file for error messages. */
  private displayName(rel: string): string {
    return this.source === "zip" ? `${this.root}:${rel}` : `${this.root}/${rel}`;
  }

  /** Raw bytes of a file (a regular file, or a zip entry), within the image file cap. */
  private readBytes(rel: string): Uint8Array {
    const maxBytes = maxImageFileBytes(this.maxPixels);
    if (this.source === "dir") {
      try {
        return readRegularFileSync(`${this.root}/${rel}`, { what: "image", maxBytes });
      } catch (e) {
        throw new DecodeError(this.displayName(rel), (e as Error).message);
      }
    }
    this.zip ??= openZipFile(this.root);
    try {
      return this.zip.read(rel, maxBytes);
    } catch (e) {
      if (e instanceof ArchiveError) throw new DecodeError(this.displayName(rel), e.reason);
      throw e;
    }
  }

  /** Cheap validity check of one file; returns a reason when it is unreadable. */
  private check(rel: string): string | null {
    try {
      let head: Uint8Array, tail: Uint8Array, size: number;
      const maxBytes = maxImageFileBytes(this.maxPixels);
      if (this.source === "dir") {
        const path = `${this.root}/${rel}`;
        checkRegularFile(path, Deno.statSync(path), { what: "image", maxBytes });
        const f = Deno.openSync(path);
        try {
          size = f.statSync().size;
          const headLen = Math.min(size, 1 << 16);
          head = new Uint8Array(headLen);
          readFully(f, head, 0);
          const tailLen = Math.min(size, 4096);
          tail = new Uint8Array(tailLen);
          readFully(f, tail, size - tailLen);
          // A JPEG frame header can sit beyond 64 KiB behind a large EXIF block.
          if (size > headLen && head[0] === 0xff) {
            try {
              probeImage(head, tail, rel, this.maxPixels, size);
            } catch (e) {
              if (e instanceof DecodeError && e.reason.includes("before the frame header")) {
                head = readRegularFileSync(path, { what: "image", maxBytes });
              }
            }
          }
        } finally {
          f.close();
        }
      } else {
        this.zip ??= openZipFile(this.root);
        try {
          // streamed: the head (a JPEG's frame header may follow a large EXIF block) and
          // the tail are kept, not the whole entry
          ({ head, tail, size } = this.zip.scan(rel, 1 << 20, 4096, maxBytes));
        } catch (e) {
          if (e instanceof ArchiveError) throw new DecodeError(rel, e.reason);
          throw e;
        }
      }
      probeImage(head, tail, rel, this.maxPixels, size);
      return null;
    } catch (e) {
      if (e instanceof DecodeError) return e.reason;
      if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
      return (e as Error).message;
    }
  }

  get(i: number): Sample {
    if (!(i >= 0 && i < this.length)) {
      throw new RangeError(`index ${i} out of range [0, ${this.length})`);
    }
    const rel = this.files[i];
    const opts: DecodeOptions = { channels: this.channels, maxPixels: this.maxPixels };
    return {
      image: decodeImage(this.readBytes(rel), this.displayName(rel), opts),
      label: this.targets[i],
    };
  }

  /**
   * Internal: a plain description from which loader Workers rebuild this object.
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

function readFully(f: Deno.FsFile, out: Uint8Array, offset: number): void {
  f.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < out.length) {
    const n = f.readSync(out.subarray(got));
    if (!n) throw new Error("unexpected end of file");
    got += n;
  }
}
