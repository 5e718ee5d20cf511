// CRC-32 checks for zip entries. fflate's unzipSync does not verify CRCs, so
// a flipped byte inside a stored tensor would load silently as a wrong weight;
// this reads the CRCs from the central directory to check each entry we use.

import { crc32 } from "../../data/crc32.ts";

export { crc32 };

/**
 * Entry name -> CRC-32 from the zip's central directory. Returns an empty map
 * when the directory cannot be read simply (e.g. zip64), in which case the
 * entries are just not checked.
 */
export function zipCrcs(zip: Uint8Array): Map<string, number> {
  const out = new Map<string, number>();
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  // The end-of-central-directory record is within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (v.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return out;
  const count = v.getUint16(eocd + 10, true);
  let p = v.getUint32(eocd + 16, true);
  if (count === 0xffff || p === 0xffffffff) return out;
  const names = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (p + 46 > zip.length || v.getUint32(p, true) !== 0x02014b50) return new Map();
    const crc = v.getUint32(p + 16, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    out.set(names.decode(zip.subarray(p + 46, p + 46 + nameLen)), crc);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
