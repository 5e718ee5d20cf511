// Softmax cross-entropy over logits [rows, classes] with integer labels, and the top-1
// metrics that let training count accuracy without reading logits back.
//
// Row passes (log-sum-exp, per-row loss, argmax, correct counts) run one invocation per
// row: no workgroup memory or barriers, which suits the software driver, and a loss is a
// tiny part of a step on any adapter. Where the adapter has subgroups, the log-sum-exp and
// loss rows instead run one workgroup (a subgroup or a few) per row, combining the row's
// max and sums with subgroupMax/subgroupAdd. Elementwise passes (softmax, the loss
// gradient) run one invocation per logit and read the row's log-sum-exp from a row pass.
//
// Labels outside [0, classes) cannot raise on the GPU. They give a NaN row loss (so the
// mean loss is NaN, like an error that surfaces at the first readback), a zero gradient
// row (so weights are not corrupted), never count as correct, and are counted in the
// metrics accumulator's `invalid` slot so the caller can say how many there were.
//
// Every launcher splits the rows into chunks (gpu.chunks) so no binding exceeds the
// adapter's storage binding limit; chunks start at any row (offset bindings, kernel.ts).

import { type Binding, type Gpu, grid1d, WGSL_FLAT_INDEX } from "./device.ts";
import { fill } from "./elementwise.ts";
import { chunked, defineKernel } from "./kernel.ts";
import { sumAxis } from "./reduce.ts";
import {
  slotArgs,
  slotBuiltins,
  subgroupEnables,
  useSubgroups,
  wgslHasSubgroupId,
  workgroupReduceWgsl,
} from "./subgroup.ts";
import { type LossTuning, tuning } from "./tuning.ts";

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

// ---- kernels ------------------------------------------------------------------------------

// Every binding that holds rows is bound per chunk at any offset (`offset: true`).

interface RowVariant {
  /**
   * "lse": lse[r] = log(sum_c exp(x[r, c])). "loss": the label-smoothed row loss.
   * "weighted": the class-weighted row loss and its target's weight (see ROW).
   */
  mode: "lse" | "loss" | "weighted";
  /** Workgroup size: rows per workgroup, or invocations per row with subgroups. */
  wg: number;
  subgroups: boolean;
  /** The subgroup variant combines subgroups by subgroup_id (subgroup.ts). */
  ids: boolean;
}

// mode "loss": rowLoss[r] = (1-ε)·(lse - x[r, y]) + ε·(lse - mean_c x[r, c]), which is
// torch.nn.CrossEntropyLoss's label smoothing: ε spread uniformly over all classes.
// mode "weighted" (CrossEntropyLoss(weight=w) in PyTorch 1.13): rowLoss[2r] =
// (1-ε)·w[y]·(lse - x[r, y]) + ε/C·sum_c w[c]·(lse - x[r, c]) and rowLoss[2r+1] = w[y], the
// denominator's term (the mean divides by the sum of the targets' weights; an invalid label
// adds 0 there). weightTotal[0] is sum_c w[c]. `invalid` holds a NaN written from the CPU
// (a NaN constant cannot be written in WGSL).
const ROW = defineKernel({
  name: "log_sum_exp rows",
  key: (v: RowVariant) => `${v.mode} ${v.wg} ${+v.subgroups}${+v.ids}`,
  bindings: (v) =>
    v.mode === "loss"
      ? [chunked("x"), chunked("labels", "i32"), chunked("rowLoss", "f32", true)]
      : v.mode === "weighted"
      ? [
        chunked("x"),
        chunked("labels", "i32"),
        { name: "weights", type: "f32" },
        { name: "weightTotal", type: "f32" },
        chunked("rowLoss", "f32", true),
      ]
      : [chunked("x"), chunked("lse", "f32", true)],
  params: { rows: "u32", classes: "u32", smoothing: "f32", invalid: "f32" },
  enables: (v) => subgroupEnables(v.subgroups),
  body: (v) =>
    v.subgroups
      ? rowSubgroupBody(v, rowFinish(v.mode))
      : rowBody(v.wg, rowFinish(v.mode), v.mode === "weighted"),
});

