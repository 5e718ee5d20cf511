// Random access to bytes for the readers that must not load a large file whole (the zip
// reader reads only its directory and the entries asked for). Bytes in memory live here; a
// file read on demand is data/file_source.ts (it needs Deno).

export interface ByteSource {
  /** A name for error messages (the file path, or "<bytes>"). */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes starting at `offset` (throws past the end). */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

export function bytesSource(bytes: Uint8Array, name = "<bytes>"): ByteSource {
  return {
    name,
    size: bytes.length,
    read(offset, length) {
      if (offset < 0 || offset + length > bytes.length) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end`);
      }
      return bytes.subarray(offset, offset + length);
    },
    close() {},
  };
}
