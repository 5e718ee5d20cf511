// The one tuning table: for each kernel family, which variant runs and with which tile
// parameters, keyed by the adapter profile's kind (software or GPU) and its features. A
// family reads its entry with `tuning(g).<family>`; tests, benchmarks and users change it
// with `overrideTuning` (the one override API). Measured choices between variants, where a
// family has several, are made per shape class in autotune.ts on top of this table.
//
// Why the two kinds differ: CPU software drivers (llvmpipe/lavapipe, SwiftShader) run a
// workgroup as one SIMD thread and turn every divergent storage or workgroup-memory load
// into a loop over the lanes and every barrier into a coroutine switch, so what wins there
// is many FMAs per loaded element in registers, few lanes, no shared memory. A GPU wants
// the opposite: many invocations, workgroup-memory tiles shared by them, coalesced loads.

import type { AdapterProfile } from "./profile.ts";

/** Register-blocked GEMM (gemm.ts "registers"): no workgroup memory. */
export interface RegisterGemmTiles {
  /** Invocations per workgroup along N (x) and M (y). */
  readonly wx: number;
  readonly wy: number;
  /** Outputs per invocation along M (rows) and N (columns); both multiples of 4. */
  readonly tm: number;
  readonly tn: number;
  /** Whether workgroup x walks the M blocks (neighbours share a B strip) or the N blocks. */
  readonly mFastest: boolean;
}

/** Workgroup-memory tiled GEMM: a bm x bn block of C per workgroup, bk of K per tile. */
export interface TiledGemmTiles {
  readonly bm: number;
  readonly bn: number;
  readonly bk: number;
  /** Outputs per invocation along M and N (the workgroup is (bn/tn) x (bm/tm)). */
  readonly tm: number;
  readonly tn: number;
}

export type GemmVariant = "registers" | "tiled";

export interface GemmTuning {
  /** The variant used where no measured choice exists for a shape class. */
  readonly variant: GemmVariant;
  readonly registers: RegisterGemmTiles;
  readonly tiled: TiledGemmTiles;
}

export type ConvVariant = "gather" | "implicit-gemm";

export interface ConvTuning {
  readonly variant: ConvVariant;
  /** The forward / input-gradient gather: invocations per workgroup, channels each (x4). */
  readonly gather: { readonly wg: number; readonly bm: number };
  /**
   * The fixed cost of one more gather launch, in multiply-adds: a launch is split into border
   * regions (fewer multiplies by the zero padding) only when that saves more than this.
   */
  readonly launchMacs: number;
  /** The weight gradient: invocations per workgroup, output channels each (x4 columns). */
  readonly weight: { readonly wg: number; readonly bm: number };
  /**
   * The weight gradient (both variants) splits its long reduction until about this many
   * workgroups run.
   */
  readonly minGroups: number;
  /** ... but keeps at least this many positions per split. */
  readonly minSpan: number;
  /** The implicit-GEMM variant's workgroup-memory tiles (conv2d/implicit_gemm.ts). */
  readonly tiled: TiledGemmTiles;
}

export interface BatchNormTuning {
  /** Workgroup size of every kernel of the family. */
  readonly wg: number;
  /** Elements one statistics lane aims to visit. */
  readonly span: number;
  /** Most statistics lanes per channel and chunk (the combining pass loops over them). */
  readonly maxLanes: number;
  /** Consecutive elements one invocation of the elementwise kernels handles. */
  readonly perInvocation: number;
  /** Reduce each channel's partials with subgroup operations (needs the feature). */
  readonly subgroups: boolean;
  /** Combine subgroups by @builtin(subgroup_id) where WGSL has it (else one slot each). */
  readonly subgroupIds: boolean;
}

export interface PoolTuning {
  /** Workgroup of the windowed kernels: x along a row, y across rows (z: planes). */
  readonly wgX: number;
  readonly wgY: number;
  /** Workgroup size of the flat (adaptive) kernels. */
  readonly wg: number;
}

export interface ReduceTuning {
  /** Workgroup size of the sums (the broadcast back uses 4x). */
  readonly wg: number;
  /** Rows one invocation sums per pass (one-invocation-per-output variant). */
  readonly span: number;
  /** Sum contiguous rows with one workgroup per output and subgroupAdd (needs the feature). */
  readonly subgroups: boolean;
  /** Elements one workgroup sums per pass in the subgroup variant. */
  readonly subgroupSpan: number;
  /** Combine subgroups by @builtin(subgroup_id) where WGSL has it (else one slot each). */
  readonly subgroupIds: boolean;
}

export interface LossTuning {
  /** Workgroup sizes: row passes (one invocation per row) and elementwise passes. */
  readonly rows: number;
  readonly elements: number;
  /** Log-sum-exp and loss rows with one workgroup per row, subgroupMax/subgroupAdd. */
  readonly subgroups: boolean;
  /** Invocations sharing a row in the subgroup variant (a subgroup or a few). */
  readonly rowGroup: number;
  /** Combine subgroups by @builtin(subgroup_id) where WGSL has it (else one slot each). */
  readonly subgroupIds: boolean;
}

