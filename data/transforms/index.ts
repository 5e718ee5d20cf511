// All transforms, their functional forms, and the spec round trip.

export type { Pixels, Transform, TransformSpec } from "./transform.ts";
export { Compose, splitTensorTail, transformFromSpec } from "./compose.ts";
export { Resize, resize, type ResizeOptions, resizeOutputSize } from "./resize.ts";
export {
  CenterCrop,
  centerCrop,
  cropPadded,
  type PaddingMode,
  RandomCrop,
  type RandomCropOptions,
} from "./crop.ts";
export {
  RandomResizedCrop,
  randomResizedCropBox,
  type RandomResizedCropOptions,
  resizedCrop,
} from "./random_resized_crop.ts";
export { hflip, RandomHorizontalFlip, RandomVerticalFlip, vflip } from "./flip.ts";
export {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  ColorJitter,
  type ColorJitterOptions,
} from "./color_jitter.ts";
export { RandomRotation, type RandomRotationOptions, rotate } from "./rotation.ts";
export { Grayscale, GrayToRgb } from "./channels.ts";
export {
  byteToFloatTable,
  CIFAR10_MEAN,
  CIFAR10_STD,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  IMAGENET_MEAN,
  IMAGENET_STD,
  MNIST_MEAN,
  MNIST_STD,
  Normalize,
  NORMALIZE_PRESETS,
  type NormalizeOptions,
  ToTensor,
  toTensor,
} from "./tensor.ts";
