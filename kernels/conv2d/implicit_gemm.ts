// The implicit GEMM on workgroup-memory tiles: conv2d's forward pass, input gradient and
// weight gradient as one GEMM kernel, C[m, n] = sum over k of A[m, k] * B[k, n], whose
// operands are read straight from the activations and weights (no im2col buffer). The
// strategy for GPUs (tfjs-webgpu's conv2d_mm and burn's implicit-GEMM conv work this way).
//
//   direction        M    N (columns)              K (reduction)           A          B
//   forward          O    images x OH x OW         C x KH x KW             w          x
//   input gradient   C    images x the pixels of   O x the phase's taps    w          dy
//                         one stride phase
//   weight gradient  O    C x KH x KW              images x OH x OW        dy         x
//
// Every direction splits its column index n and reduction index k into three coordinates
// (n -> n1, n2, n3 and k -> k1, k2, k3, e.g. image, row, column) and reads
//   A[m, k] = a[aBase + m*aM + k1*aK1 + k2*aK2 + k3*aK3]
//   B[k, n] = b[n1*bN1 + k1*bK1 + y*srcW + x], y = n2*bNy + k2*bKy + bOy, x = n3*bNx + k3*bKx + bOx
//             (0 where (y, x) lies outside the srcH x srcW plane: the zero padding)
//   C[m, n] -> dst[cBase + z*cSplit + m*cM + n1*cN1 + n2*cNy + n3*cNx] (+ bias[m])
// so the WGSL is the same for all three; only the parameters differ (see the launchers).
// The input gradient runs one launch per stride phase (pixels that share the same valid
// taps, as in gather.ts), so no multiply is wasted on taps the stride skips. Taps that read
// only padding at every position (a 3x3 kernel on a 1x1 plane: all but the centre) are left
// out of K (KH x KW above is the window of the others). The weight gradient's long
// reduction is split over grid z into partials summed by split_k.ts.
//
// Tiles (tuning(g).conv.tiled): a workgroup computes a bm x bn block of C with
// (bn/tn) x (bm/tm) invocations, each a tm x tn register block; per step of bk it stages
// bk x bm of A and bk x bn of B in workgroup memory (4 consecutive m or n per vec4), each
// invocation loading vec4s of a fixed group of 4 columns whose coordinates it splits once.

import type { Binding, Gpu } from "../device.ts";
import { GpuError } from "../errors.ts";
import { defineKernel } from "../kernel.ts";
import { type TiledGemmTiles, tuning } from "../tuning.ts";
import { fill } from "../elementwise.ts";
import { type Conv2dGeometry, conv2dOutputSize, describeConv } from "./geometry.ts";
import { usedTaps } from "./regions.ts";
import { sumWeightPartials } from "./split_k.ts";

const PARAMS = {
  m: "u32",
  n: "u32",
  k: "u32",
  span: "u32", // reduction indices per split (grid z)
  nInner: "u32", // n3 = n % nInner, n2 = (n / nInner) % nMid, n1 = n / (nInner * nMid)
  nMid: "u32",
  kInner: "u32", // the same for k
  kMid: "u32",
  aBase: "u32",
  aM: "u32",
  aK1: "u32",
  aK2: "u32",
  aK3: "u32",
  bN1: "u32",
  bK1: "u32",
  bNy: "i32",
  bKy: "i32",
  bOy: "i32",
  bNx: "i32",
  bKx: "i32",
  bOx: "i32",
  srcH: "u32",
  srcW: "u32",
  cBase: "u32",
  cSplit: "u32",
  cM: "u32",
  cN1: "u32",
  cNy: "u32",
  cNx: "u32",
  hasBias: "u32",
} as const;

type Launch = Record<keyof typeof PARAMS, number>;

