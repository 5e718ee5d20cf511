// 2-D pooling over NCHW activations, forward and backward: max pooling (padding counts as
// -inf; the forward saves the argmax of each window), average pooling (count_include_pad
// or not) and adaptive average pooling (PyTorch's start/end index formula; the 1x1 case is
// a per-plane mean done by the reduction kernels).
//
// Backward passes are gathers, one invocation per input element summing over the outputs
// whose windows cover it: windows overlap (3x3 stride 2 in ResNet18) and WGSL has no float
// atomics. Every launch is split into chunks of whole planes (n, c) so that no binding
// exceeds the adapter's storage binding limit.

import { type Gpu, grid1d, WGSL_FLAT_INDEX } from "./device.ts";
import { broadcastAxis, sumAxis } from "./reduce.ts";

/** Workgroup size of the pooling kernels (one invocation per element; tune per adapter). */
function poolWorkgroup(g: Gpu): number {
  return g.describe().fallback ? 64 : 256;
}

/** Sizes of a pooling: planes = n * c, input h x w, output oh x ow, window, stride, padding. */
export interface Pool2dShape {
  n: number;
  c: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

/** PyTorch's output size (floor mode): floor((in + 2 * pad - kernel) / stride) + 1. */
export function poolOutputSize(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

const PARAMS = /* wgsl */ `
struct Params {
  planes: u32, h: u32, w: u32, oh: u32, ow: u32,
  kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32,
  includePad: u32, negInf: f32,
}`;

function paramsOf(s: Pool2dShape, planes: number, includePad: boolean): Uint32Array {
  const u = new Uint32Array(16);
  u.set([planes, s.h, s.w, s.oh, s.ow, s.kh, s.kw, s.sh, s.sw, s.ph, s.pw, includePad ? 1 : 0]);
  // -inf cannot be written as a WGSL literal, so it comes in as a parameter
  new Float32Array(u.buffer)[12] = -Infinity;
  return u;
}

// The window of output (oy, ox), clamped to the input: rows y0..y1-1, columns x0..x1-1.
const WINDOW = /* wgsl */ `
struct Window { y0: u32, y1: u32, x0: u32, x1: u32, divisor: f32 }
fn windowOf(oy: u32, ox: u32) -> Window {
  let ys = i32(oy * p.sh) - i32(p.ph);
  let xs = i32(ox * p.sw) - i32(p.pw);
  let ye = min(ys + i32(p.kh), i32(p.h + p.ph));
  let xe = min(xs + i32(p.kw), i32(p.w + p.pw));
  var win: Window;
  win.y0 = u32(max(ys, 0));
  win.x0 = u32(max(xs, 0));
  win.y1 = u32(min(ye, i32(p.h)));
  win.x1 = u32(min(xe, i32(p.w)));
  if (p.includePad == 1u) {
    win.divisor = f32((ye - ys) * (xe - xs));
  } else {
    win.divisor = f32((win.y1 - win.y0) * (win.x1 - win.x0));
  }
  return win;
}
// The outputs whose windows may cover input row (or column) i: lo..hi inclusive.
fn coveringLo(i: u32, k: u32, s: u32, pad: u32) -> u32 {
  let a = i32(i + pad) - i32(k) + 1;
  if (a <= 0) { return 0u; }
  return (u32(a) + s - 1u) / s;
}
fn coveringHi(i: u32, s: u32, pad: u32, n: u32) -> u32 {
  return min((i + pad) / s, n - 1u);
}`;

function maxForwardSource(wg: number, saveArgmax: boolean): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${saveArgmax ? "@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;" : ""}
${PARAMS}
@group(0) @binding(${saveArgmax ? 3 : 2}) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
${WINDOW}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flatIndex(gid, nwg, ${wg}u);
  if (o >= p.planes * p.oh * p.ow) { return; }
  let ox = o % p.ow;
  let oy = (o / p.ow) % p.oh;
  let base = (o / (p.ow * p.oh)) * p.h * p.w;
  let win = windowOf(oy, ox);
  var best = p.negInf;
  var at = win.y0 * p.w + win.x0;
  for (var iy = win.y0; iy < win.y1; iy++) {
    for (var ix = win.x0; ix < win.x1; ix++) {
      let v = x[base + iy * p.w + ix];
      // strictly greater: ties keep the first in scan order; NaN wins, as in PyTorch
      if (v > best || v != v) {
        best = v;
        at = iy * p.w + ix;
      }
    }
  }
  y[o] = best;
  ${saveArgmax ? "argmax[o] = at;" : ""}
}`;
}

function maxBackwardSource(wg: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<u32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
${PARAMS}
@group(0) @binding(3) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
${WINDOW}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${wg}u);
  if (i >= p.planes * p.h * p.w) { return; }
  let inPlane = i % (p.h * p.w);
  let ix = inPlane % p.w;
  let iy = inPlane / p.w;
  let base = (i / (p.h * p.w)) * p.oh * p.ow;
  var acc = 0.0;
  for (var oy = coveringLo(iy, p.kh, p.sh, p.ph); oy <= coveringHi(iy, p.sh, p.ph, p.oh); oy++) {
    for (var ox = coveringLo(ix, p.kw, p.sw, p.pw); ox <= coveringHi(ix, p.sw, p.pw, p.ow); ox++) {
      let o = base + oy * p.ow + ox;
      if (argmax[o] == inPlane) { acc += dy[o]; }
    }
  }
  dx[i] = acc;
}`;
}

