// Batch normalisation over NCHW activations (per-channel statistics over N, H, W), forward
// and backward, and the in-place update of the running statistics.
//
// Every pass that reduces over a channel runs in two steps, since WGSL has no float atomics:
// pass 1 has `lanes` invocations per channel, lane t visiting the flattened (n, hw) indices
// t, t + lanes, t + 2*lanes, ... (neighbouring lanes read neighbouring addresses), each
// writing one partial result; pass 2 has one invocation per channel combining the partials.
//
// Variance, stably: each lane accumulates shifted sums (shift = its first element, a sample
// of the same channel, so within a few standard deviations of the mean) and turns them into
// (count, mean, M2); pass 2 merges those with Chan's pairwise formula. No sum of squares of
// raw values is ever formed, so a large mean does not cancel the variance away.
//
// Large activations are processed in chunks along the batch: each chunk writes its own
// partials (the partial buffer, small, is bound whole), and pass 2 merges all of them.
//
// Per-channel coefficients live in a [C, 4] buffer (vec4 per channel):
//   forward:  (mean, invstd, scale, bias) with y = (x - mean) * scale + bias
//             (not x * scale + shift: with a large mean that form cancels in f32)
//   backward: (a, b, c, mean)              with dx = a * dy + b * (x - mean) + c

import { type Gpu, grid1d, type Kernel, WGSL_FLAT_INDEX } from "./device.ts";
import { type BatchNormTuning, tuning } from "./tuning.ts";

/** The family's tile parameters, from the one tuning table (tuning.ts). */
export function batchNormTiles(g: Gpu): BatchNormTuning {
  return tuning(g).batchnorm;
}

/** Sizes of an NCHW activation as batch normalisation sees it. */
export interface BnShape {
  n: number;
  c: number;
  /** h * w */
  hw: number;
}

// ---- pass 1: per-lane partials ----------------------------------------------------------