function body(t: TiledGemmTiles): string {
  const { bm, bn, bk, tm, tn } = t;
  const [wx, wy] = [bn / tn, bm / tm];
  const threads = wx * wy;
  const [m4, n4, tn4] = [bm / 4, bn / 4, tn / 4];
  const rep = (count: number, f: (i: number) => string, sep = "\n") =>
    Array.from({ length: count }, (_, i) => f(i)).join(sep);
  const lanes = "xyzw";
  return /* wgsl */ `
var<workgroup> As: array<vec4f, ${bk * m4}>; // [k][m / 4]
var<workgroup> Bs: array<vec4f, ${bk * n4}>; // [k][n / 4]

// (i / (inner * mid), (i / inner) % mid, i % inner)
fn split3(i: u32, inner: u32, mid: u32) -> vec3u {
  let q = i / inner;
  let r = q / mid;
  return vec3u(r, q - r * mid, i - q * inner);
}

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * ${bm}u;
  let n0 = wid.x * ${bn}u;
  let kBegin = wid.z * p.span;
  let kEnd = min(kBegin + p.span, p.k);

  // A tile: this invocation loads rows m0 + 4*aq .. +3 at k rows aRow, aRow + ${threads / m4}, ...
  let aq = li % ${m4}u;
  let aRow = li / ${m4}u;
  var aAt: vec4u;
  var aOk: vec4<bool>;
  for (var e = 0u; e < 4u; e++) {
    let m = m0 + aq * 4u + e;
    aOk[e] = m < p.m;
    aAt[e] = min(m, p.m - 1u) * p.aM + p.aBase + p.aOff;
  }
  // B tile: columns n0 + 4*bq .. +3, their coordinates split once
  let bq = li % ${n4}u;
  let bRow = li / ${n4}u;
  var bAt: vec4i;
  var bY: vec4i;
  var bX: vec4i;
  for (var e = 0u; e < 4u; e++) {
    let n = n0 + bq * 4u + e;
    let d = split3(min(n, p.n - 1u), p.nInner, p.nMid);
    bAt[e] = i32(d.x * p.bN1 + p.bOff);
    bY[e] = select(-0x40000000, i32(d.y) * p.bNy + p.bOy, n < p.n); // past the end: outside
    bX[e] = i32(d.z) * p.bNx + p.bOx;
  }
  let srcW = i32(p.srcW);

${rep(tm * tn4, (i) => `  var acc${i} = vec4f(0.0);`)}
  for (var k0 = kBegin; k0 < kEnd; k0 += ${bk}u) {
    for (var r = aRow; r < ${bk}u; r += ${threads / m4}u) {
      let k = k0 + r;
      var v = vec4f(0.0);
      if (k < kEnd) {
        let d = split3(k, p.kInner, p.kMid);
        let at = aAt + vec4u(d.x * p.aK1 + d.y * p.aK2 + d.z * p.aK3);
        v = select(vec4f(0.0), vec4f(a[at.x], a[at.y], a[at.z], a[at.w]), aOk);
      }
      As[r * ${m4}u + aq] = v;
    }
    for (var r = bRow; r < ${bk}u; r += ${threads / n4}u) {
      let k = k0 + r;
      var v = vec4f(0.0);
      if (k < kEnd) {
        let d = split3(k, p.kInner, p.kMid);
        let y = bY + vec4i(i32(d.y) * p.bKy);
        let x = bX + vec4i(i32(d.z) * p.bKx);
        let ok = (bitcast<vec4u>(y) < vec4u(p.srcH)) & (bitcast<vec4u>(x) < vec4u(p.srcW));
        let at = select(vec4i(i32(p.bOff)), bAt + vec4i(i32(d.x * p.bK1)) + y * srcW + x, ok);
        v = select(vec4f(0.0), vec4f(b[at.x], b[at.y], b[at.z], b[at.w]), ok);
      }
      Bs[r * ${n4}u + bq] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${bk}u; kk++) {
${rep(tm / 4, (i) => `      let a${i} = As[kk * ${m4}u + lid.y * ${tm / 4}u + ${i}u];`)}
${rep(tn4, (j) => `      let b${j} = Bs[kk * ${n4}u + lid.x * ${tn4}u + ${j}u];`)}
${
    rep(tm * tn4, (i) => {
      const [row, j] = [Math.floor(i / tn4), i % tn4];
      return `      acc${i} += a${row >> 2}.${lanes[row & 3]} * b${j};`;
    })
  }
    }
    workgroupBarrier();
  }

  let out = p.cBase + wid.z * p.cSplit + p.dstOff;
${
    rep(tn4, (j) =>
      `  {
    let first = n0 + lid.x * ${tn}u + ${4 * j}u;
    var col: vec4u;
    for (var e = 0u; e < 4u; e++) {
      let d = split3(min(first + e, p.n - 1u), p.nInner, p.nMid);
      col[e] = out + d.x * p.cN1 + d.y * p.cNy + d.z * p.cNx;
    }
${rep(tm, (r) => `    store(acc${r * tn4 + j}, m0 + lid.y * ${tm}u + ${r}u, first, col);`)}
  }`)
  }
}

fn store(v: vec4f, m: u32, first: u32, col: vec4u) {
  if (m >= p.m) { return; }
  var bias_ = 0.0;
  if (p.hasBias != 0u) { bias_ = bias[m]; }
  for (var e = 0u; e < 4u; e++) {
    if (first + e < p.n) { dst[col[e] + m * p.cM] = v[e] + bias_; }
  }
}`;
}

