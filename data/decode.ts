// Format sniffing: one entry point that decodes JPEG or PNG from bytes, and a cheap
// probe that checks a file's header and ending without decoding pixels.

import { DecodeError } from "./errors.ts";
import { type Image, toChannels } from "./image.ts";
import { decodeJpeg, hasJpegEnd, isJpeg, jpegMinBytes, readJpegHeader } from "./jpeg.ts";
import { DEFAULT_MAX_PIXELS } from "./limits.ts";
import { decodePng, isPng, pngMinBytes, readPngHeader } from "./png.ts";

export { DEFAULT_MAX_PIXELS };

/** Options of `decodeImage`. */
export interface DecodeOptions {
  /** Refuse images with more pixels than this (default DEFAULT_MAX_PIXELS, 64 Mpx). */
  maxPixels?: number;
  /** 1 for grayscale, 3 for RGB (default: RGB, as torchvision's ImageFolder loader). */
  channels?: 1 | 3;
}

/** File-name suffixes ImageFolder treats as images it can decode. */
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png"];
/** Image suffixes torchvision accepts that this decoder does not; counted as unreadable. */
export const UNSUPPORTED_IMAGE_EXTENSIONS = [
  ".ppm",
  ".bmp",
  ".pgm",
  ".tif",
  ".tiff",
  ".webp",
  ".gif",
];

/** Decodes a JPEG or PNG (judged by content) into uint8 pixels; `name` is used in errors. */
export function decodeImage(bytes: Uint8Array, name = "<bytes>", opts: DecodeOptions = {}): Image {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) throw new DecodeError(name, "the file is empty (0 bytes)");
  let img: Image;
  if (isJpeg(bytes)) img = decodeJpeg(bytes, name, maxPixels);
  else if (isPng(bytes)) img = decodePng(bytes, name, maxPixels);
  else throw new DecodeError(name, "neither a JPEG nor a PNG (unrecognised leading bytes)");
  return toChannels(img, opts.channels ?? 3);
}

/**
 * Checks, without decoding pixels, that bytes look like a complete JPEG or PNG within
 * the pixel limit, and that the file is large enough to hold the size it claims.
 * `head` and `tail` may be slices of a large file (start and end) of `fileBytes` bytes.
 * Throws DecodeError naming the file.
 */
export function probeImage(
  head: Uint8Array,
  tail: Uint8Array,
  name: string,
  maxPixels = DEFAULT_MAX_PIXELS,
  fileBytes = head.length,
): { width: number; height: number } {
  if (head.length === 0) throw new DecodeError(name, "the file is empty (0 bytes)");
  let size: { width: number; height: number };
  let minBytes: number;
  if (isJpeg(head)) {
    const header = readJpegHeader(head, name);
    const { sampling: _sampling, ...frame } = header; // the frame's size and kind
    size = frame;
    minBytes = jpegMinBytes(header);
    if (!hasJpegEnd(tail)) throw new DecodeError(name, "truncated JPEG (no end-of-image marker)");
  } else if (isPng(head)) {
    const header = readPngHeader(head, name);
    size = header;
    minBytes = pngMinBytes(header);
    // The last chunk must be IEND: length 0, "IEND", fixed CRC AE 42 60 82.
    const t = tail.length;
    const iend = t >= 12 && tail[t - 8] === 0x49 && tail[t - 7] === 0x45 && tail[t - 6] === 0x4e &&
      tail[t - 5] === 0x44;
    if (!iend) throw new DecodeError(name, "truncated PNG (does not end with an IEND chunk)");
  } else throw new DecodeError(name, "neither a JPEG nor a PNG (unrecognised leading bytes)");
  if (size.width * size.height > maxPixels) {
    throw new DecodeError(
      name,
      `${size.width}x${size.height} exceeds the limit of ${maxPixels} pixels`,
    );
  }
  if (fileBytes < minBytes) {
    throw new DecodeError(
      name,
      `claims ${size.width}x${size.height} pixels but has only ${fileBytes} bytes, fewer than ` +
        `any complete image of that size needs (${minBytes}; corrupt, or a decompression bomb)`,
    );
  }
  return size;
}
