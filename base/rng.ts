// One small seeded random number generator (mulberry32) for every room: initialisation in
// nn/, shuffles, splits and augmentations in data/. Reproducible across runs and platforms;
// not cryptographic. Two seedings, both kept because results depend on them: `new Rng(seed)`
// (nn's: the ResNet fixtures were made with it) and `Rng.mixed(seed)` (data's: the seed goes
// through a murmur finaliser first, so nearby seeds such as (seed, epoch, index) give
// unrelated streams).

/** Finalisation step of MurmurHash3: spreads every input bit over the 32-bit output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Combines integers into one well-mixed 32-bit seed, e.g. (loaderSeed, epoch, sampleIndex).
 * Order matters: mixSeed(1, 2) != mixSeed(2, 1).
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    // Fold in both halves so seeds above 2^32 still matter.
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    h = fmix32((h ^ lo) + 0x7f4a7c15);
    h = fmix32((h ^ hi) + 0x165667b1);
  }
  return h;
}

/** A seeded pseudo-random generator (uniform, normal, integers, shuffles): `new Rng(seed)`. */
export class Rng {
  #state: number;

  /** nn's seeding: the state is the seed xor the golden ratio. */
  constructor(seed = 0) {
    this.#state = ((seed >>> 0) ^ 0x9e3779b9) >>> 0;
  }

  /** data's seeding: the state is mixSeed(seed). */
  static mixed(seed: number): Rng {
    const rng = new Rng();
    rng.#state = mixSeed(seed);
    return rng;
  }

  /** Next uniform unsigned 32-bit integer. */
  nextU32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform draw in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** A uniform draw in [low, high). */
  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.next();
  }

  /** A standard normal draw (Box-Muller). */
  normal(mean = 0, std = 1): number {
    const u = 1 - this.next(); // (0, 1]: log(u) is finite
    const v = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A uniform integer in [lo, hi) (hi exclusive, like torch.randint). */
  int(lo: number, hi: number): number {
    if (!(hi > lo)) throw new RangeError(`Rng.int: empty range [${lo}, ${hi})`);
    return lo + Math.floor(this.next() * (hi - lo));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Fills `out` with uniform draws in [low, high). */
  fillUniform(out: Float32Array, low = 0, high = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(low, high);
    return out;
  }

  /** Fills `out` with normal draws. */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
