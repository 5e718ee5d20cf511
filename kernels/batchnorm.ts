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
// Where the adapter has subgroups, pass 1 runs one workgroup per (channel, block) instead:
// every invocation of the block accumulates sums shifted by the block's first element, and
// the workgroup adds them with subgroupAdd (subgroup.ts): sums that share one shift add
// exactly as plain sums do, so the block's (count, mean, M2) is as stable as a lane's.
//
// Large activations are processed in chunks along the batch: each chunk writes its own
// partials (the partial buffer, small, is bound whole), and pass 2 merges all of them.
// Chunks start at any image (offset bindings, kernel.ts), whatever the offset alignment.
//
// Per-channel coefficients live in a [C, 4] buffer (vec4 per channel):
//   forward:  (mean, invstd, scale, bias) with y = (x - mean) * scale + bias
//             (not x * scale + shift: with a large mean that form cancels in f32)
//   backward: (a, b, c, mean)              with dx = a * dy + b * (x - mean) + c

import { type Binding, type Gpu, grid1d, WGSL_FLAT_INDEX } from "./device.ts";
import { type BindingDecl, chunked, defineKernel } from "./kernel.ts";
import {
  slotArgs,
  slotBuiltins,
  subgroupEnables,
  useSubgroups,
  wgslHasSubgroupId,
  workgroupReduceWgsl,
} from "./subgroup.ts";
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

const activation = (name: string, write = false) => chunked(name, "f32", write);

// ---- pass 1: partials --------------------------------------------------------------------

type PartialKind = "moments" | "gradSums";

interface PartialVariant {
  kind: PartialKind;
  wg: number;
  /** One workgroup per (channel, block), combined with subgroupAdd. */
  subgroups: boolean;
  /** The subgroup variant combines subgroups by subgroup_id (subgroup.ts). */
  ids: boolean;
}

// (count, mean, M2) per lane or block, or (sum dy, sum dy * (x - mean)).
// q, r: lanes = q * hw + r, the step of a lane through (n, hw).
const PARTIALS = defineKernel({
  name: "batchnorm partials",
  key: (v: PartialVariant) => `${v.kind} ${v.wg} ${+v.subgroups}${+v.ids}`,
  bindings: (v) =>
    v.kind === "moments"
      ? [activation("x"), { name: "part", type: "f32", access: "read_write" }]
      : [
        activation("x"),
        activation("dy"),
        { name: "coef", type: "vec4f" },
        { name: "part", type: "f32", access: "read_write" },
      ],
  params: {
    n: "u32",
    c: "u32",
    hw: "u32",
    lanes: "u32",
    q: "u32",
    r: "u32",
    base: "u32",
    stride: "u32",
  },
  enables: (v) => subgroupEnables(v.subgroups),
  body: (v) => v.subgroups ? partialsSubgroupBody(v) : partialsBody(v.kind, v.wg),
});

/** The loop that walks one lane through the flattened (n, hw) indices of a channel. */
function accumulate(kind: PartialKind): string {
  return kind === "moments"
    ? `let d = x[xOff + at] - shift;
      s1 += d;
      s2 += d * d;
      count += 1.0;`
    : `let g = dy[dyOff + at];
      s1 += g;
      s2 += g * (x[xOff + at] - mean);`;
}

const step = `s += r;
    n += q;
    if (s >= hw) { s -= hw; n += 1u; }`;

/** Parameters the loops read, loaded once (llvmpipe reloads uniforms inside loops). */
function loopParams(kind: PartialKind): string {
  return `let hw = p.hw;
  let c = p.c;
  let q = p.q;
  let r = p.r;
  let count0 = p.n;
  let xOff = p.xOff;${kind === "gradSums" ? "\n  let dyOff = p.dyOff;" : ""}`;
}

