// Default caps on what an input may make the decoders allocate.

/**
 * Largest decoded image, in pixels (64 Mpx: 8192x8192). PIL refuses images above twice
 * its MAX_IMAGE_PIXELS (89.5 Mpx) for the same reason: a small file that claims a huge
 * size would take gigabytes. Raised per call (maxPixels) or by --max-image-pixels.
 */
export const DEFAULT_MAX_PIXELS = 1 << 26;

/**
 * Largest image file (or zip entry) read for an image limit of `maxPixels`: 4 bytes per
 * pixel, at least 64 MiB; a compressed image is smaller than its pixels.
 */
export function maxImageFileBytes(maxPixels: number): number {
  return Math.max(1 << 26, maxPixels * 4);
}
