// Streaming inflate with a cap: raw deflate data is fed to fflate's Inflate in small
// slices, so the output grows at most about 1 MiB past the point where it is stopped
// (deflate expands at most 1032:1). A stream that would inflate beyond its cap is refused
// there, whatever its header declared, instead of being inflated whole first.

import { Gunzip, Inflate } from "npm:fflate@0.8.3";

/** Input fed per push: at most ~1 MiB of output per step. */
const SLICE = 1024;

export class InflateLimitError extends Error {
  constructor(readonly limit: number) {
    super(`inflates to more than ${limit} bytes`);
    this.name = "InflateLimitError";
  }
}

/**
 * Inflates raw deflate data chunk by chunk; `onChunk` sees each piece of output in order.
 * Throws InflateLimitError as soon as the output passes `maxBytes`, and an Error for
 * corrupt data. Returns the total output size.
 */
export function inflateChunks(
  packed: Uint8Array,
  maxBytes: number,
  onChunk: (chunk: Uint8Array) => void,
  format: "deflate" | "gzip" = "deflate",
): number {
  let total = 0;
  let ended = false;
  const Stream = format === "gzip" ? Gunzip : Inflate;
  const inflate = new Stream((chunk, final) => {
    total += chunk.length;
    if (total > maxBytes) throw new InflateLimitError(maxBytes);
    onChunk(chunk);
    if (final) ended = true;
  });
  for (let p = 0; p < packed.length && !ended; p += SLICE) {
    const end = Math.min(packed.length, p + SLICE);
    inflate.push(packed.subarray(p, end), end === packed.length);
  }
  if (!ended) throw new Error("the deflate stream ends early (truncated)");
  return total;
}

/** Inflates a whole stream (raw deflate or gzip) into one array, refusing more than `maxBytes`. */
export function inflateAll(
  packed: Uint8Array,
  maxBytes: number,
  format: "deflate" | "gzip",
): Uint8Array {
  const chunks: Uint8Array[] = [];
  const total = inflateChunks(packed, maxBytes, (c) => chunks.push(c), format);
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Inflates into one array of exactly `size` bytes; more or fewer is an error. */
export function inflateExact(packed: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  inflateChunks(packed, size, (c) => {
    out.set(c, at);
    at += c.length;
  });
  if (at !== size) throw new Error(`inflates to ${at} bytes, not the ${size} declared`);
  return out;
}