/**
 * Writes row r's result from its log-sum-exp `l` and the sum of its logits `total` (in mode
 * "weighted", of its logits times their class weights).
 */
function rowFinish(mode: RowVariant["mode"]): string {
  if (mode === "weighted") {
    return `let y = labels[p.labelsOff + r];
    if (y < 0 || u32(y) >= p.classes) {
      rowLoss[p.rowLossOff + 2u * r] = p.invalid;
      rowLoss[p.rowLossOff + 2u * r + 1u] = 0.0;
    } else {
      let wy = weights[u32(y)];
      let nll = l - x[base + u32(y)];
      let spread = l * weightTotal[0] - total;
      rowLoss[p.rowLossOff + 2u * r] =
        (1.0 - p.smoothing) * wy * nll + p.smoothing / f32(p.classes) * spread;
      rowLoss[p.rowLossOff + 2u * r + 1u] = wy;
    }`;
  }
  return mode === "loss"
    ? `let y = labels[p.labelsOff + r];
    if (y < 0 || u32(y) >= p.classes) {
      rowLoss[p.rowLossOff + r] = p.invalid;
    } else {
      let nll = l - x[base + u32(y)];
      let spread = l - total / f32(p.classes);
      rowLoss[p.rowLossOff + r] = (1.0 - p.smoothing) * nll + p.smoothing * spread;
    }`
    : `lse[p.lseOff + r] = l;`;
}

// One invocation per row: no workgroup memory or barriers (what suits software drivers).
const rowBody = (wg: number, finish: string, weighted: boolean) => /* wgsl */ `
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flatIndex(gid, nwg, ${wg}u);
  if (r >= p.rows) { return; }
  let classes = p.classes; // read once: llvmpipe reloads uniforms inside loops
  let base = p.xOff + r * classes;
  var m = x[base];
  for (var c = 1u; c < classes; c++) { m = max(m, x[base + c]); }
  // subtracting the row max keeps exp() in range for any logits
  var s = 0.0;
  var total = 0.0;
  for (var c = 0u; c < classes; c++) {
    let v = x[base + c];
    s += exp(v - m);
    total += ${weighted ? "weights[c] * v" : "v"};
  }
  let l = m + log(s);
  {
    ${finish}
  }
}`;

// One workgroup per row: invocation l reads classes l, l + wg, ...; the row's max and its
// sums of exp(x - max) and x come from subgroupMax/subgroupAdd (subgroup.ts). Loop bounds
// depend only on the row, so the subgroup operations run in uniform control flow.
const rowSubgroupBody = ({ wg, ids, mode }: RowVariant, finish: string) => /* wgsl */ `
const LOWEST = -0x1.fffffep+127f; // the lowest finite f32
${workgroupReduceWgsl("rowMax", "f32", "max", "LOWEST", { wg, ids })}
${workgroupReduceWgsl("rowSums", "vec2f", "add", "vec2f(0.0)", { wg, ids })}
@compute @workgroup_size(${wg})
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
  ${slotBuiltins({ wg, ids })}
) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= p.rows) { return; } // the same for the whole workgroup
  let base = p.xOff + r * p.classes;
  var m = LOWEST;
  for (var c0 = 0u; c0 < p.classes; c0 += ${wg}u) {
    if (c0 + lid < p.classes) { m = max(m, x[base + c0 + lid]); }
  }
  m = rowMax(m, ${slotArgs({ wg, ids })});
  var sums = vec2f(0.0); // (sum of exp(x - m), sum of x)
  for (var c0 = 0u; c0 < p.classes; c0 += ${wg}u) {
    if (c0 + lid < p.classes) {
      let v = x[base + c0 + lid];
      sums += vec2f(exp(v - m), ${mode === "weighted" ? "weights[c0 + lid] * v" : "v"});
    }
  }
  sums = rowSums(sums, ${slotArgs({ wg, ids })});
  if (lid == 0u) {
    let l = m + log(sums.x);
    let total = sums.y;
    ${finish}
  }
}`;

