// Fused optimizer updates: one launch per parameter tensor per step reads the parameter, its
// gradient and its state once, does the whole update of torch.optim.SGD / Adam / AdamW
// (PyTorch 1.13, single-tensor path) and writes parameter and state back in place.
//
// Hyperparameters, the step count and the scalars derived from them travel in the uniform
// block, so a changing lr or step never recompiles. Scalars PyTorch computes in f64 on the host
// (1 - beta, bias corrections, step size) are computed here in f64 too and rounded once to
// f32, as PyTorch does when it passes a Python float to an f32 kernel; computing them in WGSL
// f32 would be off by ~1e-4 relative (e.g. 1 - 0.999 in f32).
//
// The operation order follows PyTorch's CPU kernels: add/alpha is `a + alpha * b`, addcmul is
// `a + (value * t1) * t2`, addcdiv is `a + (value * t1) / t2`.

import { type Binding, type Gpu, grid1d, WGSL_FLAT_INDEX } from "./device.ts";

/** Invocations per workgroup of the update kernels. */
export const OPTIM_WORKGROUP = 256;

/**
 * What one invocation updates: 4 consecutive values (vec4 loads, ~1.5x faster on the software
 * driver) when the tensor's size is a multiple of 4, as nearly all are; else one value.
 */
type ElementType = "f32" | "vec4f";

function elementType(n: number): ElementType {
  return n % 4 === 0 ? "vec4f" : "f32";
}

// ---- SGD -------------------------------------------------------------------------------

function sgdSource(withMomentum: boolean, T: ElementType): string {
  const WG = OPTIM_WORKGROUP;
  const buf = withMomentum
    ? `@group(0) @binding(2) var<storage, read_write> buf: array<${T}>;`
    : "";
  const momentum = withMomentum
    ? /* wgsl */ `
  var b: ${T};
  if (p.first != 0u) {
    b = d;  // the first buffer is the gradient itself, not dampened
  } else {
    b = buf[i] * p.momentum + p.oneMinusDampening * d;
  }
  buf[i] = b;
  if (p.nesterov != 0u) {
    d = d + p.momentum * b;
  } else {
    d = b;
  }`
    : "";
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> param: array<${T}>;
@group(0) @binding(1) var<storage, read> grad: array<${T}>;
${buf}
struct Params {
  n: u32, first: u32, nesterov: u32, _pad: u32,
  negLr: f32, weightDecay: f32, momentum: f32, oneMinusDampening: f32,
}
@group(0) @binding(${withMomentum ? 3 : 2}) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${WG}u);
  if (i >= p.n) { return; }
  let x = param[i];
  var d = grad[i] + p.weightDecay * x;${momentum}
  param[i] = x + p.negLr * d;
}`;
}

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * One SGD step on `n` elements, in place: param, and the momentum buffer when `momentumBuf` is
 * given (required when momentum != 0). `first` marks the buffer's first step: it is then set to
 * the (weight-decayed) gradient and its old contents are not read.
 */
export function sgdStep(
  g: Gpu,
  t: { param: GPUBuffer; grad: GPUBuffer; momentumBuf: GPUBuffer | null; n: number },
  h: SgdHyper,
  first: boolean,
  what = "sgd",
): void {
  const withMomentum = h.momentum !== 0;
  if (withMomentum && !t.momentumBuf) throw new Error(`${what}: momentum needs a momentum buffer`);
  const buffers = [t.param, t.grad, ...(withMomentum ? [t.momentumBuf!] : [])];
  checkDistinct(buffers, what);
  const T = elementType(t.n);
  const kernel = g.kernel(`sgd${withMomentum ? "_momentum" : ""}_${T}`, sgdSource(withMomentum, T));
  const params = new ArrayBuffer(32);
  const u = new Uint32Array(params);
  const f = new Float32Array(params);
  u[1] = first ? 1 : 0;
  u[2] = h.nesterov ? 1 : 0;
  f[4] = -h.lr;
  f[5] = h.weightDecay;
  f[6] = h.momentum;
  f[7] = 1 - h.dampening;
  runChunked(g, kernel, buffers, t.n, T, u, `${what}[n=${t.n}]`);
}

// ---- Adam and AdamW --------------------------------------------------------------------

function adamSource(amsgrad: boolean, T: ElementType): string {
  const WG = OPTIM_WORKGROUP;
  const maxDecl = amsgrad
    ? `@group(0) @binding(4) var<storage, read_write> maxSq: array<${T}>;`
    : "";
  // torch.maximum(max_exp_avg_sq, exp_avg_sq); a fresh max buffer counts as zeros, and v >= 0
  const maxUpdate = amsgrad
    ? /* wgsl */ `
  var vMax = v;
  if (p.fresh == 0u) { vMax = max(maxSq[i], v); }
  maxSq[i] = vMax;
  let denom = sqrt(vMax) / p.biasCorrection2Sqrt + p.eps;`
    : /* wgsl */ `
  let denom = sqrt(v) / p.biasCorrection2Sqrt + p.eps;`;
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> param: array<${T}>;
@group(0) @binding(1) var<storage, read> grad: array<${T}>;
@group(0) @binding(2) var<storage, read_write> expAvg: array<${T}>;
@group(0) @binding(3) var<storage, read_write> expAvgSq: array<${T}>;
${maxDecl}
struct Params {
  n: u32, step: u32, fresh: u32, _pad: u32,
  l2: f32, decay: f32, beta1: f32, oneMinusBeta1: f32,
  beta2: f32, oneMinusBeta2: f32, negStepSize: f32, biasCorrection2Sqrt: f32,
  eps: f32, _pad1: f32, _pad2: f32, _pad3: f32,
}
@group(0) @binding(${amsgrad ? 5 : 4}) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${WG}u);
  if (i >= p.n) { return; }
  // AdamW: decoupled decay (decay = 1 - lr * wd, l2 = 0); Adam: L2 on the gradient (decay = 1)
  let x0 = param[i];
  let x = x0 * p.decay;
  let gr = grad[i] + p.l2 * x0;
  // fresh state counts as zeros (its buffers are not read, so need no fill)
  var m = ${T}(0.0);
  var v = ${T}(0.0);
  if (p.fresh == 0u) {
    m = expAvg[i] * p.beta1;
    v = expAvgSq[i] * p.beta2;
  }
  m = m + p.oneMinusBeta1 * gr;
  v = v + (p.oneMinusBeta2 * gr) * gr;
  expAvg[i] = m;
  expAvgSq[i] = v;${maxUpdate}
  param[i] = x + (p.negStepSize * m) / denom;
}`;
}

