// CIFAR-10 in its binary distribution: cifar-10-binary.tar.gz, or the extracted folder
// with data_batch_{1..5}.bin and test_batch.bin. Each record is 1 label byte followed by
// 3072 bytes: the 32x32 red plane, then green, then blue.

import { ArrayImageDataset } from "./array_dataset.ts";
import { DatasetError } from "./errors.ts";
import { readRegularFileSync } from "./regular_file.ts";
import { readTar } from "./tar.ts";

/** CIFAR-10's class names, in label order. */
export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

const RECORD = 1 + 3072;
const TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
const TEST_FILES = ["test_batch.bin"];
/** Largest archive or batch file read (the real .tar.gz is 163 MB, 185 MB unpacked). */
const MAX_ARCHIVE = 1 << 30;

/** Options of `loadCifar10`. */
export interface Cifar10Options {
  /** "train" (50 000 images) or "test" (10 000). Default "train". */
  split?: "train" | "test";
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

/** Reads the batch files of a split from a .tar.gz/.tar or a directory. */
function readBatches(
  path: string,
  wanted: string[],
): { files: Map<string, Uint8Array>; meta?: string } {
  const files = new Map<string, Uint8Array>();
  let meta: string | undefined;
  const info = Deno.statSync(path);
  if (info.isDirectory) {
    // Accept the folder holding the .bin files or its parent.
    const dirs = [path, `${path}/cifar-10-batches-bin`];
    for (const d of dirs) {
      for (const f of wanted) {
        try {
          if (!files.has(f)) {
            files.set(
              f,
              readRegularFileSync(`${d}/${f}`, { what: "CIFAR-10", maxBytes: MAX_ARCHIVE }),
            );
          }
        } catch (e) {
          if (!/not found/.test((e as Error).message)) throw e; // else try the next folder
        }
      }
      try {
        meta ??= new TextDecoder().decode(Deno.readFileSync(`${d}/batches.meta.txt`));
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e; // else the standard names
      }
    }
  } else {
    const archive = readRegularFileSync(path, { what: "CIFAR-10 archive", maxBytes: MAX_ARCHIVE });
    for (const e of readTar(archive, path)) {
      const b = basename(e.name);
      if (e.type === "file" && wanted.includes(b)) files.set(b, e.data);
      if (b === "batches.meta.txt") meta = new TextDecoder().decode(e.data);
    }
  }
  return { files, meta };
}

/** A split whose batch files are absent (not damaged: those are DatasetErrors of their own). */
export class MissingSplitError extends DatasetError {
  /** Always "MissingSplitError". */
  override name = "MissingSplitError";
}

/** Loads a CIFAR-10 split into a shared-memory dataset (HWC uint8, 32x32x3). */
export function loadCifar10(path: string, opts: Cifar10Options = {}): ArrayImageDataset {
  const split = opts.split ?? "train";
  const wanted = split === "train" ? TRAIN_FILES : TEST_FILES;
  let read;
  try {
    read = readBatches(path, wanted);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DatasetError(
        `CIFAR-10: "${path}" does not exist (expected cifar-10-binary.tar.gz or its extracted folder)`,
      );
    }
    throw e;
  }
  const missing = wanted.filter((f) => !read.files.has(f));
  if (missing.length) {
    throw new MissingSplitError(
      `CIFAR-10: ${
        missing.join(", ")
      } not found in "${path}" (is this the binary version, cifar-10-binary.tar.gz?)`,
    );
  }
  let total = 0;
  for (const f of wanted) {
    const n = read.files.get(f)!.length;
    if (n === 0 || n % RECORD !== 0) {
      throw new DatasetError(
        `CIFAR-10: ${f} in "${path}" has ${n} bytes, not a multiple of the ${RECORD}-byte record (truncated?)`,
      );
    }
    total += n / RECORD;
  }
  const pixels = new Uint8Array(new SharedArrayBuffer(total * 3072));
  const labels = new Int32Array(new SharedArrayBuffer(total * 4));
  let k = 0;
  for (const f of wanted) {
    const b = read.files.get(f)!;
    for (let r = 0; r < b.length; r += RECORD, k++) {
      labels[k] = b[r];
      if (b[r] > 9) {
        throw new DatasetError(
          `CIFAR-10: ${f} record ${r / RECORD} has label ${b[r]} > 9 (corrupt file)`,
        );
      }
      // Planar RGB to interleaved HWC.
      const out = k * 3072;
      for (let p = 0; p < 1024; p++) {
        pixels[out + p * 3] = b[r + 1 + p];
        pixels[out + p * 3 + 1] = b[r + 1 + 1024 + p];
        pixels[out + p * 3 + 2] = b[r + 1 + 2048 + p];
      }
    }
  }
  const names = read.meta?.split("\n").map((s) => s.trim()).filter((s) => s.length > 0);
  const classes = names && names.length === 10 ? names : CIFAR10_CLASSES;
  return new ArrayImageDataset(pixels, labels, { width: 32, height: 32, channels: 3, classes });
}
