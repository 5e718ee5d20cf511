// conv2d on NCHW activations and OIHW weights (groups = 1, f32): the forward pass and the
// input gradient, both as one "tap gather" implicit GEMM, and the weight repacking they
// need. The weight and bias gradients are in conv2d_weight_grad.ts.
//
// Both directions compute, for every output channel `co` and output position,
//   dst[n, co, y, x] = sum over taps (a, b) and channels ci of
//                      wt[kh(a), kw(b), ci, co] * src[n, ci, iy(y) + step*a, ix(x) + step*b]
// with src read as 0 outside the image:
// - forward: src = x, dst = y, wt = W repacked to [O/bm][KH][KW][C][bm], iy = oy*stride - pad.
// - input gradient: src = dy, dst = dx, wt = W repacked to [C/bm][KH][KW][O][bm]. An input pixel
//   only receives taps kh with (ih + pad - kh) divisible by the stride, so the pixels are
//   split into stride*stride "phases" with the same valid taps; each phase is a launch in
//   which oh = t + q - j for the phase's pixel t and tap j (no wasted multiplies by 0).
//
// Tiling (see conv2d_tiles.ts): an invocation keeps a `bm` channels x 4 positions block of
// accumulators. The weights of a block are the same for the whole workgroup (uniform vec4
// loads, cheap on llvmpipe) and each invocation gathers 4 input values per (tap, channel).

import { type Gpu, grid1d, type Kernel } from "./device.ts";
import { convTiles } from "./conv2d_tiles.ts";
import { fill } from "./elementwise.ts";

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

// out[b, tap, r, qi] = w[q * strideQ + r * strideR + tap] for q = b * BM + qi (0 where
// q >= q count): each channel block's weights are one contiguous run for the gather. One
// invocation per (b, r); neighbouring invocations read neighbouring rows and write
// neighbouring BM-runs, so both sides stream through the cache.
function repackSource(bm: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;
struct Params { taps: u32, rows: u32, q: u32, blocks: u32, strideQ: u32, strideR: u32 }
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
  for (var tap = 0u; tap < p.taps; tap++) {
    let at = ((b * p.taps + tap) * p.rows + r) * ${bm / 4}u;
    let rt = r * p.strideR + tap;
    for (var q4 = 0u; q4 < ${bm / 4}u; q4++) {
      let q = b * ${bm}u + q4 * 4u;
      out[at + q4] = vec4f(ld(q, rt), ld(q + 1u, rt), ld(q + 2u, rt), ld(q + 3u, rt));
    }
  }
}`;
}

/**
 * Repacks an OIHW weight into [cols / bm][KH*KW][rows][bm] (cols padded with zeros) for
 * the tap gather: `forInput = false` gives rows = C, cols = O (forward); true gives
 * rows = O, cols = C. Returns a pool buffer the caller releases.
 */
function repackWeight(g: Gpu, w: GPUBuffer, s: Conv2dGeometry, forInput: boolean, bm: number) {
  const taps = s.kh * s.kw;
  const [rows, cols] = forInput ? [s.o, s.c] : [s.c, s.o];
  const blocks = Math.ceil(cols / bm);
  const count = taps * rows * blocks * bm;
  if (count * 4 > g.maxBindingBytes || s.o * s.c * taps * 4 > g.maxBindingBytes) {
    throw new Error(
      `conv2d ${describeConv(s)}: the weight needs ${count * 4} bytes, over this adapter's ` +
        `${g.maxBindingBytes}-byte storage binding limit`,
    );
  }
  const out = g.pool.acquire(count * 4, "conv2d packed weight");
  // w[o][c][tap]: column q and row r map to (o, c) or (c, o)
  const strideQ = forInput ? taps : s.c * taps;
  const strideR = forInput ? s.c * taps : taps;
  const params = new Uint32Array([taps, rows, cols, blocks, strideQ, strideR]);
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
  "taps", // dst [batch, co, ho, wo]; taps = KH * KW
  "th",
  "tw",
  "inMulY",
  "inMulX", // the launch's position grid and src coordinate scale
  "inOffY",
  "inOffX",
  "step",
  "kwFull", // src offsets (i32), tap direction (i32), KW
  "ntH",
  "ntW",
  "khBase",
  "kwBase", // taps per dimension; first kernel row/col
  "kMulY",
  "kMulX",
  "outMulY",
  "outMulX", // kernel index step per tap; dst coordinate scale
  "outOffY",
  "outOffX",
  "hasBias",
  "blocks", // dst offsets; bias flag; position blocks
] as const;
const SIGNED = new Set(["inOffY", "inOffX", "step"]);
type GatherParams = Record<(typeof PARAM_NAMES)[number], number>;

function gatherSource(wg: number, bm: number): string {
  const fields = PARAM_NAMES.map((f) => `${f}: ${SIGNED.has(f) ? "i32" : "u32"}`).join(", ");
  const m4 = bm / 4;
  const lines = (f: (i: number) => string, n: number) =>
    Array.from({ length: n }, (_, i) => f(i)).join("\n");
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> wt: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
struct Params { ${fields} }
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  // x: channel blocks (neighbouring workgroups reuse the same gathered input from cache)
  let block = wid.y + wid.z * nwg.y;
  if (block >= p.blocks) { return; }
  let o0 = wid.x * ${bm}u;
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
      var wIdx = ((wid.x * p.taps + kh * p.kwFull + kw) * p.ci) * ${m4}u;
      for (var c = 0u; c < p.ci; c++) {
        let v = vec4f(src[at.x], src[at.y], src[at.z], src[at.w]) * mask;
${lines((j) => `        let w${j} = wt[wIdx + ${j}u];`, m4)}
${lines((i) => `        acc${i} += w${i >> 2}.${"xyzw"[i & 3]} * v;`, bm)}
        at += vec4i(hw);
        wIdx += ${m4}u;
      }
    }
  }
  let plane_out = p.ho * p.wo;
