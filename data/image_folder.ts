// ImageFolder: the image folder dataset (data/folder_dataset.ts) of a path on disk, a
// directory of class folders or a .zip of one. The Deno side: walking the directory and
// reading its files safely (regular files only, within the size cap).

import type { ImageFolderSpec } from "./dataset.ts";
import { DatasetError, DecodeError } from "./errors.ts";
import { probeImage } from "./decode.ts";
import { type FileTree, ignoredName, ZipTree } from "./file_tree.ts";
import { FolderDataset, type ImageFolderOptions } from "./folder_dataset.ts";
import { checkRegularFile, readRegularFileSync } from "./regular_file.ts";
import { openZipFile } from "./file_source.ts";

export type { ImageFolderOptions, SkippedFile } from "./folder_dataset.ts";

/** Relative '/'-separated paths of every regular file under dir (symlinks followed). */
function walkDirectory(root: string): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const e of Deno.readDirSync(rel ? `${root}/${rel}` : root)) {
      if (ignoredName(e.name)) continue;
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

function readFully(f: Deno.FsFile, out: Uint8Array, offset: number): void {
  f.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < out.length) {
    const n = f.readSync(out.subarray(got));
    if (!n) throw new Error("unexpected end of file");
    got += n;
  }
}

/** A directory's files, read by path. */
class DirectoryTree implements FileTree {
  readonly source = "dir";
  private listed: string[] | null = null;

  constructor(readonly root: string) {}

  /** Walked on first use (a Worker rebuilding from a spec never lists). */
  get paths(): string[] {
    return this.listed ??= walkDirectory(this.root);
  }

  display(rel: string): string {
    return `${this.root}/${rel}`;
  }

  read(rel: string, maxBytes: number): Uint8Array {
    try {
      return readRegularFileSync(`${this.root}/${rel}`, { what: "image", maxBytes });
    } catch (e) {
      throw new DecodeError(this.display(rel), (e as Error).message);
    }
  }

  probe(rel: string, maxBytes: number) {
    const path = `${this.root}/${rel}`;
    try {
      checkRegularFile(path, Deno.statSync(path), { what: "image", maxBytes });
      const f = Deno.openSync(path);
      try {
        const size = f.statSync().size;
        const headLen = Math.min(size, 1 << 16);
        let head: Uint8Array = new Uint8Array(headLen);
        readFully(f, head, 0);
        const tailLen = Math.min(size, 4096);
        const tail = new Uint8Array(tailLen);
        readFully(f, tail, size - tailLen);
        // A JPEG frame header can sit beyond 64 KiB behind a large EXIF block.
        if (size > headLen && head[0] === 0xff) {
          try {
            probeImage(head, tail, rel, Number.MAX_SAFE_INTEGER, size);
          } catch (e) {
            if (e instanceof DecodeError && e.reason.includes("before the frame header")) {
              head = readRegularFileSync(path, { what: "image", maxBytes });
            }
          }
        }
        return { head, tail, size };
      } finally {
        f.close();
      }
    } catch (e) {
      if (e instanceof Deno.errors.PermissionDenied) {
        throw new DecodeError(rel, "permission denied");
      }
      throw e;
    }
  }
}

/** The tree of a path: a directory, or a .zip file. */
function treeOf(root: string, source: "dir" | "zip"): FileTree {
  return source === "dir" ? new DirectoryTree(root) : new ZipTree(openZipFile(root), root);
}

function openPath(root: string): FileTree {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(root);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DatasetError(`ImageFolder: "${root}" does not exist`);
    }
    throw e;
  }
  if (info.isDirectory) return treeOf(root, "dir");
  if (!root.toLowerCase().endsWith(".zip")) {
    throw new DatasetError(
      `ImageFolder: "${root}" is a file but not a .zip; pass a folder or a .zip of one`,
    );
  }
  checkRegularFile(root, info, { what: "dataset", maxBytes: Number.MAX_SAFE_INTEGER });
  return treeOf(root, "zip");
}

/** Images in one sub-folder per class, in a folder or a .zip (torchvision's ImageFolder). */
export class ImageFolder extends FolderDataset {
  /** Lists the classes and images under `root` (a folder or a .zip). */
  constructor(root: string, opts: ImageFolderOptions = {}) {
    super(openPath(root), opts);
  }

  /** Rebuilds from a spec (no scan, no validation): used inside loader Workers. */
  static fromSpec(spec: ImageFolderSpec): ImageFolder {
    if (spec.source === "memory") {
      throw new DatasetError(
        `ImageFolder: "${spec.root}" is held in memory and cannot be reopened in a Worker; ` +
          `load it with numWorkers: 0`,
      );
    }
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
      tree: null,
    });
    return self;
  }

  /** Opened on first read (a zip's central directory, after fromSpec in a Worker). */
  protected override openTree(): FileTree {
    return this.tree ??= treeOf(this.root, this.source as "dir" | "zip");
  }
}
