// One call to check an op: its forward against a CPU reference in f64, and the gradient of
// every input that requires one against central finite differences of that reference (the
// model: tinygrad's helper_test_op). The loss is sum(w * y) with a fixed random weighting w,
// seeded into backward(), so every output element matters to every gradient.
//
// Tolerances (stated per check, defaults below): the GPU computes in f32, so the forward is
// good to a few f32 ulps of the values' scale (~1e-6 for the small sums of values < 1 these
// tests use); central differences of the f64 reference with eps 1e-6 are exact to ~1e-9 for
// smooth ops, so a gradient tolerance of 2e-5 absolute + 1e-4 relative separates a right
// gradient from a wrong one by orders of magnitude. Ops with kinks (max, relu) need inputs
// away from the kinks or a larger eps (the test says which).

import { Scope, Tensor } from "../nn/tensor.ts";
import { assertClose, numericGrad, randomArray, weightedSum } from "./helpers.ts";

export interface Tolerance {
  atol: number;
  rtol: number;
}

export const FORWARD_TOL: Tolerance = { atol: 1e-5, rtol: 1e-4 };
export const GRAD_TOL: Tolerance = { atol: 2e-5, rtol: 1e-4 };

export interface OpInput {
  shape: number[];
  data: ArrayLike<number>;
  /** Check this input's gradient (default true). */
  grad?: boolean;
}

export interface OpCheck {
  /** The op's inputs, by name (the names label failures). */
  inputs: Record<string, OpInput>;
  /** The op on the GPU. */
  op: (x: Record<string, Tensor>) => Tensor;
  /** The same computation on the CPU in f64, row-major. */
  reference: (x: Record<string, Float64Array>) => ArrayLike<number>;
  forward?: Tolerance;
  grad?: Tolerance;
  /** Step of the central differences (default 1e-6). */
  eps?: number;
  /** Seed of the loss weighting w (default 7). */
  seed?: number;
}

/**
 * Throws, naming the op, the input and the element, where the op is off its reference.
 * Returns which inputs received a gradient (a frozen input, `grad: false`, should not).
 */
export async function checkOp(name: string, c: OpCheck): Promise<Record<string, boolean>> {
  using _ = new Scope();
  const names = Object.keys(c.inputs);
  const wantsGrad = (k: string) => c.inputs[k].grad !== false;
  const tensors: Record<string, Tensor> = {};
  const hosts: Record<string, Float64Array> = {};
  for (const k of names) {
    const { shape, data } = c.inputs[k];
    hosts[k] = Float64Array.from(data);
    tensors[k] = Tensor.fromArray(Float32Array.from(data), shape, { requiresGrad: wantsGrad(k) });
  }
  const y = c.op(tensors);
  const expected = c.reference(hosts);
  assertClose(await y.toArray(), expected, {
    ...(c.forward ?? FORWARD_TOL),
    what: `${name} forward`,
  });

  const gotGrad = () => Object.fromEntries(names.map((k) => [k, tensors[k].grad !== null]));
  if (!names.some(wantsGrad)) return gotGrad();
  const w = randomArray(expected.length, c.seed ?? 7);
  y.backward(Tensor.fromArray(w, y.shape));
  for (const k of names.filter(wantsGrad)) {
    const loss = (v: Float64Array) => weightedSum(c.reference({ ...hosts, [k]: v }), w);
    const numeric = numericGrad(loss, hosts[k], c.eps ?? 1e-6);
    const grad = tensors[k].grad;
    if (!grad) throw new Error(`${name}: input ${k} got no gradient`);
    assertClose(await grad.toArray(), numeric, { ...(c.grad ?? GRAD_TOL), what: `${name} d${k}` });
  }
  return gotGrad();
}
