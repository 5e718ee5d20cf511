// conv2d on NCHW activations and OIHW weights (groups = 1, f32): the forward pass and the
// input gradient, both as one "tap gather" implicit GEMM, and the weight repacking they
// need. The weight and bias gradients are in conv2d_weight_grad.ts.
//
// Both directions compute, for every output channel q and output position,
//   dst[n, q, y, x] = sum over taps (a, b) and channels r of
//                     wt[kh(a), kw(b), r, q] * src[n, r, iy(y) + step*a, ix(x) + step*b]
// with src read as 0 outside the image:
// - forward: src = x, dst = y, wt = W repacked to [O/bm][KH][KW][C][bm], iy = oy*stride - pad.
// - input gradient: src = dy, dst = dx, wt = W repacked to [C/bm][KH][KW][O][bm]. An input pixel
//   only receives taps kh with (ih + pad - kh) divisible by the stride, so the pixels are
//   split into stride*stride "phases" with the same valid taps; each phase is a launch in
//   which oh = t + q - j for the phase's pixel t and tap j (no wasted multiplies by 0).
// A 1x1 kernel's OIHW weight [O][C] is read as it is, with no repack: the input gradient
// takes vec4 runs over input channels from its rows, the forward takes 4 input channels
// of each output channel per step.
// The input gradient of a conv with very few input channels (the stem) is a GEMM and a
// col2im instead (conv2d_input_grad_cols.ts).
// Launches are further split into border regions (conv2d_regions.ts) where that saves more
// multiplies by the zero padding than the extra launches cost, and only the kernel taps
// some region uses are repacked (a 3x3 kernel on a 1x1 input uses only its centre).
//
// Tiling (see conv2d_tiles.ts): an invocation keeps a `bm` channels x 4 positions block of
// accumulators. The weights of a block are the same for the whole workgroup (uniform vec4
// loads, cheap on llvmpipe) and each invocation gathers 4 input values per (tap, channel).

import { type Gpu, grid1d, type Kernel } from "./device.ts";
import { convTiles } from "./conv2d_tiles.ts";
import { type Axis, kernelWindow, planRegions, type RegionPlan } from "./conv2d_regions.ts";
import { fill } from "./elementwise.ts";
import { colsPathFits, conv2dBackwardInputCols } from "./conv2d_input_grad_cols.ts";

/** The geometry of one conv2d: input [n, c, h, w], weight [o, c, kh, kw]. */
export interface Conv2dGeometry {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
}

/** Output height and width; throws when the kernel does not fit the padded input. */
export function conv2dOutputSize(s: Conv2dGeometry): { oh: number; ow: number } {
  const oh = Math.floor((s.h + 2 * s.padH - s.kh) / s.strideH) + 1;
  const ow = Math.floor((s.w + 2 * s.padW - s.kw) / s.strideW) + 1;
  if (!(oh > 0 && ow > 0)) {
    throw new Error(
      `conv2d: a ${s.kh}x${s.kw} kernel does not fit a ${s.h}x${s.w} input with padding ` +
        `${s.padH},${s.padW}`,
    );
  }
  return { oh, ow };
}

/** Words for error messages and benchmark rows, e.g. "N8 C3->64 224x224 k7x7 s2 p3". */
export function describeConv(s: Conv2dGeometry): string {
  const k = s.kh === s.kw ? `k${s.kh}` : `k${s.kh}x${s.kw}`;
  const st = s.strideH === s.strideW ? `s${s.strideH}` : `s${s.strideH}x${s.strideW}`;
  const p = s.padH === s.padW ? `p${s.padH}` : `p${s.padH}x${s.padW}`;
  return `N${s.n} C${s.c}->${s.o} ${s.h}x${s.w} ${k} ${st} ${p}`;
}

// ---- weight repacking ------------------------------------------------------------------

const REPACK_WG = 64;

