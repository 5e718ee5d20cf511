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

import type { AdamHyper, SGDHyper } from "../base/optim_hyper.ts";
import { type Binding, type Gpu, grid1d, WGSL_FLAT_INDEX } from "./device.ts";
import { chunked, type CompiledKernel, defineKernel, type Params } from "./kernel.ts";

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

// Every binding may start mid-buffer (a chunk of a large tensor). runChunked binds all of them
// at the same byte offset of their buffers, so their element offsets `p.<name>Off` are equal
// and the bodies index every one with p.paramOff: one index instead of one per binding
// measured ~15% faster on the software driver for these memory-bound updates.
const chunkBinding = (name: string, T: ElementType, write = true) => chunked(name, T, write);

// ---- SGD -------------------------------------------------------------------------------

interface SgdVariant {
  momentum: boolean;
  T: ElementType;
}

const SGD = defineKernel({
  name: "sgd",
  key: (v: SgdVariant) => `${+v.momentum} ${v.T}`,
  bindings: (v) => [
    chunkBinding("param", v.T),
    chunkBinding("grad", v.T, false),
    ...(v.momentum ? [chunkBinding("buf", v.T)] : []),
  ],
  params: {
    n: "u32",
    first: "u32",
    nesterov: "u32",
    negLr: "f32",
    weightDecay: "f32",
    momentum: "f32",
    oneMinusDampening: "f32",
  },
  body: (v) => {
    const momentum = v.momentum
      ? /* wgsl */ `
  var b: ${v.T};
  if (p.first != 0u) {
    b = d;  // the first buffer is the gradient itself, not dampened
  } else {
    b = buf[at] * p.momentum + p.oneMinusDampening * d;
  }
  buf[at] = b;
  if (p.nesterov != 0u) {
    d = d + p.momentum * b;
  } else {
    d = b;
  }`
      : "";
    return /* wgsl */ `
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${OPTIM_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${OPTIM_WORKGROUP}u);
  if (i >= p.n) { return; }
  let at = p.paramOff + i; // every binding's element offset is the same (see chunkBinding)
  let x = param[at];
  var d = grad[at] + p.weightDecay * x;${momentum}
  param[at] = x + p.negLr * d;
}`;
  },
});

/**
 * One SGD step on `n` elements, in place: param, and the momentum buffer when `momentumBuf` is
 * given (required when momentum != 0). `first` marks the buffer's first step: it is then set to
 * the (weight-decayed) gradient and its old contents are not read.
 */
export function sgdStep(
  g: Gpu,
  t: { param: GPUBuffer; grad: GPUBuffer; momentumBuf: GPUBuffer | null; n: number },
  h: SGDHyper,
  first: boolean,
  what = "sgd",
): void {
  const withMomentum = h.momentum !== 0;
  if (withMomentum && !t.momentumBuf) throw new Error(`${what}: momentum needs a momentum buffer`);
  const buffers = [t.param, t.grad, ...(withMomentum ? [t.momentumBuf!] : [])];
  checkDistinct(buffers, what);
  const kernel = SGD.get(g, { momentum: withMomentum, T: elementType(t.n) });
  runChunked(g, kernel, buffers, t.n, {
    first: first ? 1 : 0,
    nesterov: h.nesterov ? 1 : 0,
    negLr: -h.lr,
    weightDecay: h.weightDecay,
    momentum: h.momentum,
    oneMinusDampening: 1 - h.dampening,
  }, `${what}[n=${t.n}]`);
}

// ---- Adam and AdamW --------------------------------------------------------------------

interface AdamVariant {
  amsgrad: boolean;
  T: ElementType;
}

