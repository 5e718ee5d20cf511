// A tar reader (ustar, GNU long names, pax path records) over bytes in memory,
// and tar.gz through gzip.ts. Entries are views into the input, not copies.

import { ArchiveError } from "./errors.ts";
import { maybeGunzip } from "./gzip.ts";

export interface TarEntry {
  name: string;
  /** "file", "directory", or "other" (links, devices). */
  type: "file" | "directory" | "other";
  data: Uint8Array;
}

const decoder = new TextDecoder();

function cString(b: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return decoder.decode(b.subarray(start, end));
}

/** Numeric header field: octal text, or GNU base-256 when the top bit is set. */
function numberField(b: Uint8Array, start: number, len: number): number {
  if (b[start] & 0x80) {
    let v = b[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[start + i];
    return v;
  }
  const s = cString(b, start, len).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

function checksumOk(b: Uint8Array, o: number): boolean {
  const stored = numberField(b, o + 148, 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[o + i];
  return sum === stored;
}

function paxPath(data: Uint8Array): string | undefined {
  const text = decoder.decode(data);
  let p = 0;
  let path: string | undefined;
  while (p < text.length) {
    const sp = text.indexOf(" ", p);
    if (sp < 0) break;
    const len = parseInt(text.slice(p, sp), 10);
    if (!(len > 0)) break;
    const record = text.slice(sp + 1, p + len - 1); // drop trailing newline
    const eq = record.indexOf("=");
    if (record.slice(0, eq) === "path") path = record.slice(eq + 1);
    p += len;
  }
  return path;
}

/** Lists the entries of a tar (or tar.gz) held in memory. */
export function readTar(input: Uint8Array, name = "<bytes>"): TarEntry[] {
  const bytes = maybeGunzip(input, name);
  if (bytes.length === 0) throw new ArchiveError(name, "the file is empty (0 bytes)");
  const entries: TarEntry[] = [];
  let pos = 0;
  let longName: string | undefined;
  while (pos + 512 <= bytes.length) {
    let zero = true;
    for (let i = 0; i < 512 && zero; i++) if (bytes[pos + i] !== 0) zero = false;
    if (zero) return entries; // end-of-archive block
    if (!checksumOk(bytes, pos)) {
      throw new ArchiveError(
        name,
        `bad tar header checksum at byte ${pos} (not a tar, or corrupt)`,
      );
    }
    const header = pos;
    const size = numberField(bytes, pos + 124, 12);
    const flag = String.fromCharCode(bytes[pos + 156] || 48);
    const dataStart = pos + 512;
    if (dataStart + size > bytes.length) {
      throw new ArchiveError(name, `truncated tar: entry at byte ${pos} needs ${size} bytes`);
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / 512) * 512;
    if (flag === "L") {
      longName = cString(data, 0, data.length);
      continue;
    }
    if (flag === "x") {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (flag === "g") continue;
    let entryName = longName;
    longName = undefined;
    if (entryName === undefined) {
      const base = cString(bytes, header, 100);
      // POSIX ustar ("ustar\0") has a name prefix field; old GNU ("ustar ") does not.
      const isUstar = cString(bytes, header + 257, 5) === "ustar" && bytes[header + 262] === 0;
      const prefix = isUstar ? cString(bytes, header + 345, 155) : "";
      entryName = prefix ? `${prefix}/${base}` : base;
    }
    const type = flag === "0" || flag === "7" ? "file" : flag === "5" ? "directory" : "other";
    entries.push({ name: entryName, type, data });
  }
  if (pos < bytes.length) throw new ArchiveError(name, "truncated tar (partial header block)");
  return entries; // some writers omit the end-of-archive blocks
}
