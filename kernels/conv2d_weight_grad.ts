// The parameter gradients of conv2d: dW[o, c, kh, kw] = sum over n, oh, ow of
// dy[n, o, oh, ow] * x[n, c, oh*stride - pad + kh, ow*stride - pad + kw], and
// db[o] = sum over n, oh, ow of dy.
//
// dW is a GEMM with M = O, N = C*KH*KW (the columns of OIHW) and a long K = N*OH*OW. Each
// invocation keeps `bm` output channels x 4 columns of accumulators: the dy values of a
// position are the same for the whole workgroup (uniform vec4 loads, from a copy of dy
// blocked as [O/bm][N*OH*OW][bm] so each workgroup streams one contiguous run) and each
// invocation gathers 4 input values. WGSL has no float atomics, so K is split into `splits` ranges that write
// partial dW's, and a second pass sums them (adding the partials of later batch chunks).

import { type Gpu, grid1d } from "./device.ts";
import { type Conv2dGeometry, conv2dOutputSize, describeConv } from "./conv2d.ts";
import { convTiles } from "./conv2d_tiles.ts";
import { sumAxis } from "./reduce.ts";

const PARAM_NAMES = [
  "batch",
  "c",
  "h",
  "w",
  "o",
  "oh",
  "ow",
  "kh",
  "kw",
  "strideH",
  "strideW",
  "padH",
  "padW",
  "span",
  "cols",
  "pad",
] as const;

function weightGradSource(wg: number, bm: number): string {
  const lines = (f: (i: number) => string) => Array.from({ length: bm }, (_, i) => f(i)).join("\n");
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dyb: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;
struct Params { ${PARAM_NAMES.map((f) => `${f}: u32`).join(", ")} }
@group(0) @binding(3) var<uniform> p: Params;

// workgroup (channel block, column block, split)
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let o0 = wid.x * ${bm}u;
  let j0 = (wid.y * ${wg}u + lid.x) * 4u;
  let taps = p.kh * p.kw;
  var cOff: vec4i;
  var khv: vec4i;
  var kwv: vec4i;
  for (var e = 0u; e < 4u; e++) {
    let j = min(j0 + e, p.cols - 1u);
    let c = j / taps;
    let t = j - c * taps;
    khv[e] = i32(t / p.kw) - i32(p.padH);
    kwv[e] = i32(t % p.kw) - i32(p.padW);
    cOff[e] = i32(c * p.h * p.w);
  }
  let plane = p.oh * p.ow;
${lines((i) => `  var acc${i} = vec4f(0.0);`)}
  let k0 = wid.z * p.span;
  let k1 = min(k0 + p.span, p.batch * plane);
  var n = k0 / plane;
  var oy = (k0 - n * plane) / p.ow;
  var ox = k0 - n * plane - oy * p.ow;
  let wv = vec4i(i32(p.w));
  for (var k = k0; k < k1; k++) {
    let iy = vec4i(i32(oy * p.strideH)) + khv;
    let ix = vec4i(i32(ox * p.strideW)) + kwv;
    let ok = (bitcast<vec4u>(iy) < vec4u(p.h)) & (bitcast<vec4u>(ix) < vec4u(p.w));
    let at = select(vec4i(0), vec4i(i32(n * p.c * p.h * p.w)) + cOff + iy * wv + ix, ok);
    let v = vec4f(x[at.x], x[at.y], x[at.z], x[at.w]) * select(vec4f(0.0), vec4f(1.0), ok);
    let d = (wid.x * p.batch * plane + k) * ${bm / 4}u;
${Array.from({ length: bm / 4 }, (_, j) => `    let d${j} = dyb[d + ${j}u];`).join("\n")}
${lines((i) => `    acc${i} += d${i >> 2}.${"xyzw"[i & 3]} * v;`)}
    ox++;
    if (ox == p.ow) {
      ox = 0u;
      oy++;
      if (oy == p.oh) {
        oy = 0u;
        n++;
      }
    }
  }
  let base = wid.z * p.o;
${lines((i) => `  store(acc${i}, base, o0 + ${i}u, j0);`)}
}

fn store(v: vec4f, base: u32, o: u32, j0: u32) {
  if (o >= p.o) { return; }
  for (var e = 0u; e < 4u; e++) {
    if (j0 + e < p.cols) { part[(base + o) * p.cols + j0 + e] = v[e]; }
  }
}`;
}

const BLOCK_WG = 64;

// dyb[b, k, oi] = dy[n, b*BM + oi, p] for k = n*plane + p (0 past the last channel)
function blockSource(bm: number): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dyb: array<f32>;
struct Params { o: u32, plane: u32, k: u32, blocks: u32 }
@group(0) @binding(2) var<uniform> p: Params;
@compute @workgroup_size(${BLOCK_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${BLOCK_WG}u;
  if (i >= p.blocks * p.k) { return; }
  let k = i % p.k;
  let b = i / p.k;
  let n = k / p.plane;
  let src = n * p.o * p.plane + (k - n * p.plane);
  for (var oi = 0u; oi < ${bm}u; oi++) {
    let o = b * ${bm}u + oi;
    var v = 0.0;
    if (o < p.o) { v = dy[src + o * p.plane]; }
    dyb[i * ${bm}u + oi] = v;
  }
}`;
}

const SUM_WG = 64;

