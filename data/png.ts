// PNG decoder: chunk parsing with CRC checks, zlib inflate through fflate, the five
// scanline filters, Adam7 de-interlacing, and every colour type / bit depth of the spec.

import { unzlibSync } from "npm:fflate@0.8.3";
import { crc32 } from "../base/crc32.ts";
import { DecodeError } from "./errors.ts";
import type { Image } from "./image.ts";
import { DEFAULT_MAX_PIXELS } from "./limits.ts";

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/** Samples exactly as stored, after palette expansion. 16-bit files keep 16 bits. */
export interface PngRaw {
  width: number;
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (a palette with tRNS becomes 4). */
  channels: number;
  bitDepth: 8 | 16;
  interlaced: boolean;
  data: Uint8Array | Uint16Array;
}

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlace: number;
}

export function isPng(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  for (let i = 0; i < 8; i++) if (bytes[i] !== SIGNATURE[i]) return false;
  return true;
}

const CHANNELS_OF_COLOR_TYPE: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS_OF_COLOR_TYPE: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Deflate's best compression ratio (a 258-byte match coded in 2 bits). */
export const MAX_DEFLATE_RATIO = 1032;

/** The fewest bytes a PNG of this header can have (its raw scanlines at deflate's best ratio). */
export function pngMinBytes(h: PngHeader): number {
  const bits = CHANNELS_OF_COLOR_TYPE[h.colorType] * h.bitDepth;
  return Math.ceil((h.height * (1 + Math.ceil((h.width * bits) / 8))) / MAX_DEFLATE_RATIO);
}

/** Reads and validates the IHDR chunk only (cheap; used to check a file before decoding). */
export function readPngHeader(bytes: Uint8Array, name: string): PngHeader {
  if (bytes.length === 0) throw new DecodeError(name, "the file is empty (0 bytes)");
  if (!isPng(bytes)) throw new DecodeError(name, "not a PNG file (bad signature)");
  if (bytes.length < 33) throw new DecodeError(name, "truncated PNG (no complete IHDR chunk)");
  const type = String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]);
  if (type !== "IHDR" || u32(bytes, 8) !== 13) {
    throw new DecodeError(name, "PNG does not start with an IHDR chunk");
  }
  const h: PngHeader = {
    width: u32(bytes, 16),
    height: u32(bytes, 20),
    bitDepth: bytes[24],
    colorType: bytes[25],
    interlace: bytes[28],
  };
  if (h.width === 0 || h.height === 0) throw new DecodeError(name, "PNG has zero width or height");
  const depths = DEPTHS_OF_COLOR_TYPE[h.colorType];
  if (!depths) throw new DecodeError(name, `invalid PNG colour type ${h.colorType}`);
  if (!depths.includes(h.bitDepth)) {
    throw new DecodeError(name, `invalid bit depth ${h.bitDepth} for colour type ${h.colorType}`);
  }
  if (bytes[26] !== 0 || bytes[27] !== 0) {
    throw new DecodeError(name, "unknown PNG compression or filter method");
  }
  if (h.interlace > 1) throw new DecodeError(name, `unknown PNG interlace method ${h.interlace}`);
  return h;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Reverses the scanline filter of one row in place; prev is the unfiltered previous row. */
function unfilterRow(
  filter: number,
  row: Uint8Array,
  prev: Uint8Array | null,
  bpp: number,
  name: string,
): void {
  const n = row.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) row[i] = (row[i] + row[i - bpp]) & 255;
      return;
    case 2:
      if (prev) { for (let i = 0; i < n; i++) row[i] = (row[i] + prev[i]) & 255; }
      return;
    case 3:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? row[i - bpp] : 0;
        const up = prev ? prev[i] : 0;
        row[i] = (row[i] + ((left + up) >> 1)) & 255;
      }
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? row[i - bpp] : 0;
        const up = prev ? prev[i] : 0;
        const ul = prev && i >= bpp ? prev[i - bpp] : 0;
        row[i] = (row[i] + paeth(left, up, ul)) & 255;
      }
      return;
    default:
      throw new DecodeError(name, `invalid PNG filter type ${filter}`);
  }
}

