// JPEG decoding through jpeg-js, with a header check of our own first so that empty,
// truncated, oversized and unsupported files fail fast with an error naming the file.

import jpegJs from "npm:jpeg-js@0.4.4";
import { DecodeError } from "./errors.ts";
import type { Image } from "./image.ts";
import { DEFAULT_MAX_PIXELS } from "./limits.ts";

export interface JpegHeader {
  width: number;
  height: number;
  components: number;
  progressive: boolean;
  /** Horizontal and vertical sampling factor of each component (1-4). */
  sampling: [number, number][];
}

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * True when an EOI marker (FF D9) appears in the last `window` bytes. Entropy-coded data
 * stuffs every FF with 00, so FF D9 there can only be the real end marker; a file cut
 * short loses it. A little trailing junk after EOI (some cameras add it) is tolerated.
 */
export function hasJpegEnd(bytes: Uint8Array, window = 4096): boolean {
  for (let i = bytes.length - 2; i >= Math.max(0, bytes.length - window); i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return true;
  }
  return false;
}

/** Walks the marker segments up to the frame header (SOFn) and reads its size. */
export function readJpegHeader(bytes: Uint8Array, name: string): JpegHeader {
  if (bytes.length === 0) throw new DecodeError(name, "the file is empty (0 bytes)");
  if (!isJpeg(bytes)) throw new DecodeError(name, "not a JPEG file (no SOI marker)");
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) {
      throw new DecodeError(name, `corrupt JPEG: expected a marker at byte ${pos}`);
    }
    const marker = bytes[pos + 1];
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) {
      throw new DecodeError(name, "corrupt JPEG: no frame header before the image data");
    }
    const len = (bytes[pos + 2] << 8) | bytes[pos + 3];
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc;
    if (isSof) {
      if (pos + 10 > bytes.length) break;
      if (marker !== 0xc0 && marker !== 0xc1 && marker !== 0xc2) {
        const kind = marker === 0xc3
          ? "lossless"
          : marker >= 0xc9
          ? "arithmetic-coded"
          : "hierarchical";
        throw new DecodeError(name, `unsupported JPEG variant (${kind}, SOF${marker - 0xc0})`);
      }
      const components = bytes[pos + 9];
      const sampling: [number, number][] = [];
      for (let c = 0; c < components && pos + 12 + 3 * c <= bytes.length; c++) {
        const hv = bytes[pos + 11 + 3 * c];
        sampling.push([Math.max(1, hv >> 4), Math.max(1, hv & 15)]);
      }
      return {
        height: (bytes[pos + 5] << 8) | bytes[pos + 6],
        width: (bytes[pos + 7] << 8) | bytes[pos + 8],
        components,
        progressive: marker === 0xc2,
        sampling,
      };
    }
    pos += 2 + len;
  }
  throw new DecodeError(name, "truncated JPEG (ends before the frame header)");
}

/**
 * Most scans (SOS segments) accepted. A progressive JPEG has about 10; each scan costs a
 * pass over every block, so thousands of repeated scans would keep the decoder busy for
 * minutes (libjpeg-turbo offers the same kind of limit).
 */
export const MAX_JPEG_SCANS = 100;

/**
 * The fewest bytes a complete JPEG of this header can have: every 8x8 block of every
 * component codes at least its DC value (baseline and progressive alike), and a Huffman
 * code is at least 1 bit long; the component with the most blocks gives the bound. A file
 * smaller than that claims a size its data cannot fill (a decompression bomb).
 */
export function jpegMinBytes(h: JpegHeader): number {
  const hMax = Math.max(1, ...h.sampling.map(([x]) => x));
  const vMax = Math.max(1, ...h.sampling.map(([, y]) => y));
  let blocks = 0;
  for (const [x, y] of h.sampling.length ? h.sampling : [[1, 1]]) {
    const cw = Math.ceil((h.width * x) / hMax), ch = Math.ceil((h.height * y) / vMax);
    blocks = Math.max(blocks, Math.ceil(cw / 8) * Math.ceil(ch / 8));
  }
  return Math.ceil(blocks / 8);
}

/** How many scans (SOS markers) the file has; entropy-coded data never holds FF DA. */
export function countJpegScans(bytes: Uint8Array): number {
  let n = 0;
  for (
    let i = bytes.indexOf(0xff);
    i >= 0 && i + 1 < bytes.length;
    i = bytes.indexOf(0xff, i + 1)
  ) {
    if (bytes[i + 1] === 0xda) n++;
  }
  return n;
}

/**
 * Decodes baseline or progressive JPEG into RGB (3 channels). Grayscale is replicated to
 * RGB and CMYK/YCCK converted to RGB by jpeg-js. Images over maxPixels are refused
 * before any pixel memory is allocated. Versus libjpeg/PIL: jpeg-js replicates subsampled
 * chroma instead of interpolating it, so 4:2:0 files differ by a few levels on average.
 */
export function decodeJpeg(
  bytes: Uint8Array,
  name = "<bytes>",
  maxPixels = DEFAULT_MAX_PIXELS,
): Image {
  const h = readJpegHeader(bytes, name);
  if (h.width === 0 || h.height === 0) throw new DecodeError(name, "JPEG has zero width or height");
  if (h.width * h.height > maxPixels) {
    throw new DecodeError(
      name,
      `${h.width}x${h.height} exceeds the limit of ${maxPixels} pixels (raise maxPixels if intended)`,
    );
  }
  if (!hasJpegEnd(bytes)) throw new DecodeError(name, "truncated JPEG (no end-of-image marker)");
  if (bytes.length < jpegMinBytes(h)) {
    throw new DecodeError(
      name,
      `claims ${h.width}x${h.height} pixels but has only ${bytes.length} bytes, fewer than ` +
        `the ${
          jpegMinBytes(h)
        } any complete JPEG of that size needs (corrupt, or a decompression bomb)`,
    );
  }
  const scans = countJpegScans(bytes);
  if (scans > MAX_JPEG_SCANS) {
    throw new DecodeError(
      name,
      `has ${scans} scans, more than the limit of ${MAX_JPEG_SCANS} (a normal progressive JPEG has about 10)`,
    );
  }
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpegJs.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      // A strict decoder: jpeg-js's tolerant mode would fill missing blocks with gray.
      tolerantDecoding: false,
      maxResolutionInMP: Math.max(1, Math.ceil(maxPixels / 1e6)),
      maxMemoryUsageInMB: Math.max(64, Math.ceil((maxPixels * 8) / 1048576)),
    });
  } catch (e) {
    throw new DecodeError(name, `corrupt JPEG (${(e as Error).message})`);
  }
  return { width: decoded.width, height: decoded.height, channels: 3, data: decoded.data };
}
