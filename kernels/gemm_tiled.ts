// The workgroup-memory tiled GEMM variant (for GPUs): the WGSL body of C = op(A)·op(B)
// (+ bias). A workgroup computes a bm x bn block of C; for each step of bk along K its
// invocations load a bm x bk tile of op(A) and a bk x bn tile of op(B) into workgroup memory
// together (vec4 loads where the layout allows), and each invocation then keeps a tm x tn
// block of C in registers, reading the tiles as vec4. The tiles are double-buffered: the
// next step's loads go to registers before the FMAs on the current tile and to the other
// buffer after them, so one barrier per step suffices and memory latency overlaps the FMAs.
// Rows and columns past the edges read clamped addresses (never stored); K past its end
// reads zeros. The launcher, the bindings and the parameters are in gemm.ts.

import { BIAS_M, BIAS_N, type GemmLayout } from "./gemm_registers.ts";
import type { TiledGemmTiles } from "./tuning.ts";

export interface TiledVariant extends GemmLayout {
  tiles: TiledGemmTiles;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

const LANE = ["x", "y", "z", "w"];

/**
 * The cooperative load of one operand's tile, as WGSL: `fetch` reads this invocation's share
 * of the tile for the step starting at K index `k0` into registers, `store` writes them to
 * the tile buffer starting at vec4 index `tileAt`. The tile is kept K-major (bk rows of `span`
 * values along M or N, vec4 along M or N), whichever way the operand is stored.
 */
function tileLoad(o: {
  /** The operand's binding and the prefix of its registers. */
  name: string;
  /** Read as vec4 along its contiguous dimension. */
  vec: boolean;
  /** Its contiguous dimension is M (or N), i.e. the rows in memory are steps of K. */
  kRows: boolean;
  /** bm or bn, and the matching size parameter and block start. */
  span: number;
  size: string;
  start: string;
  base: string;
  ld: string;
  bk: number;
  threads: number;
}): { regs: string[]; fetch: string[]; store: string[] } {
  const { name, vec, kRows, span, bk, threads } = o;
  const width = vec ? 4 : 1;
  const rowLength = kRows ? span : bk; // values along the contiguous dimension
  const perRow = rowLength / width;
  const units = (kRows ? bk : span) * perRow;
  const regs: string[] = [];
  const fetch: string[] = [];
  const store: string[] = [];
  for (const s of range(Math.ceil(units / threads))) {
    const r = `${name}${s}`;
    // the last round may cover fewer units than there are invocations
    const u = s === 0 ? "tid" : `(tid + ${s * threads}u)`;
    const guard = (s + 1) * threads > units ? `if (${u} < ${units}u) ` : "";
    const row = `(${u} / ${perRow}u)`;
    const col = `(${u} % ${perRow}u * ${width}u)`;
    const zero = vec ? "vec4f(0.0)" : "0.0";
    regs.push(`var ${r} = ${zero};`);
    // the index along M/N, clamped into the matrix (a vec4 run lies wholly inside: the size
    // is then a multiple of 4), and the index along K, which reads zero past its end
    const [mn, kk] = kRows ? [col, row] : [row, col];
    const mnLast = vec && kRows ? `${o.size} - 4u` : `${o.size} - 1u`;
    const kLast = vec && !kRows ? "max(p.k, 4u) - 4u" : "max(p.k, 1u) - 1u";
    fetch.push(`${guard}{`);
    fetch.push(`  let mn = min(${o.start} + ${mn}, ${mnLast});`);
    fetch.push(`  let kg = k0 + ${kk};`);
    fetch.push(`  let kc = min(kg, ${kLast});`);
    const at = kRows ? `${o.base} + kc * ${o.ld} + mn` : `${o.base} + mn * ${o.ld} + kc`;
    fetch.push(`  ${r} = select(${zero}, ${name}[${vec ? `(${at}) >> 2u` : at}], kg < p.k);`);
    fetch.push(`}`);
    // into the K-major tile: row kk, vec4 column mn / 4, lane mn % 4
    const cell = (kOff: string, lane: string) =>
      `${name}s[tileAt + (${kk}${kOff}) * ${span / 4}u + ${mn} / 4u]${lane}`;
    store.push(`${guard}{`);
    if (vec && kRows) store.push(`  ${cell("", "")} = ${r};`);
    else if (vec) {
      // a vec4 along K goes to four rows of the tile
      for (const t of range(4)) {
        store.push(`  ${cell(` + ${t}u`, `[${mn} % 4u]`)} = ${r}.${LANE[t]};`);
      }
    } else store.push(`  ${cell("", `[${mn} % 4u]`)} = ${r};`);
    store.push(`}`);
  }
  return { regs, fetch, store };
}

/** The WGSL body of one variant (gemm.ts declares the bindings and parameters). */
export function tiledBody(v: TiledVariant): string {
  const { bm, bn, bk, tm, tn } = v.tiles;
  const wx = bn / tn;
  const wy = bm / tm;
  const threads = wx * wy;
  const aTile = (bk * bm) / 4; // vec4s per tile buffer
  const bTile = (bk * bn) / 4;
  const common = { bk, threads };
  const a = tileLoad({
    ...common,
    name: "A",
    vec: v.vecA,
    kRows: v.transA,
    span: bm,
    size: "p.m",
    start: "m0",
    base: "aBase",
    ld: "p.lda",
  });
  const b = tileLoad({
    ...common,
    name: "B",
    vec: v.vecB,
    kRows: !v.transB,
    span: bn,
    size: "p.n",
    start: "n0",
    base: "bBase",
    ld: "p.ldb",
  });
  const lines: string[] = [];
  const emit = (s: string) => lines.push(s);

  // ---- the FMAs of one step: rows lid.y * tm + i, column groups (j * wx + lid.x) * 4 ----
  // A reads are broadcasts within a row of invocations; neighbours read neighbouring B vec4s
  emit(`let ao = aAt + kk * ${bm / 4}u + lid.y * ${tm / 4}u;`);
  for (const q of range(tm / 4)) emit(`let a${q} = As[ao + ${q}u];`);
  emit(`let bo = bAt + kk * ${bn / 4}u + lid.x;`);
  for (const j of range(tn / 4)) emit(`let b${j} = Bs[bo + ${j * wx}u];`);
  for (const i of range(tm)) {
    for (const j of range(tn / 4)) {
      emit(`acc${i}_${j} = fma(vec4f(a${i >> 2}.${LANE[i & 3]}), b${j}, acc${i}_${j});`);
    }
  }
  const fmas = lines.splice(0);

  // ---- stores: bias, accumulation, edges ----
  for (const j of range(tn / 4)) {
    emit(`let col${j} = n0 + ${j * wx * 4}u + lid.x * 4u;`);
    emit(`var bn${j} = vec4f(0.0);`);
    emit(`if (p.bias == ${BIAS_N}u) {`);
    emit(
      `  bn${j} = vec4f(${
        range(4).map((t) => `bias[p.offBias + min(col${j} + ${t}u, p.n - 1u)]`).join(", ")
      });`,
    );
    emit(`}`);
  }
  for (const i of range(tm)) {
    emit(`if (row0 + ${i}u < p.m) {`);
    emit(`  let cr = cBase + (row0 + ${i}u) * p.ldc;`);
    emit(`  var bm = 0.0;`);
    emit(`  if (p.bias == ${BIAS_M}u) { bm = bias[p.offBias + row0 + ${i}u]; }`);
    for (const j of range(tn / 4)) {
      const value = `acc${i}_${j} + bn${j} + vec4f(bm)`;
      if (v.vecC) {
        emit(`  if (col${j} < p.n) {`);
        emit(`    let at = (cr + col${j}) >> 2u;`);
        emit(`    C[at] = ${v.accumulate ? "C[at] + " : ""}${value};`);
        emit(`  }`);
      } else {
        emit(`  {`);
        emit(`    let v = ${value};`);
        for (const t of range(4)) {
          emit(`    if (col${j} + ${t}u < p.n) {`);
          emit(`      let at = cr + col${j} + ${t}u;`);
          emit(`      C[at] = ${v.accumulate ? "C[at] + " : ""}v.${LANE[t]};`);
          emit(`    }`);
        }
        emit(`  }`);
      }
    }
    emit(`}`);
  }
  const store = lines.splice(0);

  const accs = range(tm).flatMap((i) => range(tn / 4).map((j) => `var acc${i}_${j} = vec4f(0.0);`));
  const indent = (ls: string[], pad: string) => ls.join("\n" + pad);
  // Control flow around the barriers depends only on uniforms (p.k), as WGSL requires.
  return /* wgsl */ `
var<workgroup> As: array<vec4f, ${2 * aTile}>;
var<workgroup> Bs: array<vec4f, ${2 * bTile}>;

@compute @workgroup_size(${wx}, ${wy})
fn main(
  @builtin(workgroup_id) wg: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) tid: u32,
) {
  let m0 = wg.y * ${bm}u;
  let n0 = wg.x * ${bn}u;
  let row0 = m0 + lid.y * ${tm}u;
  let aBase = p.offA + wg.z * p.strideA;
  let bBase = p.offB + wg.z * p.strideB;
  let cBase = p.offC + wg.z * p.strideC;
  let steps = (p.k + ${bk - 1}u) / ${bk}u;
  ${indent(accs, "  ")}

  // this invocation's share of the next tiles, between their loads and their stores
  ${indent([...a.regs, ...b.regs], "  ")}
  // the first tiles, into buffer 0
  var k0 = 0u;
  var tileAt = 0u;
  ${indent(a.fetch, "  ")}
  ${indent(b.fetch, "  ")}
  ${indent(a.store, "  ")}
  ${indent(b.store, "  ")}
  workgroupBarrier();
  for (var step = 0u; step < steps; step++) {
    let aAt = (step & 1u) * ${aTile}u;
    let bAt = (step & 1u) * ${bTile}u;
    let more = step + 1u < steps;
    // the next step's values go to registers before the FMAs, to hide their latency
    if (more) {
      k0 = (step + 1u) * ${bk}u;
      ${indent(a.fetch, "      ")}
      ${indent(b.fetch, "      ")}
    }
    for (var kk = 0u; kk < ${bk}u; kk++) {
      ${indent(fmas, "      ")}
    }
    // and to the other buffer after them: its last readers passed the previous barrier
    if (more) {
      tileAt = ((step + 1u) & 1u) * ${aTile}u;
      ${indent(a.store, "      ")}
      tileAt = ((step + 1u) & 1u) * ${bTile}u;
      ${indent(b.store, "      ")}
    }
    workgroupBarrier();
  }
  ${indent(store, "  ")}
}
`;
}