const IMPLICIT_GEMM = defineKernel({
  name: "conv2d implicit gemm",
  key: (t: TiledGemmTiles) => `${t.bm}x${t.bn}x${t.bk} ${t.tm}x${t.tn}`,
  bindings: [
    { name: "a", type: "f32", offset: true },
    { name: "b", type: "f32", offset: true },
    { name: "bias", type: "f32" },
    { name: "dst", type: "f32", access: "read_write", offset: true },
  ],
  params: PARAMS,
  body,
});

/** The tiles in force (tuning.ts checks that they fit this kernel's layout and limits). */
function tiles(g: Gpu): TiledGemmTiles {
  return tuning(g).conv.tiled;
}

/**
 * Records one GEMM launch per run of images that the grid can hold (ceil(count * perImage /
 * bn) column blocks along x), for `count` images starting at `start`.
 */
function forRuns(
  g: Gpu,
  what: string,
  chunk: { start: number; count: number },
  perImage: number,
  bn: number,
  f: (start: number, count: number) => void,
): void {
  const most = Math.floor((g.maxWorkgroupsPerDim * bn) / perImage);
  if (most < 1) throw new GpuError(`${what}: one image needs more workgroups than a grid holds`);
  for (let s = 0; s < chunk.count; s += most) {
    f(chunk.start + s, Math.min(most, chunk.count - s));
  }
}

function dispatch(
  g: Gpu,
  t: TiledGemmTiles,
  bindings: readonly Binding[],
  p: Launch,
  splits: number,
  what: string,
): void {
  IMPLICIT_GEMM.get(g, t).dispatch(
    bindings,
    p,
    [Math.ceil(p.n / t.bn), Math.ceil(p.m / t.bm), splits],
    what,
  );
}

/** The forward pass by the implicit GEMM (mod.ts has the contract). */
export function implicitGemmForward(
  g: Gpu,
  x: GPUBuffer,
  w: GPUBuffer,
  bias: GPUBuffer | null,
  y: GPUBuffer,
  s: Conv2dGeometry,
): void {
  const { oh, ow } = conv2dOutputSize(s);
  const what = `conv2d forward (implicit gemm) ${describeConv(s)}`;
  const t = tiles(g);
  const plane = oh * ow;
  const taps = s.kh * s.kw;
  const win = tapWindow(s, oh, ow);
  const inItem = s.c * s.h * s.w;
  const outItem = s.o * plane;
  for (const ch of g.chunks(what, s.n, [inItem * 4, outItem * 4])) {
    forRuns(g, what, ch, plane, t.bn, (start, count) => {
      const p: Launch = {
        m: s.o,
        n: count * plane,
        k: s.c * win.winH * win.winW,
        span: s.c * win.winH * win.winW,
        nInner: ow,
        nMid: oh,
        kInner: win.winW,
        kMid: win.winH,
        // w[o, c, kh0 + a, kw0 + b]
        aBase: win.kh0 * s.kw + win.kw0,
        aM: s.c * taps,
        aK1: taps,
        aK2: s.kw,
        aK3: 1,
        // x[img, c, oy*stride - pad + kh0 + a, ox*stride - pad + kw0 + b]
        bN1: inItem,
        bK1: s.h * s.w,
        bNy: s.strideH,
        bKy: 1,
        bOy: win.kh0 - s.padH,
        bNx: s.strideW,
        bKx: 1,
        bOx: win.kw0 - s.padW,
        srcH: s.h,
        srcW: s.w,
        cBase: 0,
        cSplit: 0,
        cM: plane,
        cN1: outItem,
        cNy: ow,
        cNx: 1,
        hasBias: bias ? 1 : 0,
      };
      const bound = [
        w,
        { buffer: x, offset: start * inItem * 4, size: count * inItem * 4 },
        bias ?? w,
        { buffer: y, offset: start * outItem * 4, size: count * outItem * 4 },
      ];
      dispatch(g, t, bound, p, 1, what);
    });
  }
}

