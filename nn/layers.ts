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

/** A 2-D convolution (torch.nn.Conv2d, no groups or dilation), with PyTorch's initialisation. */
export class Conv2d extends Module {
  /** Weights [outChannels, inChannels, kh, kw]. */
  weight: Tensor;
  /** Bias [outChannels], or null when created with `bias: false`. */
  bias: Tensor | null;
  /** Stride: one value or [height, width]. */
  readonly stride: Pair;
  /** Zero padding on each side: one value or [height, width]. */
  readonly padding: Pair;

  /** `kernelSize` is one value or [height, width]; `rng` seeds the initial weights. */
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

  /** Convolves `x` [N, inChannels, H, W]. */
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

  /** @ignore */
  protected override bufferNames(): readonly string[] {
    return ["running_mean", "running_var", "num_batches_tracked"];
  }

  /** @ignore */
  protected override optionalBuffers(): readonly string[] {
    return ["num_batches_tracked"];
  }

  /** @ignore */
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

/** A fully connected layer y = x Wᵀ + b (torch.nn.Linear). */
export class Linear extends Module {
  /** Weights [outFeatures, inFeatures]. */
  weight: Tensor;
  /** Bias [outFeatures], or null when created with `bias: false`. */
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

  /** Applies the layer to `x` [N, inFeatures]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias ?? undefined);
  }
}

/** max(x, 0) elementwise (torch.nn.ReLU). */
export class ReLU extends Module {
  /** Applies ReLU. */
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** 2-D max pooling (torch.nn.MaxPool2d). */
export class MaxPool2d extends Module {
  /** `stride` defaults to `kernelSize`; `padding` to 0. */
  constructor(
    readonly kernelSize: Pair,
    readonly stride: Pair = kernelSize,
    readonly padding: Pair = 0,
  ) {
    super();
  }

  /** Pools `x` [N, C, H, W]. */
  forward(x: Tensor): Tensor {
    return maxPool2d(x, {
      kernelSize: this.kernelSize,
      stride: this.stride,
      padding: this.padding,
    });
  }
}

/** Average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d). */
export class AdaptiveAvgPool2d extends Module {
  /** `outputSize`: one value or [height, width]. */
  constructor(readonly outputSize: Pair) {
    super();
  }

  /** Pools `x` [N, C, H, W] to [N, C, outH, outW]. */
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Flattens all dimensions from `startDim` on (default 1: keep the batch). */
export class Flatten extends Module {
  /** Keeps the dimensions before `startDim` and flattens the rest into one. */
  constructor(readonly startDim = 1) {
    super();
  }

  /** Flattens `x`. */
  forward(x: Tensor): Tensor {
    return x.reshape([...x.shape.slice(0, this.startDim), -1]);
  }
}

/** Zeroes elements with probability p in training and scales the rest by 1/(1-p). */
export class Dropout extends Module {
  #rng: Rng;

  /** Drops with probability `p`; `seed` makes the masks repeat. */
  constructor(readonly p = 0.5, seed = 0) {
    super();
    if (!(p >= 0 && p < 1)) throw new ArgumentError(`Dropout: p must be in [0, 1), got ${p}`);
    this.#rng = new Rng(seed);
  }

  /** Applies dropout in training mode; the identity in evaluation mode. */
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    return dropout(x, this.p, this.#rng.int(0, 2 ** 30));
  }
}

/** Runs modules in order; children are named "0", "1", ... as in torch.nn.Sequential. */
export class Sequential extends Module {
  /** The modules, run in this order. */
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => ((this as unknown as Record<string, Module>)[String(i)] = m));
  }

  /** The number of modules. */
  get length(): number {
    return this.namedChildren().length;
  }

  /** The module at index `i`. */
  at(i: number): Module {
    return this.namedChildren()[i][1];
  }

  /** Runs `x` through every module in turn. */
  forward(x: Tensor): Tensor {
    for (const [, m] of this.namedChildren()) x = m.forward(x);
    return x;
  }
}
