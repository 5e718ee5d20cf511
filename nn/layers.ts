// The layers ResNet18 and its fine-tuning recipes need, with PyTorch's names, defaults and
// initialisation. Field names are the state-dict names (`running_mean`, not runningMean).

import { ArgumentError } from "../base/errors.ts";
import { type Pair, pair } from "../base/shape.ts";
import { gpu } from "../kernels/device.ts";
import { incrementInt } from "../kernels/elementwise.ts";
import { defaultBias, defaultWeight, xavierUniform } from "./init.ts";
import { Module } from "./module.ts";
import { relu } from "./ops/basic.ts";
import { conv2d } from "./ops/conv.ts";
import { linear } from "./ops/linear.ts";
import { dropout } from "./ops/dropout.ts";
import { batchNorm2d } from "./ops/norm.ts";
import { adaptiveAvgPool2d, maxPool2d } from "./ops/pooling.ts";
import { Rng } from "../base/rng.ts";
import { Tensor } from "./tensor.ts";

let defaultSeed = 0;
/** A fresh generator per layer when no seed is given, so layers differ but runs repeat. */
function layerRng(rng?: Rng): Rng {
  return rng ?? new Rng(0x5eed + defaultSeed++);
}

export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly stride: Pair;
  readonly padding: Pair;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: Pair,
    options: { stride?: Pair; padding?: Pair; bias?: boolean; rng?: Rng } = {},
  ) {
    super();
    const [kh, kw] = pair(kernelSize);
    const shape = [outChannels, inChannels, kh, kw];
    const rng = layerRng(options.rng);
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.weight = Tensor.parameter(defaultWeight(shape, rng), shape);
    this.bias = options.bias === false
      ? null
      : Tensor.parameter(defaultBias(outChannels, inChannels * kh * kw, rng), [outChannels]);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
}

/** Batch normalisation over N, H, W per channel (torch.nn.BatchNorm2d, affine, tracked stats). */
export class BatchNorm2d extends Module {
  /** Per-channel scale γ, initialised to 1. */
  weight: Tensor;
  /** Per-channel shift β, initialised to 0. */
  bias: Tensor;
  /** The running mean used in evaluation mode (a buffer). */
  running_mean: Tensor;
  /** The running (unbiased) variance used in evaluation mode (a buffer). */
  running_var: Tensor;
  /**
   * Batches seen in training mode: a one-element i32 buffer, counted on the GPU with the
   * step's launches, and an int64 scalar in state dicts (torchvision's dtype).
   */
  num_batches_tracked: Tensor;
  /**
   * Keep evaluation mode (running statistics, no updates) even under train(): how a frozen
   * backbone is fine-tuned without its statistics drifting. PyTorch has no flag for this;
   * its users call .eval() on the BatchNorm modules after model.train().
   */
  lockedEval = false;

  /** `numFeatures` channels; `eps` (default 1e-5) and `momentum` (0.1) as in PyTorch. */
  constructor(
    readonly numFeatures: number,
    readonly options: { eps?: number; momentum?: number } = {},
  ) {
    super();
    const c = [numFeatures];
    this.weight = Tensor.parameter(new Float32Array(numFeatures).fill(1), c);
    this.bias = Tensor.parameter(new Float32Array(numFeatures), c);
    this.running_mean = Tensor.fromArray(new Float32Array(numFeatures), c).keep();
    this.running_var = Tensor.fromArray(new Float32Array(numFeatures).fill(1), c).keep();
    this.num_batches_tracked = Tensor.fromArray(new Int32Array(1), []).keep();
  }

  protected override bufferNames(): readonly string[] {
    return ["running_mean", "running_var", "num_batches_tracked"];
  }

  protected override optionalBuffers(): readonly string[] {
    return ["num_batches_tracked"];
  }

  protected override setTraining(mode: boolean): void {
    this.training = mode && !this.lockedEval;
  }

  /** Normalises `x` [N, C, H, W]: batch statistics (updating the running ones) in training. */
  forward(x: Tensor): Tensor {
    if (this.training) incrementInt(gpu(), this.num_batches_tracked.buffer);
    return batchNorm2d(x, this.weight, this.bias, this.running_mean, this.running_var, {
      training: this.training,
      momentum: this.options.momentum ?? 0.1,
      eps: this.options.eps ?? 1e-5,
    });
  }
}

export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;

  /** `init: "xavier"` gives xavier_uniform_ weights, common for a new fine-tuning head. */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean; init?: "default" | "xavier"; rng?: Rng } = {},
  ) {
    super();
    const shape = [outFeatures, inFeatures];
    const rng = layerRng(options.rng);
    const w = options.init === "xavier" ? xavierUniform(shape, rng) : defaultWeight(shape, rng);
    this.weight = Tensor.parameter(w, shape);
    this.bias = options.bias === false
      ? null
      : Tensor.parameter(defaultBias(outFeatures, inFeatures, rng), [outFeatures]);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias ?? undefined);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly stride: Pair = kernelSize,
    readonly padding: Pair = 0,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, {
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
    });
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }

  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Flattens all dimensions from `startDim` on (default 1: keep the batch). */
export class Flatten extends Module {
  constructor(readonly startDim = 1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return x.reshape([...x.shape.slice(0, this.startDim), -1]);
  }
}

/** Zeroes elements with probability p in training and scales the rest by 1/(1-p). */
export class Dropout extends Module {
  #rng: Rng;

  constructor(readonly p = 0.5, seed = 0) {
    super();
    if (!(p >= 0 && p < 1)) throw new ArgumentError(`Dropout: p must be in [0, 1), got ${p}`);
    this.#rng = new Rng(seed);
  }

  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return dropout(x, this.p, this.#rng.int(0, 2 ** 30));
  }
}

/** Runs modules in order; children are named "0", "1", ... as in torch.nn.Sequential. */
export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => ((this as unknown as Record<string, Module>)[String(i)] = m));
  }

  get length(): number {
    return this.namedChildren().length;
  }

  at(i: number): Module {
    return this.namedChildren()[i][1];
  }

  forward(x: Tensor): Tensor {
    for (const [, m] of this.namedChildren()) x = m.forward(x);
    return x;
  }
}
