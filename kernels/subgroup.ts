// WGSL for reductions across a workgroup with subgroup operations (the "subgroups" feature),
// shared by the subgroup variants of reduce.ts, loss.ts and batchnorm.ts.
//
// Nothing here assumes a subgroup size or how invocations are grouped into subgroups (WGSL
// promises neither; sizes 4..128 occur): each subgroup reduces its own values with
// subgroupAdd/subgroupMax, its elected invocation stores the result in a workgroup slot,
// and after a barrier every invocation folds the slots in index order, so results do not
// depend on timing. The slot is the subgroup's @builtin(subgroup_id) where WGSL has that
// builtin (the "subgroup_id" language feature; num_subgroups slots are folded), else the
// invocation's local_invocation_index (every other slot holds the neutral value; all wg
// slots are folded). Callers call these from uniform control flow (no early return that
// depends on the invocation), since they contain subgroup operations and barriers.

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

/** Whether this WGSL implementation has @builtin(subgroup_id) and num_subgroups. */
export function wgslHasSubgroupId(): boolean {
  const gpu = (globalThis.navigator as { gpu?: { wgslLanguageFeatures?: ReadonlySet<string> } })
    ?.gpu;
  return gpu?.wgslLanguageFeatures?.has("subgroup_id") ?? false;
}

/** How a workgroup reduction finds its slots: subgroup ids, or one slot per invocation. */
export interface SubgroupSlots {
  /** Use @builtin(subgroup_id): num_subgroups slots instead of wg. */
  ids: boolean;
  wg: number;
}

/** The entry point's extra parameters a reduction needs (after the caller's own). */
export function slotBuiltins(s: SubgroupSlots): string {
  return s.ids ? "@builtin(subgroup_id) sgId: u32, @builtin(num_subgroups) sgCount: u32," : "";
}

/** The arguments `slot, slots` to pass to a reduction declared by workgroupReduceWgsl. */
export function slotArgs(s: SubgroupSlots, lid = "lid"): string {
  return s.ids ? "sgId, sgCount" : `${lid}, ${s.wg}u`;
}

/**
 * Declares `fn <name>(v: <type>, slot: u32, slots: u32) -> <type>`: the reduction (`op`
 * "add" or "max") of v over the workgroup, returned to every invocation; call it as
 * `<name>(v, ${slotArgs(...)})`. `zero` is the neutral value as a WGSL expression.
 */
export function workgroupReduceWgsl(
  name: string,
  type: string,
  op: "add" | "max",
  zero: string,
  s: SubgroupSlots,
): string {
  const sub = op === "add" ? "subgroupAdd" : "subgroupMax";
  const fold = op === "add" ? "acc = acc + v;" : "acc = max(acc, v);";
  // with ids only elected invocations write; else every invocation writes its own slot
  const store = s.ids
    ? `if (leader) { ${name}Slots[slot] = t; }`
    : `${name}Slots[slot] = select(${zero}, t, leader);`;
  return /* wgsl */ `
var<workgroup> ${name}Slots: array<${type}, ${s.wg}>;
fn ${name}(value: ${type}, slot: u32, slots: u32) -> ${type} {
  let t = ${sub}(value);
  let leader = subgroupElect();
  ${store}
  workgroupBarrier();
  var acc = ${zero};
  for (var i = 0u; i < slots; i++) {
    let v = ${name}Slots[i];
    ${fold}
  }
  workgroupBarrier(); // the slots may be reused by a later call
  return acc;
}`;
}
