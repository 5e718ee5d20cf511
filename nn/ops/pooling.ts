// Pooling ops over NCHW activations with PyTorch's semantics (floor mode, dilation 1):
// max pooling, average pooling and adaptive average pooling, each with its backward.

import { ArgumentError } from "../../base/errors.ts";
import { type Pair, pair } from "../../base/shape.ts";
import { gpu } from "../../kernels/device.ts";
import * as pool from "../../kernels/pooling.ts";
import { isGradEnabled, record, Tensor } from "../tensor.ts";

/** Options of `maxPool2d` and `avgPool2d`. */
export interface Pool2dOptions {
  /** Window size: one value or [height, width]. */
  kernelSize: Pair;
  /** Default: kernelSize. */
  stride?: Pair;
  /** Zero-based implicit padding on each side. Default 0. */
  padding?: Pair;
}

/** Options of `avgPool2d`. */
export interface AvgPool2dOptions extends Pool2dOptions {
  /** Whether padded positions count in the divisor (PyTorch's default, true). */
  countIncludePad?: boolean;
}

function input4d(op: string, x: Tensor): [number, number, number, number] {
  if (x.shape.length !== 4 || x.dtype !== "f32") {
    throw new ArgumentError(`${op}: expects an f32 [N, C, H, W] input, got ${x}`);
  }
  return x.shape as [number, number, number, number];
}

function poolShape(op: string, x: Tensor, o: Pool2dOptions): pool.Pool2dShape {
  const [n, c, h, w] = input4d(op, x);
  const [kh, kw] = pair(o.kernelSize);
  const [sh, sw] = pair(o.stride ?? o.kernelSize);
  const [ph, pw] = pair(o.padding ?? 0);
  const all = [kh, kw, sh, sw, ph, pw];
  if (!all.every(Number.isInteger) || kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0) {
    throw new ArgumentError(
      `${op}: kernel, stride and padding must be integers (kernel, stride >= 1)`,
    );
  }
  if (2 * ph > kh || 2 * pw > kw) {
    throw new ArgumentError(
      `${op}: padding ${ph}x${pw} must be at most half the kernel ${kh}x${kw}`,
    );
  }
  const oh = pool.poolOutputSize(h, kh, sh, ph);
  const ow = pool.poolOutputSize(w, kw, sw, pw);
  if (oh < 1 || ow < 1) {
    throw new ArgumentError(
      `${op}: input [${x.shape}] is too small for kernel ${kh}x${kw} with padding ${ph}x${pw}`,
    );
  }
  return { n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw };
}

/** Max over each window; padding counts as -inf. The gradient goes to the first maximum. */
export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  const s = poolShape("maxPool2d", x, options);
  const g = gpu();
  const y = Tensor.empty([s.n, s.c, s.oh, s.ow]);
  const withGrad = isGradEnabled() && x.requiresGrad;
  const argmax = withGrad ? Tensor.empty(y.shape, "i32") : null;
  pool.maxPool2dForward(g, x.buffer, y.buffer, argmax?.buffer ?? null, s);
  if (!argmax) return y;
  return record(y, "maxPool2d", [x], (dy) => {
    const dx = Tensor.empty(x.shape);
    pool.maxPool2dBackward(g, dy.buffer, argmax.buffer, dx.buffer, s);
    return [dx];
  });
}

/** Mean over each window. */
export function avgPool2d(x: Tensor, options: AvgPool2dOptions): Tensor {
  const s = poolShape("avgPool2d", x, options);
  const includePad = options.countIncludePad ?? true;
  const g = gpu();
  const y = Tensor.empty([s.n, s.c, s.oh, s.ow]);
  pool.avgPool2dForward(g, x.buffer, y.buffer, s, includePad);
  return record(y, "avgPool2d", [x], (dy) => {
    const dx = Tensor.empty(x.shape);
    pool.avgPool2dBackward(g, dy.buffer, dx.buffer, s, includePad);
    return [dx];
  });
}

/**
 * Average pooling to a fixed output size (a number means square); output cell (i, j)
 * averages rows floor(i*H/oh) .. ceil((i+1)*H/oh)-1 and likewise columns. 1 = global pool.
 */
export function adaptiveAvgPool2d(
  x: Tensor,
  outputSize: Pair,
): Tensor {
  const [n, c, h, w] = input4d("adaptiveAvgPool2d", x);
  const [oh, ow] = pair(outputSize);
  if (!Number.isInteger(oh) || !Number.isInteger(ow) || oh < 1 || ow < 1) {
    throw new ArgumentError(`adaptiveAvgPool2d: output size ${oh}x${ow} must be positive integers`);
  }
  if (h < 1 || w < 1) throw new ArgumentError(`adaptiveAvgPool2d: empty input [${x.shape}]`);
  const s: pool.AdaptiveShape = { n, c, h, w, oh, ow };
  const g = gpu();
  const y = Tensor.empty([n, c, oh, ow]);
  pool.adaptiveAvgPool2dForward(g, x.buffer, y.buffer, s);
  return record(y, "adaptiveAvgPool2d", [x], (dy) => {
    const dx = Tensor.empty(x.shape);
    pool.adaptiveAvgPool2dBackward(g, dy.buffer, dx.buffer, s);
    return [dx];
  });
}
