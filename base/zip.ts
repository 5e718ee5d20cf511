// A zip reader: parses the central directory (zip64 included) and inflates single
// entries on demand, so nothing is extracted to disk and an entry never used is never
// inflated. Each read has a cap: the declared size is checked against it before anything
// is allocated, and the streaming inflate stops where the data outgrows its declared size.

import { type ByteSource, bytesSource } from "./byte_source.ts";
import { crc32, crc32Update } from "./crc32.ts";
import { ArchiveError } from "./errors.ts";
import { inflateChunks, inflateExact, InflateLimitError } from "./inflate.ts";

/** Largest entry read unless the caller says otherwise (its declared size is checked first). */
export const DEFAULT_MAX_ENTRY_BYTES = 1 << 30;

function inflateProblem(err: unknown, declared: number): string {
  if (err instanceof InflateLimitError) {
    return `inflates to more than its declared ${declared} bytes (corrupt, or a zip bomb)`;
  }
  return `corrupt deflate data (${(err as Error).message})`;
}

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  isDirectory: boolean;
  encrypted: boolean;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number) =>
  (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const u64 = (b: Uint8Array, o: number) => u32(b, o) + u32(b, o + 4) * 4294967296;

export class ZipArchive {
  readonly entries: ZipEntry[];
  private readonly byName = new Map<string, ZipEntry>();

  constructor(private readonly source: ByteSource) {
    this.entries = readCentralDirectory(source);
    for (const e of this.entries) this.byName.set(e.name, e);
  }

  static fromBytes(bytes: Uint8Array, name = "<bytes>"): ZipArchive {
    return new ZipArchive(bytesSource(bytes, name));
  }

  get name(): string {
    return this.source.name;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): ZipEntry {
    const e = this.byName.get(name);
    if (!e) throw new ArchiveError(this.source.name, `no entry named "${name}"`);
    return e;
  }

  /** The stored bytes of an entry (still compressed for method 8), after its local header. */
  private packed(e: ZipEntry, where: string): Uint8Array {
    if (e.encrypted) throw new ArchiveError(where, "encrypted zip entries are not supported");
    if (e.method !== 0 && e.method !== 8) {
      throw new ArchiveError(where, `unsupported compression method ${e.method}`);
    }
    let local: Uint8Array;
    try {
      local = this.source.read(e.localHeaderOffset, 30);
    } catch {
      throw new ArchiveError(where, "local header is past the end of the archive (truncated?)");
    }
    if (u32(local, 0) !== LOCAL_SIG) throw new ArchiveError(where, "bad local header signature");
    const dataStart = e.localHeaderOffset + 30 + u16(local, 26) + u16(local, 28);
    try {
      return this.source.read(dataStart, e.compressedSize);
    } catch {
      throw new ArchiveError(where, "entry data runs past the end of the archive (truncated?)");
    }
  }

  private checkDeclared(e: ZipEntry, where: string, maxBytes: number): void {
    if (e.size > maxBytes) {
      throw new ArchiveError(
        where,
        `declares ${e.size} bytes uncompressed, more than the limit of ${maxBytes} for this entry`,
      );
    }
    if (e.method === 0 && e.compressedSize !== e.size) {
      throw new ArchiveError(where, `stored entry of ${e.size} bytes has ${e.compressedSize}`);
    }
  }

  /**
   * The uncompressed bytes of one entry, CRC-checked. The declared size must be within
   * `maxBytes` (nothing is allocated or inflated otherwise), and inflating stops as soon as
   * the data grows past the declared size.
   */
  read(nameOrEntry: string | ZipEntry, maxBytes = DEFAULT_MAX_ENTRY_BYTES): Uint8Array {
    const e = typeof nameOrEntry === "string" ? this.entry(nameOrEntry) : nameOrEntry;
    const where = `${this.source.name}:${e.name}`;
    this.checkDeclared(e, where, maxBytes);
    const packed = this.packed(e, where);
    let data: Uint8Array;
    if (e.method === 0) data = packed;
    else {
      try {
        data = inflateExact(packed, e.size);
      } catch (err) {
        throw new ArchiveError(where, inflateProblem(err, e.size));
      }
    }
    if (crc32(data) !== e.crc) throw new ArchiveError(where, "CRC mismatch (corrupt entry)");
    return data;
  }

  /**
   * Reads an entry through without keeping it: returns its first `headBytes` and last
   * `tailBytes` bytes and its size, CRC-checked, in memory bounded by those two (for
   * checking a file's header and ending without holding the whole entry).
   */
  scan(
    nameOrEntry: string | ZipEntry,
    headBytes: number,
    tailBytes: number,
    maxBytes = DEFAULT_MAX_ENTRY_BYTES,
  ): { head: Uint8Array; tail: Uint8Array; size: number } {
    const e = typeof nameOrEntry === "string" ? this.entry(nameOrEntry) : nameOrEntry;
    const where = `${this.source.name}:${e.name}`;
    this.checkDeclared(e, where, maxBytes);
    const packed = this.packed(e, where);
    if (e.method === 0) {
      if (crc32(packed) !== e.crc) throw new ArchiveError(where, "CRC mismatch (corrupt entry)");
      return {
        head: packed.subarray(0, headBytes),
        tail: packed.subarray(Math.max(0, packed.length - tailBytes)),
        size: packed.length,
      };
    }
    const head = new Uint8Array(Math.min(headBytes, e.size));
    const tail = new Uint8Array(Math.min(tailBytes, e.size));
    let size = 0, crc = 0xffffffff;
    try {
      inflateChunks(packed, e.size, (c) => {
        if (size < head.length) head.set(c.subarray(0, head.length - size), size);
        crc = crc32Update(crc, c);
        // keep the last tail.length bytes: shift the old ones left, append the new ones
        const keep = Math.max(0, tail.length - c.length);
        tail.copyWithin(0, tail.length - keep);
        tail.set(c.subarray(Math.max(0, c.length - tail.length)), keep);
        size += c.length;
      });
    } catch (err) {
      throw new ArchiveError(where, inflateProblem(err, e.size));
    }
    if (size !== e.size) throw new ArchiveError(where, `expected ${e.size} bytes, got ${size}`);
    if ((crc ^ 0xffffffff) >>> 0 !== e.crc) {
      throw new ArchiveError(where, "CRC mismatch (corrupt entry)");
    }
    return { head, tail, size };
  }

  close(): void {
    this.source.close();
  }
}

function readCentralDirectory(src: ByteSource): ZipEntry[] {
  const fail = (why: string) => new ArchiveError(src.name, why);
  if (src.size < 22) {
    throw fail(src.size === 0 ? "the file is empty (0 bytes)" : "too short to be a zip");
  }
  // The end record is in the last 22 + 65535 (max comment) bytes.
  const tailLen = Math.min(src.size, 22 + 65535);
  const tail = src.read(src.size - tailLen, tailLen);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (u32(tail, i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw fail("no end-of-central-directory record (not a zip, or truncated)");
  let count = u16(tail, eocd + 10);
  let cdSize = u32(tail, eocd + 12);
  let cdOffset = u32(tail, eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || u32(tail, loc) !== ZIP64_LOCATOR_SIG) throw fail("zip64 locator missing");
    const rec = src.read(u64(tail, loc + 8), 56);
    if (u32(rec, 0) !== ZIP64_EOCD_SIG) throw fail("bad zip64 end record");
    count = u64(rec, 32);
    cdSize = u64(rec, 40);
    cdOffset = u64(rec, 48);
  }
  if (cdOffset + cdSize > src.size) throw fail("central directory is past the end (truncated?)");
  const cd = src.read(cdOffset, cdSize);
  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || u32(cd, p) !== CENTRAL_SIG) {
      throw fail(`corrupt central directory entry ${i}`);
    }
    const nameLen = u16(cd, p + 28), extraLen = u16(cd, p + 30), commentLen = u16(cd, p + 32);
    const name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    let compressedSize = u32(cd, p + 20), size = u32(cd, p + 24), offset = u32(cd, p + 42);
    // zip64 extra field (id 1) holds, in order, only the fields that overflowed.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = u16(cd, x), len = u16(cd, x + 2);
      if (id === 1) {
        let q = x + 4;
        if (size === 0xffffffff) (size = u64(cd, q)), (q += 8);
        if (compressedSize === 0xffffffff) (compressedSize = u64(cd, q)), (q += 8);
        if (offset === 0xffffffff) offset = u64(cd, q);
      }
      x += 4 + len;
    }
    entries.push({
      name,
      method: u16(cd, p + 10),
      crc: u32(cd, p + 16),
      compressedSize,
      size,
      localHeaderOffset: offset,
      isDirectory: name.endsWith("/"),
      encrypted: (u16(cd, p + 8) & 1) === 1,
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
