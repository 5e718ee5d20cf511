// gzip detection and decompression (fflate), with errors naming the file.

import { gunzipSync } from "fflate";
import { ArchiveError } from "./errors.ts";

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export function gunzip(bytes: Uint8Array, name = "<bytes>"): Uint8Array {
  if (bytes.length === 0) throw new ArchiveError(name, "the file is empty (0 bytes)");
  if (!isGzip(bytes)) throw new ArchiveError(name, "not a gzip file");
  if (bytes.length < 18) throw new ArchiveError(name, "truncated gzip file");
  // ISIZE (last 4 bytes) is the uncompressed size mod 2^32; use it to preallocate.
  const n = bytes.length;
  const isize =
    (bytes[n - 4] | (bytes[n - 3] << 8) | (bytes[n - 2] << 16) | (bytes[n - 1] << 24)) >>> 0;
  try {
    const out = gunzipSync(
      bytes,
      isize > 0 && isize < 2 ** 31 ? { out: new Uint8Array(isize) } : undefined,
    );
    return out;
  } catch (e) {
    throw new ArchiveError(name, `corrupt or truncated gzip data (${(e as Error).message})`);
  }
}

/** Decompresses when the bytes are gzip, returns them unchanged otherwise. */
export function maybeGunzip(bytes: Uint8Array, name = "<bytes>"): Uint8Array {
  return isGzip(bytes) ? gunzip(bytes, name) : bytes;
}
