// Views onto a dataset: a Subset by indices, seeded random and stratified splits, and
// subsets by class names or by a count per class (few-shot fine-tuning).

import type { Dataset, Sample, SubsetSpec } from "./dataset.ts";
import { DatasetError } from "./errors.ts";
import { Rng } from "../base/rng.ts";

/** A dataset made of some samples of another, by index (torch.utils.data.Subset). */
export class Subset implements Dataset {
  /** The number of samples. */
  readonly length: number;
  readonly classes: string[];
  readonly targets: Int32Array;

  /**
   * indices pick samples of base. With labelMap, labels become labelMap[base label]
   * and `classes` names the new labels (used when keeping only some classes).
   */
  constructor(
    readonly base: Dataset,
    readonly indices: Int32Array,
    private readonly labelMap?: Int32Array,
    classes?: string[],
  ) {
    for (const i of indices) {
      if (!(i >= 0 && i < base.length)) {
        throw new RangeError(`Subset: index ${i} out of range [0, ${base.length})`);
      }
    }
    this.length = indices.length;
    this.classes = classes ?? base.classes;
    this.targets = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) {
      const l = base.targets[indices[k]];
      this.targets[k] = labelMap ? labelMap[l] : l;
    }
  }

  get(i: number): Sample {
    if (!(i >= 0 && i < this.length)) {
      throw new RangeError(`index ${i} out of range [0, ${this.length})`);
    }
    const s = this.base.get(this.indices[i]);
    return { image: s.image, label: this.targets[i] };
  }

  /**
   * Internal: a plain description from which loader Workers rebuild this object.
   * @ignore
   */
  spec(): SubsetSpec {
    return {
      kind: "subset",
      base: this.base.spec(),
      indices: this.indices,
      labelMap: this.labelMap,
      classes: this.labelMap ? this.classes : undefined,
    };
  }
}

/**
 * Splits a dataset at random into parts whose sizes are given as counts or as fractions
 * summing to 1 (like torch.utils.data.random_split; leftovers from rounding go to the
 * parts in turn). Same seed, same split.
 */
export function randomSplit(dataset: Dataset, sizes: number[], seed: number): Subset[] {
  const n = dataset.length;
  let counts: number[];
  const total = sizes.reduce((a, b) => a + b, 0);
  if (sizes.every((s) => s >= 0 && s <= 1) && Math.abs(total - 1) < 1e-6) {
    counts = sizes.map((f) => Math.floor(f * n));
    let left = n - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; left > 0; i = (i + 1) % counts.length, left--) counts[i]++;
  } else counts = sizes;
  if (
    counts.reduce((a, b) => a + b, 0) !== n || counts.some((c) => c < 0 || !Number.isInteger(c))
  ) {
    throw new DatasetError(
      `randomSplit: sizes [${
        sizes.join(", ")
      }] neither sum to the dataset length ${n} nor are fractions summing to 1`,
    );
  }
  const perm = Rng.mixed(seed).permutation(n);
  const parts: Subset[] = [];
  let start = 0;
  for (const c of counts) {
    parts.push(new Subset(dataset, perm.slice(start, start + c)));
    start += c;
  }
  return parts;
}

/**
 * Holds out `fraction` of every class at random (seeded), as sklearn's
 * train_test_split(stratify=y) does, so the held-out part has the classes in the proportions
 * of the whole: class c gives round(n_c x fraction) samples, at least one and at most n_c - 1
 * (a class of one sample stays whole). Returns [kept, heldOut], each in dataset order. Same
 * dataset, fraction and seed: same split.
 */
export function stratifiedSplit(
  dataset: Dataset,
  fraction: number,
  seed: number,
): [Subset, Subset] {
  if (!(fraction > 0 && fraction < 1)) {
    throw new DatasetError(`stratifiedSplit: fraction must be in (0, 1), got ${fraction}`);
  }
  const byClass: number[][] = dataset.classes.map(() => []);
  for (let i = 0; i < dataset.length; i++) byClass[dataset.targets[i]].push(i);
  const rng = Rng.mixed(seed);
  const kept: number[] = [], held: number[] = [];
  for (const idx of byClass) {
    const k = idx.length < 2
      ? 0
      : Math.min(idx.length - 1, Math.max(1, Math.round(idx.length * fraction)));
    rng.shuffle(idx);
    held.push(...idx.slice(0, k));
    kept.push(...idx.slice(k));
  }
  const part = (a: number[]) => new Subset(dataset, Int32Array.from(a.sort((x, y) => x - y)));
  return [part(kept), part(held)];
}

/**
 * Keeps only the named classes, relabelled 0..k-1 in the order given (so a k-way head
 * can be trained on them). Unknown names are an error.
 */
export function subsetByClasses(dataset: Dataset, classNames: string[]): Subset {
  const map = new Int32Array(dataset.classes.length).fill(-1);
  classNames.forEach((name, k) => {
    const c = dataset.classes.indexOf(name);
    if (c < 0) {
      throw new DatasetError(
        `subsetByClasses: no class "${name}" (classes: ${dataset.classes.join(", ")})`,
      );
    }
    map[c] = k;
  });
  const indices: number[] = [];
  for (let i = 0; i < dataset.length; i++) if (map[dataset.targets[i]] >= 0) indices.push(i);
  return new Subset(dataset, Int32Array.from(indices), map, [...classNames]);
}

/**
 * Picks `count` samples of every class at random (seeded), keeping dataset order within
 * the result. A class with fewer samples is an error unless allowFewer is set.
 */
export function subsetPerClass(
  dataset: Dataset,
  count: number,
  seed: number,
  allowFewer = false,
): Subset {
  const byClass: number[][] = dataset.classes.map(() => []);
  for (let i = 0; i < dataset.length; i++) byClass[dataset.targets[i]].push(i);
  const rng = Rng.mixed(seed);
  const picked: number[] = [];
  byClass.forEach((idx, c) => {
    if (idx.length < count && !allowFewer) {
      throw new DatasetError(
        `subsetPerClass: class "${
          dataset.classes[c]
        }" has ${idx.length} samples, fewer than ${count}`,
      );
    }
    rng.shuffle(idx);
    picked.push(...idx.slice(0, count));
  });
  picked.sort((a, b) => a - b);
  return new Subset(dataset, Int32Array.from(picked));
}