// One invocation per (channel, lane), each writing its own partial.
const partialsBody = (kind: PartialKind, wg: number) => /* wgsl */ `
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let id = flatIndex(gid, nwg, ${wg}u);
  if (id >= p.c * p.lanes) { return; }
  let ch = id / p.lanes;
  let t = id % p.lanes;
  ${loopParams(kind)}
  var n = t / hw;
  var s = t % hw;
${
  kind === "moments"
    ? `  var shift = 0.0;
  if (n < count0) { shift = x[xOff + (n * c + ch) * hw + s]; }
  var count = 0.0;`
    : `  let mean = coef[ch].x;`
}
  var s1 = 0.0;
  var s2 = 0.0;
  loop {
    if (n >= count0) { break; }
    let at = (n * c + ch) * hw + s;
    {
      ${accumulate(kind)}
    }
    ${step}
  }
  let o = ch * p.stride + p.base + t;
${
  kind === "moments"
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

// One workgroup per (channel, block of wg lanes): lanes walk as above (lanes = blocks * wg),
// the trip count is the block's first lane's, so every subgroup operation is reached in
// uniform control flow; lanes past the end accumulate nothing.
const partialsSubgroupBody = ({ kind, wg, ids }: PartialVariant) => {
  const moments = kind === "moments";
  const type = moments ? "vec3f" : "vec2f";
  const slots = { wg, ids };
  return /* wgsl */ `
${workgroupReduceWgsl("blockSums", type, "add", `${type}(0.0)`, slots)}
@compute @workgroup_size(${wg})
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
  ${slotBuiltins(slots)}
) {
  let w = wid.x + wid.y * nwg.x;
  let blocks = p.lanes / ${wg}u;
  if (w >= p.c * blocks) { return; } // the same for the whole workgroup
  let ch = w / blocks;
  let block = w % blocks;
  let first = block * ${wg}u; // the block's first lane, always inside the chunk
  let iters = (p.n * p.hw - first + p.lanes - 1u) / p.lanes;
  let t = first + lid;
  ${loopParams(kind)}
  var n = t / hw;
  var s = t % hw;
${
    moments
      ? `  // one shift for the block: its first element, a sample of the channel
  let shift = x[xOff + ((first / hw) * c + ch) * hw + first % hw];
  var count = 0.0;`
      : `  let mean = coef[ch].x;`
  }
  var s1 = 0.0;
  var s2 = 0.0;
  for (var k = 0u; k < iters; k++) {
    if (n < count0) {
      let at = (n * c + ch) * hw + s;
      ${accumulate(kind)}
    }
    ${step}
  }
  let o = ch * p.stride + p.base + block;
${
    moments
      ? `  let tot = blockSums(vec3f(count, s1, s2), ${slotArgs(slots)});
  if (lid == 0u) {
    // count >= 1: the block's first lane is inside the chunk
    part[3u * o] = tot.x;
    part[3u * o + 1u] = shift + tot.y / tot.x;
    part[3u * o + 2u] = max(tot.z - tot.y * tot.y / tot.x, 0.0);
  }`
      : `  let tot = blockSums(vec2f(s1, s2), ${slotArgs(slots)});
  if (lid == 0u) {
    part[2u * o] = tot.x;
    part[2u * o + 1u] = tot.y;
  }`
  }
}`;
};

/**
 * Runs pass 1 over all chunks of the batch. Returns the partials buffer (from the pool;
 * the caller releases it) holding `width` floats per (channel, partial), and the partials
 * per channel.
 */
function partials(
  g: Gpu,
  kind: PartialKind,
  x: GPUBuffer,
  dy: GPUBuffer | null,
  coef: GPUBuffer | null,
  shape: BnShape,
  what: string,
): { part: GPUBuffer; stride: number } {
  const tiles = batchNormTiles(g);
  const subgroups = useSubgroups(g, tiles.subgroups, "batchnorm");
  const wg = tiles.wg;
  const ids = subgroups && tiles.subgroupIds && wgslHasSubgroupId();
  const kernel = PARTIALS.get(g, { kind, wg, subgroups, ids });
  const width = kind === "moments" ? 3 : 2;
  const item = shape.c * shape.hw * 4;
  const chunks = g.chunks(what, shape.n, kind === "moments" ? [item] : [item, item]);
  // partials per channel in a chunk: lanes (one invocation each) or blocks of wg lanes
  const partsOf = (count: number) => {
    const elements = count * shape.hw;
    return subgroups
      ? Math.max(1, Math.min(tiles.maxLanes, Math.ceil(elements / (wg * tiles.span))))
      : Math.max(1, Math.min(tiles.maxLanes, Math.ceil(elements / tiles.span)));
  };
  const stride = chunks.reduce((s, ch) => s + partsOf(ch.count), 0);
  const part = g.pool.acquire(shape.c * stride * width * 4, "batchnorm partials");
  let base = 0;
  for (const ch of chunks) {
    const parts = partsOf(ch.count);
    const lanes = subgroups ? parts * wg : parts;
    const range = (buffer: GPUBuffer): Binding => ({
      buffer,
      offset: ch.start * item,
      size: ch.count * item,
    });
    kernel.dispatch(
      kind === "moments" ? [range(x), part] : [range(x), range(dy!), coef!, part],
      {
        n: ch.count,
        c: shape.c,
        hw: shape.hw,
        lanes,
        q: Math.floor(lanes / shape.hw),
        r: lanes % shape.hw,
        base,
        stride,
      },
      subgroups ? grid1d(shape.c * parts, 1) : grid1d(shape.c * lanes, wg),
      what,
    );
    base += parts;
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

const COEF = defineKernel({
  name: "batchnorm coefficients",
  key: (v: CoefFlags & { wg: number }) =>
    `${+v.fromBatch}${+v.weight}${+v.bias}${+v.updateRunning} ${v.wg}`,
  bindings: (f) => {
    const b: BindingDecl[] = [];
    if (f.fromBatch) b.push({ name: "part", type: "f32" });
    if (f.weight) b.push({ name: "weight", type: "f32" });
    if (f.bias) b.push({ name: "bias", type: "f32" });
    b.push({ name: "coef", type: "vec4f", access: "read_write" });
    if (f.updateRunning || !f.fromBatch) {
      const access = f.updateRunning ? "read_write" : "read";
      b.push({ name: "runMean", type: "f32", access }, { name: "runVar", type: "f32", access });
    }
    return b;
  },
  params: { c: "u32", parts: "u32", eps: "f32", momentum: "f32" },
  body: (f) => /* wgsl */ `
