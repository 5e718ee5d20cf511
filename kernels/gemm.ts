// GEMM: C = op(A)·op(B) (+ bias) for row-major f32 matrices, op = identity or transpose,
// optionally batched and optionally accumulated into C (C += ...).
//
// The WGSL is generated from the adapter's tile parameters (gemm_tiles.ts), the transposes
// and whether each operand may be read as vec4 (its contiguous dimension and offsets are
// multiples of 4) and whether C is accumulated into; the bias mode is a uniform. Each invocation keeps a tm x tn block of C in registers and reads
// A and B straight from storage, four steps of K at a time; there is no shared memory (see
// gemm_tiles.ts for why that wins on the software driver). Rows and columns past the edges
// read clamped addresses and are never stored, so no branch sits inside the K loop.
//
// A launch whose operands exceed one storage binding is split: along the batch when every
// matrix fits, otherwise into sub-problems along M, N or K (K pieces accumulate into C).

import { type Binding, type Gpu, GpuError } from "./device.ts";
import { type GemmTiles, gemmTiles } from "./gemm_tiles.ts";

export interface GemmOptions {
  /** op(A) is m x k, op(B) is k x n, C is m x n (per batch item). */
  m: number;
  n: number;
  k: number;
  /** A is stored k x m (read transposed). */
  transA?: boolean;
  /** B is stored n x k (read transposed). */
  transB?: boolean;
  /** Number of independent products; default 1. */
  batch?: number;
  /** Elements between batch items; default the matrix size, 0 to share one matrix. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
  /** Added to every row (bias[n], the default axis "n") or every column (bias[m], "m"). */
  bias?: GPUBuffer;
  biasAxis?: "n" | "m";
  /** C += op(A)·op(B) (+ bias) instead of C = ... */
  accumulate?: boolean;
}

interface Variant {
  tiles: GemmTiles;
  transA: boolean;
  transB: boolean;
  vecA: boolean;
  vecB: boolean;
  vecC: boolean;
  /** C += ... (reads C: a compile-time choice, so plain products do not pay for it). */
  accumulate: boolean;
}

/** The bias mode costs nothing in the K loop, so it is a uniform (fewer pipelines). */
const BIAS_NONE = 0;
const BIAS_N = 1;
const BIAS_M = 2;

const PARAM_WORDS = 16;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

const LANE = ["x", "y", "z", "w"];