function avgForwardSource(wg: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${PARAMS}
@group(0) @binding(2) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
${WINDOW}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flatIndex(gid, nwg, ${wg}u);
  if (o >= p.planes * p.oh * p.ow) { return; }
  let ox = o % p.ow;
  let oy = (o / p.ow) % p.oh;
  let base = (o / (p.ow * p.oh)) * p.h * p.w;
  let win = windowOf(oy, ox);
  var acc = 0.0;
  for (var iy = win.y0; iy < win.y1; iy++) {
    for (var ix = win.x0; ix < win.x1; ix++) { acc += x[base + iy * p.w + ix]; }
  }
  y[o] = acc / win.divisor;
}`;
}

function avgBackwardSource(wg: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
${PARAMS}
@group(0) @binding(2) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
${WINDOW}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${wg}u);
  if (i >= p.planes * p.h * p.w) { return; }
  let inPlane = i % (p.h * p.w);
  let ix = inPlane % p.w;
  let iy = inPlane / p.w;
  let base = (i / (p.h * p.w)) * p.oh * p.ow;
  var acc = 0.0;
  for (var oy = coveringLo(iy, p.kh, p.sh, p.ph); oy <= coveringHi(iy, p.sh, p.ph, p.oh); oy++) {
    for (var ox = coveringLo(ix, p.kw, p.sw, p.pw); ox <= coveringHi(ix, p.sw, p.pw, p.ow); ox++) {
      acc += dy[base + oy * p.ow + ox] / windowOf(oy, ox).divisor;
    }
  }
  dx[i] = acc;
}`;
}

// Adaptive pooling: output row oy averages input rows floor(oy*h/oh) .. ceil((oy+1)*h/oh)-1.
const ADAPTIVE = /* wgsl */ `
fn startOf(o: u32, size: u32, out: u32) -> u32 { return (o * size) / out; }
fn endOf(o: u32, size: u32, out: u32) -> u32 { return ((o + 1u) * size + out - 1u) / out; }`;

