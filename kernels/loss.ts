// Softmax cross-entropy over logits [rows, classes] with integer labels, and the top-1
// metrics that let training count accuracy without reading logits back.
//
// Row passes (log-sum-exp, per-row loss, argmax, correct counts) run one invocation per
// row: no workgroup memory or barriers, which suits the software driver, and a loss is a
// tiny part of a step on any adapter. Elementwise passes (softmax, the loss gradient) run
// one invocation per logit and read the row's log-sum-exp from a row pass.
//
// Labels outside [0, classes) cannot raise on the GPU. They give a NaN row loss (so the
// mean loss is NaN, like an error that surfaces at the first readback), a zero gradient
// row (so weights are not corrupted), never count as correct, and are counted in the
// metrics accumulator's `invalid` slot so the caller can say how many there were.
//
// Every launcher splits the rows into chunks (gpu.chunks) so no binding exceeds the
// adapter's storage binding limit.

import { type Binding, type Gpu, grid1d, WGSL_FLAT_INDEX } from "./device.ts";
import { fill } from "./elementwise.ts";
import { sumAxis } from "./reduce.ts";

// Workgroup sizes of this family, in one place so they can be tuned per adapter. A loss
// is a few launches per step, so the same values serve the software driver and GPUs.
const TILES = { rows: 64, elements: 256 } as const;

/** Slots of the f32 metrics accumulator filled by accumulateMetrics. */
export const METRIC_SLOTS = {
  /** Sum over batches of mean loss × batch rows (the summed per-sample loss). */
  lossSum: 0,
  /** Rows whose argmax equals the label. */
  correct: 1,
  /** Rows seen. */
  samples: 2,
  /** Rows whose label was outside [0, classes). */
  invalid: 3,
} as const;
export const METRIC_COUNT = 4;

// ---- WGSL --------------------------------------------------------------------------------

// mode "lse": lse[r] = log(sum_c exp(x[r, c])).
// mode "loss": rowLoss[r] = (1-ε)·(lse - x[r, y]) + ε·(lse - mean_c x[r, c]), which is
// torch.nn.CrossEntropyLoss's label smoothing: ε spread uniformly over all classes.
function rowSource(mode: "lse" | "loss"): string {
  const loss = mode === "loss";
  const bindings = loss
    ? `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> rowLoss: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;`
    : `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;`;
  const finish = loss
    ? `let y = labels[r];
  if (y < 0 || u32(y) >= p.classes) {
    rowLoss[r] = p.invalid;
    return;
  }
  let nll = l - x[base + u32(y)];
  let spread = l - total / f32(p.classes);
  rowLoss[r] = (1.0 - p.smoothing) * nll + p.smoothing * spread;`
    : `lse[r] = l;`;
  return /* wgsl */ `
// invalid holds a NaN written from the CPU (a NaN constant cannot be written in WGSL)
struct Params { rows: u32, classes: u32, smoothing: f32, invalid: f32 }
${bindings}
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${TILES.rows})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flatIndex(gid, nwg, ${TILES.rows}u);
  if (r >= p.rows) { return; }
  let base = r * p.classes;
  var m = x[base];
  for (var c = 1u; c < p.classes; c++) { m = max(m, x[base + c]); }
  // subtracting the row max keeps exp() in range for any logits
  var s = 0.0;
  var total = 0.0;
  for (var c = 0u; c < p.classes; c++) {
    let v = x[base + c];
    s += exp(v - m);
    total += v;
  }
  let l = m + log(s);
  ${finish}
}`;
}

// mode "softmax": out[r, c] = exp(x[r, c] - lse[r]).
// mode "grad": dx[r, c] = dLoss · scale · (softmax[r, c] - target[r, c]), with
// target = (1-ε)·onehot(y) + ε/classes and scale = 1/N of the whole batch.
function elementSource(mode: "softmax" | "grad"): string {
  const grad = mode === "grad";
  const bindings = grad
    ? `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> lse: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> dLoss: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;`
    : `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> lse: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;`;
  const body = grad
    ? `let y = labels[r];
  if (y < 0 || u32(y) >= p.classes) {
    out[i] = 0.0;
    return;
  }
  let c = i - r * p.classes;
  let goal = select(0.0, 1.0 - p.smoothing, u32(y) == c) + p.smoothing / f32(p.classes);
  out[i] = dLoss[0] * p.scale * (prob - goal);`
    : `out[i] = prob;`;
  return /* wgsl */ `
struct Params { rows: u32, classes: u32, smoothing: f32, scale: f32 }
${bindings}
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${TILES.elements})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${TILES.elements}u);
  if (i >= p.rows * p.classes) { return; }
  let r = i / p.classes;
  let prob = exp(x[i] - lse[r]);
  ${body}
}`;
}

