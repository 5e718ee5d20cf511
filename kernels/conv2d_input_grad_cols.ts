// The input gradient of a conv2d with few input channels (the stem: 3), as a GEMM and a
// col2im. The tap gather (conv2d.ts) keeps a block of input channels x 4 pixels per
// invocation; with 3 channels that block is too small to pay for its gathered loads. Here
//   cols[n] = W^T · dy[n]      ([C*KH*KW, OH*OW] = [C*KH*KW, O] · [O, OH*OW], kernels/gemm.ts)
//   dx[n, c, y, x] = sum over taps (a, b) with (y + pad - a) and (x + pad - b) divisible by
//                    the stride, and the output position they name inside the output, of
//                    cols[n, (c*KH + a)*KW + b, oy*OW + ox]
// cols is C*KH*KW / O times the size of dy, so this path is taken only when it fits one
// storage binding (the caller falls back to the gather otherwise).

import type { Gpu } from "./device.ts";
import { type Conv2dGeometry, conv2dOutputSize, describeConv } from "./conv2d.ts";
import { gemm } from "./gemm.ts";

// 32: a 32-pixel row (the stem at 32x32) fills its workgroup (64 cost ~0.5 ms there)
const COL2IM_WG = 32;

// One invocation per dx element, on a (column, row, image x channel) grid: integer division
// is slow on CPU drivers, so each axis divides once and then steps tap by tap (the next tap
// of the pixel's stride phase reads the previous output row or column).
const COL2IM = /* wgsl */ `
@group(0) @binding(0) var<storage, read> cols: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
struct Params {
  c: u32, h: u32, w: u32, oh: u32, ow: u32, kh: u32, kw: u32, strideH: u32,
  strideW: u32, padH: u32, padW: u32,
}
@group(0) @binding(2) var<uniform> p: Params;
@compute @workgroup_size(${COL2IM_WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.w) { return; }
  let nc = gid.z; // image * c + channel: cols holds KH*KW rows per (image, channel)
  let plane = p.oh * p.ow;
  let base = nc * p.kh * p.kw * plane;
  let y = gid.y + p.padH;
  let x = gid.x + p.padW;
  let a0 = y % p.strideH;
  let b0 = x % p.strideW;
  let oy0 = i32((y - a0) / p.strideH);
  let ox0 = i32((x - b0) / p.strideW);
  var s = 0.0;
  var oy = oy0;
  for (var a = a0; a < p.kh && oy >= 0; a += p.strideH) {
    if (u32(oy) < p.oh) {
      var ox = ox0;
      for (var b = b0; b < p.kw && ox >= 0; b += p.strideW) {
        if (u32(ox) < p.ow) { s += cols[base + (a * p.kw + b) * plane + u32(oy) * p.ow + u32(ox)]; }
        ox--;
      }
    }
    oy--;
  }
  dx[(nc * p.h + gid.y) * p.w + gid.x] = s;
}`;

// wt[r, o] = w[o, r]: W^T as a row-major A, which the GEMM reads as vec4 runs along K = O
// (a third faster here than reading w transposed)
const TRANSPOSE = /* wgsl */ `
@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> wt: array<f32>;
struct Params { o: u32, r: u32 }
@group(0) @binding(2) var<uniform> p: Params;
@compute @workgroup_size(${COL2IM_WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= p.o * p.r) { return; }
  let r = gid.x / p.o;
  let o = gid.x - r * p.o;
  wt[gid.x] = w[o * p.r + r];
}`;

/** Whether conv2dBackwardInputCols can run `s` on `g` (its columns fit one binding). */
export function colsPathFits(g: Gpu, s: Conv2dGeometry): boolean {
  const { oh, ow } = conv2dOutputSize(s);
  const colsBytes = s.n * s.c * s.kh * s.kw * oh * ow * 4;
  const dxBytes = s.n * s.c * s.h * s.w * 4;
  return colsBytes <= g.maxBindingBytes && dxBytes <= g.maxBindingBytes &&
    s.n * s.c <= g.maxWorkgroupsPerDim && s.h <= g.maxWorkgroupsPerDim &&
    Math.ceil((s.o * s.c * s.kh * s.kw) / COL2IM_WG) <= g.maxWorkgroupsPerDim;
}

/** dx = conv2d's input gradient from dy and w, through columns (see the file comment). */
export function conv2dBackwardInputCols(
  g: Gpu,
  dy: GPUBuffer,
  w: GPUBuffer,
  dx: GPUBuffer,
  s: Conv2dGeometry,
): void {
  const { oh, ow } = conv2dOutputSize(s);
  const plane = oh * ow;
  const rows = s.c * s.kh * s.kw;
  const colsBytes = s.n * rows * plane * 4;
  const cols = g.pool.acquire(colsBytes, "conv2d input-gradient columns");
  const wt = g.pool.acquire(rows * s.o * 4, "conv2d transposed weight");
  const what = `conv2d backward-input (columns) ${describeConv(s)}`;
  g.dispatch(
    g.kernel("conv2d transpose weight", TRANSPOSE),
    [w, { buffer: wt, offset: 0, size: rows * s.o * 4 }],
    new Uint32Array([s.o, rows]),
    [Math.ceil((rows * s.o) / COL2IM_WG), 1, 1],
    what,
  );
  // one shared A (W^T) for every image
  gemm(g, wt, dy, cols, {
    m: rows,
    n: plane,
    k: s.o,
    batch: s.n,
    strideA: 0,
    strideB: s.o * plane,
    strideC: rows * plane,
  });
  const total = s.n * s.c * s.h * s.w;
  g.dispatch(
    g.kernel("conv2d col2im", COL2IM),
    [{ buffer: cols, offset: 0, size: colsBytes }, { buffer: dx, offset: 0, size: total * 4 }],
    new Uint32Array([
      s.c,
      s.h,
      s.w,
      oh,
      ow,
      s.kh,
      s.kw,
      s.strideH,
      s.strideW,
      s.padH,
      s.padW,
    ]),
    [Math.ceil(s.w / COL2IM_WG), s.h, s.n * s.c],
    what,
  );
  g.pool.release(wt);
  g.pool.release(cols);
}
