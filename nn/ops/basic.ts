// Elementwise ops and reductions with their backward rules. Each op makes its output,
// launches kernels, and records how to push the gradient back (see tensor.ts `record`).

import { ArgumentError } from "../../base/errors.ts";
import { sameShape } from "../../base/shape.ts";
import { gpu } from "../../kernels/device.ts";
import * as ew from "../../kernels/elementwise.ts";
import * as red from "../../kernels/reduce.ts";
import { record, type Shape, sizeOf, Tensor } from "../tensor.ts";

function checkSameShape(op: string, a: Tensor, b: Tensor): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new ArgumentError(`${op}: shapes [${a.shape}] and [${b.shape}] differ`);
  }
}

function f32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== "f32") throw new ArgumentError(`${op}: expects f32 tensors, got ${t}`);
  }
}

/** a + b (same shapes; the residual connection). */
export function add(a: Tensor, b: Tensor): Tensor {
  checkSameShape("add", a, b);
  f32("add", a, b);
  const out = Tensor.empty(a.shape);
  ew.add(gpu(), a.buffer, b.buffer, out.buffer, a.size);
  return record(out, "add", [a, b], (g) => [g, g]);
}

/** a * b elementwise (same shapes). */
export function mul(a: Tensor, b: Tensor): Tensor {
  checkSameShape("mul", a, b);
  f32("mul", a, b);
  const out = Tensor.empty(a.shape);
  ew.mul(gpu(), a.buffer, b.buffer, out.buffer, a.size);
  return record(out, "mul", [a, b], (g, needs) => [
    needs[0] ? mul(g, b) : null,
    needs[1] ? mul(g, a) : null,
  ]);
}

/** x * factor + shift */
export function scale(x: Tensor, factor: number, shift = 0): Tensor {
  f32("scale", x);
  const out = Tensor.empty(x.shape);
  ew.scale(gpu(), x.buffer, out.buffer, x.size, factor, shift);
  return record(out, "scale", [x], (g) => [scale(g, factor)]);
}

/** max(x, 0) */
export function relu(x: Tensor): Tensor {
  f32("relu", x);
  const out = Tensor.empty(x.shape);
  ew.relu(gpu(), x.buffer, out.buffer, x.size);
  return record(out, "relu", [x], (g) => {
    const dx = Tensor.empty(x.shape);
    ew.reluBackward(gpu(), g.buffer, out.buffer, dx.buffer, x.size);
    return [dx];
  });
}

/** Resolves `dims` (negative counts from the end) into the [outer, reduce, inner] split. */
function axisSplit(op: string, shape: Shape, dim: number) {
  const d = dim < 0 ? shape.length + dim : dim;
  if (d < 0 || d >= shape.length) {
    throw new ArgumentError(`${op}: dim ${dim} out of range for [${shape}]`);
  }
  return {
    outer: sizeOf(shape.slice(0, d)),
    reduce: shape[d],
    inner: sizeOf(shape.slice(d + 1)),
    kept: shape.filter((_, i) => i !== d),
  };
}

function reduceOp(op: string, x: Tensor, dim: number | undefined, mean: boolean): Tensor {
  f32(op, x);
  const s = dim === undefined
    ? { outer: 1, reduce: x.size, inner: 1, kept: [] as number[] }
    : axisSplit(op, x.shape, dim);
  const factor = mean ? 1 / Math.max(s.reduce, 1) : 1;
  const out = Tensor.empty(s.kept);
  red.sumAxis(gpu(), x.buffer, out.buffer, s.outer, s.reduce, s.inner, factor);
  return record(out, op, [x], (g) => {
    const dx = Tensor.empty(x.shape);
    red.broadcastAxis(gpu(), g.buffer, dx.buffer, s.outer, s.reduce, s.inner, factor);
    return [dx];
  });
}

/** Sum of all elements, or along one dimension (removed from the shape). */
export function sum(x: Tensor, dim?: number): Tensor {
  return reduceOp("sum", x, dim, false);
}

/** Mean of all elements, or along one dimension (removed from the shape). */
export function mean(x: Tensor, dim?: number): Tensor {
  return reduceOp("mean", x, dim, true);
}
