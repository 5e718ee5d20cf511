// MNIST / Fashion-MNIST in the IDX format (gzipped or not): a big-endian header
// (magic 0x0000 08 <ndim>, then ndim sizes) followed by unsigned bytes.

import { ArrayImageDataset } from "./array_dataset.ts";
import { DatasetError } from "./errors.ts";
import { MAX_GUNZIP_BYTES, maybeGunzip } from "./gzip.ts";
import { readRegularFileSync } from "./regular_file.ts";

/** MNIST's class names (the digits), in label order. */
export const MNIST_CLASSES = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
/** Fashion-MNIST's class names, in label order. */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** Parses an IDX file of unsigned bytes (type code 0x08). */
export function parseIdx(input: Uint8Array, name = "<bytes>"): IdxArray {
  const bytes = maybeGunzip(input, name);
  if (bytes.length < 4) {
    throw new DatasetError(`IDX file "${name}" is too short (${bytes.length} bytes)`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError(`"${name}" is not an IDX file (bad magic)`);
  }
  if (bytes[2] !== 0x08) {
    throw new DatasetError(
      `IDX file "${name}" has element type 0x${
        bytes[2].toString(16)
      }; only unsigned bytes (0x08) are supported`,
    );
  }
  const ndim = bytes[3];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * ndim) {
    throw new DatasetError(`IDX file "${name}" is truncated (header)`);
  }
  const shape: number[] = [];
  for (let d = 0; d < ndim; d++) shape.push(dv.getUint32(4 + 4 * d));
  const count = shape.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * ndim;
  if (bytes.length - start < count) {
    throw new DatasetError(
      `IDX file "${name}" is truncated: ${bytes.length - start} of ${count} data bytes`,
    );
  }
  return { shape, data: bytes.subarray(start, start + count) };
}

/** Pairs an IDX image file (N x H x W) with an IDX label file (N) into a grayscale dataset. */
export function loadIdx(
  imagesPath: string,
  labelsPath: string,
  classes = MNIST_CLASSES,
): ArrayImageDataset {
  const read = (p: string) => readRegularFileSync(p, { what: "IDX", maxBytes: MAX_GUNZIP_BYTES });
  const images = parseIdx(read(imagesPath), imagesPath);
  const labels = parseIdx(read(labelsPath), labelsPath);
  if (images.shape.length !== 3) {
    throw new DatasetError(
      `"${imagesPath}" holds a ${images.shape.length}-D array; expected N x H x W images`,
    );
  }
  if (labels.shape.length !== 1) {
    throw new DatasetError(
      `"${labelsPath}" holds a ${labels.shape.length}-D array; expected N labels`,
    );
  }
  const [n, h, w] = images.shape;
  if (n === 0 || h === 0 || w === 0) {
    throw new DatasetError(
      `"${imagesPath}" holds ${n} images of ${h}x${w} pixels; a dataset needs at least one ` +
        `image of at least 1x1 (the file is damaged or not an image file)`,
    );
  }
  if (labels.shape[0] !== n) {
    throw new DatasetError(
      `${n} images in "${imagesPath}" but ${labels.shape[0]} labels in "${labelsPath}"`,
    );
  }
  const l = new Int32Array(new SharedArrayBuffer(n * 4));
  for (let i = 0; i < n; i++) l[i] = labels.data[i];
  const p = new Uint8Array(new SharedArrayBuffer(n * h * w));
  p.set(images.data);
  return new ArrayImageDataset(p, l, { width: w, height: h, channels: 1, classes });
}

/** Options of `loadMnist`. */
export interface MnistOptions {
  /** "train" or "test" (default "train"). */
  split?: "train" | "test";
  /** Class names; default: Fashion-MNIST names when the folder name mentions "fashion". */
  classes?: string[];
}

/** Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from a folder (MNIST or Fashion-MNIST). */
export function loadMnist(dir: string, opts: MnistOptions = {}): ArrayImageDataset {
  const prefix = (opts.split ?? "train") === "train" ? "train" : "t10k";
  const find = (stem: string) => {
    for (const suffix of ["", ".gz"]) {
      const p = `${dir}/${stem}${suffix}`;
      try {
        if (Deno.statSync(p).isFile) return p;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e; // else try the other suffix
      }
    }
    throw new DatasetError(`MNIST: neither ${stem} nor ${stem}.gz found in "${dir}"`);
  };
  const classes = opts.classes ?? (/fashion/i.test(dir) ? FASHION_MNIST_CLASSES : MNIST_CLASSES);
  return loadIdx(find(`${prefix}-images-idx3-ubyte`), find(`${prefix}-labels-idx1-ubyte`), classes);
}