/** WGSL of pass 1: (count, mean, M2) per lane, or (sum dy, sum dy * (x - mean)). */
function partialsSource(
  wg: number,
  kind: "moments" | "gradSums",
): string {
  const moments = kind === "moments";
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
${
    moments ? "" : `@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<vec4f>;`
  }
@group(0) @binding(${moments ? 1 : 3}) var<storage, read_write> part: array<f32>;
// q, r: lanes = q * hw + r, the step of a lane through (n, hw)
struct Params { n: u32, c: u32, hw: u32, lanes: u32, q: u32, r: u32, base: u32, stride: u32 }
@group(0) @binding(${moments ? 2 : 4}) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flatIndex(gid, nwg, ${wg}u);
  if (id >= p.c * p.lanes) { return; }
  let ch = id / p.lanes;
  let t = id % p.lanes;
  var n = t / p.hw;
  var s = t % p.hw;
${
    moments
      ? `  var shift = 0.0;
  if (n < p.n) { shift = x[(n * p.c + ch) * p.hw + s]; }
  var count = 0.0;
  var s1 = 0.0;
  var s2 = 0.0;`
      : `  let mean = coef[ch].x;
  var s1 = 0.0;
  var s2 = 0.0;`
  }
  loop {
    if (n >= p.n) { break; }
    let at = (n * p.c + ch) * p.hw + s;
${
    moments
      ? `    let d = x[at] - shift;
    s1 += d;
    s2 += d * d;
    count += 1.0;`
      : `    let g = dy[at];
    s1 += g;
    s2 += g * (x[at] - mean);`
  }
    s += p.r;
    n += p.q;
    if (s >= p.hw) { s -= p.hw; n += 1u; }
  }
  let o = ch * p.stride + p.base + t;
${
    moments
      ? `  var m = shift;
  var m2 = 0.0;
  if (count > 0.0) {
    m = shift + s1 / count;
    m2 = max(s2 - s1 * s1 / count, 0.0);
  }
  part[3u * o] = count;
  part[3u * o + 1u] = m;
  part[3u * o + 2u] = m2;`
      : `  part[2u * o] = s1;
  part[2u * o + 1u] = s2;`
  }
}`;
}

/**
 * Runs pass 1 over all chunks of the batch. Returns the partials buffer (from the pool;
 * the caller releases it) holding `width` floats per (channel, lane), and the lanes per channel.
 */
function partials(
  g: Gpu,
  kind: "moments" | "gradSums",
  x: GPUBuffer,
  dy: GPUBuffer | null,
  coef: GPUBuffer | null,
  shape: BnShape,
  what: string,
): { part: GPUBuffer; stride: number } {
  const tiles = batchNormTiles(g);
  const width = kind === "moments" ? 3 : 2;
  const kernel = g.kernel(`batchnorm ${kind}`, partialsSource(tiles.wg, kind));
  const item = shape.c * shape.hw * 4;
  const chunks = g.chunks(what, shape.n, kind === "moments" ? [item] : [item, item], true);
  const lanesOf = (count: number) =>
    Math.max(1, Math.min(tiles.maxLanes, Math.ceil((count * shape.hw) / tiles.span)));
  const stride = chunks.reduce((s, ch) => s + lanesOf(ch.count), 0);
  const part = g.pool.acquire(shape.c * stride * width * 4, "batchnorm partials");
  const params = new Uint32Array(8);
  let base = 0;
  for (const ch of chunks) {
    const lanes = lanesOf(ch.count);
    params.set([
      ch.count,
      shape.c,
      shape.hw,
      lanes,
      Math.floor(lanes / shape.hw),
      lanes % shape.hw,
      base,
      stride,
    ]);
    const range = (buffer: GPUBuffer) => ({
      buffer,
      offset: ch.start * item,
      size: ch.count * item,
    });
    const bindings = kind === "moments" ? [range(x), part] : [range(x), range(dy!), coef!, part];
    g.dispatch(kernel, bindings, params, grid1d(shape.c * lanes, tiles.wg), what);
    base += lanes;
  }
  return { part, stride };
}

// ---- pass 2: per-channel coefficients ----------------------------------------------------

interface CoefFlags {
  /** Statistics from the batch (partials) or from the running buffers. */
  fromBatch: boolean;
  weight: boolean;
  bias: boolean;
  /** Training only: update the running buffers in place. */
  updateRunning: boolean;
}

function coefSource(wg: number, f: CoefFlags): string {
  const decls: string[] = [];
  const bind = (decl: string) => decls.push(`@group(0) @binding(${decls.length}) ${decl};`);
  if (f.fromBatch) bind("var<storage, read> part: array<f32>");
  if (f.weight) bind("var<storage, read> weight: array<f32>");
  if (f.bias) bind("var<storage, read> bias: array<f32>");
  bind("var<storage, read_write> coef: array<vec4f>");
  const running = f.updateRunning || !f.fromBatch;
  const access = f.updateRunning ? "read_write" : "read";
  if (running) {
    bind(`var<storage, ${access}> runMean: array<f32>`);
    bind(`var<storage, ${access}> runVar: array<f32>`);
  }
  return /* wgsl */ `
${decls.join("\n")}
struct Params { c: u32, parts: u32, eps: f32, momentum: f32 }
@group(0) @binding(${decls.length}) var<uniform> p: Params;
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let ch = gid.x;
  if (ch >= p.c) { return; }