const ADAM = defineKernel({
  name: "adam",
  key: (v: AdamVariant) => `${+v.amsgrad} ${v.T}`,
  bindings: (v) => [
    chunkBinding("param", v.T),
    chunkBinding("grad", v.T, false),
    chunkBinding("expAvg", v.T),
    chunkBinding("expAvgSq", v.T),
    ...(v.amsgrad ? [chunkBinding("maxSq", v.T)] : []),
  ],
  params: {
    n: "u32",
    step: "u32",
    fresh: "u32",
    l2: "f32",
    decay: "f32",
    beta1: "f32",
    oneMinusBeta1: "f32",
    beta2: "f32",
    oneMinusBeta2: "f32",
    negStepSize: "f32",
    biasCorrection2Sqrt: "f32",
    eps: "f32",
  },
  body: (v) => {
    const T = v.T;
    // torch.maximum(max_exp_avg_sq, exp_avg_sq); a fresh max buffer counts as zeros, and v >= 0
    const maxUpdate = v.amsgrad
      ? /* wgsl */ `
  var vMax = v;
  if (p.fresh == 0u) { vMax = max(maxSq[at], v); }
  maxSq[at] = vMax;
  let denom = sqrt(vMax) / p.biasCorrection2Sqrt + p.eps;`
      : /* wgsl */ `
  let denom = sqrt(v) / p.biasCorrection2Sqrt + p.eps;`;
    return /* wgsl */ `
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${OPTIM_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${OPTIM_WORKGROUP}u);
  if (i >= p.n) { return; }
  let at = p.paramOff + i; // every binding's element offset is the same (see chunkBinding)
  // AdamW: decoupled decay (decay = 1 - lr * wd, l2 = 0); Adam: L2 on the gradient (decay = 1)
  let x0 = param[at];
  let x = x0 * p.decay;
  let gr = grad[at] + p.l2 * x0;
  // fresh state counts as zeros (its buffers are not read, so need no fill)
  var m = ${T}(0.0);
  var v = ${T}(0.0);
  if (p.fresh == 0u) {
    m = expAvg[at] * p.beta1;
    v = expAvgSq[at] * p.beta2;
  }
  m = m + p.oneMinusBeta1 * gr;
  v = v + (p.oneMinusBeta2 * gr) * gr;
  expAvg[at] = m;
  expAvgSq[at] = v;${maxUpdate}
  param[at] = x + (p.negStepSize * m) / denom;
}`;
  },
});

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
  /** AdamW: p *= 1 - lr * wd before the update; Adam: grad += wd * p. */
  h: AdamHyper & { decoupled: boolean },
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
  const kernel = ADAM.get(g, { amsgrad: h.amsgrad, T: elementType(t.n) });
  // PyTorch computes these in f64 on the host (Python floats)
  const [beta1, beta2] = h.betas;
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2 = 1 - beta2 ** step;
  runChunked(g, kernel, buffers, t.n, {
    step,
    fresh: fresh ? 1 : 0,
    l2: h.decoupled ? 0 : h.weightDecay,
    decay: h.decoupled ? 1 - h.lr * h.weightDecay : 1,
    beta1,
    oneMinusBeta1: 1 - beta1,
    beta2,
    oneMinusBeta2: 1 - beta2,
    negStepSize: -(h.lr / biasCorrection1),
    biasCorrection2Sqrt: Math.sqrt(biasCorrection2),
    eps: h.eps,
  }, `${what}[n=${t.n}]`);
}

// ---- shared ----------------------------------------------------------------------------

/**
 * Launches `kernel` over `n` elements in chunks that keep every binding under the limit; a
 * chunk may start at any element (the kernels add their bindings' element offsets).
 */
function runChunked<P extends string>(
  g: Gpu,
  kernel: CompiledKernel<P | "n">,
  buffers: readonly GPUBuffer[],
  n: number,
  params: Omit<Params<P>, "n">,
  what: string,
): void {
  const bytes = kernel.bindings[0].type === "vec4f" ? 16 : 4;
  const items = (n * 4) / bytes;
  for (const c of g.chunks(what, items, buffers.map(() => bytes))) {
    const bindings: Binding[] = buffers.map((buffer) => ({
      buffer,
      offset: c.start * bytes,
      size: c.count * bytes,
    }));
    kernel.dispatch(
      bindings,
      { ...params, n: c.count } as Params<P | "n">,
      grid1d(c.count, OPTIM_WORKGROUP),
      what,
    );
  }
}

// A writable binding must not alias another binding of the same launch.
function checkDistinct(buffers: readonly GPUBuffer[], what: string): void {
  if (new Set(buffers).size !== buffers.length) {
    throw new Error(`${what}: parameter, gradient and state must be distinct buffers`);
  }
}