function adaptiveForwardSource(wg: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${PARAMS}
@group(0) @binding(2) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
${ADAPTIVE}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flatIndex(gid, nwg, ${wg}u);
  if (o >= p.planes * p.oh * p.ow) { return; }
  let ox = o % p.ow;
  let oy = (o / p.ow) % p.oh;
  let base = (o / (p.ow * p.oh)) * p.h * p.w;
  let y0 = startOf(oy, p.h, p.oh);
  let y1 = endOf(oy, p.h, p.oh);
  let x0 = startOf(ox, p.w, p.ow);
  let x1 = endOf(ox, p.w, p.ow);
  var acc = 0.0;
  for (var iy = y0; iy < y1; iy++) {
    for (var ix = x0; ix < x1; ix++) { acc += x[base + iy * p.w + ix]; }
  }
  y[o] = acc / f32((y1 - y0) * (x1 - x0));
}`;
}

function adaptiveBackwardSource(wg: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
${PARAMS}
@group(0) @binding(2) var<uniform> p: Params;
${WGSL_FLAT_INDEX}
${ADAPTIVE}
@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${wg}u);
  if (i >= p.planes * p.h * p.w) { return; }
  let inPlane = i % (p.h * p.w);
  let ix = inPlane % p.w;
  let iy = inPlane / p.w;
  let base = (i / (p.h * p.w)) * p.oh * p.ow;
  // candidates: outputs floor(i*out/size) .. ceil((i+1)*out/size)-1, checked exactly
  let oyHi = min(((iy + 1u) * p.oh + p.h - 1u) / p.h, p.oh);
  let oxHi = min(((ix + 1u) * p.ow + p.w - 1u) / p.w, p.ow);
  var acc = 0.0;
  for (var oy = (iy * p.oh) / p.h; oy < oyHi; oy++) {
    let y0 = startOf(oy, p.h, p.oh);
    let y1 = endOf(oy, p.h, p.oh);
    if (iy < y0 || iy >= y1) { continue; }
    for (var ox = (ix * p.ow) / p.w; ox < oxHi; ox++) {
      let x0 = startOf(ox, p.w, p.ow);
      let x1 = endOf(ox, p.w, p.ow);
      if (ix < x0 || ix >= x1) { continue; }
      acc += dy[base + oy * p.ow + ox] / f32((y1 - y0) * (x1 - x0));
    }
  }
  dx[i] = acc;
}`;
}

/**
 * Launches `source` over chunks of whole planes. `perPlane[i]` is the number of 32-bit
 * values binding i holds per plane; `outputs` says whether the grid runs over output
 * elements (forward) or input elements (backward).
 */
function launchOverPlanes(
  g: Gpu,
  name: string,
  source: string,
  buffers: readonly GPUBuffer[],
  perPlane: readonly number[],
  s: Pool2dShape,
  gridOver: "outputs" | "inputs",
  includePad: boolean,
  what: string,
): void {
  const wg = poolWorkgroup(g);
  const kernel = g.kernel(name, source);
  const planes = s.n * s.c;
  const perItem = gridOver === "outputs" ? s.oh * s.ow : s.h * s.w;
  for (const ch of g.chunks(what, planes, perPlane.map((v) => v * 4))) {
    const bindings = buffers.map((buffer, i) => ({
      buffer,
      offset: ch.start * perPlane[i] * 4,
      size: ch.count * perPlane[i] * 4,
    }));
    g.dispatch(kernel, bindings, paramsOf(s, ch.count, includePad), grid1d(ch.count * perItem, wg), what);
  }
}

function describe(op: string, s: Pool2dShape): string {
  return `${op}[N${s.n} C${s.c} ${s.h}x${s.w} -> ${s.oh}x${s.ow} k${s.kh}x${s.kw} ` +
    `s${s.sh}x${s.sw} p${s.ph}x${s.pw}]`;
}