${
    f.fromBatch
      ? `  // Chan's merge of (count, mean, M2) partials. Means are merged relative to the first
  // lane's (the channel's first element lies in lane 0), so that the running mean's
  // rounding is relative to the spread, not to the magnitude of the values.
  let origin = part[3u * ch * p.parts + 1u];
  var count = 0.0;
  var rel = 0.0;
  var m2 = 0.0;
  for (var i = 0u; i < p.parts; i++) {
    let o = 3u * (ch * p.parts + i);
    let nb = part[o];
    if (nb == 0.0) { continue; }
    let total = count + nb;
    let d = (part[o + 1u] - origin) - rel;
    rel += d * (nb / total);
    m2 += part[o + 2u] + d * d * (count * nb / total);
    count = total;
  }
  let mean = origin + rel;
  let variance = m2 / count;`
      : `  let mean = runMean[ch];
  let variance = runVar[ch];`
  }
  let invstd = 1.0 / sqrt(variance + p.eps);
  let scale = ${f.weight ? "weight[ch]" : "1.0"} * invstd;
  coef[ch] = vec4f(mean, invstd, scale, ${f.bias ? "bias[ch]" : "0.0"});
${
    f.updateRunning
      ? `  // PyTorch: running = (1 - m) * running + m * batch, with the unbiased variance
  runMean[ch] = (1.0 - p.momentum) * runMean[ch] + p.momentum * mean;
  runVar[ch] = (1.0 - p.momentum) * runVar[ch] + p.momentum * (m2 / (count - 1.0));`
      : ""
  }
}`;
}

function coefLaunch(
  g: Gpu,
  flags: CoefFlags,
  buffers: GPUBuffer[],
  c: number,
  parts: number,
  eps: number,
  momentum: number,
  what: string,
): void {
  const tiles = batchNormTiles(g);
  const kernel = g.kernel("batchnorm coefficients", coefSource(tiles.wg, flags));
  const params = new ArrayBuffer(16);
  new Uint32Array(params).set([c, parts]);
  new Float32Array(params).set([eps, momentum], 2);
  g.dispatch(kernel, buffers, new Uint32Array(params), [Math.ceil(c / tiles.wg)], what);
}

// ---- elementwise passes over the activation ----------------------------------------------

/** out[i] = expr of the inputs at i and the channel's coefficients `k` (a vec4f). */
function channelMapSource(
  wg: number,
  per: number,
  inputs: readonly string[],
  expr: string,
): string {
  const decls = inputs.map((name, i) =>
    `@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`
  );
  const n = inputs.length;
  return /* wgsl */ `
