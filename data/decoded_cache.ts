// Decode once: an ImageFolder whose images are decoded on first use, shrunk so that the
// shorter side is at most `shortSide` (aspect kept, torchvision's Resize rules), and kept
// as raw uint8 in shard files under a cache directory; later reads are positioned reads
// of one image, so memory stays bounded however large the dataset.
//
// Layout of a cache directory (one per dataset folder, split and stored size):
//   source.txt     the dataset's path: a cache whose dataset is gone is removed by the
//                  next open of any cache beside it
//   key.txt        SHA-256 of the dataset's files (paths, sizes, mtimes) and settings;
//                  a different key empties the directory (a file changed)
//   shard-<k>.bin  records appended by one writer (the main thread or one Worker, one
//                  session): a 32-byte header, then the HWC pixels or, for a file that
//                  could not be decoded, its DecodeError (so it is decoded only once)
// A writer claims a new shard by creating it exclusively, so writers never share a file.
// A record counts once its header and payload are complete: an interrupted epoch leaves
// at most one torn record at the end of a shard, which the next open ignores, and every
// complete record is reused.
//
// The live index (one row of ENTRY int32 per sample) sits in a SharedArrayBuffer that
// Workers receive in the spec, so an image decoded by any thread is read, not decoded,
// by every other.

import { atomicWriteFile } from "../nn/io/atomic.ts";
import type { Dataset, DecodedCacheSpec, Sample } from "./dataset.ts";
import { DecodeError } from "./errors.ts";
import type { Image } from "./image.ts";
import { ImageFolder } from "./image_folder.ts";
import { Subset } from "./subset.ts";
import { resize, resizeOutputSize } from "./transforms/resize.ts";

const MAGIC = 0x31434544; // "DEC1"
const HEADER_BYTES = 32;
const KIND_IMAGE = 1;
const KIND_FAILED = 2;
/** Bumped when the record format or the shrinking changes. */
const FORMAT_VERSION = 1;

// A row of the live index: state, shard, payload offset (low, high 32 bits), width,
// height, channels, payload bytes. state is written last (Atomics) so a row is complete
// when a reader sees it.
const ENTRY = 8;
const STATE_NONE = 0;

export interface DecodedCacheOptions {
  /** The cache directory's parent (e.g. the project's .cache/). */
  root: string;
  /** Images are shrunk so the shorter side is at most this (never enlarged). */
  shortSide: number;
}

/** Size an image of h x w is stored at: Resize(shortSide) when its shorter side is longer. */
export function storedSize(h: number, w: number, shortSide: number): [number, number] {
  return Math.min(h, w) <= shortSide ? [h, w] : resizeOutputSize(h, w, shortSide);
}

/** The image as the cache stores it (what a direct decode + Resize gives). */
export function shrinkForCache(img: Image, shortSide: number): Image {
  const [h, w] = storedSize(img.height, img.width, shortSide);
  return resize(img, h, w);
}

async function sha256Hex(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What the cache is of: the files with their sizes and mtimes (a zip: the archive's). */
function contentKey(folder: ImageFolder, shortSide: number): string {
  const spec = folder.spec();
  const lines = [`v${FORMAT_VERSION}`, spec.source, spec.root, `${spec.channels}`];
  lines.push(`${spec.maxPixels}`, `${shortSide}`);
  const stamp = (path: string) => {
    const s = Deno.statSync(path);
    return `${s.size}:${s.mtime?.getTime() ?? 0}`;
  };
  if (spec.source === "zip") lines.push(stamp(spec.root));
  for (const f of spec.files) {
    lines.push(spec.source === "zip" ? f : `${f}\0${stamp(`${spec.root}/${f}`)}`);
  }
  return lines.join("\n");
}

/** Removes the caches under `root` whose dataset no longer exists (e.g. a deleted temp dir). */
function removeOrphans(root: string): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(root)];
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.isDirectory || !e.name.startsWith("decoded-")) continue;
    try {
      const source = Deno.readTextFileSync(`${root}/${e.name}/source.txt`).trim();
      Deno.statSync(source);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        Deno.removeSync(`${root}/${e.name}`, { recursive: true });
      }
    }
  }
}

/**
 * The same dataset with every ImageFolder in it (also under Subsets) read through
 * `open`'s cache; other datasets are returned as they are.
 */
export async function withDecodedCache(
  dataset: Dataset,
  open: (folder: ImageFolder) => Promise<Dataset>,
): Promise<Dataset> {
  if (dataset instanceof ImageFolder) return await open(dataset);
  if (dataset instanceof Subset) {
    const base = await withDecodedCache(dataset.base, open);
    if (base === dataset.base) return dataset;
    const spec = dataset.spec();
    return new Subset(base, dataset.indices, spec.labelMap, spec.classes);
  }
  return dataset;
}

