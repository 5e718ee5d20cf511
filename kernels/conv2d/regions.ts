// Border regions of a conv2d gather launch. Near the image borders some taps of the kernel
// read only zero padding; a launch multiplies by those zeros unless it is split into
// regions of positions that share the same valid taps. Small planes waste the most: a 3x3
// kernel with padding 1 on a 2x2 input uses 4 of its 9 taps at every position, and on a 1x1
// input only the centre tap. regions() picks, per axis, whether to keep one region (with
// the taps that are valid nowhere dropped) or to split it, by a cost that weighs the
// multiplies saved against the fixed cost of each extra launch.

/**
 * One dimension (rows or columns) of a gather launch: positions t = 0..count-1 are written
 * at dst coordinate t*outMul + outOff and read, for tap a = 0..taps-1, src coordinate
 * t*inMul + inOff + a*step (valid when inside 0..srcSize-1) with kernel index kBase + a*kMul.
 */
export interface Axis {
  count: number;
  srcSize: number;
  inMul: number;
  inOff: number;
  step: 1 | -1;
  taps: number;
  kBase: number;
  kMul: number;
  outMul: number;
  outOff: number;
}

/** The taps [lo, hi) of `ax` that read inside the source at position t ([0, 0) if none). */
function validTaps(ax: Axis, t: number): [number, number] {
  const base = t * ax.inMul + ax.inOff;
  // base + a*step must lie in [0, srcSize)
  const [lo, hi] = ax.step === 1 ? [-base, ax.srcSize - base] : [base - ax.srcSize + 1, base + 1];
  const l = Math.max(0, lo);
  const h = Math.min(ax.taps, hi);
  return h > l ? [l, h] : [0, 0];
}

/** The part of `ax` covering positions [t0, t0 + count) and taps [lo, hi). */
function subAxis(ax: Axis, t0: number, count: number, lo: number, hi: number): Axis {
  return {
    ...ax,
    count,
    inOff: ax.inOff + t0 * ax.inMul + lo * ax.step,
    taps: hi - lo,
    kBase: ax.kBase + lo * ax.kMul,
    outOff: ax.outOff + t0 * ax.outMul,
  };
}

/**
 * Two ways to cover an axis: one region with the taps valid anywhere on it, and runs of
 * positions with the same valid taps. Each comes with its count of (position, tap) pairs.
 */
function axisPlans(ax: Axis): { regions: Axis[]; products: number }[] {
  if (ax.count === 0) return [{ regions: [], products: 0 }];
  const ranges = Array.from({ length: ax.count }, (_, t) => validTaps(ax, t));
  const used = ranges.filter(([l, h]) => h > l);
  const lo = used.length ? Math.min(...used.map(([l]) => l)) : 0;
  const hi = used.length ? Math.max(...used.map(([, h]) => h)) : 0;
  const whole = { regions: [subAxis(ax, 0, ax.count, lo, hi)], products: ax.count * (hi - lo) };
  const runs: Axis[] = [];
  let start = 0;
  for (let t = 1; t <= ax.count; t++) {
    if (t === ax.count || ranges[t][0] !== ranges[start][0] || ranges[t][1] !== ranges[start][1]) {
      runs.push(subAxis(ax, start, t - start, ...ranges[start]));
      start = t;
    }
  }
  if (runs.length === 1) return [whole];
  return [whole, { regions: runs, products: used.reduce((s, [l, h]) => s + h - l, 0) }];
}

/** Row and column regions to launch (every pair of one row and one column region). */
export interface RegionPlan {
  rows: Axis[];
  cols: Axis[];
}

/**
 * The cheapest of splitting neither, either or both axes, costing `macsPerProduct`
 * multiply-adds per (row position and tap, column position and tap) pair plus `launchMacs`
 * per launch.
 */
export function planRegions(
  rows: Axis,
  cols: Axis,
  macsPerProduct: number,
  launchMacs: number,
): RegionPlan {
  let best: RegionPlan & { cost: number } = { rows: [], cols: [], cost: Infinity };
  for (const r of axisPlans(rows)) {
    for (const c of axisPlans(cols)) {
      const launches = r.regions.length * c.regions.length;
      const cost = r.products * c.products * macsPerProduct + launches * launchMacs;
      if (cost < best.cost) best = { rows: r.regions, cols: c.regions, cost };
    }
  }
  return best;
}

/** Kernel rows [kh0, kh0 + winH) and columns [kw0, kw0 + winW): the taps a launch uses. */
export interface TapWindow {
  kh0: number;
  winH: number;
  kw0: number;
  winW: number;
}

/** The kernel indices [lo, hi) that any region of `axes` reads (empty: [0, 0)). */
export function kernelWindow(axes: readonly Axis[]): [number, number] {
  const used = axes.filter((a) => a.taps > 0 && a.count > 0);
  if (!used.length) return [0, 0];
  const lo = Math.min(...used.map((a) => a.kBase));
  const hi = Math.max(...used.map((a) => a.kBase + (a.taps - 1) * a.kMul + 1));
  return [lo, hi];
}

/**
 * The kernel indices [lo, hi) along one dimension that read inside the source for some
 * output position: count positions reading srcSize pixels at t*stride - pad + k.
 * Taps outside it read only padding (for every position). Empty: [0, 0).
 */
export function usedTaps(
  count: number,
  srcSize: number,
  stride: number,
  pad: number,
  taps: number,
): [number, number] {
  const ok = (k: number) => {
    const t = Math.max(0, Math.ceil((pad - k) / stride)); // first position with a source >= 0
    return t < count && t * stride - pad + k < srcSize;
  };
  let lo = 0;
  while (lo < taps && !ok(lo)) lo++;
  let hi = taps;
  while (hi > lo && !ok(hi - 1)) hi--;
  return [lo, hi];
}
