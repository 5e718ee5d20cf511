// Hostile files, built small inside the tests: zip archives with entries that lie about
// their size, .pth files with hand-written pickles (expanded views, huge shapes, endless
// APPENDS), JPEGs that claim more than their data holds, and broken safetensors headers.

import { deflateSync } from "npm:fflate@0.8.3";
import jpegJs from "npm:jpeg-js@0.4.4";
import { crc32 } from "../../base/crc32.ts";

const enc = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function le(n: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Math.floor(n / 2 ** (8 * i)) % 256;
  return out;
}

export interface ZipItem {
  name: string;
  data: Uint8Array;
  /** Deflate the data (method 8) instead of storing it. */
  deflate?: boolean;
  /** Uncompressed size written in the headers (default: the real one). */
  declaredSize?: number;
  /** Data already deflated (method 8); `data` then only gives the CRC. */
  packed?: Uint8Array;
}

/** A zip archive of the items (a directory entry for each folder is not needed). */
export function zip(items: ZipItem[]): Uint8Array {
  const locals: Uint8Array[] = [], central: Uint8Array[] = [];
  let offset = 0;
  for (const it of items) {
    const name = enc.encode(it.name);
    const body = it.packed ?? (it.deflate ? deflateSync(it.data) : it.data);
    const size = it.declaredSize ?? it.data.length;
    const crc = crc32(it.data);
    const method = it.deflate || it.packed ? 8 : 0;
    const common = concat([
      le(20, 2),
      le(0, 2),
      le(method, 2),
      le(0, 2),
      le(0, 2),
      le(crc, 4),
      le(body.length, 4),
      le(size, 4),
      le(name.length, 2),
      le(0, 2),
    ]);
    const local = concat([le(0x04034b50, 4), common, name, body]);
    central.push(concat([
      le(0x02014b50, 4),
      le(20, 2),
      common,
      le(0, 2),
      le(0, 2),
      le(0, 2),
      le(0, 4),
      le(offset, 4),
      name,
    ]));
    locals.push(local);
    offset += local.length;
  }
  const cd = concat(central);
  const end = concat([
    le(0x06054b50, 4),
    le(0, 2),
    le(0, 2),
    le(items.length, 2),
    le(items.length, 2),
    le(cd.length, 4),
    le(offset, 4),
    le(0, 2),
  ]);
  return concat([...locals, cd, end]);
}

/** A pickle (protocol 2) built from opcodes. */
export class Pickle {
  private parts: Uint8Array[] = [Uint8Array.of(0x80, 2)];
  /** Opcodes and arguments as text; every character must be ASCII. */
  op(code: string): this {
    this.parts.push(enc.encode(code));
    return this;
  }
  byte(b: number): this {
    this.parts.push(Uint8Array.of(b));
    return this;
  }
  str(s: string): this {
    const b = enc.encode(s);
    this.parts.push(Uint8Array.of(0x58), le(b.length, 4), b); // BINUNICODE
    return this;
  }
  int(n: number): this {
    if (n >= 0 && n < 2 ** 31) this.parts.push(Uint8Array.of(0x4a), le(n, 4)); // BININT
    else this.parts.push(Uint8Array.of(0x8a, 8), le(n, 8)); // LONG1
    return this;
  }
  global(module: string, name: string): this {
    return this.op(`c${module}\n${name}\n`);
  }
  ints(list: number[]): this {
    this.op("(");
    for (const n of list) this.int(n);
    return this.op("t");
  }
  bytes(): Uint8Array {
    return concat([...this.parts, enc.encode(".")]);
  }
}

/**
 * A torch.save zip holding {"w": tensor} viewing a float storage of `storage` elements with
 * the given size and stride, plus `extra` entries (e.g. an unused junk entry); the storage
 * entry holds `storageBytes` bytes (the right number by default).
 */
export function pthWithView(
  storage: number,
  size: number[],
  stride: number[],
  extra: ZipItem[] = [],
  storageBytes = storage * 4,
): Uint8Array {
  const p = new Pickle().op("}").str("w").global("torch._utils", "_rebuild_tensor_v2").op("(");
  p.op("(").str("storage").global("torch", "FloatStorage").str("0").str("cpu").int(storage)
    .op("t").op("Q"); // BINPERSID
  p.int(0).ints(size).ints(stride).byte(0x89); // offset, size, stride, requires_grad=False
  p.global("collections", "OrderedDict").op(")").op("R"); // backward hooks
  p.op("t").op("R").op("s");
  return zip([
    { name: "archive/data.pkl", data: p.bytes() },
    { name: "archive/data/0", data: new Uint8Array(storageBytes) },
    ...extra,
  ]);
}

/** A pickle of one list built with `n` items appended by a single APPENDS. */
export function pickleAppends(n: number): Uint8Array {
  const parts = [Uint8Array.of(0x80, 2, 0x5d, 0x28)]; // PROTO 2, EMPTY_LIST, MARK
  parts.push(new Uint8Array(2 * n).map((_, i) => (i % 2 === 0 ? 0x4b : 7))); // BININT1 7
  parts.push(enc.encode("e."));
  return concat(parts);
}

/** A small real JPEG (baseline, RGB). */
export function smallJpeg(size = 16): Uint8Array {
  const data = new Uint8Array(size * size * 4).map((_, i) => (i * 37) % 251);
  return new Uint8Array(jpegJs.encode({ width: size, height: size, data }, 90).data);
}

/** A real JPEG whose frame header is patched to claim width x height. */
export function jpegClaiming(width: number, height: number): Uint8Array {
  const b = smallJpeg();
  for (let i = 2; i + 9 < b.length; i++) {
    if (b[i] === 0xff && b[i + 1] === 0xc0) {
      b[i + 5] = height >> 8;
      b[i + 6] = height & 255;
      b[i + 7] = width >> 8;
      b[i + 8] = width & 255;
      return b;
    }
  }
  throw new Error("no SOF0 in the encoded JPEG");
}

/** A real JPEG with its scan (SOS segment and data) repeated `scans` times. */
export function jpegWithScans(scans: number): Uint8Array {
  const b = smallJpeg();
  let sos = -1;
  for (let i = 2; i + 1 < b.length; i++) if (b[i] === 0xff && b[i + 1] === 0xda) sos = i;
  const scan = b.subarray(sos, b.length - 2); // up to EOI
  return concat([b.subarray(0, sos), ...Array(scans).fill(scan), Uint8Array.of(0xff, 0xd9)]);
}

/** A safetensors file from a raw header text and data section. */
export function safetensorsRaw(header: string, data = new Uint8Array(0), length?: number) {
  const h = enc.encode(header);
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(length ?? h.length), true);
  return concat([head, h, data]);
}
