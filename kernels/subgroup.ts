// WGSL for reductions across a workgroup with subgroup operations (the "subgroups" feature),
// shared by the subgroup variants of reduce.ts, loss.ts and batchnorm.ts.
//
// Nothing here assumes a subgroup size or how invocations are grouped into subgroups (WGSL
// promises neither; sizes 4..128 occur): each subgroup reduces its own values with
// subgroupAdd/subgroupMax, its elected invocation stores the result at its own
// local_invocation_index in workgroup memory (every other slot holds the neutral value), and
// after a barrier every invocation folds the whole array in index order. The order of the
// fold is fixed, so results do not depend on which invocations formed a subgroup. Callers
// must call these from uniform control flow (no early return that depends on the
// invocation), since they contain subgroup operations and barriers.

import type { Gpu } from "./device.ts";
import { GpuError } from "./errors.ts";

/** The `enable` list of a variant: subgroups or nothing. */
export function subgroupEnables(on: boolean): readonly string[] {
  return on ? ["subgroups"] : [];
}

/**
 * Whether a family runs its subgroup variant: the tuning asks for it (the table turns it off
 * where the adapter lacks the feature; an override that forces it on there is an error, not
 * a silent fallback to the other variant).
 */
export function useSubgroups(g: Gpu, wanted: boolean, family: string): boolean {
  if (wanted && !g.profile.features.subgroups) {
    throw new GpuError(
      `${family}: the subgroup variant was requested but this adapter has no "subgroups" feature`,
    );
  }
  return wanted;
}

/**
 * Declares `fn <name>(v: <type>, lid: u32) -> <type>`: the reduction (`op` "add" or "max")
 * of v over the `wg` invocations of the workgroup, returned to every invocation. `zero` is
 * the neutral value as a WGSL expression. Uses a workgroup array of `wg` values.
 */
export function workgroupReduceWgsl(
  name: string,
  type: string,
  op: "add" | "max",
  zero: string,
  wg: number,
): string {
  const sub = op === "add" ? "subgroupAdd" : "subgroupMax";
  const fold = op === "add" ? "acc = acc + s;" : "acc = max(acc, s);";
  return /* wgsl */ `
var<workgroup> ${name}Slots: array<${type}, ${wg}>;
fn ${name}(v: ${type}, lid: u32) -> ${type} {
  let t = ${sub}(v);
  let leader = subgroupElect();
  ${name}Slots[lid] = select(${zero}, t, leader);
  workgroupBarrier();
  var acc = ${zero};
  for (var i = 0u; i < ${wg}u; i++) {
    let s = ${name}Slots[i];
    ${fold}
  }
  workgroupBarrier(); // the slots may be reused by a later call
  return acc;
}`;
}