// mode "softmax": out[r, c] = exp(x[r, c] - lse[r]).
// mode "grad": dx[r, c] = dLoss · scale · (softmax[r, c] - target[r, c]), with
// target = (1-ε)·onehot(y) + ε/classes and scale = 1/N of the whole batch.
// mode "weighted" (the gradient of ROW's weighted loss): dx[r, c] = dLoss / W ·
// (softmax[r, c]·((1-ε)·w[y] + ε/C·sum_k w[k]) - (1-ε)·w[y]·onehot(y)[c] - ε/C·w[c]), with
// W = sums[1], the sum of the targets' weights, and sum_k w[k] = weightTotal[0], both from the
// forward pass.
type ElementMode = "softmax" | "grad" | "weighted";
const ELEMENT = defineKernel({
  name: "softmax elements",
  key: (v: { mode: ElementMode; wg: number }) => `${v.mode} ${v.wg}`,
  bindings: (v) =>
    v.mode === "softmax" ? [chunked("x"), chunked("lse"), chunked("out", "f32", true)] : [
      chunked("x"),
      chunked("lse"),
      chunked("labels", "i32"),
      { name: "dLoss", type: "f32" },
      ...(v.mode === "weighted"
        ? [
          { name: "weights", type: "f32" },
          { name: "weightTotal", type: "f32" },
          { name: "sums", type: "f32" },
        ]
        : []),
      chunked("out", "f32", true),
    ],
  params: { rows: "u32", classes: "u32", smoothing: "f32", scale: "f32" },
  body: (v) => /* wgsl */ `
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${v.wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${v.wg}u);
  if (i >= p.rows * p.classes) { return; }
  let r = i / p.classes;
  let prob = exp(x[p.xOff + i] - lse[p.lseOff + r]);
  ${v.mode === "softmax" ? `out[p.outOff + i] = prob;` : gradWgsl(v.mode)}
}`,
});

function gradWgsl(mode: "grad" | "weighted"): string {
  const head = `let y = labels[p.labelsOff + r];
  if (y < 0 || u32(y) >= p.classes) {
    out[p.outOff + i] = 0.0;
    return;
  }
  let c = i - r * p.classes;`;
  if (mode === "grad") {
    return `${head}
  let goal = select(0.0, 1.0 - p.smoothing, u32(y) == c) + p.smoothing / f32(p.classes);
  out[p.outOff + i] = dLoss[0] * p.scale * (prob - goal);`;
  }
  return `${head}
  let a = (1.0 - p.smoothing) * weights[u32(y)];
  let b = p.smoothing / f32(p.classes);
  let d = prob * (a + b * weightTotal[0]) - select(0.0, a, u32(y) == c) - b * weights[c];
  out[p.outOff + i] = dLoss[0] / sums[1] * d;`;
}

// One invocation: loss[0] = sums[0] / sums[1] (the weighted loss's mean).
const WEIGHTED_MEAN = defineKernel({
  name: "weighted_mean",
  key: () => "",
  bindings: [
    { name: "sums", type: "f32" },
    { name: "loss", type: "f32", access: "read_write" },
  ],
  params: {},
  body: () => /* wgsl */ `
@compute @workgroup_size(1)
fn main() {
  loss[0] = sums[0] / sums[1];
}`,
});

type Top1Mode = "argmax" | "count" | "count+invalid" | "confusion";

