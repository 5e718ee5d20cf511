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
}

export interface PoolTuning {
  /** Workgroup of the windowed kernels: x along a row, y across rows (z: planes). */
  readonly wgX: number;
  readonly wgY: number;
  /** Workgroup size of the flat (adaptive) kernels. */
  readonly wg: number;
}

export interface ReduceTuning {
  /** Sum rows with subgroup operations (needs the feature). */
  readonly subgroups: boolean;
}

export interface LossTuning {
  /** One subgroup per row of logits instead of one invocation (needs the feature). */
  readonly subgroups: boolean;
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
    tiled: { bm: 32, bn: 32, bk: 16, tm: 4, tn: 4 },
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
  batchnorm: { wg: 64, span: 256, maxLanes: 128, perInvocation: 16, subgroups: false },
  // llvmpipe runs 8 lanes at a time
  pool: { wgX: 8, wgY: 8, wg: 64 },
  reduce: { subgroups: false },
  loss: { subgroups: false },
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
  batchnorm: { wg: 256, span: 32, maxLanes: 1024, perInvocation: 1, subgroups: true },
  pool: { wgX: 32, wgY: 4, wg: 256 },
  reduce: { subgroups: true },
  loss: { subgroups: true },
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
    reduce: { subgroups: base.reduce.subgroups && sub },
    loss: { subgroups: base.loss.subgroups && sub },
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

function validate(o: TuningOverride | null): void {
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
