// Finding NaN and infinite values in host tensors: a weight file holding them is refused
// by default (a model that loads them only produces NaN), and a model that diverged is
// never saved as a checkpoint. Web-standard only.

import { halfToFloat, type StateDict } from "./host_tensor.ts";

export interface NonFinite {
  name: string;
  /** How many elements are NaN or ±Infinity. */
  count: number;
  size: number;
}

/** The floating-point tensors of `dict` that hold NaN or ±Infinity (integers never do). */
export function nonFiniteTensors(dict: StateDict): NonFinite[] {
  const out: NonFinite[] = [];
  for (const [name, t] of dict) {
    let count = 0;
    if (t.dtype === "f32") {
      const d = t.data as Float32Array;
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) count++;
    } else if (t.dtype === "f16") {
      const d = t.data as Uint16Array;
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(halfToFloat(d[i]))) count++;
    } else if (t.dtype === "bf16") {
      // the exponent bits all set: Inf or NaN
      const d = t.data as Uint16Array;
      for (let i = 0; i < d.length; i++) if ((d[i] & 0x7f80) === 0x7f80) count++;
    }
    if (count > 0) out.push({ name, count, size: t.data.length });
  }
  return out;
}

/** "conv1.weight (3 of 9408), fc.bias (10 of 10)" for at most `max` tensors, then "and N more". */
export function describeNonFinite(list: NonFinite[], max = 5): string {
  const shown = list.slice(0, max).map((t) => `${t.name} (${t.count} of ${t.size})`);
  if (list.length > max) shown.push(`and ${list.length - max} more tensors`);
  return shown.join(", ");
}

/** Throws, naming the tensors, when `dict` holds NaN or ±Infinity. */
export function assertFinite(dict: StateDict, what: string, hint: string): void {
  const bad = nonFiniteTensors(dict);
  if (bad.length === 0) return;
  const total = bad.reduce((n, t) => n + t.count, 0);
  throw new Error(
    `${what} holds ${total} non-finite values (NaN or infinity) in ${bad.length} tensors: ` +
      `${describeNonFinite(bad)}; ${hint}`,
  );
}
