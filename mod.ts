// The public API, in the spirit of PyTorch: tensors with autograd, ops, layers, resnet18,
// optimizers, schedulers, weight files and checkpoints, datasets, transforms, a loader.
// Re-exports only; the code lives in kernels/, nn/ and data/.

// the GPU
export { Gpu, gpu, GpuError, initGpu } from "./kernels/device.ts";
export type { PoolStats } from "./kernels/buffer_pool.ts";

// tensors and autograd
export { isGradEnabled, noGrad, Scope, type Shape, Tensor, tidy } from "./nn/tensor.ts";
export { mixSeed, Rng } from "./base/rng.ts";

// ops (functional)
export { add, mean, mul, relu, scale, sum } from "./nn/ops/basic.ts";
export { conv2d, type Conv2dOptions } from "./nn/ops/conv.ts";
export { linear, matmul } from "./nn/ops/linear.ts";
export { batchNorm2d, type BatchNormOptions } from "./nn/ops/norm.ts";
export { adaptiveAvgPool2d, avgPool2d, maxPool2d } from "./nn/ops/pooling.ts";
export { dropout } from "./nn/ops/dropout.ts";
export { batchImages, imagesFromBytes } from "./nn/ops/normalize.ts";
export {
  accumulateMetrics,
  argmax,
  checkLabels,
  countCorrect,
  crossEntropy,
  type Metrics,
  metricsAccumulator,
  readMetrics,
  softmax,
} from "./nn/ops/loss.ts";

// modules, ResNet18, initialisation
export { describeProblems, type LoadReport, Module } from "./nn/module.ts";
export * from "./nn/layers.ts";
export { BasicBlock, ResNet, resnet18, type ResNet18Options } from "./nn/resnet.ts";
export * as init from "./nn/init.ts";

// optimizers and learning-rate schedulers
export * from "./nn/optim/mod.ts";
export * from "./nn/schedulers.ts";

// weight files and checkpoints
export * from "./nn/io/host_tensor.ts";
export { readPth, readPthObject } from "./nn/io/pth.ts";
export { encodeSafetensors, readSafetensors } from "./nn/io/safetensors.ts";
export { loadCheckpoint, saveCheckpoint } from "./nn/io/checkpoint.ts";
export { readStateDictFile } from "./nn/io/weights_file.ts";

// data
export * from "./data/mod.ts";

// training: the fit loop, transfer strategies, recipes, run directories (what the CLI runs)
export * from "./train/mod.ts";
