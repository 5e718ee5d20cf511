// A rotation-labelled dataset: every image four times, turned by 0, 90, 180 and 270 degrees,
// each turn a class of its own (class c turned k quarter turns is class 4c + k). Learning
// the turn on top of the class is a richer task than the class alone ("self-supervised
// label augmentation"): a network trained on it keeps more of what its images look like,
// which is what a source network for transfer learning needs.

import { ArrayImageDataset } from "./array_dataset.ts";
import type { Dataset } from "./dataset.ts";
import { DatasetError } from "./errors.ts";

/** The turns, in quarter turns counter-clockwise (as torch.rot90 and numpy.rot90 turn). */
export const TURNS = [0, 1, 2, 3] as const;

/** The class names of a rotation-labelled dataset: each name four times, with its turn. */
export function rotationClassNames(classes: readonly string[]): string[] {
  return classes.flatMap((c) => TURNS.map((k) => `${c} (turned ${90 * k}°)`));
}

/**
 * Writes `image` (an s×s image of `c` channels, HWC) turned `k` quarter turns
 * counter-clockwise into `out` at `offset`: out[y][x] = in[x][s-1-y] for one turn, as
 * torch.rot90(image, k, dims=(-2, -1)) does to a CHW tensor.
 */
export function turnSquare(
  image: Uint8Array,
  s: number,
  c: number,
  k: number,
  out: Uint8Array,
  offset: number,
): void {
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      // the source pixel of output (y, x) after k counter-clockwise quarter turns
      let sy = y, sx = x;
      for (let t = 0; t < k; t++) [sy, sx] = [sx, s - 1 - sy];
      const from = (sy * s + sx) * c;
      const to = offset + (y * s + x) * c;
      for (let ch = 0; ch < c; ch++) out[to + ch] = image[from + ch];
    }
  }
}

/**
 * The rotation-labelled version of `ds` (square images of one size), decoded into memory
 * (a SharedArrayBuffer, so loader Workers share it): sample 4i + k is sample i turned k
 * quarter turns counter-clockwise, labelled 4 × label + k. `name` names `ds` in errors.
 */
export function rotationLabelled(ds: Dataset, name: string): ArrayImageDataset {
  if (ds.length === 0) throw new DatasetError(`${name}: no images to turn`);
  const first = ds.get(0).image;
  const s = first.width, c = first.channels;
  if (first.height !== s) {
    throw new DatasetError(`${name}: rotation labels need square images, not ${s}x${first.height}`);
  }
  const per = s * s * c;
  const pixels = new Uint8Array(new SharedArrayBuffer(ds.length * TURNS.length * per));
  const labels = new Int32Array(ds.length * TURNS.length);
  for (let i = 0; i < ds.length; i++) {
    const { image, label } = i === 0 ? { image: first, label: ds.get(0).label } : ds.get(i);
    if (image.width !== s || image.height !== s || image.channels !== c) {
      throw new DatasetError(
        `${name}: sample ${i} is ${image.width}x${image.height}x${image.channels}, not ` +
          `${s}x${s}x${c} like sample 0 (rotation labels need images of one size)`,
      );
    }
    for (const k of TURNS) {
      const j = i * TURNS.length + k;
      turnSquare(image.data, s, c, k, pixels, j * per);
      labels[j] = label * TURNS.length + k;
    }
  }
  return new ArrayImageDataset(pixels, labels, {
    width: s,
    height: s,
    channels: c,
    classes: rotationClassNames(ds.classes),
  });
}