/**
 * The kernel rows and columns that read some pixel at some output position; the others
 * read only padding (a 3x3 kernel on a 1x1 input uses only its centre).
 */
function tapWindow(s: Conv2dGeometry, oh: number, ow: number) {
  const [kh0, kh1] = usedTaps(oh, s.h, s.strideH, s.padH, s.kh);
  const [kw0, kw1] = usedTaps(ow, s.w, s.strideW, s.padW, s.kw);
  return { kh0, winH: kh1 - kh0, kw0, winW: kw1 - kw0 };
}

/**
 * The stride phases of one dimension of the input gradient (as in gather.ts): pixels
 * first, first + stride, ... receive the taps kBase, kBase + stride, ..., tap a reading dy
 * at offset + t - a for the phase's pixel t. Taps that read outside dy for every pixel of
 * the phase are dropped.
 */
function phases(size: number, dySize: number, stride: number, pad: number, kernel: number) {
  return Array.from({ length: stride }, (_, ph) => {
    const first = (((ph - pad) % stride) + stride) % stride;
    const count = first < size ? Math.ceil((size - first) / stride) : 0;
    const offset = (first + pad - ph) / stride;
    const all = ph < kernel ? Math.ceil((kernel - ph) / stride) : 0;
    // 0 <= offset + t - a < dySize for some t in [0, count)
    const a0 = Math.max(0, offset - dySize + 1);
    const a1 = Math.min(all, offset + count);
    return {
      first,
      count,
      offset: offset - a0,
      kBase: ph + a0 * stride,
      taps: Math.max(0, a1 - a0),
    };
  });
}

/** The input gradient by the implicit GEMM, one launch per stride phase (mod.ts has the contract). */
export function implicitGemmInputGrad(
  g: Gpu,
  dy: GPUBuffer,
  w: GPUBuffer,
  dx: GPUBuffer,
  s: Conv2dGeometry,
): void {
  const { oh, ow } = conv2dOutputSize(s);
  const what = `conv2d input gradient (implicit gemm) ${describeConv(s)}`;
  const t = tiles(g);
  const rows = phases(s.h, oh, s.strideH, s.padH, s.kh);
  const cols = phases(s.w, ow, s.strideW, s.padW, s.kw);
  // pixels that no tap reaches (a kernel smaller than its stride, or only padding) are 0
  const unreached = (p: { count: number; taps: number }) => p.count > 0 && p.taps === 0;
  if (rows.some(unreached) || cols.some(unreached)) {
    fill(g, dx, s.n * s.c * s.h * s.w, 0);
  }
  const plane = oh * ow;
  const taps = s.kh * s.kw;
  const inItem = s.o * plane;
  const outItem = s.c * s.h * s.w;
  for (const ch of g.chunks(what, s.n, [inItem * 4, outItem * 4])) {
    for (const py of rows) {
      for (const px of cols) {
        if (py.count * px.count * py.taps * px.taps === 0) continue;
        const phasePlane = py.count * px.count;
        forRuns(g, what, ch, phasePlane, t.bn, (start, count) => {
          const p: Launch = {
            m: s.c,
            n: count * phasePlane,
            k: s.o * py.taps * px.taps,
            span: s.o * py.taps * px.taps,
            nInner: px.count,
            nMid: py.count,
            kInner: px.taps,
            kMid: py.taps,
            // w[o, c, kBase + stride*a, kBase + stride*b]
            aBase: py.kBase * s.kw + px.kBase,
            aM: taps,
            aK1: s.c * taps,
            aK2: s.strideH * s.kw,
            aK3: s.strideW,
            // dy[img, o, offset + t - a, offset + t - b]
            bN1: inItem,
            bK1: plane,
            bNy: 1,
            bKy: -1,
            bOy: py.offset,
            bNx: 1,
            bKx: -1,
            bOx: px.offset,
            srcH: oh,
            srcW: ow,
            // dx[img, c, first + stride*t, first + stride*t]
            cBase: py.first * s.w + px.first,
            cSplit: 0,
            cM: s.h * s.w,
            cN1: outItem,
            cNy: s.strideH * s.w,
            cNx: s.strideW,
            hasBias: 0,
          };
          const bound = [
            w,
            { buffer: dy, offset: start * inItem * 4, size: count * inItem * 4 },
            w, // no bias
            { buffer: dx, offset: start * outItem * 4, size: count * outItem * 4 },
          ];
          dispatch(g, t, bound, p, 1, what);
        });
      }
    }
  }
}