// dw[i] (+)= sum over splits s of part[s, i]
const SUM_SPLITS = /* wgsl */ `
@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
struct Params { size: u32, splits: u32, accumulate: u32 }
@group(0) @binding(2) var<uniform> p: Params;
@compute @workgroup_size(${SUM_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${SUM_WG}u;
  if (i >= p.size) { return; }
  var s = 0.0;
  if (p.accumulate != 0u) { s = dw[i]; }
  for (var t = 0u; t < p.splits; t++) { s += part[t * p.size + i]; }
  dw[i] = s;
}`;

/**
 * dw = the gradient of conv2d's weight [o, c, kh, kw] from x [n, c, h, w] and
 * dy [n, o, oh, ow]. Every element of dw is written (not accumulated into).
 */
export function conv2dBackwardWeight(
  g: Gpu,
  x: GPUBuffer,
  dy: GPUBuffer,
  dw: GPUBuffer,
  s: Conv2dGeometry,
): void {
  const { oh, ow } = conv2dOutputSize(s);
  const what = `conv2d backward-weight ${describeConv(s)}`;
  const tiles = convTiles(g);
  const wg = tiles.weight.wg;
  const bm = Math.min(tiles.weight.bm, Math.ceil(s.o / 4) * 4); // a smaller block for few channels
  const kernel = g.kernel("conv2d weight gradient", weightGradSource(wg, bm));
  const cols = s.c * s.kh * s.kw;
  const size = s.o * cols;
  const channelBlocks = Math.ceil(s.o / bm);
  const colBlocks = Math.ceil(cols / (wg * 4));
  const xItem = s.c * s.h * s.w * 4;
  const dyItem = s.o * oh * ow * 4;
  const dybItem = channelBlocks * bm * oh * ow * 4;
  const chunks = g.chunks(what, s.n, [xItem, dyItem, dybItem]);
  const maxSplits = Math.floor(g.maxBindingBytes / (size * 4));
  if (maxSplits < 1) {
    throw new Error(
      `${what}: the weight gradient needs ${size * 4} bytes, over this adapter's ` +
        `${g.maxBindingBytes}-byte storage binding limit`,
    );
  }
  const plan = chunks.map((ch) => {
    const k = ch.count * oh * ow;
    let splits = Math.ceil(tiles.minGroups / (channelBlocks * colBlocks));
    splits = Math.max(1, Math.min(splits, Math.floor(k / tiles.minSpan), maxSplits));
    const span = Math.ceil(k / splits);
    return { ...ch, span, splits: Math.ceil(k / span) };
  });
  const direct = plan.length === 1 && plan[0].splits === 1;
  const most = Math.max(...plan.map((c) => c.splits));
  const part = direct ? dw : g.pool.acquire(most * size * 4, "conv2d weight-gradient partials");
  const sumKernel = g.kernel("conv2d sum weight partials", SUM_SPLITS);
  const blockKernel = g.kernel("conv2d block dy", blockSource(bm));
  const dyb = g.pool.acquire(Math.max(...plan.map((c) => c.count)) * dybItem, "conv2d blocked dy");
  plan.forEach((ch, i) => {
    const k = ch.count * oh * ow;
    g.dispatch(
      blockKernel,
      [
        { buffer: dy, offset: ch.start * dyItem, size: ch.count * dyItem },
        { buffer: dyb, offset: 0, size: ch.count * dybItem },
      ],
      new Uint32Array([s.o, oh * ow, k, channelBlocks]),
      grid1d(channelBlocks * k, BLOCK_WG),
      what,
    );
    const values: Record<(typeof PARAM_NAMES)[number], number> = {
      batch: ch.count,
      c: s.c,
      h: s.h,
      w: s.w,
      o: s.o,
      oh,
      ow,
      kh: s.kh,
      kw: s.kw,
      strideH: s.strideH,
      strideW: s.strideW,
      padH: s.padH,
      padW: s.padW,
      span: ch.span,
      cols,
      pad: 0,
    };
    g.dispatch(
      kernel,
      [
        { buffer: x, offset: ch.start * xItem, size: ch.count * xItem },
        { buffer: dyb, offset: 0, size: ch.count * dybItem },
        { buffer: part, offset: 0, size: ch.splits * size * 4 },
      ],
      new Uint32Array(PARAM_NAMES.map((f) => values[f])),
      [channelBlocks, colBlocks, ch.splits],
      what,
    );
    if (direct) return;
    g.dispatch(
      sumKernel,
      [{ buffer: part, offset: 0, size: ch.splits * size * 4 }, {
        buffer: dw,
        offset: 0,
        size: size * 4,
      }],
      new Uint32Array([size, ch.splits, i > 0 ? 1 : 0]),
      grid1d(size, SUM_WG),
      what,
    );
  });
  g.pool.release(dyb);
  if (!direct) g.pool.release(part);
}

/** db[o] = sum over n, oh, ow of dy[n, o, oh, ow]. */
export function conv2dBackwardBias(
  g: Gpu,
  dy: GPUBuffer,
  db: GPUBuffer,
  n: number,
  o: number,
  plane: number,
): void {
  const perImage = g.pool.acquire(n * o * 4, "conv2d bias-gradient partials");
  sumAxis(g, dy, perImage, n * o, plane, 1);
  sumAxis(g, perImage, db, 1, n, o);
  g.pool.release(perImage);
}