// out[b, t, r, qi] = w[q * strideQ + r * strideR + tap(t)] for q = b * BM + qi (0 where
// q >= q count), t = 0..winH*winW-1 over the window of taps used: each channel block's
// weights are one contiguous run for the gather. One invocation per (b, r); neighbouring
// invocations read neighbouring rows and write neighbouring BM-runs.
function repackSource(bm: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
struct Params {
  rows: u32, q: u32, blocks: u32, strideQ: u32, strideR: u32, kw: u32, kh0: u32, kw0: u32,
  winH: u32, winW: u32,
}
@group(0) @binding(2) var<uniform> p: Params;
fn ld(q: u32, rt: u32) -> f32 {
  return select(0.0, w[min(q, p.q - 1u) * p.strideQ + rt], q < p.q);
}
@compute @workgroup_size(${REPACK_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${REPACK_WG}u;
  if (i >= p.blocks * p.rows) { return; }
  let r = i % p.rows;
  let b = i / p.rows;
  let taps = p.winH * p.winW;
  for (var t = 0u; t < taps; t++) {
    let at = ((b * taps + t) * p.rows + r) * ${bm / 4}u;
    let kh = p.kh0 + t / p.winW;
    let rt = r * p.strideR + kh * p.kw + p.kw0 + t % p.winW;
    for (var q4 = 0u; q4 < ${bm / 4}u; q4++) {
      let q = b * ${bm}u + q4 * 4u;
      out[at + q4] = vec4f(ld(q, rt), ld(q + 1u, rt), ld(q + 2u, rt), ld(q + 3u, rt));
    }
  }
}`;
}

/** Kernel rows [kh0, kh0 + winH) and columns [kw0, kw0 + winW) of the taps a launch uses. */
interface TapWindow {
  kh0: number;
  winH: number;
  kw0: number;
  winW: number;
}

/**
 * Repacks the window's taps of an OIHW weight into [cols / bm][winH*winW][rows][bm] (cols
 * padded with zeros) for the tap gather: `forInput = false` gives rows = C, cols = O
 * (forward); true gives rows = O, cols = C. Returns a pool buffer the caller releases.
 */
function repackWeight(
  g: Gpu,
  w: GPUBuffer,
  s: Conv2dGeometry,
  forInput: boolean,
  bm: number,
  win: TapWindow,
) {
  const taps = s.kh * s.kw;
  const [rows, cols] = forInput ? [s.o, s.c] : [s.c, s.o];
  const blocks = Math.ceil(cols / bm);
  const count = Math.max(1, win.winH * win.winW * rows * blocks * bm);
  if (count * 4 > g.maxBindingBytes || s.o * s.c * taps * 4 > g.maxBindingBytes) {
    throw new Error(
      `conv2d ${describeConv(s)}: the weight needs ${count * 4} bytes, over this ` +
        `adapter's ${g.maxBindingBytes}-byte storage binding limit`,
    );
  }
  const out = g.pool.acquire(count * 4, "conv2d packed weight");
  // w[o][c][tap]: column q and row r map to (o, c) or (c, o)
  const strideQ = forInput ? taps : s.c * taps;
  const strideR = forInput ? s.c * taps : taps;
  const params = new Uint32Array([
    rows,
    cols,
    blocks,
    strideQ,
    strideR,
    s.kw,
    win.kh0,
    win.kw0,
    win.winH,
    win.winW,
  ]);
  g.dispatch(
    g.kernel("conv2d repack weight", repackSource(bm)),
    [w, out],
    params,
    grid1d(blocks * rows, REPACK_WG),
    `conv2d repack weight ${describeConv(s)}`,
  );
  return out;
}

// ---- the tap gather kernel -------------------------------------------------------------