/** y = max over each window (padding is -inf); argmax (u32, index in the plane) if given. */
export function maxPool2dForward(
  g: Gpu,
  x: GPUBuffer,
  y: GPUBuffer,
  argmax: GPUBuffer | null,
  s: Pool2dShape,
): void {
  const inPlane = s.h * s.w, outPlane = s.oh * s.ow;
  const buffers = argmax ? [x, y, argmax] : [x, y];
  const per = argmax ? [inPlane, outPlane, outPlane] : [inPlane, outPlane];
  const source = maxForwardSource(poolWorkgroup(g), argmax !== null);
  launchOverPlanes(g, "maxpool2d", source, buffers, per, s, "outputs", false, describe("maxpool2d", s));
}

/** dx = sum of dy over the outputs whose saved argmax is this input element. */
export function maxPool2dBackward(
  g: Gpu,
  dy: GPUBuffer,
  argmax: GPUBuffer,
  dx: GPUBuffer,
  s: Pool2dShape,
): void {
  const inPlane = s.h * s.w, outPlane = s.oh * s.ow;
  launchOverPlanes(
    g,
    "maxpool2d backward",
    maxBackwardSource(poolWorkgroup(g)),
    [dy, argmax, dx],
    [outPlane, outPlane, inPlane],
    s,
    "inputs",
    false,
    describe("maxpool2d backward", s),
  );
}

/** y = mean over each window; the divisor counts padding when `includePad` (PyTorch default). */
export function avgPool2dForward(
  g: Gpu,
  x: GPUBuffer,
  y: GPUBuffer,
  s: Pool2dShape,
  includePad: boolean,
): void {
  launchOverPlanes(
    g,
    "avgpool2d",
    avgForwardSource(poolWorkgroup(g)),
    [x, y],
    [s.h * s.w, s.oh * s.ow],
    s,
    "outputs",
    includePad,
    describe("avgpool2d", s),
  );
}

export function avgPool2dBackward(
  g: Gpu,
  dy: GPUBuffer,
  dx: GPUBuffer,
  s: Pool2dShape,
  includePad: boolean,
): void {
  launchOverPlanes(
    g,
    "avgpool2d backward",
    avgBackwardSource(poolWorkgroup(g)),
    [dy, dx],
    [s.oh * s.ow, s.h * s.w],
    s,
    "inputs",
    includePad,
    describe("avgpool2d backward", s),
  );
}

/** Sizes of an adaptive pooling (window and stride follow from them). */
export interface AdaptiveShape {
  n: number;
  c: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
}

function asPool(s: AdaptiveShape): Pool2dShape {
  return { ...s, kh: 0, kw: 0, sh: 0, sw: 0, ph: 0, pw: 0 };
}

/** Adaptive average pooling to oh x ow; 1x1 (global average pooling) is a per-plane mean. */
export function adaptiveAvgPool2dForward(g: Gpu, x: GPUBuffer, y: GPUBuffer, s: AdaptiveShape): void {
  const hw = s.h * s.w;
  if (s.oh === 1 && s.ow === 1) {
    sumAxis(g, x, y, s.n * s.c, hw, 1, 1 / hw);
    return;
  }
  const p = asPool(s);
  launchOverPlanes(
    g,
    "adaptive avgpool2d",
    adaptiveForwardSource(poolWorkgroup(g)),
    [x, y],
    [hw, s.oh * s.ow],
    p,
    "outputs",
    false,
    describe("adaptive avgpool2d", p),
  );
}

export function adaptiveAvgPool2dBackward(g: Gpu, dy: GPUBuffer, dx: GPUBuffer, s: AdaptiveShape): void {
  const hw = s.h * s.w;
  if (s.oh === 1 && s.ow === 1) {
    broadcastAxis(g, dy, dx, s.n * s.c, hw, 1, 1 / hw);
    return;
  }
  const p = asPool(s);
  launchOverPlanes(
    g,
    "adaptive avgpool2d backward",
    adaptiveBackwardSource(poolWorkgroup(g)),
    [dy, dx],
    [s.oh * s.ow, hw],
    p,
    "inputs",
    false,
    describe("adaptive avgpool2d backward", p),
  );
}
