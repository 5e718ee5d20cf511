// The files an image folder dataset reads, wherever they are: a directory on disk
// (data/image_folder.ts), a zip archive (on disk or in memory), or files held in memory (a
// page's <input webkitdirectory> or a test). Nothing here uses Deno, so a page can build a
// dataset from what the user picked.

import type { ZipArchive } from "../base/zip.ts";
import { ArchiveError } from "../base/errors.ts";
import { DecodeError } from "./errors.ts";

/** The files a FolderDataset reads, by '/'-separated path relative to the root. */
export interface FileTree {
  /** Where the files are: a directory, a zip archive, memory. */
  readonly source: "dir" | "zip" | "memory";
  /** The tree's name in messages (a path, a zip's name, a picked folder's name). */
  readonly root: string;
  /** Every file's '/'-separated path relative to the root, and every folder's with a trailing '/'. */
  readonly paths: string[];
  /** A file's bytes, at most `maxBytes`; throws DecodeError naming the file otherwise. */
  read(rel: string, maxBytes: number): Uint8Array;
  /** A file's start (at least its image header), its last bytes and its size, for a cheap check. */
  probe(rel: string, maxBytes: number): { head: Uint8Array; tail: Uint8Array; size: number };
  /** A file's name in messages. */
  display(rel: string): string;
}

/** Names starting with "." and "__MACOSX" folders (zip junk) are not part of a dataset. */
export function ignoredName(component: string): boolean {
  return component.startsWith(".") || component === "__MACOSX";
}

/** The folders above each path, each once, with a trailing '/' (as zips list them). */
function withFolders(files: string[]): string[] {
  const folders = new Set<string>();
  for (const f of files) {
    const parts = f.split("/");
    for (let i = 1; i < parts.length; i++) folders.add(`${parts.slice(0, i).join("/")}/`);
  }
  return [...folders, ...files];
}

/** A zip archive's entries as a tree (zip junk left out). */
export class ZipTree implements FileTree {
  /** Always "zip". */
  readonly source = "zip";
  /** The entries' names (folders with a trailing '/'). */
  readonly paths: string[];

  /** The tree of `zip`, named `root` in messages (default: the archive's name). */
  constructor(private readonly zip: ZipArchive, readonly root = zip.name) {
    this.paths = zip.entries.map((e) => e.name).filter((n) => !n.split("/").some(ignoredName));
  }

  display(rel: string): string {
    return `${this.root}:${rel}`;
  }

  read(rel: string, maxBytes: number): Uint8Array {
    try {
      return this.zip.read(rel, maxBytes);
    } catch (e) {
      if (e instanceof ArchiveError) throw new DecodeError(this.display(rel), e.reason);
      throw e;
    }
  }

  probe(rel: string, maxBytes: number): { head: Uint8Array; tail: Uint8Array; size: number } {
    try {
      // streamed: the head (a JPEG's frame header may follow a large EXIF block) and the
      // tail are kept, not the whole entry
      return this.zip.scan(rel, 1 << 20, 4096, maxBytes);
    } catch (e) {
      if (e instanceof ArchiveError) throw new DecodeError(rel, e.reason);
      throw e;
    }
  }
}

/** Files in memory, by '/'-separated relative path (e.g. a picked folder's webkitRelativePath). */
export class MemoryTree implements FileTree {
  /** Always "memory". */
  readonly source = "memory";
  /** The files' paths and the folders above them (with a trailing '/'). */
  readonly paths: string[];
  private readonly files: Map<string, Uint8Array>;

  /** The files, as [relative path, bytes], named `root` in messages. */
  constructor(files: Iterable<[string, Uint8Array]>, readonly root = "<memory>") {
    this.files = new Map(
      [...files].filter(([p]) => !p.split("/").some(ignoredName)),
    );
    this.paths = withFolders([...this.files.keys()]);
  }

  display(rel: string): string {
    return `${this.root}/${rel}`;
  }

  /** A file's bytes, refused when missing or larger than `maxBytes`. */
  private bytes(rel: string, maxBytes: number): Uint8Array {
    const b = this.files.get(rel);
    if (!b) throw new DecodeError(this.display(rel), "no such file");
    if (b.length > maxBytes) {
      throw new DecodeError(
        this.display(rel),
        `the image file has ${b.length} bytes, more than the limit of ${maxBytes}`,
      );
    }
    return b;
  }

  read(rel: string, maxBytes: number): Uint8Array {
    return this.bytes(rel, maxBytes);
  }

  probe(rel: string, maxBytes: number): { head: Uint8Array; tail: Uint8Array; size: number } {
    const b = this.bytes(rel, maxBytes);
    return { head: b, tail: b.subarray(Math.max(0, b.length - 4096)), size: b.length };
  }
}