${lines((i) => `  store(acc${i}, o0 + ${i}u, dstOff, first, total, plane_out);`, bm)}
}

fn store(v: vec4f, o: u32, off: vec4u, first: u32, total: u32, plane: u32) {
  if (o >= p.co) { return; }
  var b = 0.0;
  if (p.hasBias != 0u) { b = bias[o]; }
  for (var e = 0u; e < 4u; e++) {
    if (first + e < total) { dst[off[e] + o * plane] = v[e] + b; }
  }
}`;
}

/** The gather kernel for `co` output channels (a smaller block when there are few). */
function gatherKernel(g: Gpu, co: number): { kernel: Kernel; wg: number; bm: number } {
  const t = convTiles(g).gather;
  const bm = Math.min(t.bm, Math.ceil(co / 4) * 4);
  return { kernel: g.kernel("conv2d gather", gatherSource(t.wg, bm)), wg: t.wg, bm };
}

/** Records one gather launch for `batch` images of src/dst given as binding ranges. */
function launchGather(
  g: Gpu,
  k: { kernel: Kernel; wg: number; bm: number },
  bindings: { src: GPUBufferBinding; wt: GPUBuffer; bias: GPUBuffer; dst: GPUBufferBinding },
  prm: Omit<GatherParams, "blocks">,
  what: string,
): void {
  const total = prm.batch * prm.th * prm.tw;
  if (total === 0) return;
  const blocks = Math.ceil(total / (k.wg * 4));
  const values: GatherParams = { ...prm, blocks };
  const params = new Int32Array(PARAM_NAMES.map((f) => values[f]));
  const y = Math.min(blocks, g.maxWorkgroupsPerDim);
  const z = Math.ceil(blocks / y);
  const asRange = (b: GPUBufferBinding) => ({
    buffer: b.buffer,
    offset: b.offset ?? 0,
    size: b.size!,
  });
  g.dispatch(
    k.kernel,
    [asRange(bindings.src), bindings.wt, bindings.bias, asRange(bindings.dst)],
    params,
    [Math.ceil(prm.co / k.bm), y, z],
    what,
  );
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
  const k = gatherKernel(g, s.o);
  const wt = repackWeight(g, w, s, false, k.bm);
  const inItem = s.c * s.h * s.w * 4;
  const outItem = s.o * oh * ow * 4;
  for (const ch of g.chunks(what, s.n, [inItem, outItem])) {
    launchGather(g, k, {
      src: { buffer: x, offset: ch.start * inItem, size: ch.count * inItem },
      wt,
      bias: bias ?? wt,
      dst: { buffer: y, offset: ch.start * outItem, size: ch.count * outItem },
    }, {
      batch: ch.count,
      ci: s.c,
      hi: s.h,
      wi: s.w,
      co: s.o,
      ho: oh,
      wo: ow,
      th: oh,
      tw: ow,
      inMulY: s.strideH,
      inMulX: s.strideW,
      inOffY: -s.padH,
      inOffX: -s.padW,
      step: 1,
      kwFull: s.kw,
      taps: s.kh * s.kw,
      ntH: s.kh,
      ntW: s.kw,
      khBase: 0,
      kwBase: 0,
      kMulY: 1,
      kMulX: 1,
      outMulY: 1,
      outMulX: 1,
      outOffY: 0,
      outOffX: 0,
      hasBias: bias ? 1 : 0,
    }, what);
  }
  g.pool.release(wt);
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
  const what = `conv2d backward-input ${describeConv(s)}`;
  const k = gatherKernel(g, s.c);
  const wt = repackWeight(g, w, s, true, k.bm);
  const inItem = s.o * oh * ow * 4;
  const outItem = s.c * s.h * s.w * 4;
  const rowPhases = phases(s.h, s.strideH, s.padH, s.kh);
  const colPhases = phases(s.w, s.strideW, s.padW, s.kw);
  // Pixels that no tap reaches (a 1x1 kernel with stride 2: 3 of 4) get 0; one contiguous
  // fill writes them faster than the gather's scattered stores would.
  const unreached = rowPhases.some((p) => p.taps === 0) || colPhases.some((p) => p.taps === 0);
  if (unreached) fill(g, dx, s.n * s.c * s.h * s.w, 0);
  for (const ch of g.chunks(what, s.n, [inItem, outItem])) {
    for (const py of rowPhases) {
      for (const px of colPhases) {
        if (unreached && (py.taps === 0 || px.taps === 0)) continue;
        launchGather(g, k, {
          src: { buffer: dy, offset: ch.start * inItem, size: ch.count * inItem },
          wt,
          bias: wt,
          dst: { buffer: dx, offset: ch.start * outItem, size: ch.count * outItem },
        }, {
          batch: ch.count,
          ci: s.o,
          hi: oh,
          wi: ow,
          co: s.c,
          ho: s.h,
          wo: s.w,
          th: py.count,
          tw: px.count,
          inMulY: 1,
          inMulX: 1,
          inOffY: py.offset,
          inOffX: px.offset,
          step: -1,
          kwFull: s.kw,
          taps: s.kh * s.kw,
          ntH: py.taps,
          ntW: px.taps,
          khBase: py.kBase,
          kwBase: px.kBase,
          kMulY: s.strideH,
          kMulX: s.strideW,
          outMulY: s.strideH,
          outMulX: s.strideW,
          outOffY: py.first,
          outOffX: px.first,
          hasBias: 0,
        }, what);
      }
    }
  }
  g.pool.release(wt);
}
