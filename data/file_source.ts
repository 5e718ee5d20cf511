// A file opened once and read with positioned reads: the Deno side of base/byte_source.ts, so
// a large zip is never loaded whole.

import type { ByteSource } from "../base/byte_source.ts";
import { ZipArchive } from "../base/zip.ts";

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

/** Opens the zip archive at `path`; only its central directory is read now. */
export function openZipFile(path: string): ZipArchive {
  return new ZipArchive(fileSource(path));
}
