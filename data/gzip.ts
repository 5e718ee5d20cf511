// gzip detection and decompression (streamed, with a cap), with errors naming the file.

import { ArchiveError } from "./errors.ts";
import { inflateAll, InflateLimitError } from "../base/inflate.ts";

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Largest decompressed size accepted (CIFAR-10's archive unpacks to 185 MB). */
export const MAX_GUNZIP_BYTES = 1 << 30;

/** Decompresses gzip bytes, stopping with an error once the output passes `maxBytes`. */
export function gunzip(
  bytes: Uint8Array,
  name = "<bytes>",
  maxBytes = MAX_GUNZIP_BYTES,
): Uint8Array {
  if (bytes.length === 0) throw new ArchiveError(name, "the file is empty (0 bytes)");
  if (!isGzip(bytes)) throw new ArchiveError(name, "not a gzip file");
  if (bytes.length < 18) throw new ArchiveError(name, "truncated gzip file");
  try {
    return inflateAll(bytes, maxBytes, "gzip");
  } catch (e) {
    if (e instanceof InflateLimitError) {
      throw new ArchiveError(name, `decompresses to more than ${maxBytes} bytes (a gzip bomb?)`);
    }
    throw new ArchiveError(name, `corrupt or truncated gzip data (${(e as Error).message})`);
  }
}

/** Decompresses when the bytes are gzip, returns them unchanged otherwise. */
export function maybeGunzip(bytes: Uint8Array, name = "<bytes>"): Uint8Array {
  return isGzip(bytes) ? gunzip(bytes, name) : bytes;
}
