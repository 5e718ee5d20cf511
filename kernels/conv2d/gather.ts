// The tap gather: conv2d's forward pass and input gradient as one register-blocked
// implicit GEMM without workgroup memory (the software-adapter strategy), and the weight
// repacking it needs.
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
// Launches are further split into border regions (regions.ts) where that saves more
// multiplies by the zero padding than the extra launches cost, and only the kernel taps
// some region uses are repacked (a 3x3 kernel on a 1x1 input uses only its centre).
//
// Tiling (tuning(g).conv.gather): an invocation keeps a `bm` channels x 4 positions block of
// accumulators. The weights of a block are the same for the whole workgroup (uniform vec4
// loads, cheap on llvmpipe) and each invocation gathers 4 input values per (tap, channel).
// Chunks of images bind src and dst at any offset (element offsets srcOff, dstOff).

import { type Binding, type Gpu, GpuError, grid1d } from "../device.ts";
import { defineKernel } from "../kernel.ts";
import { tuning } from "../tuning.ts";
import { fill } from "../elementwise.ts";
import { type Conv2dGeometry, conv2dOutputSize, describeConv } from "./geometry.ts";
import {
  type Axis,
  kernelWindow,
  planRegions,
  type RegionPlan,
  type TapWindow,
} from "./regions.ts";

// ---- weight repacking ------------------------------------------------------------------

const REPACK_WG = 64;

// out[b, t, r, qi] = w[q * strideQ + r * strideR + tap(t)] for q = b * BM + qi (0 where
// q >= q count), t = 0..winH*winW-1 over the window of taps used: each channel block's
// weights are one contiguous run for the gather. One invocation per (b, r); neighbouring
// invocations read neighbouring rows and write neighbouring BM-runs.
const REPACK = defineKernel({
  name: "conv2d repack weight",
  key: (bm: number) => `${bm}`,
  bindings: [
    { name: "w", type: "f32" },
    { name: "out", type: "vec4f", access: "read_write" },
  ],
  params: {
    rows: "u32",
    q: "u32",
    blocks: "u32",
    strideQ: "u32",
    strideR: "u32",
    kw: "u32",
    kh0: "u32",
    kw0: "u32",
    winH: "u32",
    winW: "u32",
  },
  body: (bm) => /* wgsl */ `
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
}`,
});

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
  what: string,
) {
  const taps = s.kh * s.kw;
  const [rows, cols] = forInput ? [s.o, s.c] : [s.c, s.o];
  const blocks = Math.ceil(cols / bm);
  const count = Math.max(1, win.winH * win.winW * rows * blocks * bm);
  if (count * 4 > g.maxBindingBytes || s.o * s.c * taps * 4 > g.maxBindingBytes) {
    throw new GpuError(
      `conv2d ${describeConv(s)}: the weight needs ${count * 4} bytes, over this ` +
        `adapter's ${g.maxBindingBytes}-byte storage binding limit`,
    );
  }
  const out = g.pool.acquire(count * 4, "conv2d packed weight");
  // w[o][c][tap]: column q and row r map to (o, c) or (c, o)
  const strideQ = forInput ? taps : s.c * taps;
  const strideR = forInput ? s.c * taps : taps;
  REPACK.get(g, bm).dispatch(
    [w, out],
    {
      rows,
      q: cols,
      blocks,
      strideQ,
      strideR,
      kw: s.kw,
      kh0: win.kh0,
      kw0: win.kw0,
      winH: win.winH,
      winW: win.winW,
    },
    grid1d(blocks * rows, REPACK_WG),
    `${what} (repack weight)`,
  );
  return out;
}

// ---- the tap gather kernel -------------------------------------------------------------

// The gather's parameters; i32 where they can be < 0.
const GATHER_PARAMS = {
  batch: "u32", // src [batch, ci, hi, wi]
  ci: "u32",
  hi: "u32",
  wi: "u32",
  co: "u32", // dst [batch, co, ho, wo]; position blocks
  ho: "u32",
  wo: "u32",
  blocks: "u32",
  th: "u32", // the launch's position grid and src coordinate scale
  tw: "u32",
  inMulY: "u32",
  inMulX: "u32",
  inOffY: "i32", // src offsets, tap direction, kernel columns in the weight's window
  inOffX: "i32",
  step: "i32",
  winW: "u32",
  ntH: "u32", // taps per dimension; first kernel row/col (in the window)
  ntW: "u32",
  khBase: "u32",
  kwBase: "u32",
  kMulY: "u32", // kernel index step per tap; dst coordinate scale
  kMulX: "u32",
  outMulY: "u32",
  outMulX: "u32",
  outOffY: "u32", // dst offsets; bias flag; the last channel block's first channel
  outOffX: "u32",
  hasBias: "u32",
  qLast: "u32",
  wQ: "u32", // vec4 weight index = (q0 / 4) * wQ + tap * wT + r * wR
  wT: "u32",
  wR: "u32",
} as const;

