// The network input from a loader batch: uint8 NHWC pixels uploaded as bytes and turned
// into NCHW floats on the GPU (kernels/normalize.ts), or floats uploaded as they are.

import { ArgumentError } from "../../base/errors.ts";
import { gpu } from "../../kernels/device.ts";
import { bytesToFloats } from "../../kernels/normalize.ts";
import { Tensor } from "../tensor.ts";

/**
 * [N, C, H, W] f32 from NHWC bytes: out[n, c, y, x] = table[c * 256 + pixels(n, y, x, c)]
 * (a table from data's byteToFloatTable gives exactly ToTensor + Normalize). No gradient.
 */
export function imagesFromBytes(
  pixels: Uint8Array,
  shape: readonly [number, number, number, number],
  table: Float32Array,
): Tensor {
  const [n, c, h, w] = shape;
  if (pixels.length !== n * c * h * w) {
    throw new ArgumentError(
      `imagesFromBytes: ${pixels.length} bytes do not fill [${shape}] (NHWC)`,
    );
  }
  if (table.length !== c * 256) {
    throw new ArgumentError(`imagesFromBytes: a table of ${table.length} floats, not 256 x ${c}`);
  }
  // uploads go in whole words: use the padding behind the bytes, or copy into a padded array
  const words = Math.ceil(pixels.length / 4) * 4;
  const padded = pixels.byteOffset + words <= pixels.buffer.byteLength
    ? new Uint8Array(pixels.buffer, pixels.byteOffset, words)
    : (() => {
      const p = new Uint8Array(words);
      p.set(pixels);
      return p;
    })();
  const g = gpu();
  const src = g.upload(padded, `pixels[${shape}]`);
  const lut = g.upload(table, "byte table");
  const out = Tensor.empty(shape);
  bytesToFloats(g, src, lut, out.buffer, n, c, h * w);
  // safe at once: later uploads never take a buffer an unsubmitted launch reads
  g.pool.release(src);
  g.pool.release(lut);
  return out;
}

/** What the loader's batches carry (data/collate.ts Batch). */
export interface BatchPixels {
  /** The images as NCHW floats (computed from `pixels` when it is given). */
  images: Float32Array;
  /** [N, C, H, W]. */
  shape: [number, number, number, number];
  /** The images as NHWC bytes, when the loader deferred ToTensor (+ Normalize) to the GPU. */
  pixels?: Uint8Array;
  /** The float of each byte value per channel (ToTensor and Normalize in one table). */
  pixelTable?: Float32Array;
}

/** The batch's images as a [N, C, H, W] tensor: converted on the GPU when they are bytes. */
export function batchImages(batch: BatchPixels): Tensor {
  return batch.pixels && batch.pixelTable
    ? imagesFromBytes(batch.pixels, batch.shape, batch.pixelTable)
    : Tensor.fromArray(batch.images, batch.shape);
}