// The first maximum wins, as torch.argmax. mode "count" adds correct rows to counts[0] and,
// with two slots, rows with an invalid label to counts[1]; integer atomics make the sum
// exact and independent of order. mode "argmax" writes the index.
function top1Source(mode: "argmax" | "count" | "count+invalid"): string {
  const bindings = mode === "argmax"
    ? `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> index: array<i32>;
@group(0) @binding(2) var<uniform> p: Params;`
    : `@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<i32>>;
@group(0) @binding(3) var<uniform> p: Params;`;
  const check = mode === "argmax" ? "" : `let y = labels[r];
  if (y < 0 || u32(y) >= p.classes) {
    ${mode === "count+invalid" ? "atomicAdd(&counts[1], 1);" : ""}
    return;
  }`;
  const finish = mode === "argmax"
    ? `index[r] = i32(best);`
    : `if (best == u32(y)) { atomicAdd(&counts[0], 1); }`;
  return /* wgsl */ `
struct Params { rows: u32, classes: u32 }
${bindings}
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${TILES.rows})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flatIndex(gid, nwg, ${TILES.rows}u);
  if (r >= p.rows) { return; }
  ${check}
  let base = r * p.classes;
  var m = x[base];
  var best = 0u;
  for (var c = 1u; c < p.classes; c++) {
    let v = x[base + c];
    if (v > m) {
      m = v;
      best = c;
    }
  }
  ${finish}
}`;
}

// One invocation folds a batch's mean loss and counts into the epoch accumulator.
const FOLD_METRICS = /* wgsl */ `
@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read> counts: array<i32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;
struct Params { rows: f32 }
@group(0) @binding(3) var<uniform> p: Params;
@compute @workgroup_size(1)
fn main() {
  acc[${METRIC_SLOTS.lossSum}] += loss[0] * p.rows;
  acc[${METRIC_SLOTS.correct}] += f32(counts[0]);
  acc[${METRIC_SLOTS.samples}] += p.rows;
  acc[${METRIC_SLOTS.invalid}] += f32(counts[1]);
}`;

// ---- launchers -----------------------------------------------------------------------------

/** The byte range of rows [start, start+count) of a buffer with `bytesPerRow`. */
function rowsOf(buffer: GPUBuffer, start: number, count: number, bytesPerRow: number): Binding {
  return { buffer, offset: start * bytesPerRow, size: count * bytesPerRow };
}

function u32Params(values: readonly number[], floats: readonly number[] = []): Uint32Array {
  const u = new Uint32Array(values.length + floats.length);
  u.set(values);
  new Float32Array(u.buffer).set(floats, values.length);
  return u;
}

/** lse[r] = log(sum_c exp(logits[r, c])), computed stably. */
export function logSumExpRows(
  g: Gpu,
  logits: GPUBuffer,
  lse: GPUBuffer,
  rows: number,
  classes: number,
): void {
  const kernel = g.kernel("log_sum_exp", rowSource("lse"));
  const what = `log_sum_exp[${rows}x${classes}]`;
  for (const c of g.chunks(what, rows, [classes * 4, 4], true)) {
    g.dispatch(
      kernel,
      [rowsOf(logits, c.start, c.count, classes * 4), rowsOf(lse, c.start, c.count, 4)],
      u32Params([c.count, classes], [0, 0]),
      grid1d(c.count, TILES.rows),
      what,
    );
  }
}

/**
 * loss[0] = mean over rows of the label-smoothed softmax cross-entropy (see rowSource).
 * `labels` holds i32 class indices; an index outside [0, classes) makes the loss NaN.
 */
export function crossEntropyForward(
  g: Gpu,
  logits: GPUBuffer,
  labels: GPUBuffer,
  loss: GPUBuffer,
  rows: number,
  classes: number,
  smoothing: number,
): void {
  const kernel = g.kernel("cross_entropy", rowSource("loss"));
  const what = `cross_entropy[${rows}x${classes}]`;
  const rowLoss = g.pool.acquire(rows * 4, "cross-entropy row losses");
  for (const c of g.chunks(what, rows, [classes * 4, 4, 4], true)) {
    g.dispatch(
      kernel,
      [
        rowsOf(logits, c.start, c.count, classes * 4),
        rowsOf(labels, c.start, c.count, 4),
        rowsOf(rowLoss, c.start, c.count, 4),
      ],
      u32Params([c.count, classes], [smoothing, NaN]),
      grid1d(c.count, TILES.rows),
      what,
    );
  }
  sumAxis(g, rowLoss, loss, 1, rows, 1, 1 / rows);
  g.pool.release(rowLoss);
}

/**
 * dLogits = dLoss[0] · (softmax(logits) - target) / rows, target = (1-ε)·onehot + ε/classes;
 * rows with an invalid label get zeros. `dLoss` is the loss's incoming gradient (one f32 on
 * the GPU, never read back).
 */