export interface Tuning {
  readonly gemm: GemmTuning;
  readonly conv: ConvTuning;
  readonly batchnorm: BatchNormTuning;
  readonly pool: PoolTuning;
  readonly reduce: ReduceTuning;
  readonly loss: LossTuning;
}

/** Measured on lavapipe (2 cores, AVX2/AVX-512); see the file comment. */
export const SOFTWARE_TUNING: Tuning = {
  gemm: {
    variant: "registers",
    // 8 lanes side by side along N (A loads are one broadcast), an 8x16 block each, and
    // workgroups walking down M so neighbours reuse a B strip from cache
    registers: { wx: 8, wy: 1, tm: 8, tn: 16, mFastest: true },
    // when forced or measured: the same 8x16 blocks per invocation win here too (1024^3:
    // ~22 GFLOP/s, against ~5 with 4x4 blocks of 32x32 tiles)
    tiled: { bm: 64, bn: 128, bk: 8, tm: 8, tn: 16 },
  },
  conv: {
    variant: "gather",
    gather: { wg: 8, bm: 32 },
    // ~30 us per dispatch at ~6 G multiply-adds/s
    launchMacs: 200_000,
    weight: { wg: 8, bm: 32 },
    minGroups: 64,
    minSpan: 512,
    tiled: { bm: 32, bn: 32, bk: 16, tm: 4, tn: 4 },
  },
  // few cores: long loops per invocation
  batchnorm: {
    wg: 64,
    span: 256,
    maxLanes: 128,
    perInvocation: 16,
    subgroups: false,
    subgroupIds: true,
  },
  // llvmpipe runs 8 lanes at a time
  pool: { wgX: 8, wgY: 8, wg: 64 },
  reduce: { wg: 64, span: 256, subgroups: false, subgroupSpan: 4096, subgroupIds: true },
  // a loss is a few launches per step: the same sizes serve both kinds of adapter
  loss: { rows: 64, elements: 256, subgroups: false, rowGroup: 32, subgroupIds: true },
};

/** For GPUs: many invocations, workgroup-memory tiles, coalesced loads. */
export const GPU_TUNING: Tuning = {
  gemm: {
    variant: "tiled",
    registers: { wx: 16, wy: 16, tm: 4, tn: 4, mFastest: false },
    tiled: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
  },
  conv: {
    variant: "implicit-gemm",
    gather: { wg: 64, bm: 8 },
    launchMacs: 2_000_000,
    weight: { wg: 64, bm: 8 },
    minGroups: 512,
    minSpan: 256,
    tiled: { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 },
  },
  batchnorm: {
    wg: 256,
    span: 32,
    maxLanes: 1024,
    perInvocation: 1,
    subgroups: true,
    subgroupIds: true,
  },
  pool: { wgX: 32, wgY: 4, wg: 256 },
  reduce: { wg: 64, span: 256, subgroups: true, subgroupSpan: 4096, subgroupIds: true },
  loss: { rows: 64, elements: 256, subgroups: true, rowGroup: 32, subgroupIds: true },
};

/** A partial tuning: any family, any field. */
export type TuningOverride = { readonly [F in keyof Tuning]?: Partial<Tuning[F]> };

interface Slot {
  profile: AdapterProfile;
  override: TuningOverride | null;
  resolved: Tuning;
}

const slots = new WeakMap<object, Slot>();

/** The table's entry for `profile`, with the features it lacks turned off. */
export function tableFor(profile: AdapterProfile): Tuning {
  const base = profile.kind === "software" ? SOFTWARE_TUNING : GPU_TUNING;
  const sub = profile.features.subgroups;
  return {
    ...base,
    batchnorm: { ...base.batchnorm, subgroups: base.batchnorm.subgroups && sub },
    reduce: { ...base.reduce, subgroups: base.reduce.subgroups && sub },
    loss: { ...base.loss, subgroups: base.loss.subgroups && sub },
  };
}

function merge(t: Tuning, o: TuningOverride | null): Tuning {
  if (!o) return t;
  const out: Record<string, unknown> = { ...t };
  for (const [family, fields] of Object.entries(o)) {
    out[family] = { ...(t as unknown as Record<string, object>)[family], ...fields };
  }
  return out as unknown as Tuning;
}

/** Something with an adapter profile: the Gpu (kept structural so this file imports none). */
export interface Profiled {
  readonly profile: AdapterProfile;
}

/** The tuning in force on `g`: the table's entry for its profile plus any override. */
export function tuning(g: Profiled): Tuning {
  let s = slots.get(g);
  if (!s || s.profile !== g.profile) {
    s = { profile: g.profile, override: null, resolved: tableFor(g.profile) };
    slots.set(g, s);
  }
  return s.resolved;
}

