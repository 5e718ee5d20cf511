// Batches arrive from the loader as uint8 NHWC pixels (a quarter of the bytes of floats);
// this kernel turns them into the NCHW f32 input of the network: out[n, c, y, x] =
// table[c * 256 + pixel(n, y, x, c)]. The table holds ToTensor (+ Normalize) of every
// byte value per channel, computed on the CPU in f64 exactly as those transforms do, so
// the result is bit-identical to normalising on the CPU.
//
// WGSL has no u8 storage: the pixels are read as u32 words and the byte picked by index,
// so an image (or a chunk) may start at any byte.

import { type Gpu, grid1d, WGSL_FLAT_INDEX } from "./device.ts";
import { defineKernel } from "./kernel.ts";

const WG = 256;

const BYTES_TO_FLOATS = defineKernel({
  name: "normalize_u8",
  key: () => "",
  bindings: [
    { name: "pixels", type: "u32", offset: true },
    { name: "table", type: "f32" },
    { name: "out", type: "f32", access: "read_write", offset: true },
  ],
  // firstByte: the chunk's first pixel byte within its first bound word (0..3)
  params: { n: "u32", channels: "u32", plane: "u32", firstByte: "u32" },
  body: () => /* wgsl */ `
${WGSL_FLAT_INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatIndex(gid, nwg, ${WG}u);
  if (i >= p.n) { return; }
  let image = p.channels * p.plane;
  let img = i / image;
  let c = (i % image) / p.plane;
  let pix = i % p.plane;
  let byte = p.firstByte + img * image + pix * p.channels + c;
  let v = (pixels[p.pixelsOff + byte / 4u] >> (8u * (byte % 4u))) & 255u;
  out[p.outOff + i] = table[c * 256u + v];
}`,
});

/**
 * out (NCHW f32, images x channels x plane) = table lookup of `pixels` (NHWC bytes, a
 * buffer holding at least ceil(images * channels * plane / 4) words).
 */
export function bytesToFloats(
  g: Gpu,
  pixels: GPUBuffer,
  table: GPUBuffer,
  out: GPUBuffer,
  images: number,
  channels: number,
  plane: number,
): void {
  const kernel = BYTES_TO_FLOATS.get(g, undefined);
  const per = channels * plane;
  const what = `normalize_u8[${images}x${channels}x${plane}]`;
  // +4 bytes per image: room for a chunk that starts mid-word
  for (const ch of g.chunks(what, images, [per + 4, per * 4])) {
    const start = ch.start * per, end = (ch.start + ch.count) * per;
    const word0 = Math.floor(start / 4);
    kernel.dispatch(
      [
        { buffer: pixels, offset: word0 * 4, size: (Math.ceil(end / 4) - word0) * 4 },
        { buffer: table, offset: 0, size: channels * 256 * 4 },
        { buffer: out, offset: start * 4, size: (end - start) * 4 },
      ],
      { n: end - start, channels, plane, firstByte: start - word0 * 4 },
      grid1d(end - start, WG),
      what,
    );
  }
}