${decls.join("\n")}
@group(0) @binding(${n}) var<storage, read> coef: array<vec4f>;
@group(0) @binding(${n + 1}) var<storage, read_write> out: array<f32>;
struct Params { total: u32, c: u32, hw: u32 }
@group(0) @binding(${n + 2}) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
// Each invocation handles ${per} consecutive elements: one division finds the channel,
// then the index walks on.
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i0 = flatIndex(gid, nwg, ${wg}u) * ${per}u;
  if (i0 >= p.total) { return; }
  let plane = i0 / p.hw;
  var s = i0 - plane * p.hw;
  var ch = plane % p.c;
  var k = coef[ch];
  let end = min(i0 + ${per}u, p.total);
  for (var i = i0; i < end; i++) {
    out[i] = ${expr};
    s += 1u;
    if (s == p.hw) {
      s = 0u;
      ch += 1u;
      if (ch == p.c) { ch = 0u; }
      k = coef[ch];
    }
  }
}`;
}

const APPLY = { name: "batchnorm apply", inputs: ["x"], expr: "(x[i] - k.x) * k.z + k.w" };
const SCALE_ONLY = { name: "batchnorm dx (eval)", inputs: ["dy"], expr: "dy[i] * k.z" };
const DX_TRAIN = {
  name: "batchnorm dx",
  inputs: ["dy", "x"],
  expr: "dy[i] * k.x + (x[i] - k.w) * k.y + k.z",
};

function channelMap(
  g: Gpu,
  spec: { name: string; inputs: readonly string[]; expr: string },
  inputs: readonly GPUBuffer[],
  coef: GPUBuffer,
  out: GPUBuffer,
  shape: BnShape,
  what: string,
): void {
  const tiles = batchNormTiles(g);
  const source = channelMapSource(tiles.wg, tiles.perInvocation, spec.inputs, spec.expr);
  const kernel = g.kernel(spec.name, source);
  const item = shape.c * shape.hw * 4;
  const params = new Uint32Array(4);
  for (const ch of g.chunks(what, shape.n, inputs.map(() => item).concat(item), true)) {
    const total = ch.count * shape.c * shape.hw;
    params.set([total, shape.c, shape.hw]);
    const range = (buffer: GPUBuffer) => ({
      buffer,
      offset: ch.start * item,
      size: ch.count * item,
    });
    g.dispatch(
      kernel,
      [...inputs.map(range), coef, range(out)],
      params,
      grid1d(Math.ceil(total / tiles.perInvocation), tiles.wg),
      what,
    );
  }
}

// ---- launchers ----------------------------------------------------------------------------

function describe(op: string, s: BnShape): string {
  return `${op}[N${s.n} C${s.c} HW${s.hw}]`;
}

export interface BatchNormParams {
  weight?: GPUBuffer | null;
  bias?: GPUBuffer | null;
  eps: number;
}

/**
 * Training-mode statistics: writes the [C, 4] coefficients (batch mean, 1/sqrt(biased
 * var + eps), weight/sqrt(var + eps), bias) to `coef` and, when `running` is given, updates its mean and
 * variance in place with the unbiased batch variance. Needs n * hw >= 1 (>= 2 to update).
 */
export function batchNormTrainCoef(
  g: Gpu,
  x: GPUBuffer,
  coef: GPUBuffer,
  shape: BnShape,
  p: BatchNormParams & { running?: { mean: GPUBuffer; var: GPUBuffer; momentum: number } | null },
): void {
  const what = describe("batchnorm stats", shape);
  const { part, stride } = partials(g, "moments", x, null, null, shape, what);
  const flags: CoefFlags = {
    fromBatch: true,
    weight: Boolean(p.weight),
    bias: Boolean(p.bias),
    updateRunning: Boolean(p.running),
  };
  const buffers = [part];
  if (p.weight) buffers.push(p.weight);
  if (p.bias) buffers.push(p.bias);
  buffers.push(coef);
  if (p.running) buffers.push(p.running.mean, p.running.var);
  coefLaunch(g, flags, buffers, shape.c, stride, p.eps, p.running?.momentum ?? 0, what);
  g.pool.release(part);
}

/** Eval-mode coefficients from the running statistics (same layout as batchNormTrainCoef). */
export function batchNormEvalCoef(
  g: Gpu,
  runningMean: GPUBuffer,
  runningVar: GPUBuffer,
  coef: GPUBuffer,
  c: number,
  p: BatchNormParams,
): void {
  const flags: CoefFlags = {
    fromBatch: false,
    weight: Boolean(p.weight),
    bias: Boolean(p.bias),
    updateRunning: false,
  };
  const buffers: GPUBuffer[] = [];
  if (p.weight) buffers.push(p.weight);
  if (p.bias) buffers.push(p.bias);
  buffers.push(coef, runningMean, runningVar);
  coefLaunch(g, flags, buffers, c, 0, p.eps, 0, `batchnorm eval coefficients[C${c}]`);
}

/** y = (x - mean[c]) * scale[c] + bias[c], with the coefficients of batchNormTrainCoef/EvalCoef. */
export function batchNormApply(
  g: Gpu,
  x: GPUBuffer,
  coef: GPUBuffer,
  y: GPUBuffer,
  shape: BnShape,
): void {
  if (x === y) throw new Error("batchNormApply: output must not alias the input");
  channelMap(g, APPLY, [x], coef, y, shape, describe("batchnorm apply", shape));
}

// Backward pass 2: parameter gradients and the dx coefficients from (sum dy, sum dy*(x-mean)).
interface BackFlags {
  training: boolean;
  weight: boolean;
  dweight: boolean;
  dbias: boolean;
}

function backCoefSource(wg: number, f: BackFlags): string {
  const decls: string[] = [];
  const bind = (decl: string) => decls.push(`@group(0) @binding(${decls.length}) ${decl};`);
  bind("var<storage, read> part: array<f32>");
  bind("var<storage, read> coef: array<vec4f>");
  if (f.weight && f.training) bind("var<storage, read> weight: array<f32>");
  if (f.training) bind("var<storage, read_write> dxCoef: array<vec4f>");
  if (f.dweight) bind("var<storage, read_write> dweight: array<f32>");
  if (f.dbias) bind("var<storage, read_write> dbias: array<f32>");
  return /* wgsl */ `
