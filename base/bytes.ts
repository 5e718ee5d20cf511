// Joins byte chunks (a file encoded in pieces, e.g. safetensors' header and tensors) into one
// array, for a caller that needs the whole file in memory.

export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
