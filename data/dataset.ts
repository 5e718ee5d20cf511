// What every dataset provides, and the plain descriptions (specs) from which a dataset
// can be rebuilt inside a Worker. Specs hold only structured-clonable values.

import type { Image } from "./image.ts";

/** One labelled image. */
export interface Sample {
  /** The decoded image. */
  image: Image;
  /** Its class index (into `classes`). */
  label: number;
}

/**
 * What DataLoader reads: indexed labelled images with class names (torch.utils.data.Dataset's
 * role).
 */
export interface Dataset {
  /** The number of samples. */
  readonly length: number;
  /** Class names; label k is classes[k]. */
  readonly classes: string[];
  /** Label of every sample, known without decoding (used by splits and subsets). */
  readonly targets: Int32Array;
  /** The undecoded-then-decoded sample i; throws DecodeError naming the file when unreadable. */
  get(i: number): Sample;
  /**
   * A structured-clonable description that datasetFromSpec turns back into this dataset
   * (how loader Workers rebuild it; internal).
   * @ignore
   */
  spec(): DatasetSpec;
}

export interface ArrayDatasetSpec {
  kind: "array";
  /** HWC uint8 pixels of every sample, back to back (may live in a SharedArrayBuffer). */
  pixels: Uint8Array;
  labels: Int32Array;
  width: number;
  height: number;
  channels: number;
  classes: string[];
}

export interface ImageFolderSpec {
  kind: "imageFolder";
  /** "dir": files under root; "zip": entries of the zip file at root; "memory": a page's files. */
  source: "dir" | "zip" | "memory";
  root: string;
  /** Paths of the kept images, relative to root ('/'-separated), in sample order. */
  files: string[];
  labels: Int32Array;
  classes: string[];
  channels: 1 | 3;
  maxPixels: number;
}

export interface SubsetSpec {
  kind: "subset";
  base: DatasetSpec;
  indices: Int32Array;
  /** When set, label = labelMap[base label] and classes replaces the base's names. */
  labelMap?: Int32Array;
  classes?: string[];
}

export interface DecodedCacheSpec {
  kind: "decodedCache";
  base: ImageFolderSpec;
  /** The cache directory (data/decoded_cache.ts). */
  dir: string;
  shortSide: number;
  /** The live index, in a SharedArrayBuffer shared with the main thread. */
  index: Int32Array;
}

export type DatasetSpec = ArrayDatasetSpec | ImageFolderSpec | SubsetSpec | DecodedCacheSpec;

/** Compares strings by Unicode code point, as Python's sorted() does (JS compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i), cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Surrogates (D800-DFFF) encode code points above FFFF, so they sort after E000-FFFF.
    const ka = ca >= 0xd800 && ca <= 0xdfff ? ca + 0x10000 : ca;
    const kb = cb >= 0xd800 && cb <= 0xdfff ? cb + 0x10000 : cb;
    return ka - kb;
  }
  return a.length - b.length;
}
