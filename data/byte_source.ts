// Random access to bytes, either in memory or in a file read on demand, so a large zip
// is never loaded whole: only its directory and the entries asked for are read.

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

/** A file opened once and read with positioned reads; close() releases the handle. */
export function fileSource(path: string): ByteSource {
  const file = Deno.openSync(path, { read: true });
  const size = file.statSync().size;
  return {
    name: path,
    size,
    read(offset, length) {
      if (offset < 0 || offset + length > size) {
        throw new RangeError(`${path}: read of ${length} bytes at ${offset} is past the end`);
      }
      const out = new Uint8Array(length);
      file.seekSync(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < length) {
        const n = file.readSync(out.subarray(got));
        if (n === null || n === 0) throw new RangeError(`${path}: unexpected end of file`);
        got += n;
      }
      return out;
    },
    close() {
      file.close();
    },
  };
}
