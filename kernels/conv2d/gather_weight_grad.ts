// The weight gradient by the gather (the software-adapter strategy; mod.ts has the
// contract): dW[o, c, kh, kw] = sum over n, oh, ow of
// dy[n, o, oh, ow] * x[n, c, oh*stride - pad + kh, ow*stride - pad + kw].
//
// dW is a GEMM with M = O, N = C*KH*KW (the columns of OIHW) and a long K = N*OH*OW. Each
// invocation keeps `bm` output channels x 4 columns of accumulators: the dy values of a
// position are the same for the whole workgroup (uniform vec4 loads, from a copy of dy
// blocked as [O/bm][N*OH*OW][bm] so each workgroup streams one contiguous run; when each
// image has one output position dy [N][O] is already that run and is read as it is) and
// each invocation gathers 4 input values. Where an invocation's 4 columns are contiguous in
// dW they are stored as one vec4 (short reductions are dominated by their stores). WGSL has
// no float atomics, so K is split into `splits` ranges that write partial dW's, and a
// second pass (split_k.ts) sums them (adding the partials of later batch chunks).
// Taps that read only padding at every position (a 3x3 kernel on a 1x1 input: all but the
// centre) have a zero gradient: the columns cover only the window of taps that read some
// pixel, and the summing pass writes the zeros of the others.
// Chunks of images bind x and dy at any offset (element offsets xOff, dybOff, dyOff).

import { type Gpu, GpuError, grid1d } from "../device.ts";
import { defineKernel } from "../kernel.ts";
import { tuning } from "../tuning.ts";
import { fill } from "../elementwise.ts";
import { type Conv2dGeometry, conv2dOutputSize, describeConv } from "./geometry.ts";
import { usedTaps } from "./regions.ts";
import { sumWeightPartials } from "./split_k.ts";

// kh, kw: the rows and columns of the tap window, whose first row and column are kh0, kw0;
// padH, padW: the padding less kh0, kw0 (may be < 0). direct: part is dw itself
// ([o][c][fullKh][fullKw]), and the taps outside the window are written as zeros.
const WEIGHT_PARAMS = {
  batch: "u32",
  c: "u32",
  h: "u32",
  w: "u32",
  o: "u32",
  oh: "u32",
  ow: "u32",
  kh: "u32",
  kw: "u32",
  strideH: "u32",
  strideW: "u32",
  padH: "i32",
  padW: "i32",
  span: "u32",
  cols: "u32",
  direct: "u32",
  fullKh: "u32",
  fullKw: "u32",
  kh0: "u32",
  kw0: "u32",
} as const;

interface WeightVariant {
  wg: number;
  bm: number;
  dyRows: boolean;
  vecStore: boolean;
}

/**
 * `dyRows`: every image has one output position, so dy [n][o] already holds each position's
 * channels contiguously: it is read as it is (vec4 runs at k * o + o0), with no blocked copy.
 * `vecStore`: each invocation's 4 columns are contiguous and 4-aligned in part (the window
 * is every tap and cols % 4 == 0), so they are written as one vec4.
 */
const WEIGHT_GRAD = defineKernel({
  name: "conv2d weight gradient",
  key: (v: WeightVariant) => `${v.wg} ${v.bm} ${+v.dyRows} ${+v.vecStore}`,
  bindings: (v: WeightVariant) => [
    { name: "x", type: "f32", offset: true },
    { name: "dyb", type: "vec4f", offset: true },
    { name: "part", type: v.vecStore ? "vec4f" : "f32", access: "read_write" as const },
  ],
  params: WEIGHT_PARAMS,
  body: weightGradBody,
});

