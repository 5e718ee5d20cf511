// The register-blocked GEMM variant (for software adapters): the WGSL body of C = op(A)·op(B)
// (+ bias) with each invocation keeping a tm x tn block of C in registers and reading A and B
// straight from storage, four steps of K at a time; there is no workgroup memory (see
// tuning.ts for why that wins on the software driver). Rows and columns past the edges read
// clamped addresses and are never stored, so no branch sits inside the K loop. The launcher,
// the bindings and the parameters are in gemm.ts.

import type { RegisterGemmTiles } from "./tuning.ts";

/** How the operands are laid out; equal layouts (and tiles) give equal WGSL. */
export interface GemmLayout {
  transA: boolean;
  transB: boolean;
  vecA: boolean;
  vecB: boolean;
  vecC: boolean;
  /** C += ... (reads C: a compile-time choice, so plain products do not pay for it). */
  accumulate: boolean;
}

export interface RegistersVariant extends GemmLayout {
  tiles: RegisterGemmTiles;
}

/** The bias mode costs nothing in the K loop, so it is a uniform (fewer pipelines). */
export const BIAS_NONE = 0;
export const BIAS_N = 1;
export const BIAS_M = 2;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

const LANE = ["x", "y", "z", "w"];

/** The WGSL body of one variant (gemm.ts declares the bindings and parameters). */
export function registersBody(v: RegistersVariant): string {
  const { wx, wy, tm, tn, mFastest } = v.tiles;
  const groups = tn / 4; // vec4 column groups per invocation
  const bm = wy * tm;
  const bn = wx * tn;
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
  return /* wgsl */ `
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