/** The weight gradient by the implicit GEMM, split-K over grid z (mod.ts has the contract). */
export function implicitGemmWeightGrad(
  g: Gpu,
  x: GPUBuffer,
  dy: GPUBuffer,
  dw: GPUBuffer,
  s: Conv2dGeometry,
): void {
  const { oh, ow } = conv2dOutputSize(s);
  const what = `conv2d weight gradient (implicit gemm) ${describeConv(s)}`;
  const t = tiles(g);
  const conv = tuning(g).conv;
  const plane = oh * ow;
  const taps = s.kh * s.kw;
  const win = tapWindow(s, oh, ow);
  const cols = s.c * win.winH * win.winW;
  const size = s.o * cols; // of a partial dw: the window's taps
  const fullSize = s.o * s.c * taps;
  if (cols === 0) { // every tap reads only padding
    fill(g, dw, fullSize, 0);
    return;
  }
  const xItem = s.c * s.h * s.w;
  const dyItem = s.o * plane;
  const blocks = Math.ceil(s.o / t.bm) * Math.ceil(cols / t.bn);
  const maxSplits = Math.min(Math.floor(g.maxBindingBytes / (size * 4)), g.maxWorkgroupsPerDim);
  if (maxSplits < 1) {
    throw new GpuError(
      `${what}: the weight gradient needs ${size * 4} bytes, over this adapter's ` +
        `${g.maxBindingBytes}-byte storage binding limit`,
    );
  }
  if (Math.ceil(cols / t.bn) > g.maxWorkgroupsPerDim) {
    throw new GpuError(`${what}: too many weight columns for one grid`);
  }
  const plan = g.chunks(what, s.n, [xItem * 4, dyItem * 4]).map((ch) => {
    const k = ch.count * plane;
    let splits = Math.ceil(conv.minGroups / blocks);
    splits = Math.max(1, Math.min(splits, Math.floor(k / conv.minSpan), maxSplits));
    // whole tiles of the reduction per split
    const span = Math.ceil(Math.ceil(k / splits) / t.bk) * t.bk;
    return { ...ch, k, span, splits: Math.ceil(k / span) };
  });
  // one launch without splits writes dw itself (the taps outside the window: zeros first)
  const direct = plan.length === 1 && plan[0].splits === 1;
  if (direct && size < fullSize) fill(g, dw, fullSize, 0);
  const most = Math.max(...plan.map((c) => c.splits));
  const part = direct ? dw : g.pool.acquire(most * size * 4, "conv2d weight-gradient partials");
  plan.forEach((ch, i) => {
    const p: Launch = {
      m: s.o,
      n: cols,
      k: ch.k,
      span: ch.span,
      nInner: win.winW,
      nMid: win.winH,
      kInner: ow,
      kMid: oh,
      // dy[img, o, oy, ox]
      aBase: 0,
      aM: plane,
      aK1: dyItem,
      aK2: ow,
      aK3: 1,
      // x[img, c, kh0 + a - pad + oy*stride, kw0 + b - pad + ox*stride]
      bN1: s.h * s.w,
      bK1: xItem,
      bNy: 1,
      bKy: s.strideH,
      bOy: win.kh0 - s.padH,
      bNx: 1,
      bKx: s.strideW,
      bOx: win.kw0 - s.padW,
      srcH: s.h,
      srcW: s.w,
      // dw[o, c, kh0 + a, kw0 + b], or part[split, o, c, a, b]
      ...(direct
        ? { cBase: win.kh0 * s.kw + win.kw0, cSplit: 0, cM: s.c * taps, cN1: taps, cNy: s.kw }
        : { cBase: 0, cSplit: size, cM: cols, cN1: win.winH * win.winW, cNy: win.winW }),
      cNx: 1,
      hasBias: 0,
    };
    const xRange = { buffer: x, offset: ch.start * xItem * 4, size: ch.count * xItem * 4 };
    const bound = [
      { buffer: dy, offset: ch.start * dyItem * 4, size: ch.count * dyItem * 4 },
      xRange,
      { buffer: x, offset: 0, size: 4 }, // no bias
      { buffer: part, offset: 0, size: (direct ? fullSize : ch.splits * size) * 4 },
    ];
    dispatch(g, t, bound, p, ch.splits, what);
    if (!direct) sumWeightPartials(g, part, dw, s, ch.splits, win, i > 0, what);
  });
  if (!direct) g.pool.release(part);
}