function weightGradBody({ wg, bm, dyRows, vecStore }: WeightVariant): string {
  const lines = (f: (i: number) => string) => Array.from({ length: bm }, (_, i) => f(i)).join("\n");
  // past the last channel (a partial last block) the index is clamped; those rows are not stored
  const dyAt = (j: number) => dyRows ? `min(d + ${j}u, dybLast)` : `d + ${j}u`;
  const storeBody = vecStore
    ? `  if (j0 < p.cols) { part[(row + j0) >> 2u] = v; }`
    : ["x", "y", "z", "w"].map((c, e) =>
      `  if (j0 + ${e}u < p.cols) { part[row + dst.${c}] = v.${c}; }`
    ).join("\n");
  return /* wgsl */ `
// workgroup (channel block, column block, split)
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let o0 = wid.x * ${bm}u;
  let j0 = (wid.y * ${wg}u + lid.x) * 4u;
  let taps = p.kh * p.kw;
  let fullTaps = p.fullKh * p.fullKw;
  var cOff: vec4i;
  var khv: vec4i;
  var kwv: vec4i;
  var dst: vec4u; // the column of each of the 4 in its row of part
  var firstTap: vec4<bool>;
  for (var e = 0u; e < 4u; e++) {
    let j = min(j0 + e, p.cols - 1u);
    let c = j / taps;
    let t = j - c * taps;
    let a = t / p.kw;
    let b = t % p.kw;
    khv[e] = i32(a) - p.padH;
    kwv[e] = i32(b) - p.padW;
    cOff[e] = i32(c * p.h * p.w + p.xOff);
    dst[e] = select(j, c * fullTaps + (a + p.kh0) * p.fullKw + b + p.kw0, p.direct != 0u);
    firstTap[e] = t == 0u && j0 + e < p.cols;
  }
  let rowLen = select(p.cols, p.cols / taps * fullTaps, p.direct != 0u);
  let zeros = p.direct != 0u && taps < fullTaps;
  let plane = p.oh * p.ow;
${lines((i) => `  var acc${i} = vec4f(0.0);`)}
  let k0 = wid.z * p.span;
  let k1 = min(k0 + p.span, p.batch * plane);
  var n = k0 / plane;
  var oy = (k0 - n * plane) / p.ow;
  var ox = k0 - n * plane - oy * p.ow;
  let wv = vec4i(i32(p.w));
  // position k's vec4s in dyb: blocked [O/bm][positions][bm], or dy [positions][o] (dyRows)
  let dybBase = ${dyRows ? `o0 / 4u` : `wid.x * p.batch * plane * ${bm / 4}u`} + p.dybOff;
  let dybStep = ${dyRows ? `p.o / 4u` : `${bm / 4}u`};
  let dybLast = p.dybOff + p.batch * p.o / 4u - 1u; // (dyRows) the last vec4 of dy
  for (var k = k0; k < k1; k++) {
    let iy = vec4i(i32(oy * p.strideH)) + khv;
    let ix = vec4i(i32(ox * p.strideW)) + kwv;
    let ok = (bitcast<vec4u>(iy) < vec4u(p.h)) & (bitcast<vec4u>(ix) < vec4u(p.w));
    // (outside the image: any element of the binding, multiplied by 0)
    let at = select(vec4i(0), vec4i(i32(n * p.c * p.h * p.w)) + cOff + iy * wv + ix, ok);
    let v = vec4f(x[at.x], x[at.y], x[at.z], x[at.w]) * select(vec4f(0.0), vec4f(1.0), ok);
    let d = dybBase + k * dybStep;
${Array.from({ length: bm / 4 }, (_, j) => `    let d${j} = dyb[${dyAt(j)}];`).join("\n")}
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
${lines((i) => `  store(acc${i}, (base + o0 + ${i}u) * rowLen, o0 + ${i}u, j0, dst);`)}
${
    vecStore ? "" : `  if (zeros) {
    // the column at each channel's first window tap also writes the channel's zero taps
    for (var e = 0u; e < 4u; e++) {
      if (!firstTap[e]) { continue; }
      let c0 = dst[e] - p.kh0 * p.fullKw - p.kw0;
      for (var o = o0; o < min(o0 + ${bm}u, p.o); o++) {
        for (var t = 0u; t < fullTaps; t++) {
          let a = t / p.fullKw - p.kh0;
          let b = t % p.fullKw - p.kw0;
          if (a >= p.kh || b >= p.kw) { part[o * rowLen + c0 + t] = 0.0; }
        }
      }
    }
  }`
  }
}

fn store(v: vec4f, row: u32, o: u32, j0: u32, dst: vec4u) {
  if (o >= p.o) { return; }
${storeBody}
}`;
}

const BLOCK_WG = 64;

const BLOCK_PARAMS = { o: "u32", plane: "u32", k: "u32", blocks: "u32" } as const;

// dyb[b, k, oi] = dy[n, b*BM + oi, p] for k = n*plane + p (0 past the last channel)
const BLOCK_DY = defineKernel({
  name: "conv2d block dy",
  key: (bm: number) => `${bm}`,
  bindings: [
    { name: "dy", type: "f32", offset: true },
    { name: "dyb", type: "f32", access: "read_write" },
  ],
  params: BLOCK_PARAMS,
  body: (bm) => /* wgsl */ `
@compute @workgroup_size(${BLOCK_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${BLOCK_WG}u;
  if (i >= p.blocks * p.k) { return; }
  let k = i % p.k;
  let b = i / p.k;
  let n = k / p.plane;
  let src = n * p.o * p.plane + (k - n * p.plane) + p.dyOff;
  for (var oi = 0u; oi < ${bm}u; oi++) {
    let o = b * ${bm}u + oi;
    var v = 0.0;
    if (o < p.o) { v = dy[src + o * p.plane]; }
    dyb[i * ${bm}u + oi] = v;
  }
}`,
});