/**
 * Overrides fields of the tuning on `g` (tests force variants with it, benchmarks compare
 * tiles); each call replaces the previous override, and null returns to the table. Returns
 * the override that was in force, so a caller can restore it.
 */
export function overrideTuning(g: Profiled, o: TuningOverride | null): TuningOverride | null {
  tuning(g);
  const s = slots.get(g)!;
  const before = s.override;
  validate(o);
  s.override = o;
  s.resolved = merge(tableFor(g.profile), o);
  return before;
}

/** Runs `f` with `o` in force, then restores the previous override (also on a throw). */
export async function withTuning<T>(
  g: Profiled,
  o: TuningOverride,
  f: () => T | Promise<T>,
): Promise<T> {
  const before = overrideTuning(g, o);
  try {
    return await f();
  } finally {
    overrideTuning(g, before);
  }
}

// What every WebGPU adapter runs (the defaults; also SwiftShader's limits): a workgroup of
// at most 256 invocations and 16 KiB of workgroup memory.
const MAX_INVOCATIONS = 256;
const MAX_WORKGROUP_BYTES = 16384;

/**
 * Throws a RangeError naming the field (`where` + ".bm", ...) when the workgroup-memory tiled
 * GEMM cannot run the tiles `t`; the conv family's implicit GEMM may check its tiles with it.
 */
export function checkTiledGemm(t: Partial<TiledGemmTiles>, where: string): void {
  const { bm = NaN, bn = NaN, bk = NaN, tm = NaN, tn = NaN } = t;
  const fail = (field: string, why: string) => {
    throw new RangeError(`${where}${field}: ${why} (got ${JSON.stringify(t)})`);
  };
  for (const [field, x] of Object.entries({ bm, bn, bk, tm, tn })) {
    if (!(Number.isInteger(x) && x > 0)) fail(`.${field}`, "must be a positive integer");
  }
  // each invocation reads its rows and columns of the tiles as vec4, and K steps by 4
  if (tm % 4) fail(".tm", "must be a multiple of 4");
  if (tn % 4) fail(".tn", "must be a multiple of 4");
  if (bk % 4) fail(".bk", "must be a multiple of 4");
  if (bm % tm) fail(".bm", `must be a multiple of tm (${tm})`);
  if (bn % tn) fail(".bn", `must be a multiple of tn (${tn})`);
  const invocations = (bm / tm) * (bn / tn);
  if (invocations > MAX_INVOCATIONS) {
    fail("", `${invocations} invocations per workgroup, more than ${MAX_INVOCATIONS}`);
  }
  const bytes = 2 * (bm * bk + bk * bn) * 4; // two buffers of each tile
  if (bytes > MAX_WORKGROUP_BYTES) {
    fail("", `${bytes} bytes of workgroup memory, more than ${MAX_WORKGROUP_BYTES}`);
  }
}

function validate(o: TuningOverride | null): void {
  // an override's tiles replace the table's whole (merge() is per family), so check them all
  if (o?.gemm?.tiled) checkTiledGemm(o.gemm.tiled, "gemm.tiled");
  const r = o?.gemm?.registers;
  if (r && (r.tm % 4 || r.tn % 4 || r.tm <= 0 || r.tn <= 0)) {
    throw new RangeError(
      `gemm tiles: tm and tn must be positive multiples of 4, got ${r.tm}x${r.tn}`,
    );
  }
  for (const t of [o?.conv?.gather, o?.conv?.weight]) {
    if (t && !(t.bm > 0 && t.bm % 4 === 0 && t.wg > 0)) {
      throw new RangeError(`conv2d tiles: bm must be a positive multiple of 4, got ${t.bm}`);
    }
  }
  const c = o?.conv?.tiled;
  if (c) {
    // conv2d/implicit_gemm.ts: vec4 rows of A and B tiles, each invocation loading a fixed
    // group of 4 columns; WebGPU's default limits (SwiftShader has no more)
    const threads = (c.bm / c.tm) * (c.bn / c.tn);
    if (
      c.tm % 4 || threads > 256 || threads % (c.bm / 4) || threads % (c.bn / 4) ||
      (c.bm + c.bn) * c.bk * 4 > 16384
    ) {
      throw new RangeError(
        `conv2d implicit-gemm tiles ${JSON.stringify(c)}: need tm a multiple of 4, at most 256 ` +
          `invocations ((bm/tm)*(bn/tn), a multiple of bm/4 and bn/4) and at most 16 KiB of ` +
          `workgroup memory ((bm + bn)*bk*4 bytes)`,
      );
    }
  }
  for (const t of [o?.gemm?.tiled, o?.conv?.tiled]) {
    if (t && (t.bm % t.tm || t.bn % t.tn || t.tn % 4 || t.bk % 4)) {
      throw new RangeError(
        `tiled gemm: bm/tm and bn/tn must divide, tn and bk be multiples of 4 (got ` +
          `${JSON.stringify(t)})`,
      );
    }
  }
}