function shardPath(dir: string, shard: number): string {
  return `${dir}/shard-${shard}.bin`;
}

function readAt(file: Deno.FsFile, offset: number, out: Uint8Array): number {
  file.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < out.length) {
    const n = file.readSync(out.subarray(got));
    if (!n) break;
    got += n;
  }
  return got;
}

/** Fills the index from every complete record of the shards; returns the next free shard. */
function scanShards(dir: string, index: Int32Array, n: number): number {
  let next = 0;
  const header = new Uint8Array(HEADER_BYTES);
  const h = new Uint32Array(header.buffer);
  for (const e of Deno.readDirSync(dir)) {
    const m = /^shard-(\d+)\.bin$/.exec(e.name);
    if (!m || !e.isFile) continue;
    const shard = Number(m[1]);
    next = Math.max(next, shard + 1);
    const file = Deno.openSync(`${dir}/${e.name}`, { read: true });
    try {
      const size = file.statSync().size;
      for (let at = 0; at + HEADER_BYTES <= size;) {
        if (readAt(file, at, header) < HEADER_BYTES || h[0] !== MAGIC) break;
        const [, kind, sample, width, height, channels, bytes] = h;
        const payload = at + HEADER_BYTES;
        if (payload + bytes > size) break; // the torn end of an interrupted write
        const valid = sample < n &&
          (kind === KIND_FAILED || (kind === KIND_IMAGE && bytes === width * height * channels));
        if (!valid) break;
        const row = sample * ENTRY + 1;
        index.set([kind, shard, payload % 2 ** 32, Math.floor(payload / 2 ** 32)], row);
        index.set([width, height, channels, bytes], row + 4);
        at = payload + bytes;
      }
    } finally {
      file.close();
    }
  }
  return next;
}

/**
 * An ImageFolder read through the decode cache. Build it with `DecodedCache.open` in the
 * main thread; Workers rebuild it from its spec and share its index.
 */
export class DecodedCache implements Dataset {
  readonly length: number;
  readonly classes: string[];
  readonly targets: Int32Array;
  /** [0]: next shard number to try; then ENTRY int32 per sample (see the file comment). */
  private readonly index: Int32Array;
  private readonly readers = new Map<number, Deno.FsFile>();
  private writer: { file: Deno.FsFile; shard: number; size: number } | null = null;
  /** Files this instance (this thread) decoded, rather than read from the cache. */
  decoded = 0;
  /** Set when a write failed (e.g. a full disk): this thread then stops storing. */
  private writeError: string | null = null;

  private constructor(
    readonly base: ImageFolder,
    readonly dir: string,
    readonly shortSide: number,
    index: Int32Array,
  ) {
    this.length = base.length;
    this.classes = base.classes;
    this.targets = base.targets;
    this.index = index;
  }

  /**
   * Opens (creating or emptying as needed) the cache of `folder` at `shortSide` under
   * `root`. The same folder, split and size always map to the same directory.
   */
  static async open(folder: ImageFolder, opts: DecodedCacheOptions): Promise<DecodedCache> {
    const { shortSide } = opts;
    if (!(Number.isInteger(shortSide) && shortSide > 0)) {
      throw new RangeError(`DecodedCache: shortSide must be a positive integer, got ${shortSide}`);
    }
    const spec = folder.spec();
    const source = Deno.realPathSync(spec.root);
    // the split or class-folder parent tells a folder's train and test sets apart
    const parent = spec.files.length ? spec.files[0].split("/").slice(0, -2).join("/") : "";
    const where = [spec.source, source, parent, spec.channels, shortSide];
    const dir = `${opts.root}/decoded-${(await sha256Hex(where.join("\n"))).slice(0, 16)}`;
    const key = await sha256Hex(contentKey(folder, shortSide));
    removeOrphans(opts.root);
    Deno.mkdirSync(dir, { recursive: true });
    Deno.writeTextFileSync(`${dir}/source.txt`, source + "\n");
    let stored = "";
    try {
      stored = Deno.readTextFileSync(`${dir}/key.txt`).trim();
    } catch { /* a new cache */ }
    if (stored !== key) {
      for (const e of Deno.readDirSync(dir)) {
        if (/^shard-\d+\.bin$/.test(e.name)) Deno.removeSync(`${dir}/${e.name}`);
      }
      await atomicWriteFile(`${dir}/key.txt`, new TextEncoder().encode(key + "\n"));
    }
    const n = folder.length;
    const index = new Int32Array(new SharedArrayBuffer(4 * (1 + n * ENTRY)));
    index[0] = scanShards(dir, index, n);
    return new DecodedCache(folder, dir, shortSide, index);
  }

