// Sampling with replacement by weight, like torch.utils.data.WeightedRandomSampler(weights,
// num_samples, replacement=True): each epoch draws `length` dataset indices, index i with
// probability weights[i] / sum(weights). The draws of an epoch depend only on (seed, epoch),
// so an epoch can be rebuilt exactly (a resumed run skips the batches already done, as with
// a shuffled order). balancedSampleWeights gives each sample 1 / (its class's count), so
// every class is drawn equally often on average.

import { mixSeed, Rng } from "../base/rng.ts";

/** An epoch's sample order for a DataLoader (its `sampler` option). */
export interface Sampler {
  /** Samples per epoch. */
  readonly length: number;
  /** The dataset indices of epoch `epoch`, in order (the same for the same epoch). */
  order(epoch: number): Int32Array;
}

/** torch.utils.data.WeightedRandomSampler with replacement, seeded (see the file comment). */
export class WeightedRandomSampler implements Sampler {
  /** Running sums of the weights: index i is drawn for u in [cum[i-1], cum[i]). */
  private readonly cumulative: Float64Array;

  /**
   * Draws `length` indices per epoch, index i with probability weights[i] / sum(weights);
   * weights must be finite and >= 0 with a positive sum.
   */
  constructor(weights: ArrayLike<number>, readonly length: number, private readonly seed = 0) {
    if (!(Number.isInteger(length) && length > 0)) {
      throw new RangeError(
        `WeightedRandomSampler: length must be a positive integer, got ${length}`,
      );
    }
    this.cumulative = new Float64Array(weights.length);
    let sum = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i];
      if (!(Number.isFinite(w) && w >= 0)) {
        throw new RangeError(
          `WeightedRandomSampler: weight ${i} is ${w}; weights must be finite and >= 0`,
        );
      }
      this.cumulative[i] = sum += w;
    }
    if (!(sum > 0)) throw new RangeError("WeightedRandomSampler: the weights sum to 0");
  }

  /** The draws of `epoch`: a function of (seed, epoch) only. */
  order(epoch: number): Int32Array {
    const cum = this.cumulative, n = cum.length, total = cum[n - 1];
    const rng = Rng.mixed(mixSeed(this.seed, epoch, 0x5a3b1e));
    const out = new Int32Array(this.length);
    for (let k = 0; k < out.length; k++) {
      const u = rng.next() * total;
      // the first i with cum[i] > u: a zero-weight index (cum[i] = cum[i-1]) is never chosen
      let lo = 0, hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
      }
      out[k] = lo;
    }
    return out;
  }
}

/** The samples of each class among `targets` (labels in [0, classes)). */
export function classCounts(targets: ArrayLike<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < targets.length; i++) counts[targets[i]]++;
  return counts;
}

/** 1 / (count of its class) for every sample: the weights of a class-balanced sampler. */
export function balancedSampleWeights(targets: ArrayLike<number>, classes: number): Float64Array {
  const counts = classCounts(targets, classes);
  return Float64Array.from({ length: targets.length }, (_, i) => 1 / counts[targets[i]]);
}
