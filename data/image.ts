// The two pixel containers that flow through data/:
// - Image: interleaved HWC uint8, what decoders produce and what augmentations act on
//   (the role a PIL image plays in torchvision);
// - TensorImage: planar CHW float32, what ToTensor produces and Normalize acts on.

/** Interleaved (HWC) 8-bit image; channels is 1 (gray) or 3 (RGB). */
export interface Image {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels per pixel (1 or 3). */
  channels: number;
  /** Pixels, row-major, channels interleaved (HWC). */
  data: Uint8Array;
}

/** Planar (CHW) float image, one sample of a batch. */
export interface TensorImage {
  /** Channels. */
  channels: number;
  /** Height in pixels. */
  height: number;
  /** Width in pixels. */
  width: number;
  /** Values, channel-major (CHW). */
  data: Float32Array;
}

export function isTensorImage(x: Image | TensorImage): x is TensorImage {
  return x.data instanceof Float32Array;
}

export function makeImage(width: number, height: number, channels: number): Image {
  return { width, height, channels, data: new Uint8Array(width * height * channels) };
}

/** Replicates a one-channel image into three identical RGB channels (PIL convert("RGB")). */
export function grayToRgb(img: Image): Image {
  if (img.channels === 3) return img;
  if (img.channels !== 1) throw new Error(`grayToRgb: expected 1 channel, got ${img.channels}`);
  const out = makeImage(img.width, img.height, 3);
  const n = img.width * img.height;
  for (let i = 0, o = 0; i < n; i++, o += 3) {
    const v = img.data[i];
    out.data[o] = v;
    out.data[o + 1] = v;
    out.data[o + 2] = v;
  }
  return out;
}

/**
 * RGB to luma with the ITU-R 601-2 weights PIL uses for convert("L"):
 * L = (R*299 + G*587 + B*114) / 1000, rounded half up as in PIL's fixed-point code.
 */
export function rgbToGray(img: Image): Image {
  if (img.channels === 1) return img;
  if (img.channels !== 3) throw new Error(`rgbToGray: expected 3 channels, got ${img.channels}`);
  const out = makeImage(img.width, img.height, 1);
  const n = img.width * img.height;
  for (let i = 0, s = 0; i < n; i++, s += 3) {
    // PIL: (r*19595 + g*38470 + b*7471 + 0x8000) >> 16
    out.data[i] = (img.data[s] * 19595 + img.data[s + 1] * 38470 + img.data[s + 2] * 7471 +
      0x8000) >>> 16;
  }
  return out;
}

/** Converts to the requested channel count (1 or 3). */
export function toChannels(img: Image, channels: number): Image {
  if (img.channels === channels) return img;
  if (channels === 3) return grayToRgb(img);
  if (channels === 1) return rgbToGray(img);
  throw new Error(`unsupported channel count ${channels}`);
}
