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
import { chunked, defineKernel } from "./kernel.ts";
import { type PoolTuning, tuning } from "./tuning.ts";

/** The family's tile parameters, from the one tuning table (tuning.ts). */
export function poolTiles(g: Gpu): PoolTuning {
  return tuning(g).pool;
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

// Sizes come in as uniforms; the window (kernel, stride, padding) is baked into the WGSL as
// constants, so the window loops unroll and divisions by the stride become cheap. ResNet18
// has one window shape, so few pipelines are compiled. -inf cannot be written as a WGSL
// literal, so it comes in as a parameter.
const WINDOW_PARAMS = {
  planeBase: "u32",
  h: "u32",
  w: "u32",
  oh: "u32",
  ow: "u32",
  negInf: "f32",
} as const;

/** A windowed kernel's variant: the window, the tiles, and argmax saving / padding counted. */
interface WindowVariant {
  s: Pool2dShape;
  t: PoolTuning;
  flag: boolean;
}

const windowKey = ({ s, t, flag }: WindowVariant) =>
  `k${s.kh}x${s.kw} s${s.sh}x${s.sw} p${s.ph}x${s.pw} wg${t.wgX}x${t.wgY} ${+flag}`;

const f32In = (name: string) => chunked(name);
const f32Out = (name: string) => chunked(name, "f32", true);

/** The window constants and helpers shared by the windowed kernels. */
function windowSource(s: Pool2dShape, includePad: boolean, t: PoolTuning): string {
  return /* wgsl */ `
const KH = ${s.kh}; const KW = ${s.kw};
const SH = ${s.sh}; const SW = ${s.sw};
const PH = ${s.ph}; const PW = ${s.pw};
// Outputs per input along an axis: at most ceil(k / s).
const COVER_H = ${Math.ceil(s.kh / s.sh)}u; const COVER_W = ${Math.ceil(s.kw / s.sw)}u;
// The first output whose window (start o*s - pad, length k) reaches input i.
fn firstCovering(i: i32, k: i32, stride: i32, pad: i32) -> i32 {
  return max(i + pad - k + stride, 0) / stride;
}
// How many inputs the divisor of output (oy, ox) counts.
fn divisor(oy: i32, ox: i32) -> f32 {
  let ys = oy * SH - PH;
  let xs = ox * SW - PW;
${
    includePad
      ? `  return f32((min(ys + KH, i32(p.h) + PH) - ys) * (min(xs + KW, i32(p.w) + PW) - xs));`
      : `  return f32((min(ys + KH, i32(p.h)) - max(ys, 0)) * (min(xs + KW, i32(p.w)) - max(xs, 0)));`
  }
}
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${t.wgX}, ${t.wgY})`;
}

function maxForwardSource(s: Pool2dShape, t: PoolTuning, saveArgmax: boolean): string {
  return /* wgsl */ `
${windowSource(s, false, t)}
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let ox = gid.x;
  let oy = gid.y;
  if (ox >= p.ow || oy >= p.oh) { return; }
  let plane = p.planeBase + gid.z;
  let base = plane * p.h * p.w;
  let ys = i32(oy) * SH - PH;
  let xs = i32(ox) * SW - PW;
  var best = p.negInf;
  var at = u32(max(ys, 0)) * p.w + u32(max(xs, 0)); // PyTorch's index for an all -inf window
  for (var ky = 0; ky < KH; ky++) {
    let iy = ys + ky;
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    for (var kx = 0; kx < KW; kx++) {
      let ix = xs + kx;
      if (ix < 0 || ix >= i32(p.w)) { continue; }
      let i = u32(iy) * p.w + u32(ix);
      let v = x[p.xOff + base + i];
      // strictly greater: ties keep the first in scan order; NaN wins, as in PyTorch (tested
      // on its bits: drivers may fold v != v to false)
      if (v > best || (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) {
        best = v;
        at = i;
      }
    }
  }
  let o = (plane * p.oh + oy) * p.ow + ox;
  y[p.yOff + o] = best;
  ${saveArgmax ? "argmax[p.argmaxOff + o] = at;" : ""}
}`;
}

function maxBackwardSource(s: Pool2dShape, t: PoolTuning): string {
  return /* wgsl */ `
${windowSource(s, false, t)}
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let ix = gid.x;
  let iy = gid.y;
  if (ix >= p.w || iy >= p.h) { return; }
  let plane = p.planeBase + gid.z;
  let here = iy * p.w + ix;
  let base = plane * p.oh * p.ow;
  let oy0 = u32(firstCovering(i32(iy), KH, SH, PH));
  let ox0 = u32(firstCovering(i32(ix), KW, SW, PW));
  var acc = 0.0;
  // Branch-free over the (unrolled) candidates: out-of-range ones load a clamped index and
  // add nothing. A window of row oy starts at oy*SH - PH, so one starting past iy misses it.
  for (var j = 0u; j < COVER_H; j++) {
    let oy = oy0 + j;
    let rowOk = oy < p.oh && i32(oy) * SH - PH <= i32(iy);
    let row = base + min(oy, p.oh - 1u) * p.ow;
    for (var k = 0u; k < COVER_W; k++) {
      let ox = ox0 + k;
      let ok = rowOk && ox < p.ow && i32(ox) * SW - PW <= i32(ix);
      let o = row + min(ox, p.ow - 1u);
      acc += select(0.0, dy[p.dyOff + o], ok && argmax[p.argmaxOff + o] == here);
    }
  }
  dx[p.dxOff + (plane * p.h + iy) * p.w + ix] = acc;
}`;
}

function avgForwardSource(s: Pool2dShape, t: PoolTuning, includePad: boolean): string {
  return /* wgsl */ `
${windowSource(s, includePad, t)}
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let ox = gid.x;
  let oy = gid.y;
  if (ox >= p.ow || oy >= p.oh) { return; }
  let plane = p.planeBase + gid.z;
  let base = plane * p.h * p.w;
  let ys = i32(oy) * SH - PH;
  let xs = i32(ox) * SW - PW;
  var acc = 0.0;
  for (var ky = 0; ky < KH; ky++) {
    let iy = ys + ky;
    if (iy < 0 || iy >= i32(p.h)) { continue; }
    for (var kx = 0; kx < KW; kx++) {
      let ix = xs + kx;
      if (ix < 0 || ix >= i32(p.w)) { continue; }
      acc += x[p.xOff + base + u32(iy) * p.w + u32(ix)];
    }
  }
  y[p.yOff + (plane * p.oh + oy) * p.ow + ox] = acc / divisor(i32(oy), i32(ox));
}`;
}

function avgBackwardSource(s: Pool2dShape, t: PoolTuning, includePad: boolean): string {
  return /* wgsl */ `
${windowSource(s, includePad, t)}
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let ix = gid.x;
  let iy = gid.y;
  if (ix >= p.w || iy >= p.h) { return; }
  let plane = p.planeBase + gid.z;
  let base = plane * p.oh * p.ow;
  let oy0 = u32(firstCovering(i32(iy), KH, SH, PH));
  let ox0 = u32(firstCovering(i32(ix), KW, SW, PW));
  var acc = 0.0;
  for (var j = 0u; j < COVER_H; j++) {
    let oy = oy0 + j;
    if (oy >= p.oh || i32(oy) * SH - PH > i32(iy)) { break; }
    for (var k = 0u; k < COVER_W; k++) {
      let ox = ox0 + k;
      if (ox >= p.ow || i32(ox) * SW - PW > i32(ix)) { break; }
      acc += dy[p.dyOff + base + oy * p.ow + ox] / divisor(i32(oy), i32(ox));
    }
  }
  dx[p.dxOff + (plane * p.h + iy) * p.w + ix] = acc;
}`;
}

// Adaptive pooling: output row oy averages input rows floor(oy*h/oh) .. ceil((oy+1)*h/oh)-1.
const ADAPTIVE_PARAMS = { planes: "u32", h: "u32", w: "u32", oh: "u32", ow: "u32" } as const;
const ADAPTIVE = /* wgsl */ `
fn startOf(o: u32, size: u32, out: u32) -> u32 { return (o * size) / out; }
fn endOf(o: u32, size: u32, out: u32) -> u32 { return ((o + 1u) * size + out - 1u) / out; }`;

function adaptiveForwardSource(wg: number): string {
  return /* wgsl */ `
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
    for (var ix = x0; ix < x1; ix++) { acc += x[p.xOff + base + iy * p.w + ix]; }
  }
  y[p.yOff + o] = acc / f32((y1 - y0) * (x1 - x0));
}`;
}

function adaptiveBackwardSource(wg: number): string {
  return /* wgsl */ `
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
      acc += dy[p.dyOff + base + oy * p.ow + ox] / f32((y1 - y0) * (x1 - x0));
    }
  }
  dx[p.dxOff + i] = acc;
}`;
}

const MAX_FORWARD = defineKernel({
  name: "maxpool2d",
  key: windowKey,
  bindings: (v: WindowVariant) => [
    f32In("x"),
    f32Out("y"),
    ...(v.flag
      ? [{ name: "argmax", type: "u32", access: "read_write" as const, offset: true }]
      : []),
  ],
  params: WINDOW_PARAMS,
  body: (v: WindowVariant) => maxForwardSource(v.s, v.t, v.flag),
});
const MAX_BACKWARD = defineKernel({
  name: "maxpool2d backward",
  key: windowKey,
  bindings: [f32In("dy"), { name: "argmax", type: "u32", offset: true }, f32Out("dx")],
  params: WINDOW_PARAMS,
  body: (v: WindowVariant) => maxBackwardSource(v.s, v.t),
});
const AVG_FORWARD = defineKernel({
  name: "avgpool2d",
  key: windowKey,
  bindings: [f32In("x"), f32Out("y")],
  params: WINDOW_PARAMS,
  body: (v: WindowVariant) => avgForwardSource(v.s, v.t, v.flag),
});
const AVG_BACKWARD = defineKernel({
  name: "avgpool2d backward",
  key: windowKey,
  bindings: [f32In("dy"), f32Out("dx")],
  params: WINDOW_PARAMS,
  body: (v: WindowVariant) => avgBackwardSource(v.s, v.t, v.flag),
});
const ADAPTIVE_FORWARD = defineKernel({
  name: "adaptive avgpool2d",
  key: (wg: number) => `wg${wg}`,
  bindings: [f32In("x"), f32Out("y")],
  params: ADAPTIVE_PARAMS,
  body: adaptiveForwardSource,
});
const ADAPTIVE_BACKWARD = defineKernel({
  name: "adaptive avgpool2d backward",
  key: (wg: number) => `wg${wg}`,
  bindings: [f32In("dy"), f32Out("dx")],
  params: ADAPTIVE_PARAMS,
  body: adaptiveBackwardSource,
});

type WindowFamily = typeof AVG_FORWARD;

/** The byte ranges of planes [start, start + count) of buffers holding `perPlane` values each. */
function planeRanges(
  buffers: readonly GPUBuffer[],
  perPlane: readonly number[],
  start: number,
  count: number,
) {
  return buffers.map((buffer, i) => ({
    buffer,
    offset: start * perPlane[i] * 4,
    size: count * perPlane[i] * 4,
  }));
}

/**
 * Launches a windowed kernel over chunks of whole planes: a grid of (width, height,
 * planes) over the outputs (forward) or inputs (backward). `perPlane[i]` is the number of
 * 32-bit values binding i holds per plane.
 */
function launchWindowed(
  g: Gpu,
  family: WindowFamily,
  flag: boolean,
  buffers: readonly GPUBuffer[],
  perPlane: readonly number[],
  s: Pool2dShape,
  gridOver: "outputs" | "inputs",
  what: string,
): void {
  const t = poolTiles(g);
  const kernel = family.get(g, { s, t, flag });
  const [gw, gh] = gridOver === "outputs" ? [s.ow, s.oh] : [s.w, s.h];
  const groups = [Math.ceil(gw / t.wgX), Math.ceil(gh / t.wgY)] as const;
  for (const ch of g.chunks(what, s.n * s.c, perPlane.map((v) => v * 4))) {
    const bindings = planeRanges(buffers, perPlane, ch.start, ch.count);
    // planes run along z, at most maxWorkgroupsPerDim per launch
    for (let base = 0; base < ch.count; base += g.maxWorkgroupsPerDim) {
      const planes = Math.min(g.maxWorkgroupsPerDim, ch.count - base);
      kernel.dispatch(
        bindings,
        { planeBase: base, h: s.h, w: s.w, oh: s.oh, ow: s.ow, negInf: -Infinity },
        [groups[0], groups[1], planes],
        what,
      );
    }
  }
}

/** Launches an adaptive kernel (one invocation per element, flat) over chunks of planes. */
function launchAdaptive(
  g: Gpu,
  family: typeof ADAPTIVE_FORWARD,
  buffers: readonly GPUBuffer[],
  perPlane: readonly number[],
  s: AdaptiveShape,
  perItem: number,
  what: string,
): void {
  const wg = poolTiles(g).wg;
  const kernel = family.get(g, wg);
  for (const ch of g.chunks(what, s.n * s.c, perPlane.map((v) => v * 4))) {
    kernel.dispatch(
      planeRanges(buffers, perPlane, ch.start, ch.count),
      { planes: ch.count, h: s.h, w: s.w, oh: s.oh, ow: s.ow },
      grid1d(ch.count * perItem, wg),
      what,
    );
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
  launchWindowed(g, MAX_FORWARD, !!argmax, buffers, per, s, "outputs", describe("maxpool2d", s));
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
  launchWindowed(
    g,
    MAX_BACKWARD,
    false,
    [dy, argmax, dx],
    [outPlane, outPlane, inPlane],
    s,
    "inputs",
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
  launchWindowed(
    g,
    AVG_FORWARD,
    includePad,
    [x, y],
    [s.h * s.w, s.oh * s.ow],
    s,
    "outputs",
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
  launchWindowed(
    g,
    AVG_BACKWARD,
    includePad,
    [dy, dx],
    [s.oh * s.ow, s.h * s.w],
    s,
    "inputs",
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

function describeAdaptive(op: string, s: AdaptiveShape): string {
  return `${op}[N${s.n} C${s.c} ${s.h}x${s.w} -> ${s.oh}x${s.ow}]`;
}

/** Adaptive average pooling to oh x ow; 1x1 (global average pooling) is a per-plane mean. */
export function adaptiveAvgPool2dForward(
  g: Gpu,
  x: GPUBuffer,
  y: GPUBuffer,
  s: AdaptiveShape,
): void {
  const hw = s.h * s.w;
  if (s.oh === 1 && s.ow === 1) {
    sumAxis(g, x, y, s.n * s.c, hw, 1, 1 / hw);
    return;
  }
  launchAdaptive(
    g,
    ADAPTIVE_FORWARD,
    [x, y],
    [hw, s.oh * s.ow],
    s,
    s.oh * s.ow,
    describeAdaptive("adaptive avgpool2d", s),
  );
}

export function adaptiveAvgPool2dBackward(
  g: Gpu,
  dy: GPUBuffer,
  dx: GPUBuffer,
  s: AdaptiveShape,
): void {
  const hw = s.h * s.w;
  if (s.oh === 1 && s.ow === 1) {
    broadcastAxis(g, dy, dx, s.n * s.c, hw, 1, 1 / hw);
    return;
  }
  launchAdaptive(
    g,
    ADAPTIVE_BACKWARD,
    [dy, dx],
    [s.oh * s.ow, hw],
    s,
    hw,
    describeAdaptive("adaptive avgpool2d backward", s),
  );
}