// The first maximum wins, as torch.argmax. mode "count" adds correct rows to counts[0] and,
// with "count+invalid", rows with an invalid label to counts[1]; mode "confusion" adds 1 to
// counts[label · classes + prediction] (rows with an invalid label are left out); integer
// atomics make the sums exact and independent of order. mode "argmax" writes the index.
const TOP1 = defineKernel({
  name: "top1 rows",
  key: (v: { mode: Top1Mode; wg: number }) => `${v.mode} ${v.wg}`,
  bindings: (v) =>
    v.mode === "argmax" ? [chunked("x"), chunked("index", "i32", true)] : [
      chunked("x"),
      chunked("labels", "i32"),
      { name: "counts", type: "atomic<i32>", access: "read_write" as const },
    ],
  params: { rows: "u32", classes: "u32" },
  body: (v) => /* wgsl */ `
${WGSL_FLAT_INDEX}
fn isNan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}
@compute @workgroup_size(${v.wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = flatIndex(gid, nwg, ${v.wg}u);
  if (r >= p.rows) { return; }
  ${
    v.mode === "argmax" ? "" : `let y = labels[p.labelsOff + r];
  if (y < 0 || u32(y) >= p.classes) {
    ${v.mode === "count+invalid" ? "atomicAdd(&counts[1], 1);" : ""}
    return;
  }`
  }
  let classes = p.classes;
  let base = p.xOff + r * classes;
  var m = x[base];
  var best = 0u;
  // the first NaN is the largest, as in torch.argmax; tested on its bits, since a driver may
  // fold v != v to false
  var found = isNan(m);
  for (var c = 1u; c < classes; c++) {
    let v = x[base + c];
    if (!found && (v > m || isNan(v))) {
      m = v;
      best = c;
      found = isNan(v);
    }
  }
  ${
    v.mode === "argmax"
      ? "index[p.indexOff + r] = i32(best);"
      : v.mode === "confusion"
      ? "atomicAdd(&counts[u32(y) * classes + best], 1);"
      : "if (best == u32(y)) { atomicAdd(&counts[0], 1); }"
  }
}`,
});

// One invocation folds a batch's mean loss and counts into the epoch accumulator.
const FOLD_METRICS = defineKernel({
  name: "fold_metrics",
  key: () => "",
  bindings: [
    { name: "loss", type: "f32" },
    { name: "counts", type: "i32" },
    { name: "acc", type: "f32", access: "read_write" },
  ],
  params: { rows: "f32" },
  body: () => /* wgsl */ `
@compute @workgroup_size(1)
fn main() {
  acc[${METRIC_SLOTS.lossSum}] += loss[0] * p.rows;
  acc[${METRIC_SLOTS.correct}] += f32(counts[0]);
  acc[${METRIC_SLOTS.samples}] += p.rows;
  acc[${METRIC_SLOTS.invalid}] += f32(counts[1]);
}`,
});

// ---- launchers -----------------------------------------------------------------------------

/** The byte range of rows [start, start+count) of a buffer with `bytesPerRow`. */
function rowsOf(buffer: GPUBuffer, start: number, count: number, bytesPerRow: number): Binding {
  return { buffer, offset: start * bytesPerRow, size: count * bytesPerRow };
}

/** Records a row pass (log-sum-exp or row losses) over every chunk of the rows. */
function rowPass(
  g: Gpu,
  mode: RowVariant["mode"],
  bind: (start: number, count: number) => Binding[],
  rows: number,
  classes: number,
  smoothing: number,
  what: string,
): void {
  const t: LossTuning = tuning(g).loss;
  const subgroups = useSubgroups(g, t.subgroups, "loss");
  const ids = subgroups && t.subgroupIds && wgslHasSubgroupId();
  const kernel = ROW.get(g, { mode, wg: subgroups ? t.rowGroup : t.rows, subgroups, ids });
  const perRow = mode === "loss"
    ? [classes * 4, 4, 4]
    : mode === "weighted"
    ? [classes * 4, 4, 8]
    : [classes * 4, 4];
  for (const c of g.chunks(what, rows, perRow)) {
    kernel.dispatch(
      bind(c.start, c.count),
      { rows: c.count, classes, smoothing, invalid: NaN },
      subgroups ? grid1d(c.count, 1) : grid1d(c.count, t.rows),
      what,
    );
  }
}