@compute @workgroup_size(${f.wg})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let ch = gid.x;
  if (ch >= p.c) { return; }
${
    f.fromBatch
      ? `  // Chan's merge of (count, mean, M2) partials. Means are merged relative to the first
  // partial's (the channel's first element lies in partial 0), so that the running mean's
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
}`,
});

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
  const wg = batchNormTiles(g).wg;
  COEF.get(g, { ...flags, wg }).dispatch(
    buffers,
    { c, parts, eps, momentum },
    [Math.ceil(c / wg)],
    what,
  );
}

// ---- elementwise passes over the activation ----------------------------------------------

interface MapSpec {
  name: string;
  inputs: readonly string[];
  /** out[i] from the inputs at i (written `x[xOff + i]`) and the channel's coefficients k. */
  expr: string;
}

const CHANNEL_MAP = defineKernel({
  name: "batchnorm map",
  key: (v: MapSpec & { wg: number; per: number }) => `${v.name} ${v.wg} ${v.per}`,
  bindings: (v) => [
    ...v.inputs.map((name) => activation(name)),
    { name: "coef", type: "vec4f" },
    activation("out", true),
  ],
  params: { total: "u32", c: "u32", hw: "u32" },
  body: (v) => /* wgsl */ `
${WGSL_FLAT_INDEX}
// Each invocation handles ${v.per} consecutive elements: one division finds the channel,
// then the index walks on.
@compute @workgroup_size(${v.wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i0 = flatIndex(gid, nwg, ${v.wg}u) * ${v.per}u;
  if (i0 >= p.total) { return; }
  // parameters read once into registers: the loop then touches only the activations
  let hw = p.hw;
  let c = p.c;
  let outOff = p.outOff;
  ${v.inputs.map((name) => `let ${name}Off = p.${name}Off;`).join("\n  ")}
  let plane = i0 / hw;
  var s = i0 - plane * hw;
  var ch = plane % c;
  var k = coef[ch];
  let end = min(i0 + ${v.per}u, p.total);
  for (var i = i0; i < end; i++) {
    out[outOff + i] = ${v.expr};
    s += 1u;
    if (s == hw) {
      s = 0u;
      ch += 1u;
      if (ch == c) { ch = 0u; }
      k = coef[ch];
    }
  }
}`,
});

