// The public surface of data/: datasets, decoders, archives, transforms, the loader.

export { mixSeed, Rng } from "../base/rng.ts";
export { ArchiveError, DatasetError, DecodeError, EmptyClassError } from "./errors.ts";
export { grayToRgb, type Image, rgbToGray, type TensorImage } from "./image.ts";
export { decodeImage, type DecodeOptions, probeImage } from "./decode.ts";
export { decodeJpeg, readJpegHeader } from "./jpeg.ts";
export { decodePng, decodePngRaw, type PngRaw } from "./png.ts";
export { ZipArchive, type ZipEntry } from "../base/zip.ts";
export { openZipFile } from "./file_source.ts";
export { readTar, type TarEntry } from "./tar.ts";
export { gunzip, isGzip, maybeGunzip } from "./gzip.ts";
export type { Dataset, DatasetSpec, Sample } from "./dataset.ts";
export { datasetFromSpec } from "./dataset_spec.ts";
export { ArrayImageDataset } from "./array_dataset.ts";
export { ImageFolder, type ImageFolderOptions, type SkippedFile } from "./image_folder.ts";
export { FolderDataset } from "./folder_dataset.ts";
export { type FileTree, MemoryTree, ZipTree } from "./file_tree.ts";
export {
  DecodedCache,
  type DecodedCacheOptions,
  shrinkForCache,
  storedSize,
  withDecodedCache,
} from "./decoded_cache.ts";
export { CIFAR10_CLASSES, type Cifar10Options, loadCifar10, MissingSplitError } from "./cifar10.ts";
export {
  FASHION_MNIST_CLASSES,
  loadIdx,
  loadMnist,
  MNIST_CLASSES,
  type MnistOptions,
  parseIdx,
} from "./idx.ts";
export { randomSplit, stratifiedSplit, Subset, subsetByClasses, subsetPerClass } from "./subset.ts";
export { type Batch, bytesToFloats, makeBatch, type SkippedSample } from "./collate.ts";
export { DataLoader, type DataLoaderOptions } from "./loader.ts";
export { balancedSampleWeights, type Sampler, WeightedRandomSampler } from "./weighted_sampler.ts";
export * from "./transforms/index.ts";