  /** Rebuilds the cache view inside a Worker (same directory, shared index). */
  static fromSpec(spec: DecodedCacheSpec): DecodedCache {
    return new DecodedCache(ImageFolder.fromSpec(spec.base), spec.dir, spec.shortSide, spec.index);
  }

  /** How many samples are stored (decoded or known to be unreadable). */
  get stored(): number {
    let k = 0;
    for (let i = 0; i < this.length; i++) if (this.state(i) !== STATE_NONE) k++;
    return k;
  }

  private state(i: number): number {
    return Atomics.load(this.index, 1 + i * ENTRY);
  }

  get(i: number): Sample {
    if (!(i >= 0 && i < this.length)) {
      throw new RangeError(`index ${i} out of range [0, ${this.length})`);
    }
    const label = this.targets[i];
    const state = this.state(i);
    if (state === KIND_IMAGE) return { image: this.readImage(i), label };
    if (state === KIND_FAILED) {
      const text = new TextDecoder().decode(this.readPayload(i));
      const cut = text.indexOf("\n");
      throw new DecodeError(text.slice(0, cut), text.slice(cut + 1));
    }
    let image: Image;
    this.decoded++;
    try {
      image = shrinkForCache(this.base.get(i).image, this.shortSide);
    } catch (e) {
      if (e instanceof DecodeError) {
        const text = new TextEncoder().encode(`${e.file}\n${e.reason}`);
        this.append(i, KIND_FAILED, 0, 0, 0, text);
      }
      throw e;
    }
    this.append(i, KIND_IMAGE, image.width, image.height, image.channels, image.data);
    return { image, label };
  }

  private readPayload(i: number): Uint8Array {
    const row = 1 + i * ENTRY, x = this.index;
    const shard = x[row + 1], offset = (x[row + 2] >>> 0) + (x[row + 3] >>> 0) * 2 ** 32;
    let file = this.readers.get(shard);
    if (!file) {
      file = Deno.openSync(shardPath(this.dir, shard), { read: true });
      this.readers.set(shard, file);
    }
    const out = new Uint8Array(x[row + 7]);
    if (readAt(file, offset, out) !== out.length) {
      throw new Error(
        `decode cache ${shardPath(this.dir, shard)} is shorter than its index says; ` +
          `delete ${this.dir} to rebuild it`,
      );
    }
    return out;
  }

  private readImage(i: number): Image {
    const row = 1 + i * ENTRY, x = this.index;
    return {
      width: x[row + 4],
      height: x[row + 5],
      channels: x[row + 6],
      data: this.readPayload(i),
    };
  }

  /** Appends one record to this thread's shard, then publishes it in the shared index. */
  private append(
    i: number,
    kind: number,
    width: number,
    height: number,
    channels: number,
    payload: Uint8Array,
  ): void {
    if (this.writeError) return;
    let w: { file: Deno.FsFile; shard: number; size: number };
    try {
      w = this.writer ?? (this.writer = this.claimShard());
    } catch (e) {
      return this.stopWriting(e);
    }
    const record = new Uint8Array(HEADER_BYTES + payload.length);
    new Uint32Array(record.buffer, 0, 8).set([
      MAGIC,
      kind,
      i,
      width,
      height,
      channels,
      payload.length,
      0,
    ]);
    record.set(payload, HEADER_BYTES);
    try {
      for (let p = 0; p < record.length;) p += w.file.writeSync(record.subarray(p));
    } catch (e) {
      return this.stopWriting(e); // a torn record at the end is ignored by the next open
    }
    const offset = w.size + HEADER_BYTES;
    w.size += record.length;
    const row = 1 + i * ENTRY;
    this.index.set([w.shard, offset % 2 ** 32, Math.floor(offset / 2 ** 32)], row + 1);
    this.index.set([width, height, channels, payload.length], row + 4);
    Atomics.store(this.index, row, kind);
  }

  /** Keeps training going without storing: the images are decoded again when needed. */
  private stopWriting(e: unknown): void {
    this.writeError = (e as Error).message;
    console.warn(
      `decode cache ${this.dir}: cannot write (${this.writeError}); ` +
        `images not yet stored will be decoded every epoch`,
    );
  }

  private claimShard(): { file: Deno.FsFile; shard: number; size: number } {
    for (;;) {
      const shard = Atomics.add(this.index, 0, 1);
      try {
        const file = Deno.openSync(shardPath(this.dir, shard), { write: true, createNew: true });
        return { file, shard, size: 0 };
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
    }
  }

  spec(): DecodedCacheSpec {
    return {
      kind: "decodedCache",
      base: this.base.spec(),
      dir: this.dir,
      shortSide: this.shortSide,
      index: this.index,
    };
  }

  /** Closes this thread's shard files (the index and the files stay). */
  close(): void {
    for (const f of this.readers.values()) f.close();
    this.readers.clear();
    this.writer?.file.close();
    this.writer = null;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