export function crossEntropyBackward(
  g: Gpu,
  logits: GPUBuffer,
  labels: GPUBuffer,
  dLoss: GPUBuffer,
  dLogits: GPUBuffer,
  rows: number,
  classes: number,
  smoothing: number,
): void {
  const lse = g.pool.acquire(rows * 4, "cross-entropy lse");
  logSumExpRows(g, logits, lse, rows, classes);
  const kernel = g.kernel("cross_entropy_backward", elementSource("grad"));
  const what = `cross_entropy_backward[${rows}x${classes}]`;
  for (const c of g.chunks(what, rows, [classes * 4, 4, 4], true)) {
    g.dispatch(
      kernel,
      [
        rowsOf(logits, c.start, c.count, classes * 4),
        rowsOf(lse, c.start, c.count, 4),
        rowsOf(labels, c.start, c.count, 4),
        { buffer: dLoss, offset: 0, size: 4 },
        rowsOf(dLogits, c.start, c.count, classes * 4),
      ],
      u32Params([c.count, classes], [smoothing, 1 / rows]),
      grid1d(c.count * classes, TILES.elements),
      what,
    );
  }
  g.pool.release(lse);
}

/** probs[r, c] = softmax over c of logits[r, c] (stable: exp(x - logsumexp)). */
export function softmaxRows(
  g: Gpu,
  logits: GPUBuffer,
  probs: GPUBuffer,
  rows: number,
  classes: number,
): void {
  const lse = g.pool.acquire(rows * 4, "softmax lse");
  logSumExpRows(g, logits, lse, rows, classes);
  const kernel = g.kernel("softmax", elementSource("softmax"));
  const what = `softmax[${rows}x${classes}]`;
  for (const c of g.chunks(what, rows, [classes * 4, 4], true)) {
    g.dispatch(
      kernel,
      [
        rowsOf(logits, c.start, c.count, classes * 4),
        rowsOf(lse, c.start, c.count, 4),
        rowsOf(probs, c.start, c.count, classes * 4),
      ],
      u32Params([c.count, classes], [0, 0]),
      grid1d(c.count * classes, TILES.elements),
      what,
    );
  }
  g.pool.release(lse);
}

/** index[r] = argmax_c logits[r, c] as i32 (the first maximum wins, as torch.argmax). */
export function argmaxRows(
  g: Gpu,
  logits: GPUBuffer,
  index: GPUBuffer,
  rows: number,
  classes: number,
): void {
  const kernel = g.kernel("argmax", top1Source("argmax"));
  const what = `argmax[${rows}x${classes}]`;
  for (const c of g.chunks(what, rows, [classes * 4, 4], true)) {
    g.dispatch(
      kernel,
      [rowsOf(logits, c.start, c.count, classes * 4), rowsOf(index, c.start, c.count, 4)],
      u32Params([c.count, classes]),
      grid1d(c.count, TILES.rows),
      what,
    );
  }
}

/**
 * Adds to the i32 counts[0] the number of rows whose argmax equals their label; with
 * `countInvalid`, adds to counts[1] the rows whose label is outside [0, classes). Adds, so
 * the caller zeroes the counters first or accumulates over batches.
 */
export function countCorrect(
  g: Gpu,
  logits: GPUBuffer,
  labels: GPUBuffer,
  counts: GPUBuffer,
  rows: number,
  classes: number,
  countInvalid = false,
): void {
  const mode = countInvalid ? "count+invalid" : "count";
  const kernel = g.kernel("count_correct", top1Source(mode));
  const what = `count_correct[${rows}x${classes}]`;
  const countBytes = countInvalid ? 8 : 4;
  for (const c of g.chunks(what, rows, [classes * 4, 4], true)) {
    g.dispatch(
      kernel,
      [
        rowsOf(logits, c.start, c.count, classes * 4),
        rowsOf(labels, c.start, c.count, 4),
        { buffer: counts, offset: 0, size: countBytes },
      ],
      u32Params([c.count, classes]),
      grid1d(c.count, TILES.rows),
      what,
    );
  }
}

/**
 * Adds one batch to the f32 accumulator `acc` (METRIC_COUNT slots, see METRIC_SLOTS):
 * the batch's summed loss (mean loss[0] × rows), its correct and invalid-label counts, and
 * its rows. Counts are exact in f32 up to 2^24 rows per accumulator.
 */
export function accumulateMetrics(
  g: Gpu,
  loss: GPUBuffer,
  logits: GPUBuffer,
  labels: GPUBuffer,
  acc: GPUBuffer,
  rows: number,
  classes: number,
): void {
  const counts = g.pool.acquire(8, "metrics counts");
  fill(g, counts, 2, 0); // f32 +0.0 and i32 0 have the same bits
  countCorrect(g, logits, labels, counts, rows, classes, true);
  g.dispatch(
    g.kernel("fold_metrics", FOLD_METRICS),
    [{ buffer: loss, offset: 0, size: 4 }, { buffer: counts, offset: 0, size: 8 }, {
      buffer: acc,
      offset: 0,
      size: METRIC_COUNT * 4,
    }],
    new Float32Array([rows]),
    [1],
    `fold_metrics[${rows}]`,
  );
  g.pool.release(counts);
}