/**
 * How the gather writes its 4 positions per channel. "scalar": anywhere. "vec4": the 4
 * positions are contiguous and 4-aligned in dst (one vec4 store). "spread": a 1x1 stride-2
 * input gradient, each position (y, x) also owning the dx pixels (2y, 2x+1), (2y+1, 2x) and
 * (2y+1, 2x+1) that no tap reaches: it writes them as zeros (vec2 stores), so dx needs no fill.
 */
type StoreMode = "scalar" | "vec4" | "spread";

const STORE_TYPE: Record<StoreMode, string> = { scalar: "f32", vec4: "vec4f", spread: "vec2f" };

// dstOff is in elements of dst's type (kernel.ts), so it is added after the shift
const STORE_BODY: Record<StoreMode, string> = {
  scalar: `  for (var e = 0u; e < 4u; e++) {
    if (first + e < total) { dst[off[e] + o * plane + p.dstOff] = v[e] + b; }
  }`,
  vec4: `  if (first < total) { dst[((off.x + o * plane) >> 2u) + p.dstOff] = v + vec4f(b); }`,
  // off is the (even) index of dx[2y, 2x]; the row below starts wo (even) later
  spread: `  for (var e = 0u; e < 4u; e++) {
    if (first + e < total) {
      let at = ((off[e] + o * plane) >> 1u) + p.dstOff;
      dst[at] = vec2f(v[e] + b, 0.0);
      dst[at + (p.wo >> 1u)] = vec2f(0.0);
    }
  }`,
};

interface GatherVariant {
  wg: number;
  bm: number;
  /**
   * The weight holds, per (tap, reduced channel), a vec4 run over the block's channels (the
   * packed layout, or a 1x1 input gradient's OIHW weight). Otherwise each channel's weights
   * are vec4 runs along the reduced channels (a 1x1 forward's OIHW weight): the loop takes
   * 4 reduced channels per step, ci is a multiple of 4, and wQ is per channel.
   */
  byChannel: boolean;
  store: StoreMode;
}

const GATHER = defineKernel({
  name: "conv2d gather",
  key: (v: GatherVariant) => `${v.wg} ${v.bm} ${+v.byChannel} ${v.store}`,
  bindings: (v: GatherVariant) => [
    { name: "src", type: "f32", offset: true },
    { name: "wt", type: "vec4f" },
    { name: "bias", type: "f32" },
    { name: "dst", type: STORE_TYPE[v.store], access: "read_write" as const, offset: true },
  ],
  params: GATHER_PARAMS,
  body: gatherBody,
});

