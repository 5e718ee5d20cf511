/**
 * A torchvision-exact ResNet18 on WebGPU, in the spirit of PyTorch: tensors with autograd, ops,
 * layers, resnet18, optimizers, schedulers, weight files and checkpoints, datasets, transforms,
 * a loader, and the training workflow the CLI runs (prepare, fit, evaluate, predict).
 *
 * ```ts
 * import { initGpu, resnet18, Tensor } from "./mod.ts";
 * await initGpu();
 * const model = resnet18({ numClasses: 10 });
 * const logits = model.forward(Tensor.randn([1, 3, 32, 32], { seed: 0 }));
 * ```
 *
 * Re-exports only: the code lives in kernels/, nn/, data/ and train/. What the CLI needs and a
 * user does not (flag names, plot ticks, error wording for flags) stays out of this module.
 *
 * @module
 */

// the GPU
export { type Gpu, GpuError, initGpu } from "./kernels/device.ts";

// tensors and autograd
export {
  type DType,
  type GradFn,
  isGradEnabled,
  noGrad,
  Scope,
  type Shape,
  Tensor,
  type TensorData,
  tidy,
} from "./nn/tensor.ts";
export { Rng } from "./base/rng.ts";

// ops (functional)
export { add, mean, mul, relu, scale, sum } from "./nn/ops/basic.ts";
export { conv2d, type Conv2dOptions } from "./nn/ops/conv.ts";
export { linear, matmul } from "./nn/ops/linear.ts";
export { batchNorm2d, type BatchNormOptions } from "./nn/ops/norm.ts";
export {
  adaptiveAvgPool2d,
  avgPool2d,
  type AvgPool2dOptions,
  maxPool2d,
  type Pool2dOptions,
} from "./nn/ops/pooling.ts";
export type { Pair } from "./base/shape.ts";
export { dropout } from "./nn/ops/dropout.ts";
export { batchImages, type BatchPixels } from "./nn/ops/normalize.ts";
export {
  argmax,
  countCorrect,
  crossEntropy,
  type CrossEntropyOptions,
  softmax,
} from "./nn/ops/loss.ts";

// modules and ResNet18
export { type LoadReport, Module } from "./nn/module.ts";
export {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
} from "./nn/layers.ts";
export { BasicBlock, ResNet, resnet18, type ResNet18Options } from "./nn/resnet.ts";

// optimizers and learning-rate schedulers
export * from "./nn/optim/mod.ts";
export * from "./nn/schedulers.ts";

// weight files and checkpoints
export {
  type HostData,
  type HostDType,
  type HostTensor,
  hostTensor,
  type StateDict,
  toFloat32,
} from "./nn/io/host_tensor.ts";
export { readPth } from "./nn/io/pth.ts";
export { encodeSafetensors, readSafetensors, type Safetensors } from "./nn/io/safetensors.ts";
export {
  type Checkpoint,
  type CheckpointMeta,
  loadCheckpoint,
  saveCheckpoint,
} from "./nn/io/checkpoint.ts";
export { readStateDictFile } from "./nn/io/weights_file.ts";

// data: datasets, decoders, transforms, the loader
export {
  ArchiveError,
  ArrayImageDataset,
  type Batch,
  CIFAR10_CLASSES,
  type Cifar10Options,
  type Dataset,
  DatasetError,
  DecodeError,
  decodeImage,
  type DecodeOptions,
  FASHION_MNIST_CLASSES,
  type FileTree,
  FolderDataset,
  type Image,
  ImageFolder,
  type ImageFolderOptions,
  loadCifar10,
  loadMnist,
  MemoryTree,
  MissingSplitError,
  MNIST_CLASSES,
  type MnistOptions,
  randomSplit,
  type Sample,
  type SkippedFile,
  type SkippedSample,
  Subset,
  subsetByClasses,
  subsetPerClass,
  type TensorImage,
  ZipTree,
} from "./data/mod.ts";
export { DataLoader, type DataLoaderOptions } from "./data/loader.ts";
export {
  balancedSampleWeights,
  type Sampler,
  WeightedRandomSampler,
} from "./data/weighted_sampler.ts";
export {
  CenterCrop,
  ColorJitter,
  type ColorJitterOptions,
  Compose,
  Grayscale,
  GrayToRgb,
  Normalize,
  type NormalizeOptions,
  type PaddingMode,
  type Pixels,
  RandomCrop,
  type RandomCropOptions,
  RandomHorizontalFlip,
  RandomResizedCrop,
  type RandomResizedCropOptions,
  RandomRotation,
  type RandomRotationOptions,
  RandomVerticalFlip,
  Resize,
  type ResizeOptions,
  ToTensor,
  type Transform,
  type TransformSpec,
} from "./data/transforms/index.ts";

// the training workflow: what `cli.ts train/eval/predict` run (prepare, fit, evaluate, predict)
export * from "./train/mod.ts";
