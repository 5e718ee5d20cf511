// Tiny datasets written into a temp dir for the CLI/training tests: RGB PNGs whose class is
// visible in the pixels (a bright square in a class-specific corner) so that a few steps of
// training can move accuracy, and a small encoder so the tests need no fixture files.

import { zlibSync } from "npm:fflate@0.8.3";
import { crc32 } from "../../base/crc32.ts";

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/** An 8-bit RGB PNG of width x height from HWC pixels. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, colour type 2 (RGB)
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  }
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlibSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

/** Pixels of sample `i` of class `label`: noise plus a bright square in the class's corner. */
export function classImage(label: number, i: number, size: number): Uint8Array {
  const px = new Uint8Array(size * size * 3);
  let s = (label * 7919 + i * 104729 + 1) >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const half = size >> 1;
  const [oy, ox] = [[0, 0], [0, half], [half, 0], [half, half]][label % 4];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = y >= oy && y < oy + half && x >= ox && x < ox + half;
      for (let c = 0; c < 3; c++) {
        px[(y * size + x) * 3 + c] = inside ? 200 + rand() * 55 : rand() * 60;
      }
    }
  }
  return px;
}

export interface TinyFolderOptions {
  classes?: string[];
  perClass?: number;
  size?: number;
  /** Also write a test/ split (then images go under train/ and test/). */
  split?: boolean;
  testPerClass?: number;
}

/** Writes an ImageFolder under `root` and returns its path. */
export async function writeImageFolder(root: string, o: TinyFolderOptions = {}): Promise<string> {
  const classes = o.classes ?? ["cat", "dog"];
  const size = o.size ?? 16;
  const write = async (dir: string, count: number, offset: number) => {
    for (const [label, name] of classes.entries()) {
      await Deno.mkdir(`${dir}/${name}`, { recursive: true });
      for (let i = 0; i < count; i++) {
        await Deno.writeFile(
          `${dir}/${name}/${i}.png`,
          encodePng(size, size, classImage(label, i + offset, size)),
        );
      }
    }
  };
  if (o.split) {
    await write(`${root}/train`, o.perClass ?? 8, 0);
    await write(`${root}/test`, o.testPerClass ?? 4, 1000);
  } else await write(root, o.perClass ?? 8, 0);
  return root;
}