function gatherBody({ wg, bm, byChannel, store }: GatherVariant): string {
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
  var outAt: vec4u;
  for (var e = 0u; e < 4u; e++) {
    let pos = min(first + e, total - 1u);
    let n = pos / plane;
    let r = pos - n * plane;
    let ty = r / p.tw;
    let tx = r - ty * p.tw;
    srcBase[e] = i32(n * p.ci * p.hi * p.wi + p.srcOff);
    iy0[e] = i32(ty * p.inMulY) + p.inOffY;
    ix0[e] = i32(tx * p.inMulX) + p.inOffX;
    outAt[e] = n * p.co * p.ho * p.wo + (ty * p.outMulY + p.outOffY) * p.wo + tx * p.outMulX + p.outOffX;
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
${lines((i) => `  store(acc${i}, q0 + ${i}u, outAt, first, total, plane_out);`, bm)}
}

fn store(v: vec4f, o: u32, off: vec4u, first: u32, total: u32, plane: u32) {
  if (o >= p.co) { return; }
  var b = 0.0;
  if (p.hasBias != 0u) { b = bias[o]; }
${STORE_BODY[store]}
}`;
}

/** The gather's tiles for `co` output channels (a smaller block when there are few). */
function gatherTiles(g: Gpu, co: number): { wg: number; bm: number } {
  const t = tuning(g).conv.gather;
  return { wg: t.wg, bm: Math.min(t.bm, Math.ceil(co / 4) * 4) };
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
  k: { wg: number; bm: number; byChannel: boolean },
  bindings: { src: Binding; bias: GPUBuffer | null; dst: Binding },
  dims: { batch: number; ci: number; co: number; ho: number; wo: number },
  lay: WeightLayout,
  plan: RegionPlan,
  what: string,
  spread = false,
): void {
  const bound = [bindings.src, lay.wt, bindings.bias ?? lay.wt, bindings.dst];
  const row0 = plan.rows[0];
  for (const ry of plan.rows) {
    for (const rx of plan.cols) {
      const total = dims.batch * ry.count * rx.count;
      if (total === 0) continue;
      const blocks = Math.ceil(total / (k.wg * 4));
      const values = {
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
      GATHER.get(g, { ...k, store }).dispatch(
        bound,
        values,
        [Math.ceil(dims.co / k.bm), y, z],
        what,
      );
    }
  }
}

/** The forward pass by the gather (mod.ts has the contract). */
export function gatherForward(
  g: Gpu,
  x: GPUBuffer,
  w: GPUBuffer,
  bias: GPUBuffer | null,
  y: GPUBuffer,
  s: Conv2dGeometry,
): void {
  const { oh, ow } = conv2dOutputSize(s);
  const what = `conv2d forward ${describeConv(s)}`;
  const tiles = gatherTiles(g, s.o);
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
    tuning(g).conv.launchMacs,
  );
  const win = tapWindow(plan);
  // A 1x1 kernel's OIHW weight [O][C] is read as it is, 4 input channels per step.
  const direct = s.kh * s.kw === 1 && s.c % 4 === 0 && s.o >= tiles.bm;
  const k = { ...tiles, byChannel: !direct };
  const lay = direct
    ? { wt: w, wQ: s.c / 4, wT: 0, wR: 1, qLast: s.o - k.bm, kh0: 0, kw0: 0, winW: 1 }
    : packedLayout(repackWeight(g, w, s, false, k.bm, win, what), s.c, k.bm, win);
  const inItem = s.c * s.h * s.w * 4;
  const outItem = s.o * oh * ow * 4;
  for (const ch of g.chunks(what, s.n, [inItem, outItem])) {
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

/** The input gradient by the gather (mod.ts has the contract). */
export function gatherInputGrad(
  g: Gpu,
  dy: GPUBuffer,
  w: GPUBuffer,
  dx: GPUBuffer,
  s: Conv2dGeometry,
): void {
  const { oh, ow } = conv2dOutputSize(s);
  const what = `conv2d input gradient ${describeConv(s)}`;
  const tiles = gatherTiles(g, s.c);
  const rowPhases = phases(s.h, s.strideH, s.padH, s.kh);
  const colPhases = phases(s.w, s.strideW, s.padW, s.kw);
  // Pixels that no tap reaches (a 1x1 kernel with stride 2: 3 of 4) get 0; one contiguous
  // fill writes them faster than the gather's scattered stores would.
  const unreached = rowPhases.some((p) => p.taps === 0) || colPhases.some((p) => p.taps === 0);
  const launchMacs = tuning(g).conv.launchMacs;
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
  const direct = s.kh * s.kw === 1 && s.c % 4 === 0 && s.c >= tiles.bm;
  const k = { ...tiles, byChannel: true };
  const lay = direct
    ? { wt: w, wQ: 1, wT: 0, wR: s.c / 4, qLast: s.c - k.bm, kh0: 0, kw0: 0, winW: 1 }
    : packedLayout(repackWeight(g, w, s, true, k.bm, win, what), s.o, k.bm, win);
  // A 1x1 stride-2 kernel on an even-sized input: the one launch also writes the zeros.
  const spread = unreached && s.kh * s.kw === 1 && s.strideH === 2 && s.strideW === 2 &&
    s.padH === 0 && s.padW === 0 && s.h % 2 === 0 && s.w % 2 === 0 && plans.length === 1 &&
    plans[0].rows.length === 1 && plans[0].cols.length === 1;
  if (unreached && !spread) fill(g, dx, s.n * s.c * s.h * s.w, 0);
  const inItem = s.o * oh * ow * 4;
  const outItem = s.c * s.h * s.w * 4;
  for (const ch of g.chunks(what, s.n, [inItem, outItem])) {
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