// The same copy when the plane is a multiple of 4: one invocation per (block, 4 positions of
// one image) reads vec4 runs of 4 positions per channel and writes them transposed, 4
// channels per vec4 (a quarter of the scattered memory operations).
const BLOCK_DY_QUADS = defineKernel({
  name: "conv2d block dy quads",
  key: (bm: number) => `${bm}`,
  bindings: [
    { name: "dy", type: "vec4f", offset: true },
    { name: "dyb", type: "vec4f", access: "read_write" },
  ],
  params: BLOCK_PARAMS,
  body: (bm) => {
    const lanes = ["x", "y", "z", "w"];
    return /* wgsl */ `
fn ld(o: u32, at: u32) -> vec4f {
  return select(vec4f(0.0), dy[min(o, p.o - 1u) * (p.plane >> 2u) + at + p.dyOff], o < p.o);
}
@compute @workgroup_size(${BLOCK_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${BLOCK_WG}u;
  let quads = p.k >> 2u;
  if (i >= p.blocks * quads) { return; }
  let b = i / quads;
  let k = (i - b * quads) * 4u;
  let n = k / p.plane;
  let at = (n * p.o * p.plane + (k - n * p.plane)) >> 2u;
  let out = (b * p.k + k) * ${bm / 4}u;
  for (var q = 0u; q < ${bm / 4}u; q++) {
    let o = b * ${bm}u + q * 4u;
    let r0 = ld(o, at);
    let r1 = ld(o + 1u, at);
    let r2 = ld(o + 2u, at);
    let r3 = ld(o + 3u, at);
${
      lanes.map((l, e) =>
        `    dyb[out + ${e * (bm / 4)}u + q] = vec4f(r0.${l}, r1.${l}, r2.${l}, r3.${l});`
      ).join("\n")
    }
  }
}`;
  },
});

/** The weight gradient by the gather (mod.ts has the contract). */
export function gatherWeightGrad(
  g: Gpu,
  x: GPUBuffer,
  dy: GPUBuffer,
  dw: GPUBuffer,
  s: Conv2dGeometry,
): void {
  const { oh, ow } = conv2dOutputSize(s);
  const what = `conv2d weight gradient ${describeConv(s)}`;
  const tiles = tuning(g).conv;
  const wg = tiles.weight.wg;
  const bm = Math.min(tiles.weight.bm, Math.ceil(s.o / 4) * 4); // a smaller block for few channels
  const dyRows = oh * ow === 1 && s.o % 4 === 0;
  const [kh0, kh1] = usedTaps(oh, s.h, s.strideH, s.padH, s.kh);
  const [kw0, kw1] = usedTaps(ow, s.w, s.strideW, s.padW, s.kw);
  const win = { kh0, kw0, winH: kh1 - kh0, winW: kw1 - kw0 };
  const cols = s.c * win.winH * win.winW;
  const vecStore = win.winH * win.winW === s.kh * s.kw && cols % 4 === 0;
  const kernel = WEIGHT_GRAD.get(g, { wg, bm, dyRows, vecStore });
  const size = s.o * cols; // of a partial dw (the window's taps)
  const fullSize = s.o * s.c * s.kh * s.kw;
  if (cols === 0) { // every tap reads only padding
    fill(g, dw, fullSize, 0);
    return;
  }
  const channelBlocks = Math.ceil(s.o / bm);
  const colBlocks = Math.ceil(cols / (wg * 4));
  const xItem = s.c * s.h * s.w * 4;
  const dyItem = s.o * oh * ow * 4;
  const dybItem = dyRows ? 0 : channelBlocks * bm * oh * ow * 4;
  const chunks = g.chunks(what, s.n, dyRows ? [xItem, dyItem] : [xItem, dyItem, dybItem]);
  const maxSplits = Math.floor(g.maxBindingBytes / (size * 4));
  if (maxSplits < 1) {
    throw new GpuError(
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
  const quads = (oh * ow) % 4 === 0;
  const blockKernel = quads ? BLOCK_DY_QUADS.get(g, bm) : BLOCK_DY.get(g, bm);
  const dyb = dyRows
    ? null
    : g.pool.acquire(Math.max(...plan.map((c) => c.count)) * dybItem, "conv2d blocked dy");
  plan.forEach((ch, i) => {
    const k = ch.count * oh * ow;
    const dyRange = { buffer: dy, offset: ch.start * dyItem, size: ch.count * dyItem };
    const dybRange = dyb && { buffer: dyb, offset: 0, size: ch.count * dybItem };
    if (dybRange) {
      blockKernel.dispatch(
        [dyRange, dybRange],
        { o: s.o, plane: oh * ow, k, blocks: channelBlocks },
        grid1d(channelBlocks * (quads ? k / 4 : k), BLOCK_WG),
        what,
      );
    }
    kernel.dispatch(
      [
        { buffer: x, offset: ch.start * xItem, size: ch.count * xItem },
        dybRange ?? dyRange,
        { buffer: part, offset: 0, size: (direct ? fullSize : ch.splits * size) * 4 },
      ],
      {
        batch: ch.count,
        c: s.c,
        h: s.h,
        w: s.w,
        o: s.o,
        oh,
        ow,
        kh: win.winH,
        kw: win.winW,
        strideH: s.strideH,
        strideW: s.strideW,
        padH: s.padH - kh0,
        padW: s.padW - kw0,
        span: ch.span,
        cols,
        direct: direct ? 1 : 0,
        fullKh: s.kh,
        fullKw: s.kw,
        kh0,
        kw0,
      },
      [channelBlocks, colBlocks, ch.splits],
      what,
    );
    if (!direct) sumWeightPartials(g, part, dw, s, ch.splits, win, i > 0, what);
  });
  if (dyb) g.pool.release(dyb);
  if (!direct) g.pool.release(part);
}