/** The WGSL of one variant; equal variants give equal text (and one cached pipeline). */
export function gemmSource(v: Variant): string {
  const { wx, wy, tm, tn, mFastest } = v.tiles;
  const groups = tn / 4; // vec4 column groups per invocation
  const bm = wy * tm;
  const bn = wx * tn;
  const arr = (vec: boolean) => (vec ? "array<vec4f>" : "array<f32>");
  const scalarAt = (name: string, vec: boolean) =>
    vec
      ? `fn ${name}1(i: u32) -> f32 { return ${name}[i >> 2u][i & 3u]; }`
      : `fn ${name}1(i: u32) -> f32 { return ${name}[i]; }`;
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);

  // ---- per-invocation addresses (outside the K loop) ----
  // rows r{i} and columns c{j}_{t} are clamped into the matrix; stores check the real ones
  for (const i of range(tm)) emit(`let r${i} = min(row0 + ${i}u, p.m - 1u);`);
  for (const j of range(groups)) {
    for (const t of range(4)) emit(`let c${j}_${t} = min(col0 + ${j * wx * 4 + t}u, p.n - 1u);`);
  }
  if (!v.transA) { for (const i of range(tm)) emit(`let ar${i} = aBase + r${i} * p.lda;`); }
  if (v.transB) {
    for (const j of range(groups)) {
      for (const t of range(4)) emit(`let bc${j}_${t} = bBase + c${j}_${t} * p.ldb;`);
    }
  }
  const setup = lines.splice(0);

  // ---- one step of four k: loads into registers, then 4 * tm * tn/4 vec4 FMAs ----
  // aAt(i, kk): scalar of op(A)[row i, k + kk]; bAt(kk, j): vec4 of op(B)[k + kk, group j]
  let aAt: (i: number, kk: number) => string;
  let bAt: (kk: number, j: number) => string;
  if (!v.transA) {
    for (const i of range(tm)) {
      emit(
        v.vecA
          ? `let a${i} = A[(ar${i} + k) >> 2u];`
          : `let a${i} = vec4f(${range(4).map((kk) => `A[ar${i} + k + ${kk}u]`).join(", ")});`,
      );
    }
    aAt = (i, kk) => `a${i}.${LANE[kk]}`;
  } else {
    for (const kk of range(4)) {
      emit(`let ak${kk} = aBase + (k + ${kk}u) * p.lda;`);
      if (v.vecA) {
        // rows come in groups of 4 (tm is a multiple of 4 and m a multiple of 4 here)
        for (const q of range(tm / 4)) emit(`let a${kk}_${q} = A[(ak${kk} + r${q * 4}) >> 2u];`);
      } else {
        for (const i of range(tm)) emit(`let a${kk}_${i} = A[ak${kk} + r${i}];`);
      }
    }
    aAt = v.vecA ? (i, kk) => `a${kk}_${i >> 2}.${LANE[i & 3]}` : (i, kk) => `a${kk}_${i}`;
  }
  // B is loaded one k at a time, right before the FMAs that use it, to keep few registers live
  const bLoads: string[][] = range(4).map(() => []);
  if (!v.transB) {
    for (const kk of range(4)) {
      bLoads[kk].push(`let bk${kk} = bBase + (k + ${kk}u) * p.ldb;`);
      for (const j of range(groups)) {
        bLoads[kk].push(
          v.vecB
            ? `let b${kk}_${j} = B[(bk${kk} + c${j}_0) >> 2u];`
            : `let b${kk}_${j} = vec4f(${
              range(4).map((t) => `B[bk${kk} + c${j}_${t}]`).join(", ")
            });`,
        );
      }
    }
    bAt = (kk, j) => `b${kk}_${j}`;
  } else {
    // each column of op(B) is a row of B: read four k of it at once
    for (const j of range(groups)) {
      for (const t of range(4)) {
        emit(
          v.vecB
            ? `let b${j}_${t} = B[(bc${j}_${t} + k) >> 2u];`
            : `let b${j}_${t} = vec4f(${
              range(4).map((kk) => `B[bc${j}_${t} + k + ${kk}u]`).join(", ")
            });`,
        );
      }
    }
    bAt = (kk, j) => `vec4f(${range(4).map((t) => `b${j}_${t}.${LANE[kk]}`).join(", ")})`;
  }
  for (const kk of range(4)) {
    lines.push(...bLoads[kk]);
    for (const i of range(tm)) {
      const a = `vec4f(${aAt(i, kk)})`;
      for (const j of range(groups)) emit(`acc${i}_${j} = fma(${a}, ${bAt(kk, j)}, acc${i}_${j});`);
    }
  }
  const step4 = lines.splice(0);
  // Four k per step pay off when an operand is read as vec4 along K; otherwise one k per
  // step is as fast and a quarter of the code (compile time on the software driver).
  const unroll4 = (!v.transA && v.vecA) || (v.transB && v.vecB);

  // ---- one k at a time for the last k % 4 ----
  for (const i of range(tm)) {
    emit(`let a${i} = A1(${v.transA ? `aBase + k * p.lda + r${i}` : `ar${i} + k`});`);
  }
  for (const j of range(groups)) {
    emit(
      `let b${j} = vec4f(${
        range(4).map((t) =>
          `B1(${v.transB ? `bc${j}_${t} + k` : `bBase + k * p.ldb + c${j}_${t}`})`
        )
          .join(", ")
      });`,
    );
  }
  for (const i of range(tm)) {
    for (const j of range(groups)) emit(`acc${i}_${j} = fma(vec4f(a${i}), b${j}, acc${i}_${j});`);
  }
  const step1 = lines.splice(0);

  // ---- stores: bias, accumulation, edges ----
  // Every divergent load or store becomes a loop over the lanes on the software driver, so
  // the bias is read once per column group and C is read only by accumulating variants.
  for (const j of range(groups)) {
    emit(`var bn${j} = vec4f(0.0);`);
    emit(`if (p.bias == ${BIAS_N}u) {`);
    emit(`  bn${j} = vec4f(${range(4).map((t) => `bias[p.offBias + c${j}_${t}]`).join(", ")});`);
    emit(`}`);
  }
  for (const i of range(tm)) {
    emit(`if (row0 + ${i}u < p.m) {`);
    emit(`  let cr = cBase + (row0 + ${i}u) * p.ldc;`);
    emit(`  var bm = 0.0;`);
    emit(`  if (p.bias == ${BIAS_M}u) { bm = bias[p.offBias + r${i}]; }`);
    for (const j of range(groups)) {
      const col = `col0 + ${j * wx * 4}u`;
      const value = `acc${i}_${j} + bn${j} + vec4f(bm)`;
      if (v.vecC) {
        emit(`  if (${col} < p.n) {`);
        emit(`    let at = (cr + ${col}) >> 2u;`);
        emit(`    C[at] = ${v.accumulate ? "C[at] + " : ""}${value};`);
        emit(`  }`);
      } else {
        emit(`  {`);
        emit(`    let v = ${value};`);
        for (const t of range(4)) {
          emit(`    if (${col} + ${t}u < p.n) {`);
          emit(`      let at = cr + ${col} + ${t}u;`);
          emit(`      C[at] = ${v.accumulate ? "C[at] + " : ""}v.${LANE[t]};`);
          emit(`    }`);
        }
        emit(`  }`);
      }
    }
    emit(`}`);
  }
  const store = lines.splice(0);

  const accs = range(tm).flatMap((i) => range(groups).map((j) => `var acc${i}_${j} = vec4f(0.0);`));
  const [mBlock, nBlock] = mFastest ? ["wg.x", "wg.y"] : ["wg.y", "wg.x"];
  // with one row of lanes, row0 is visibly the same in every lane: A loads become broadcasts
  return /* wgsl */ `// gemm ${JSON.stringify(v)}
@group(0) @binding(0) var<storage, read> A: ${arr(v.vecA)};
@group(0) @binding(1) var<storage, read> B: ${arr(v.vecB)};
@group(0) @binding(2) var<storage, read_write> C: ${arr(v.vecC)};
@group(0) @binding(3) var<storage, read> bias: array<f32>;
struct Params {
  m: u32, n: u32, k: u32, lda: u32, ldb: u32, ldc: u32, offA: u32, offB: u32,
  offC: u32, strideA: u32, strideB: u32, strideC: u32, offBias: u32, bias: u32, p0: u32,
  p1: u32,
}
@group(0) @binding(4) var<uniform> p: Params;
${scalarAt("A", v.vecA)}
${scalarAt("B", v.vecB)}

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = ${mBlock} * ${bm}u${wy > 1 ? ` + lid.y * ${tm}u` : ""};
  let col0 = ${nBlock} * ${bn}u + lid.x * 4u;
  let aBase = p.offA + wg.z * p.strideA;
  let bBase = p.offB + wg.z * p.strideB;
  let cBase = p.offC + wg.z * p.strideC;
  ${setup.join("\n  ")}
  ${accs.join("\n  ")}
  var k = 0u;${
    unroll4
      ? `
  for (; k + 4u <= p.k; k += 4u) {
    ${step4.join("\n    ")}
  }`
      : ""
  }
  for (; k < p.k; k++) {
    ${step1.join("\n    ")}
  }
  ${store.join("\n  ")}
}
`;
}