export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: p *= 1 - lr * wd before the update; Adam: grad += wd * p. */
  decoupled: boolean;
  amsgrad: boolean;
}

/**
 * One Adam/AdamW step on `n` elements, in place. `step` is the parameter's step count after
 * this step (1 on the first). `fresh` means the state buffers hold nothing yet (first step):
 * they are then treated as zeros without being read.
 */
export function adamStep(
  g: Gpu,
  t: {
    param: GPUBuffer;
    grad: GPUBuffer;
    expAvg: GPUBuffer;
    expAvgSq: GPUBuffer;
    maxExpAvgSq: GPUBuffer | null;
    n: number;
  },
  h: AdamHyper,
  step: number,
  fresh: boolean,
  what = h.decoupled ? "adamw" : "adam",
): void {
  if (h.amsgrad && !t.maxExpAvgSq) {
    throw new Error(`${what}: amsgrad needs a max_exp_avg_sq buffer`);
  }
  if (!(Number.isInteger(step) && step >= 1)) throw new Error(`${what}: step ${step} must be >= 1`);
  const buffers = [t.param, t.grad, t.expAvg, t.expAvgSq, ...(h.amsgrad ? [t.maxExpAvgSq!] : [])];
  checkDistinct(buffers, what);
  const T = elementType(t.n);
  const kernel = g.kernel(`adam${h.amsgrad ? "_amsgrad" : ""}_${T}`, adamSource(h.amsgrad, T));
  // PyTorch computes these in f64 on the host (Python floats)
  const biasCorrection1 = 1 - h.beta1 ** step;
  const biasCorrection2 = 1 - h.beta2 ** step;
  const params = new ArrayBuffer(64);
  const u = new Uint32Array(params);
  const f = new Float32Array(params);
  u[1] = step;
  u[2] = fresh ? 1 : 0;
  f[4] = h.decoupled ? 0 : h.weightDecay;
  f[5] = h.decoupled ? 1 - h.lr * h.weightDecay : 1;
  f[6] = h.beta1;
  f[7] = 1 - h.beta1;
  f[8] = h.beta2;
  f[9] = 1 - h.beta2;
  f[10] = -(h.lr / biasCorrection1);
  f[11] = Math.sqrt(biasCorrection2);
  f[12] = h.eps;
  runChunked(g, kernel, buffers, t.n, T, u, `${what}[n=${t.n}]`);
}

// ---- shared ----------------------------------------------------------------------------

/** Launches `kernel` over `n` elements in chunks that keep every binding under the limit. */
function runChunked(
  g: Gpu,
  kernel: ReturnType<Gpu["kernel"]>,
  buffers: readonly GPUBuffer[],
  n: number,
  T: ElementType,
  params: Uint32Array,
  what: string,
): void {
  const width = T === "vec4f" ? 4 : 1;
  const items = n / width;
  for (const c of g.chunks(what, items, buffers.map(() => 4 * width), true)) {
    params[0] = c.count;
    const bindings: Binding[] = buffers.map((buffer) => ({
      buffer,
      offset: c.start * 4 * width,
      size: c.count * 4 * width,
    }));
    g.dispatch(kernel, bindings, params, grid1d(c.count, OPTIM_WORKGROUP), what);
  }
}

// A writable binding must not alias another binding of the same launch.
function checkDistinct(buffers: readonly GPUBuffer[], what: string): void {
  if (new Set(buffers).size !== buffers.length) {
    throw new Error(`${what}: parameter, gradient and state must be distinct buffers`);
  }
}
