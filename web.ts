// The browser entry point: what runs in a page or a Web Worker, with no Deno API anywhere in
// it (`deno run -A tools/web_check.ts` type-checks it with the DOM library and no Deno
// namespace, and bundles it refusing any reference to Deno; `deno task check` runs that).
// The same engine as mod.ts; files come as bytes (what a page reads from <input type=file>)
// instead of paths, and results go to memory (a download) instead of a run directory.
// The training page (web/) is built on it.

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

// weights from bytes (.pth, safetensors, checkpoints) and safetensors to bytes
export * from "./nn/io/host_tensor.ts";
export { readPth, readPthObject } from "./nn/io/pth.ts";
export { encodeSafetensors, readSafetensors } from "./nn/io/safetensors.ts";
export { type Checkpoint, decodeCheckpoint, encodeCheckpoint } from "./nn/io/checkpoint_bytes.ts";
export { decodeStateDict, decodeWeightFile, type WeightFile } from "./nn/io/weights_bytes.ts";
export { assertFinite } from "./nn/io/finite.ts";

// data: decoders, archives from bytes, datasets over files in memory, transforms, the loader
export { ArchiveError, DatasetError, DecodeError } from "./data/errors.ts";
export { grayToRgb, type Image, rgbToGray, type TensorImage } from "./data/image.ts";
export { decodeImage, type DecodeOptions, probeImage } from "./data/decode.ts";
export { decodeJpeg, readJpegHeader } from "./data/jpeg.ts";
export { decodePng, decodePngRaw, type PngRaw } from "./data/png.ts";
export { ZipArchive, type ZipEntry } from "./base/zip.ts";
export { readTar, type TarEntry } from "./data/tar.ts";
export { gunzip, isGzip, maybeGunzip } from "./data/gzip.ts";
export type { Dataset, Sample } from "./data/dataset.ts";
export { ArrayImageDataset } from "./data/array_dataset.ts";
export { type FileTree, MemoryTree, ZipTree } from "./data/file_tree.ts";
export {
  FolderDataset,
  type ImageFolderOptions,
  type SkippedFile,
  treeSplits,
} from "./data/folder_dataset.ts";
export {
  randomSplit,
  stratifiedSplit,
  Subset,
  subsetByClasses,
  subsetPerClass,
} from "./data/subset.ts";
export { type Batch, makeBatch } from "./data/collate.ts";
export { DataLoader, type DataLoaderOptions } from "./data/loader.ts";
export * from "./data/transforms/index.ts";
export { openTree, type PickedFile, pickedTree } from "./web/open_data.ts";

// training: configs and recipes, the run's parts, the fit loop and its events, results in
// memory (checkpoints as the bytes `cli.ts eval` / `predict` read), prediction
export {
  ConfigError,
  DEFAULT_CONFIG,
  STRATEGIES,
  type Strategy,
  type TrainConfig,
  validateConfig,
} from "./train/config.ts";
export { type Recipe, recipeConfig, RECIPES } from "./train/recipes.ts";
export { resolveConfig, resolveRun, type TrainedWith, trainedWith } from "./train/resolve.ts";
export { countPerClass, type RawData, splitData, splitFingerprint } from "./train/splits.ts";
export { buildModel, chooseInChannels, loadBackbone, type ModelSpec } from "./train/model.ts";
export {
  assemblePrepared,
  makeLoaders,
  type OpenedData,
  type Prepared,
  type PreparedInput,
} from "./train/prepared.ts";
export { fit, type FitIO, type FitResult, type StopFlag } from "./train/trainer.ts";
export { type FitEvent, type FitEventSink, formatLr } from "./train/fit_events.ts";
export { textReport } from "./train/text_report.ts";
export type { EpochRow, IterationRow, RunOutput, RunSummary } from "./train/run_output.ts";
export { MemoryOutput } from "./train/memory_output.ts";
export { serializeTrainState, type TrainMeta, type TrainState } from "./train/train_state.ts";
export { type EvalResult, evaluate } from "./train/evaluate.ts";
export { predictImages, type Prediction, type Trained } from "./train/predict.ts";