${decls.join("\n")}
struct Params { c: u32, parts: u32, count: f32 }
@group(0) @binding(${decls.length}) var<uniform> p: Params;
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let ch = gid.x;
  if (ch >= p.c) { return; }
  var sumDy = 0.0;
  var sumDyXc = 0.0; // sum of dy * (x - mean)
  for (var i = 0u; i < p.parts; i++) {
    let o = 2u * (ch * p.parts + i);
    sumDy += part[o];
    sumDyXc += part[o + 1u];
  }
  let k = coef[ch];
  let invstd = k.y;
${f.dweight ? "  dweight[ch] = sumDyXc * invstd; // sum dy * xhat" : ""}
${f.dbias ? "  dbias[ch] = sumDy;" : ""}
${
    f.training
      ? `  // dx = g*invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
  let a = ${f.weight ? "weight[ch]" : "1.0"} * invstd;
  dxCoef[ch] = vec4f(a, -a * invstd * invstd * sumDyXc / p.count, -a * sumDy / p.count, k.x);`
      : ""
  }
}`;
}

/**
 * Gradients of batch normalisation. `coef` is what the forward used. In training mode dx
 * back-propagates through the batch statistics; in eval mode dx = dy * scale. Pass null
 * for a gradient that is not needed: its work is skipped (a frozen weight costs nothing
 * beyond what dx needs).
 */
export function batchNormBackward(
  g: Gpu,
  x: GPUBuffer,
  dy: GPUBuffer,
  coef: GPUBuffer,
  shape: BnShape,
  p: {
    training: boolean;
    weight?: GPUBuffer | null;
    dx?: GPUBuffer | null;
    dweight?: GPUBuffer | null;
    dbias?: GPUBuffer | null;
  },
): void {
  const what = describe("batchnorm backward", shape);
  if (p.dx && (p.dx === x || p.dx === dy)) throw new Error(`${what}: dx must not alias x or dy`);
  const training = p.training && Boolean(p.dx);
  if (!p.training && p.dx) channelMap(g, SCALE_ONLY, [dy], coef, p.dx, shape, what);
  if (!training && !p.dweight && !p.dbias) return;
  const { part, stride } = partials(g, "gradSums", x, dy, coef, shape, what);
  const flags: BackFlags = {
    training,
    weight: Boolean(p.weight),
    dweight: Boolean(p.dweight),
    dbias: Boolean(p.dbias),
  };
  const buffers = [part, coef];
  if (flags.weight && training) buffers.push(p.weight!);
  const dxCoef = training ? g.pool.acquire(shape.c * 16, "batchnorm dx coefficients") : null;
  if (dxCoef) buffers.push(dxCoef);
  if (p.dweight) buffers.push(p.dweight);
  if (p.dbias) buffers.push(p.dbias);
  const tiles = batchNormTiles(g);
  const kernel: Kernel = g.kernel(
    "batchnorm backward coefficients",
    backCoefSource(tiles.wg, flags),
  );
  const params = new ArrayBuffer(16);
  new Uint32Array(params).set([shape.c, stride]);
  new Float32Array(params)[2] = shape.n * shape.hw;
  g.dispatch(kernel, buffers, new Uint32Array(params), [Math.ceil(shape.c / tiles.wg)], what);
  g.pool.release(part);
  if (dxCoef) {
    channelMap(g, DX_TRAIN, [dy, x], dxCoef, p.dx!, shape, what);
    g.pool.release(dxCoef);
  }
}