/** The part of one operand a launch binds: a byte range and the element offset inside it. */
interface Span {
  binding: Binding;
  offset: number;
}

/**
 * Binds elements [start, start + length) of `buffer` (f32): the range begins at an aligned
 * byte offset at or before `start`, and `offset` says where `start` lies inside it.
 */
function span(g: Gpu, buffer: GPUBuffer, start: number, length: number): Span {
  const alignEl = g.storageAlign / 4;
  const first = Math.floor(start / alignEl) * alignEl;
  const bytes = Math.min(
    buffer.size - first * 4,
    Math.max(16, Math.ceil((start + length - first) / 4) * 16),
  );
  return { binding: { buffer, offset: first * 4, size: bytes }, offset: start - first };
}

/** C = op(A)·op(B) (+ bias), or C += ... with `accumulate`. Records the launches on `g`. */
export function gemm(g: Gpu, a: GPUBuffer, b: GPUBuffer, c: GPUBuffer, o: GemmOptions): void {
  const { m, n, k } = o;
  const transA = o.transA ?? false;
  const transB = o.transB ?? false;
  const batch = o.batch ?? 1;
  const sA = o.strideA ?? m * k;
  const sB = o.strideB ?? k * n;
  const sC = o.strideC ?? m * n;
  const what = `gemm[${batch > 1 ? `${batch}x` : ""}${m}x${n}x${k}${transA ? " At" : ""}${
    transB ? " Bt" : ""
  }]`;
  for (const d of [m, n, k, batch, sA, sB, sC]) {
    if (!Number.isInteger(d) || d < 0) throw new GpuError(`${what}: sizes must be integers >= 0`);
  }
  if (c === a || c === b) throw new GpuError(`${what}: the output C must not alias A or B`);
  if (o.bias && o.bias === c) throw new GpuError(`${what}: the output C must not alias the bias`);
  if (sC > 0 && sC < m * n && batch > 1) throw new GpuError(`${what}: batch items of C overlap`);
  const need = (buf: GPUBuffer, stride: number, size: number, name: string) => {
    const elements = batch > 0 && size > 0 ? (batch - 1) * stride + size : 0;
    if (elements * 4 > buf.size) {
      throw new GpuError(`${what}: ${name} holds ${buf.size} bytes, needs ${elements * 4}`);
    }
  };
  need(a, sA, m * k, "A");
  need(b, sB, k * n, "B");
  need(c, sC, m * n, "C");
  const biasAxis = o.biasAxis ?? "n";
  if (o.bias) need(o.bias, 0, biasAxis === "n" ? n : m, "bias");
  if (m === 0 || n === 0 || batch === 0) return;

  const tiles = gemmTiles(g);
  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  const variant: Omit<Variant, "accumulate"> = {
    tiles,
    transA,
    transB,
    // vec4 reads need the contiguous dimension and every batch offset to be multiples of 4
    vecA: lda % 4 === 0 && sA % 4 === 0,
    vecB: ldb % 4 === 0 && sB % 4 === 0,
    vecC: n % 4 === 0 && sC % 4 === 0,
  };
  const launch = (
    sub: { m0: number; m: number; n0: number; n: number; k0: number; k: number },
    b0: number,
    count: number,
    accumulate: boolean,
    withBias: boolean,
  ) => {
    // byte ranges of the rows each operand needs, starting at batch item b0
    const rowsA = transA ? [sub.k0, sub.k] : [sub.m0, sub.m];
    const rowsB = transB ? [sub.n0, sub.n] : [sub.k0, sub.k];
    const inA = transA ? sub.m0 : sub.k0;
    const inB = transB ? sub.k0 : sub.n0;
    const extent = (stride: number, rows: number, ld: number) => (count - 1) * stride + rows * ld;
    const spA = span(g, a, b0 * sA + rowsA[0] * lda, extent(sA, rowsA[1], lda));
    const spB = span(g, b, b0 * sB + rowsB[0] * ldb, extent(sB, rowsB[1], ldb));
    const spC = span(g, c, b0 * sC + sub.m0 * n, extent(sC, sub.m, n));
    const kernel = g.kernel("gemm", gemmSource({ ...variant, accumulate }));
    const p = new Uint32Array(PARAM_WORDS);
    p.set([
      sub.m,
      sub.n,
      sub.k,
      lda,
      ldb,
      n,
      spA.offset + inA,
      spB.offset + inB,
      spC.offset + sub.n0,
      sA,
      sB,
      sC,
      biasAxis === "n" ? sub.n0 : sub.m0,
      !o.bias || !withBias ? BIAS_NONE : biasAxis === "n" ? BIAS_N : BIAS_M,
    ]);
    // without a bias, A (read-only, so aliasing is allowed) fills the bias slot
    const bindings: Binding[] = [spA.binding, spB.binding, spC.binding, o.bias ?? spA.binding];
    const mBlocks = Math.ceil(sub.m / (tiles.wy * tiles.tm));
    const nBlocks = Math.ceil(sub.n / (tiles.wx * tiles.tn));
    const grid = tiles.mFastest
      ? [mBlocks, nBlocks, count] as const
      : [nBlocks, mBlocks, count] as const;
    g.dispatch(kernel, bindings, p, grid, what);
  };

  const limit = Math.floor(g.maxBindingBytes / 4) - g.storageAlign / 4; // elements, room to align
  const maxGroups = g.maxWorkgroupsPerDim;
  const blockM = tiles.wy * tiles.tm;
  const blockN = tiles.wx * tiles.tn;
  const accumulate = o.accumulate ?? false;
  const whole = { m0: 0, m, n0: 0, n, k0: 0, k };
  if (
    Math.max(m * k, k * n, m * n) <= limit && Math.ceil(m / blockM) <= maxGroups &&
    Math.ceil(n / blockN) <= maxGroups
  ) {
    // every matrix fits one binding: split the batch only, so that each operand's items
    // (with the slack span() may add in front to align) stay within one binding
    let per = Math.min(batch, maxGroups);
    [[sA, m * k], [sB, k * n], [sC, m * n]].forEach(([stride, size]) => {
      if (stride > 0) per = Math.min(per, Math.max(1, Math.floor((limit - size) / stride) + 1));
    });
    for (let s = 0; s < batch; s += per) {
      launch(whole, s, Math.min(per, batch - s), accumulate, true);
    }
    return;
  }
  // a matrix is larger than one binding: cut each product into pieces whose rows fit
  const shrink = (x: number, name: string) => {
    if (x <= 4) {
      throw new GpuError(
        `${what}: cannot split ${name} to fit the ${g.maxBindingBytes}-byte binding limit`,
      );
    }
    return Math.max(4, Math.ceil(x / 8) * 4);
  };
  let mc = m;
  let nc = n;
  let kc = k;
  while ((transA ? kc * m : mc * k) > limit) {
    transA ? (kc = shrink(kc, "K")) : (mc = shrink(mc, "M"));
  }
  while ((transB ? nc * k : kc * n) > limit) {
    transB ? (nc = shrink(nc, "N")) : (kc = shrink(kc, "K"));
  }
  while (mc * n > limit || Math.ceil(mc / blockM) > maxGroups) mc = shrink(mc, "M");
  while (Math.ceil(nc / blockN) > maxGroups) nc = shrink(nc, "N");
  for (let item = 0; item < batch; item++) {
    for (let m0 = 0; m0 < m; m0 += mc) {
      for (let n0 = 0; n0 < n; n0 += nc) {
        for (let k0 = 0; k0 < Math.max(k, 1); k0 += Math.max(kc, 1)) {
          const sub = {
            m0,
            m: Math.min(mc, m - m0),
            n0,
            n: Math.min(nc, n - n0),
            k0,
            k: Math.min(kc, k - k0),
          };
          launch(sub, item, 1, accumulate || k0 > 0, k0 === 0);
        }
      }
    }
  }
}