// Uniform block of the gather kernel, in this order (all 32-bit; i32 where it can be < 0).
const PARAM_NAMES = [
  "batch",
  "ci",
  "hi",
  "wi", // src [batch, ci, hi, wi]
  "co",
  "ho",
  "wo",
  "blocks", // dst [batch, co, ho, wo]; position blocks
  "th",
  "tw",
  "inMulY",
  "inMulX", // the launch's position grid and src coordinate scale
  "inOffY",
  "inOffX",
  "step",
  "winW", // src offsets (i32), tap direction (i32), kernel columns in the weight's window
  "ntH",
  "ntW",
  "khBase",
  "kwBase", // taps per dimension; first kernel row/col (in the window)
  "kMulY",
  "kMulX",
  "outMulY",
  "outMulX", // kernel index step per tap; dst coordinate scale
  "outOffY",
  "outOffX",
  "hasBias",
  "qLast", // dst offsets; bias flag; the last channel block's first channel
  "wQ",
  "wT",
  "wR", // vec4 weight index = (q0 / 4) * wQ + tap * wT + r * wR
] as const;
const SIGNED = new Set(["inOffY", "inOffX", "step"]);
type GatherParams = Record<(typeof PARAM_NAMES)[number], number>;

/**
 * `byChannel`: the weight holds, per (tap, reduced channel), a vec4 run over the block's
 * channels (the packed layout, or a 1x1 input gradient's OIHW weight). Otherwise each
 * channel's weights are vec4 runs along the reduced channels (a 1x1 forward's OIHW weight):
 * the loop takes 4 reduced channels per step, ci is a multiple of 4, and wQ is per channel.
 */
function gatherSource(wg: number, bm: number, byChannel: boolean, store: StoreMode): string {
  const fields = PARAM_NAMES.map((f) => `${f}: ${SIGNED.has(f) ? "i32" : "u32"}`).join(", ");
  const m4 = bm / 4;
  const lines = (f: (i: number) => string, n: number) =>
    Array.from({ length: n }, (_, i) => f(i)).join("\n");
  const channelBlockLoop = `      for (var c = 0u; c < p.ci; c++) {
        let v = vec4f(src[at.x], src[at.y], src[at.z], src[at.w]) * mask;
${lines((j) => `        let w${j} = wt[wIdx + ${j}u];`, m4)}
${lines((i) => `        acc${i} += w${i >> 2}.${"xyzw"[i & 3]} * v;`, bm)}
        at += vec4i(hw);
        wIdx += p.wR;
      }`;
  const reduceVec4Loop = `      for (var c = 0u; c < p.ci; c += 4u) {
${
    lines((j) =>
      `        let v${j} = vec4f(src[at.x], src[at.y], src[at.z], src[at.w]) * mask;
        at += vec4i(hw);`, 4)
  }
${
    lines((i) =>
      `        let w${i} = wt[wIdx${i ? ` + ${i}u * p.wQ` : ""}];
        acc${i} += w${i}.x * v0 + w${i}.y * v1 + w${i}.z * v2 + w${i}.w * v3;`, bm)
  }
        wIdx += 1u;
      }`;
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: ${STORE_TYPE[store]};
struct Params { ${fields} }
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  // x: channel blocks (neighbouring workgroups reuse the same gathered input from cache)
  let block = wid.y + wid.z * nwg.y;
  if (block >= p.blocks) { return; }
  let q0 = min(wid.x * ${bm}u, p.qLast);
  let plane = p.th * p.tw;
  let total = p.batch * plane;
  let first = (block * ${wg}u + lid.x) * 4u;
  var srcBase: vec4i;
  var iy0: vec4i;
  var ix0: vec4i;
  var dstOff: vec4u;
  for (var e = 0u; e < 4u; e++) {
    let pos = min(first + e, total - 1u);
    let n = pos / plane;
    let r = pos - n * plane;
    let ty = r / p.tw;
    let tx = r - ty * p.tw;
    srcBase[e] = i32(n * p.ci * p.hi * p.wi);
    iy0[e] = i32(ty * p.inMulY) + p.inOffY;
    ix0[e] = i32(tx * p.inMulX) + p.inOffX;
    dstOff[e] = n * p.co * p.ho * p.wo + (ty * p.outMulY + p.outOffY) * p.wo + tx * p.outMulX + p.outOffX;
  }
${lines((i) => `  var acc${i} = vec4f(0.0);`, bm)}
  let hw = i32(p.hi * p.wi);
  let wiv = vec4i(i32(p.wi));
  for (var a = 0u; a < p.ntH; a++) {
    let iy = iy0 + vec4i(i32(a) * p.step);
    let rowOk = bitcast<vec4u>(iy) < vec4u(p.hi);
    let kh = p.khBase + a * p.kMulY;
    for (var b = 0u; b < p.ntW; b++) {
      let ix = ix0 + vec4i(i32(b) * p.step);
      let ok = rowOk & (bitcast<vec4u>(ix) < vec4u(p.wi));
      let kw = p.kwBase + b * p.kMulX;
      let mask = select(vec4f(0.0), vec4f(1.0), ok);
      var at = select(srcBase, srcBase + iy * wiv + ix, ok);
      var wIdx = ${byChannel ? "(q0 / 4u)" : "q0"} * p.wQ + (kh * p.winW + kw) * p.wT;
${byChannel ? channelBlockLoop : reduceVec4Loop}
    }
  }
  let plane_out = p.ho * p.wo;
${lines((i) => `  store(acc${i}, q0 + ${i}u, dstOff, first, total, plane_out);`, bm)}
}