const APPLY: MapSpec = {
  name: "apply",
  inputs: ["x"],
  expr: "(x[xOff + i] - k.x) * k.z + k.w",
};
const SCALE_ONLY: MapSpec = { name: "dx eval", inputs: ["dy"], expr: "dy[dyOff + i] * k.z" };
const DX_TRAIN: MapSpec = {
  name: "dx",
  inputs: ["dy", "x"],
  expr: "dy[dyOff + i] * k.x + (x[xOff + i] - k.w) * k.y + k.z",
};

function channelMap(
  g: Gpu,
  spec: MapSpec,
  inputs: readonly GPUBuffer[],
  coef: GPUBuffer,
  out: GPUBuffer,
  shape: BnShape,
  what: string,
): void {
  const tiles = batchNormTiles(g);
  const per = tiles.perInvocation;
  const kernel = CHANNEL_MAP.get(g, { ...spec, wg: tiles.wg, per });
  const item = shape.c * shape.hw * 4;
  for (const ch of g.chunks(what, shape.n, inputs.map(() => item).concat(item))) {
    const total = ch.count * shape.c * shape.hw;
    const range = (buffer: GPUBuffer): Binding => ({
      buffer,
      offset: ch.start * item,
      size: ch.count * item,
    });
    kernel.dispatch(
      [...inputs.map(range), coef, range(out)],
      { total, c: shape.c, hw: shape.hw },
      grid1d(Math.ceil(total / per), tiles.wg),
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

const BACK_COEF = defineKernel({
  name: "batchnorm backward coefficients",
  key: (f: BackFlags & { wg: number }) =>
    `${+f.training}${+f.weight}${+f.dweight}${+f.dbias} ${f.wg}`,
  bindings: (f) => {
    const b: BindingDecl[] = [{ name: "part", type: "f32" }, { name: "coef", type: "vec4f" }];
    if (f.weight && f.training) b.push({ name: "weight", type: "f32" });
    if (f.training) b.push({ name: "dxCoef", type: "vec4f", access: "read_write" });
    if (f.dweight) b.push({ name: "dweight", type: "f32", access: "read_write" });
    if (f.dbias) b.push({ name: "dbias", type: "f32", access: "read_write" });
    return b;
  },
  params: { c: "u32", parts: "u32", count: "f32" },
  body: (f) => /* wgsl */ `
@compute @workgroup_size(${f.wg})
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
}`,
});

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
  const wg = batchNormTiles(g).wg;
  BACK_COEF.get(g, { ...flags, wg }).dispatch(
    buffers,
    { c: shape.c, parts: stride, count: shape.n * shape.hw },
    [Math.ceil(shape.c / wg)],
    what,
  );
  g.pool.release(part);
  if (dxCoef) {
    channelMap(g, DX_TRAIN, [dy, x], dxCoef, p.dx!, shape, what);
    g.pool.release(dxCoef);
  }
}