// Adam7 passes: x0, y0, dx, dy.
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** Decodes a PNG, keeping alpha and 16-bit samples. Errors name the file. */
export function decodePngRaw(
  bytes: Uint8Array,
  name = "<bytes>",
  maxPixels = DEFAULT_MAX_PIXELS,
): PngRaw {
  const h = readPngHeader(bytes, name);
  if (h.width * h.height > maxPixels) {
    throw new DecodeError(
      name,
      `${h.width}x${h.height} exceeds the limit of ${maxPixels} pixels (raise maxPixels if intended)`,
    );
  }
  // Walk the chunks, checking each CRC, gathering IDAT, PLTE and tRNS.
  const idat: Uint8Array[] = [];
  let idatLength = 0;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  let sawEnd = false;
  let pos = 8;
  while (pos + 12 <= bytes.length) {
    const len = u32(bytes, pos);
    const type = String.fromCharCode(
      bytes[pos + 4],
      bytes[pos + 5],
      bytes[pos + 6],
      bytes[pos + 7],
    );
    if (pos + 12 + len > bytes.length) {
      throw new DecodeError(name, `truncated PNG (chunk ${type} runs past the end of the file)`);
    }
    const crc = u32(bytes, pos + 8 + len);
    if (crc32(bytes, pos + 4, pos + 8 + len) !== crc) {
      throw new DecodeError(
        name,
        `PNG chunk ${type} at byte ${pos} fails its CRC check (corrupt file)`,
      );
    }
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    if (type === "IDAT") {
      idat.push(body);
      idatLength += len;
    } else if (type === "PLTE") palette = body;
    else if (type === "tRNS") trns = body;
    else if (type === "IEND") {
      sawEnd = true;
      break;
    } else if ((bytes[pos + 4] & 0x20) === 0 && type !== "IHDR") {
      throw new DecodeError(name, `unsupported critical PNG chunk ${type}`);
    }
    pos += 12 + len;
  }
  if (!sawEnd) throw new DecodeError(name, "truncated PNG (no IEND chunk)");
  if (idatLength === 0) throw new DecodeError(name, "PNG has no image data (no IDAT chunk)");
  if (h.colorType === 3 && !palette) {
    throw new DecodeError(name, "palette PNG without a PLTE chunk");
  }

  const compressed = new Uint8Array(idatLength);
  for (let o = 0, i = 0; i < idat.length; o += idat[i].length, i++) compressed.set(idat[i], o);

  const samplesPerPixel = CHANNELS_OF_COLOR_TYPE[h.colorType];
  const bitsPerPixel = samplesPerPixel * h.bitDepth;
  const bpp = Math.max(1, bitsPerPixel >> 3); // filter byte distance
  const rowBytes = (w: number) => Math.ceil((w * bitsPerPixel) / 8);
  const passes = h.interlace
    ? ADAM7.map(([x0, y0, dx, dy]) => ({
      x0,
      y0,
      dx,
      dy,
      w: Math.max(0, Math.ceil((h.width - x0) / dx)),
      hh: Math.max(0, Math.ceil((h.height - y0) / dy)),
    }))
    : [{ x0: 0, y0: 0, dx: 1, dy: 1, w: h.width, hh: h.height }];
  let expected = 0;
  for (const p of passes) if (p.w > 0 && p.hh > 0) expected += p.hh * (1 + rowBytes(p.w));

  if (idatLength * MAX_DEFLATE_RATIO < expected) {
    throw new DecodeError(
      name,
      `claims ${h.width}x${h.height} pixels but its image data has only ${idatLength} bytes, ` +
        `too few to inflate to the ${expected} bytes needed (deflate shrinks at most ` +
        `${MAX_DEFLATE_RATIO}:1; corrupt, or a decompression bomb)`,
    );
  }
  let raw: Uint8Array;
  try {
    raw = unzlibSync(compressed, { out: new Uint8Array(expected) });
  } catch (e) {
    throw new DecodeError(name, `corrupt PNG image data (${(e as Error).message})`);
  }
  if (raw.length < expected) {
    throw new DecodeError(name, `PNG image data is short: ${raw.length} of ${expected} bytes`);
  }

  // Output layout: palette expands to RGB (RGBA when tRNS is present).
  const outChannels = h.colorType === 3 ? (trns ? 4 : 3) : samplesPerPixel;
  const wide = h.bitDepth === 16;
  const out = wide
    ? new Uint16Array(h.width * h.height * outChannels)
    : new Uint8Array(h.width * h.height * outChannels);
  const grayScale = h.colorType === 0 ? [0, 255, 85, 0, 17][h.bitDepth] ?? 1 : 1;

  let off = 0;
  for (const p of passes) {
    if (p.w === 0 || p.hh === 0) continue;
    const rb = rowBytes(p.w);
    let prev: Uint8Array | null = null;
    for (let y = 0; y < p.hh; y++) {
      const filter = raw[off];
      const row = raw.subarray(off + 1, off + 1 + rb);
      off += 1 + rb;
      unfilterRow(filter, row, prev, bpp, name);
      prev = row;
      const oy = p.y0 + y * p.dy;
      for (let x = 0; x < p.w; x++) {
        const o = ((oy * h.width) + p.x0 + x * p.dx) * outChannels;
        if (h.bitDepth === 16) {
          for (let c = 0; c < samplesPerPixel; c++) {
            const s = (x * samplesPerPixel + c) * 2;
            out[o + c] = (row[s] << 8) | row[s + 1];
          }
        } else if (h.bitDepth === 8) {
          if (h.colorType === 3) {
            writePaletteEntry(out as Uint8Array, o, row[x], palette!, trns, name);
          } else {for (let c = 0; c < samplesPerPixel; c++) {
              out[o + c] = row[x * samplesPerPixel + c];
            }}
        } else {
          // 1, 2 or 4 bits: gray or palette index, most significant bits first.
          const bit = x * h.bitDepth;
          const v = (row[bit >> 3] >> (8 - h.bitDepth - (bit & 7))) & ((1 << h.bitDepth) - 1);
          if (h.colorType === 3) writePaletteEntry(out as Uint8Array, o, v, palette!, trns, name);
          else out[o] = v * grayScale;
        }
      }
    }
  }
  return {
    width: h.width,
    height: h.height,
    channels: outChannels,
    bitDepth: wide ? 16 : 8,
    interlaced: h.interlace === 1,
    data: out,
  };
}