fn store(v: vec4f, o: u32, off: vec4u, first: u32, total: u32, plane: u32) {
  if (o >= p.co) { return; }
  var b = 0.0;
  if (p.hasBias != 0u) { b = bias[o]; }
${STORE_BODY[store]}
}`;
}

/**
 * How the gather writes its 4 positions per channel. "scalar": anywhere. "vec4": the 4
 * positions are contiguous and 4-aligned in dst (one vec4 store). "spread": a 1x1 stride-2
 * input gradient, each position (y, x) also owning the dx pixels (2y, 2x+1), (2y+1, 2x) and
 * (2y+1, 2x+1) that no tap reaches: it writes them as zeros (vec2 stores), so dx needs no fill.
 */
type StoreMode = "scalar" | "vec4" | "spread";

const STORE_TYPE: Record<StoreMode, string> = {
  scalar: "array<f32>",
  vec4: "array<vec4f>",
  spread: "array<vec2f>",
};

const STORE_BODY: Record<StoreMode, string> = {
  scalar: `  for (var e = 0u; e < 4u; e++) {
    if (first + e < total) { dst[off[e] + o * plane] = v[e] + b; }
  }`,
  vec4: `  if (first < total) { dst[(off.x + o * plane) >> 2u] = v + vec4f(b); }`,
  // off is the (even) index of dx[2y, 2x]; the row below starts wo (even) later
  spread: `  for (var e = 0u; e < 4u; e++) {
    if (first + e < total) {
      let at = (off[e] + o * plane) >> 1u;
      dst[at] = vec2f(v[e] + b, 0.0);
      dst[at + (p.wo >> 1u)] = vec2f(0.0);
    }
  }`,
};

interface GatherKernel {
  /** The pipeline for each way of storing (compiled on first use). */
  kernel: (store: StoreMode) => Kernel;
  wg: number;
  bm: number;
}

const sources = new Map<string, string>();

/** The gather kernel for `co` output channels (a smaller block when there are few). */
function gatherKernel(g: Gpu, co: number, byChannel = true): GatherKernel {
  const t = convTiles(g).gather;
  const bm = Math.min(t.bm, Math.ceil(co / 4) * 4);
  const kernel = (store: StoreMode) => {
    const key = `${t.wg} ${bm} ${byChannel} ${store}`;
    let src = sources.get(key);
    if (!src) sources.set(key, src = gatherSource(t.wg, bm, byChannel, store));
    return g.kernel("conv2d gather", src);
  };
  return { kernel, wg: t.wg, bm };
}

/**
 * Whether a region's 4 consecutive positions are always contiguous and 4-aligned in dst:
 * whole rows of a multiple of 4 positions, or the whole plane when it is a multiple of 4.
 */
function contiguousQuads(ry: Axis, rx: Axis, ho: number, wo: number): boolean {
  if (rx.outMul !== 1) return false;
  if (rx.count % 4 === 0 && rx.outOff % 4 === 0 && wo % 4 === 0) return true;
  const whole = rx.count === wo && ry.count === ho && ry.outMul === 1 && ry.outOff === 0;
  return whole && (ho * wo) % 4 === 0;
}

/** How the gather indexes its weight binding (see the vec4 index in PARAM_NAMES). */
interface WeightLayout {
  /** The weight binding: a packed copy, or the OIHW weight itself. */
  wt: GPUBuffer;
  wQ: number;
  wT: number;
  wR: number;
  qLast: number;
  /** The first kernel row and column of the weight's tap window, and its width. */
  kh0: number;
  kw0: number;
  winW: number;
}

/** The layout of the packed copy that repackWeight makes. */
function packedLayout(wt: GPUBuffer, rows: number, bm: number, win: TapWindow): WeightLayout {
  const m4 = bm / 4;
  return {
    wt,
    wQ: win.winH * win.winW * rows,
    wT: rows * m4,
    wR: m4,
    qLast: 0xffffffff,
    kh0: win.kh0,
    kw0: win.kw0,
    winW: win.winW,
  };
}

/** The taps that the planned regions use. */
function tapWindow(plan: RegionPlan): TapWindow {
  const [kh0, kh1] = kernelWindow(plan.rows);
  const [kw0, kw1] = kernelWindow(plan.cols);
  return { kh0, winH: kh1 - kh0, kw0, winW: kw1 - kw0 };
}

/** Records the gather launches of one chunk: every row region x column region of `plan`. */
function launchGather(
  g: Gpu,
  k: GatherKernel,
  bindings: { src: GPUBufferBinding; bias: GPUBuffer | null; dst: GPUBufferBinding },
  dims: { batch: number; ci: number; co: number; ho: number; wo: number },
  lay: WeightLayout,
  plan: RegionPlan,
  what: string,
  spread = false,
): void {
  const asRange = (b: GPUBufferBinding) => ({
    buffer: b.buffer,
    offset: b.offset ?? 0,
    size: b.size!,
  });
  const bound = [asRange(bindings.src), lay.wt, bindings.bias ?? lay.wt, asRange(bindings.dst)];
  const row0 = plan.rows[0];
  for (const ry of plan.rows) {
    for (const rx of plan.cols) {
      const total = dims.batch * ry.count * rx.count;
      if (total === 0) continue;
      const blocks = Math.ceil(total / (k.wg * 4));
      const values: GatherParams = {
        batch: dims.batch,
        ci: dims.ci,
        hi: row0.srcSize,
        wi: plan.cols[0].srcSize,
        co: dims.co,
        ho: dims.ho,
        wo: dims.wo,
        blocks,
        th: ry.count,
        tw: rx.count,
        inMulY: ry.inMul,
        inMulX: rx.inMul,
        inOffY: ry.inOff,
        inOffX: rx.inOff,
        step: ry.step,
        winW: lay.winW,
        ntH: ry.taps,
        ntW: rx.taps,
        // a region without taps reads no weight (its kernel base may lie outside the window)
        khBase: ry.taps ? ry.kBase - lay.kh0 : 0,
        kwBase: rx.taps ? rx.kBase - lay.kw0 : 0,
        kMulY: ry.kMul,
        kMulX: rx.kMul,
        outMulY: ry.outMul,
        outMulX: rx.outMul,
        outOffY: ry.outOff,
        outOffX: rx.outOff,
        hasBias: bindings.bias ? 1 : 0,
        qLast: lay.qLast,
        wQ: lay.wQ,
        wT: lay.wT,
        wR: lay.wR,
      };
      const y = Math.min(blocks, g.maxWorkgroupsPerDim);
      const z = Math.ceil(blocks / y);
      const store: StoreMode = spread
        ? "spread"
        : contiguousQuads(ry, rx, dims.ho, dims.wo)
        ? "vec4"
        : "scalar";
      g.dispatch(
        k.kernel(store),
        bound,
        new Uint32Array(PARAM_NAMES.map((f) => values[f] >>> 0)),
        [Math.ceil(dims.co / k.bm), y, z],
        what,
      );
    }
  }
}

/**
 * y = conv2d(x, w) + bias: x [n, c, h, w], w [o, c, kh, kw], bias [o] or null,
 * y [n, o, oh, ow]. Works in chunks of images when a tensor exceeds one binding.
 */
export function conv2dForward(
  g: Gpu,
  x: GPUBuffer,
  w: GPUBuffer,
  bias: GPUBuffer | null,
  y: GPUBuffer,
  s: Conv2dGeometry,
): void {
  const { oh, ow } = conv2dOutputSize(s);
  const what = `conv2d forward ${describeConv(s)}`;
  let k = gatherKernel(g, s.o);
  const axis = (count: number, size: number, stride: number, pad: number, taps: number): Axis => ({
    count,
    srcSize: size,
    inMul: stride,
    inOff: -pad,
    step: 1,
    taps,
    kBase: 0,
    kMul: 1,
    outMul: 1,
    outOff: 0,
  });
  const plan = planRegions(
    axis(oh, s.h, s.strideH, s.padH, s.kh),
    axis(ow, s.w, s.strideW, s.padW, s.kw),
    s.n * s.c * s.o,
    convTiles(g).launchMacs,
  );
  const win = tapWindow(plan);
  // A 1x1 kernel's OIHW weight [O][C] is read as it is, 4 input channels per step.
  const direct = s.kh * s.kw === 1 && s.c % 4 === 0 && s.o >= k.bm;
  if (direct) k = gatherKernel(g, s.o, false);
  const lay = direct
    ? { wt: w, wQ: s.c / 4, wT: 0, wR: 1, qLast: s.o - k.bm, kh0: 0, kw0: 0, winW: 1 }
    : packedLayout(repackWeight(g, w, s, false, k.bm, win), s.c, k.bm, win);
  const inItem = s.c * s.h * s.w * 4;
  const outItem = s.o * oh * ow * 4;
  for (const ch of g.chunks(what, s.n, [inItem, outItem], true)) {
    launchGather(
      g,
      k,
      {
        src: { buffer: x, offset: ch.start * inItem, size: ch.count * inItem },
        bias,
        dst: { buffer: y, offset: ch.start * outItem, size: ch.count * outItem },
      },
      { batch: ch.count, ci: s.c, co: s.o, ho: oh, wo: ow },
      lay,
      plan,
      what,
    );
  }
  if (!direct) g.pool.release(lay.wt);
}

/** One stride phase along one dimension of the input gradient (see the file comment). */
interface Phase {
  /** First input coordinate of the phase; its pixels are first, first+stride, ... */
  first: number;
  /** How many pixels the phase has. */
  count: number;
  /** Output coordinate of the phase's pixel 0 at tap 0. */
  offset: number;
  /** First kernel index of the phase and how many taps it has. */
  kBase: number;
  taps: number;
}

function phases(size: number, stride: number, pad: number, kernel: number): Phase[] {
  const out: Phase[] = [];
  for (let ph = 0; ph < stride; ph++) {
    const first = (((ph - pad) % stride) + stride) % stride;
    out.push({
      first,
      count: first < size ? Math.ceil((size - first) / stride) : 0,
      offset: (first + pad - ph) / stride,
      kBase: ph,
      taps: ph < kernel ? Math.ceil((kernel - ph) / stride) : 0,
    });
  }
  return out;
}

/** The gather axis of one input-gradient phase: dy coordinate t + offset - a. */
function phaseAxis(ph: Phase, dySize: number, stride: number): Axis {
  return {
    count: ph.count,
    srcSize: dySize,
    inMul: 1,
    inOff: ph.offset,
    step: -1,
    taps: ph.taps,
    kBase: ph.kBase,
    kMul: stride,
    outMul: stride,
    outOff: ph.first,
  };
}

/**
 * dx = the gradient of conv2d's input: dy [n, o, oh, ow], w [o, c, kh, kw] -> dx [n, c, h, w].
 * Every element of dx is written.
 */
export function conv2dBackwardInput(
  g: Gpu,
  dy: GPUBuffer,
  w: GPUBuffer,
  dx: GPUBuffer,
  s: Conv2dGeometry,
): void {
  const { oh, ow } = conv2dOutputSize(s);
  if (s.c <= convTiles(g).colsMaxChannels && colsPathFits(g, s)) {
    conv2dBackwardInputCols(g, dy, w, dx, s);
    return;
  }
  const what = `conv2d backward-input ${describeConv(s)}`;
  const k = gatherKernel(g, s.c);
  const rowPhases = phases(s.h, s.strideH, s.padH, s.kh);
  const colPhases = phases(s.w, s.strideW, s.padW, s.kw);
  // Pixels that no tap reaches (a 1x1 kernel with stride 2: 3 of 4) get 0; one contiguous
  // fill writes them faster than the gather's scattered stores would.
  const unreached = rowPhases.some((p) => p.taps === 0) || colPhases.some((p) => p.taps === 0);
  const launchMacs = convTiles(g).launchMacs;
  const plans: RegionPlan[] = [];
  for (const py of rowPhases) {
    for (const px of colPhases) {
      if (unreached && (py.taps === 0 || px.taps === 0)) continue;
      const rows = phaseAxis(py, oh, s.strideH);
      const cols = phaseAxis(px, ow, s.strideW);
      plans.push(planRegions(rows, cols, s.n * s.o * s.c, launchMacs));
    }
  }
  const win = tapWindow({
    rows: plans.flatMap((p) => p.rows),
    cols: plans.flatMap((p) => p.cols),
  });
  // [O][C] with C a multiple of 4 is already the [C/bm][O][bm] layout with a row stride of C
  const direct = s.kh * s.kw === 1 && s.c % 4 === 0 && s.c >= k.bm;
  const lay = direct
    ? { wt: w, wQ: 1, wT: 0, wR: s.c / 4, qLast: s.c - k.bm, kh0: 0, kw0: 0, winW: 1 }
    : packedLayout(repackWeight(g, w, s, true, k.bm, win), s.o, k.bm, win);
  // A 1x1 stride-2 kernel on an even-sized input: the one launch also writes the zeros.
  const spread = unreached && s.kh * s.kw === 1 && s.strideH === 2 && s.strideW === 2 &&
    s.padH === 0 && s.padW === 0 && s.h % 2 === 0 && s.w % 2 === 0 && plans.length === 1 &&
    plans[0].rows.length === 1 && plans[0].cols.length === 1;
  if (unreached && !spread) fill(g, dx, s.n * s.c * s.h * s.w, 0);
  const inItem = s.o * oh * ow * 4;
  const outItem = s.c * s.h * s.w * 4;
  for (const ch of g.chunks(what, s.n, [inItem, outItem], true)) {
    for (const plan of plans) {
      launchGather(
        g,
        k,
        {
          src: { buffer: dy, offset: ch.start * inItem, size: ch.count * inItem },
          bias: null,
          dst: { buffer: dx, offset: ch.start * outItem, size: ch.count * outItem },
        },
        { batch: ch.count, ci: s.o, co: s.c, ho: s.h, wo: s.w },
        lay,
        plan,
        what,
        spread,
      );
    }
  }
  if (!direct) g.pool.release(lay.wt);
}
