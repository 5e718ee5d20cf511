// Batch normalisation of NCHW activations with PyTorch's semantics (F.batch_norm): in
// training mode it normalises with the batch mean and biased variance and updates the
// running statistics in place (momentum, unbiased variance); in eval mode it uses them.

import { ArgumentError } from "../../base/errors.ts";
import { gpu } from "../../kernels/device.ts";
import * as bn from "../../kernels/batchnorm.ts";
import { isGradEnabled, record, Tensor } from "../tensor.ts";

/** Options of `batchNorm2d`. */
export interface BatchNormOptions {
  /** Batch statistics (true) or running statistics (false). Default true. */
  training?: boolean;
  /** Weight of the batch statistics in the running update. Default 0.1. */
  momentum?: number;
  /** Added to the variance. Default 1e-5. */
  eps?: number;
}

function checkChannelVector(what: string, t: Tensor | null, c: number): void {
  if (!t) return;
  if (t.dtype !== "f32" || t.size !== c) {
    throw new ArgumentError(
      `batchNorm2d: ${what} ${t} must be an f32 tensor of ${c} values (channels)`,
    );
  }
}

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias per channel of x [N, C, H, W]. The
 * running statistics (no autograd) are updated on the GPU in training mode when given.
 */
export function batchNorm2d(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: BatchNormOptions = {},
): Tensor {
  const { training = true, momentum = 0.1, eps = 1e-5 } = options;
  if (x.shape.length !== 4 || x.dtype !== "f32") {
    throw new ArgumentError(`batchNorm2d: expects an f32 [N, C, H, W] input, got ${x}`);
  }
  const [n, c, h, w] = x.shape;
  const shape: bn.BnShape = { n, c, hw: h * w };
  checkChannelVector("weight", weight, c);
  checkChannelVector("bias", bias, c);
  checkChannelVector("running_mean", runningMean, c);
  checkChannelVector("running_var", runningVar, c);
  if (Boolean(runningMean) !== Boolean(runningVar)) {
    throw new ArgumentError("batchNorm2d: give both running_mean and running_var, or neither");
  }
  const g = gpu();
  const coef = Tensor.empty([c, 4]); // per channel: mean, invstd, scale, bias
  const params = { weight: weight?.buffer, bias: bias?.buffer, eps };
  if (training) {
    if (n * h * w < 2) {
      throw new ArgumentError(
        `batchNorm2d: expected more than 1 value per channel when training, got input [${x.shape}]`,
      );
    }
    const running = runningMean && runningVar
      ? { mean: runningMean.buffer, var: runningVar.buffer, momentum }
      : null;
    bn.batchNormTrainCoef(g, x.buffer, coef.buffer, shape, { ...params, running });
  } else {
    if (!runningMean || !runningVar) {
      throw new ArgumentError("batchNorm2d: eval mode needs running_mean and running_var");
    }
    bn.batchNormEvalCoef(g, runningMean.buffer, runningVar.buffer, coef.buffer, c, params);
  }
  const y = Tensor.empty(x.shape);
  bn.batchNormApply(g, x.buffer, coef.buffer, y.buffer, shape);

  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad)) {
    coef.dispose();
    return y;
  }
  return record(y, "batchNorm2d", inputs, (dy, needs) => {
    const need = (t: Tensor | null) => t !== null && needs[inputs.indexOf(t)];
    const dx = need(x) ? Tensor.empty(x.shape) : null;
    const dweight = need(weight) ? Tensor.empty(weight!.shape) : null;
    const dbias = need(bias) ? Tensor.empty(bias!.shape) : null;
    bn.batchNormBackward(g, x.buffer, dy.buffer, coef.buffer, shape, {
      training,
      weight: weight?.buffer,
      dx: dx?.buffer,
      dweight: dweight?.buffer,
      dbias: dbias?.buffer,
    });
    return [x, weight, bias].filter((t) => t !== null).map((t) =>
      t === x ? dx : t === weight ? dweight : dbias
    );
  });
}
