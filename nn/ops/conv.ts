// conv2d with its backward rule: NCHW input, OIHW weight, optional bias, groups = 1.
// The backward launches only what is needed: no weight gradient for a frozen weight, no
// input gradient for the first layer's input.

import { ArgumentError } from "../../base/errors.ts";
import { type Pair, pair } from "../../base/shape.ts";
import { gpu } from "../../kernels/device.ts";
import {
  conv2dBiasGrad,
  conv2dForward,
  type Conv2dGeometry,
  conv2dInputGrad,
  conv2dOutputSize,
  conv2dWeightGrad,
} from "../../kernels/conv2d/mod.ts";
import { record, Tensor } from "../tensor.ts";

/** Options of `conv2d`. */
export interface Conv2dOptions {
  /** One value for both dimensions, or [height, width]. Default 1. */
  stride?: Pair;
  /** Zero padding on each side: one value, or [height, width]. Default 0. */
  padding?: Pair;
}

function checkedPair(op: string, name: string, v: Pair, min: number) {
  const [a, b] = pair(v);
  if (!Number.isInteger(a) || !Number.isInteger(b) || a < min || b < min) {
    throw new ArgumentError(`${op}: ${name} must be integers >= ${min}, got ${v}`);
  }
  return [a, b];
}

/** The geometry of conv2d(x, weight) after checking the shapes; throws naming the op. */
export function conv2dGeometry(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  options: Conv2dOptions = {},
): Conv2dGeometry {
  const op = "conv2d";
  if (x.shape.length !== 4) {
    throw new ArgumentError(`${op}: input must be [N, C, H, W], got [${x.shape}]`);
  }
  if (weight.shape.length !== 4) {
    throw new ArgumentError(`${op}: weight must be [O, C, KH, KW], got [${weight.shape}]`);
  }
  for (const t of [x, weight, bias]) {
    if (t && t.dtype !== "f32") throw new ArgumentError(`${op}: expects f32 tensors, got ${t}`);
  }
  const [n, c, h, w] = x.shape;
  const [o, wc, kh, kw] = weight.shape;
  if (wc !== c) {
    throw new ArgumentError(
      `${op}: input [${x.shape}] has ${c} channels but weight [${weight.shape}] expects ${wc}`,
    );
  }
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== o)) {
    throw new ArgumentError(`${op}: bias must be [${o}], got [${bias.shape}]`);
  }
  const [strideH, strideW] = checkedPair(op, "stride", options.stride ?? 1, 1);
  const [padH, padW] = checkedPair(op, "padding", options.padding ?? 0, 0);
  const s = { n, c, h, w, o, kh, kw, strideH, strideW, padH, padW };
  conv2dOutputSize(s); // throws when the kernel does not fit
  return s;
}

/**
 * 2-D convolution (cross-correlation, as PyTorch's conv2d): x [N, C, H, W], weight
 * [O, C, KH, KW], bias [O] or null -> [N, O, OH, OW].
 */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  options: Conv2dOptions = {},
): Tensor {
  const s = conv2dGeometry(x, weight, bias, options);
  const { oh, ow } = conv2dOutputSize(s);
  const g = gpu();
  const out = Tensor.empty([s.n, s.o, oh, ow]);
  conv2dForward(g, x.buffer, weight.buffer, bias?.buffer ?? null, out.buffer, s);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, "conv2d", inputs, (dy, needs) => {
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0]) {
      dx = Tensor.empty(x.shape);
      conv2dInputGrad(g, dy.buffer, weight.buffer, dx.buffer, s);
    }
    if (needs[1]) {
      dw = Tensor.empty(weight.shape);
      conv2dWeightGrad(g, x.buffer, dy.buffer, dw.buffer, s);
    }
    if (bias && needs[2]) {
      db = Tensor.empty(bias.shape);
      conv2dBiasGrad(g, dy.buffer, db.buffer, s);
    }
    return bias ? [dx, dw, db] : [dx, dw];
  });
}