/** lse[r] = log(sum_c exp(logits[r, c])), computed stably. */
export function logSumExpRows(
  g: Gpu,
  logits: GPUBuffer,
  lse: GPUBuffer,
  rows: number,
  classes: number,
): void {
  rowPass(
    g,
    "lse",
    (start, count) => [rowsOf(logits, start, count, classes * 4), rowsOf(lse, start, count, 4)],
    rows,
    classes,
    0,
    `log_sum_exp[${rows}x${classes}]`,
  );
}

/**
 * Class weights of a weighted cross-entropy (torch.nn.CrossEntropyLoss(weight=...)):
 * `weights` holds one f32 per class. The forward pass fills `total` (1 f32) with their sum
 * and `sums` (2 f32) with the weighted loss sum and the sum of the targets' weights (the
 * mean's denominator); the backward pass reads both.
 */
export interface ClassWeights {
  weights: GPUBuffer;
  total: GPUBuffer;
  sums: GPUBuffer;
}

/**
 * loss[0] = mean over rows of the label-smoothed softmax cross-entropy (see ROW); with
 * `weighted`, the class-weighted mean (sum of weighted row losses / sum of w[label]).
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
  weighted: ClassWeights | null = null,
): void {
  if (weighted) sumAxis(g, weighted.weights, weighted.total, 1, classes, 1);
  const perRow = weighted ? 8 : 4;
  const rowLoss = g.pool.acquire(rows * perRow, "cross-entropy row losses");
  rowPass(
    g,
    weighted ? "weighted" : "loss",
    (start, count) => [
      rowsOf(logits, start, count, classes * 4),
      rowsOf(labels, start, count, 4),
      ...(weighted
        ? [
          { buffer: weighted.weights, offset: 0, size: classes * 4 },
          { buffer: weighted.total, offset: 0, size: 4 },
        ]
        : []),
      rowsOf(rowLoss, start, count, perRow),
    ],
    rows,
    classes,
    smoothing,
    `cross_entropy[${rows}x${classes}]`,
  );
  if (weighted) {
    sumAxis(g, rowLoss, weighted.sums, 1, rows, 2);
    WEIGHTED_MEAN.get(g, null).dispatch(
      [{ buffer: weighted.sums, offset: 0, size: 8 }, { buffer: loss, offset: 0, size: 4 }],
      {},
      [1],
      `weighted_mean[${rows}]`,
    );
  } else {
    sumAxis(g, rowLoss, loss, 1, rows, 1, 1 / rows);
  }
  g.pool.release(rowLoss);
}

/** Records an elementwise pass (softmax or the loss gradient) over every chunk of the rows. */
function elementPass(
  g: Gpu,
  mode: ElementMode,
  bind: (start: number, count: number) => Binding[],
  rows: number,
  classes: number,
  params: { smoothing: number; scale: number },
  what: string,
): void {
  const wg = tuning(g).loss.elements;
  const kernel = ELEMENT.get(g, { mode, wg });
  const perRow = mode === "softmax" ? [classes * 4, 4] : [classes * 4, 4, 4];
  for (const c of g.chunks(what, rows, perRow)) {
    kernel.dispatch(
      bind(c.start, c.count),
      { rows: c.count, classes, ...params },
      grid1d(c.count * classes, wg),
      what,
    );
  }
}