function writePaletteEntry(
  out: Uint8Array,
  o: number,
  index: number,
  palette: Uint8Array,
  trns: Uint8Array | null,
  name: string,
): void {
  if (index * 3 + 2 >= palette.length) {
    throw new DecodeError(
      name,
      `palette index ${index} is outside the ${palette.length / 3}-entry PLTE`,
    );
  }
  out[o] = palette[index * 3];
  out[o + 1] = palette[index * 3 + 1];
  out[o + 2] = palette[index * 3 + 2];
  if (trns) out[o + 3] = index < trns.length ? trns[index] : 255;
}

/**
 * Decodes a PNG into an 8-bit Image with 1 (gray) or 3 (RGB) channels.
 * Alpha is dropped (as PIL's convert("RGB") does, without compositing) and
 * 16-bit samples keep their high byte.
 */
export function decodePng(bytes: Uint8Array, name = "<bytes>", maxPixels?: number): Image {
  const raw = decodePngRaw(bytes, name, maxPixels);
  const colorChannels = raw.channels >= 3 ? 3 : 1;
  const n = raw.width * raw.height;
  const data = new Uint8Array(n * colorChannels);
  const shift = raw.bitDepth === 16 ? 8 : 0;
  const src = raw.data;
  if (raw.channels === colorChannels && shift === 0) data.set(src as Uint8Array);
  else {
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < colorChannels; c++) {
        data[i * colorChannels + c] = src[i * raw.channels + c] >> shift;
      }
    }
  }
  return { width: raw.width, height: raw.height, channels: colorChannels, data };
}