/**
 * dLogits = dLoss[0] · (softmax(logits) - target) / rows, target = (1-ε)·onehot + ε/classes;
 * with `weighted` (after its forward pass), the weighted loss's gradient (see ELEMENT).
 * Rows with an invalid label get zeros. `dLoss` is the loss's incoming gradient (one f32 on
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
  weighted: ClassWeights | null = null,
): void {
  const lse = g.pool.acquire(rows * 4, "cross-entropy lse");
  logSumExpRows(g, logits, lse, rows, classes);
  elementPass(
    g,
    weighted ? "weighted" : "grad",
    (start, count) => [
      rowsOf(logits, start, count, classes * 4),
      rowsOf(lse, start, count, 4),
      rowsOf(labels, start, count, 4),
      { buffer: dLoss, offset: 0, size: 4 },
      ...(weighted
        ? [
          { buffer: weighted.weights, offset: 0, size: classes * 4 },
          { buffer: weighted.total, offset: 0, size: 4 },
          { buffer: weighted.sums, offset: 0, size: 8 },
        ]
        : []),
      rowsOf(dLogits, start, count, classes * 4),
    ],
    rows,
    classes,
    { smoothing, scale: 1 / rows },
    `cross_entropy_backward[${rows}x${classes}]`,
  );
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
  elementPass(
    g,
    "softmax",
    (start, count) => [
      rowsOf(logits, start, count, classes * 4),
      rowsOf(lse, start, count, 4),
      rowsOf(probs, start, count, classes * 4),
    ],
    rows,
    classes,
    { smoothing: 0, scale: 0 },
    `softmax[${rows}x${classes}]`,
  );
  g.pool.release(lse);
}

/** Records a top-1 pass (argmax or correct counts) over every chunk of the rows. */
function top1Pass(
  g: Gpu,
  mode: Top1Mode,
  bind: (start: number, count: number) => Binding[],
  rows: number,
  classes: number,
  what: string,
): void {
  const wg = tuning(g).loss.rows;
  const kernel = TOP1.get(g, { mode, wg });
  for (const c of g.chunks(what, rows, [classes * 4, 4])) {
    kernel.dispatch(bind(c.start, c.count), { rows: c.count, classes }, grid1d(c.count, wg), what);
  }
}

/** index[r] = argmax_c logits[r, c] as i32 (the first maximum wins, as torch.argmax). */
export function argmaxRows(
  g: Gpu,
  logits: GPUBuffer,
  index: GPUBuffer,
  rows: number,
  classes: number,
): void {
  top1Pass(
    g,
    "argmax",
    (start, count) => [rowsOf(logits, start, count, classes * 4), rowsOf(index, start, count, 4)],
    rows,
    classes,
    `argmax[${rows}x${classes}]`,
  );
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
  const countBytes = countInvalid ? 8 : 4;
  top1Pass(
    g,
    countInvalid ? "count+invalid" : "count",
    (start, count) => [
      rowsOf(logits, start, count, classes * 4),
      rowsOf(labels, start, count, 4),
      { buffer: counts, offset: 0, size: countBytes },
    ],
    rows,
    classes,
    `count_correct[${rows}x${classes}]`,
  );
}

/**
 * Adds to the i32 counts [classes, classes] (row: the label, column: the argmax) one count
 * per row whose label is in [0, classes): a confusion matrix accumulated over batches.
 */
export function confusionCounts(
  g: Gpu,
  logits: GPUBuffer,
  labels: GPUBuffer,
  counts: GPUBuffer,
  rows: number,
  classes: number,
): void {
  top1Pass(
    g,
    "confusion",
    (start, count) => [
      rowsOf(logits, start, count, classes * 4),
      rowsOf(labels, start, count, 4),
      { buffer: counts, offset: 0, size: classes * classes * 4 },
    ],
    rows,
    classes,
    `confusion[${rows}x${classes}]`,
  );
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
  FOLD_METRICS.get(g, null).dispatch(
    [
      { buffer: loss, offset: 0, size: 4 },
      { buffer: counts, offset: 0, size: 8 },
      { buffer: acc, offset: 0, size: METRIC_COUNT * 4 },
    ],
    { rows },
    [1],
    `fold_metrics[${rows}]`,
  );
  g.pool.release(counts);
}
