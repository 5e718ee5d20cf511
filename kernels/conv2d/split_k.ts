// The second pass of a split weight-gradient reduction. WGSL has no float atomics, so a
// long reduction (over images and positions) is cut into `splits` ranges that each write a
// partial dW; this pass sums them into dW (adding to it for the later chunks of a batch).
// A partial may cover only a window of the kernel's taps (those that read some pixel); the
// taps outside it get zeros.

import { type Gpu, grid1d } from "../device.ts";
import { defineKernel } from "../kernel.ts";
import type { Conv2dGeometry } from "./geometry.ts";
import type { TapWindow } from "./regions.ts";

const SUM_WG = 64;

// dw[i] (+)= sum over splits s of part[s, j] for dw's element i = (row, tap (kh, kw)) and the
// window's column j; 0 for a tap outside the window. part is [splits][rows][winH*winW].
const SUM_PARTIALS = defineKernel({
  name: "conv2d sum weight partials",
  key: () => "",
  bindings: [
    { name: "part", type: "f32" },
    { name: "dw", type: "f32", access: "read_write" },
  ],
  params: {
    size: "u32",
    splits: "u32",
    accumulate: "u32",
    partSize: "u32",
    kh: "u32",
    kw: "u32",
    kh0: "u32",
    kw0: "u32",
    winH: "u32",
    winW: "u32",
  },
  body: () => /* wgsl */ `
@compute @workgroup_size(${SUM_WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${SUM_WG}u;
  if (i >= p.size) { return; }
  var s = 0.0;
  if (p.accumulate != 0u) { s = dw[i]; }
  let taps = p.kh * p.kw;
  let row = i / taps;
  let t = i - row * taps;
  let a = t / p.kw - p.kh0; // wraps around (large) below the window
  let b = t % p.kw - p.kw0;
  if (a < p.winH && b < p.winW) {
    let j = (row * p.winH + a) * p.winW + b;
    for (var r = 0u; r < p.splits; r++) { s += part[r * p.partSize + j]; }
  }
  dw[i] = s;
}`,
});

/**
 * dw (+)= the sum of `splits` partials in `part` ([splits][o * c][window taps]); `accumulate`
 * adds to dw (a later chunk of the batch) instead of overwriting it.
 */
export function sumWeightPartials(
  g: Gpu,
  part: GPUBuffer,
  dw: GPUBuffer,
  s: Conv2dGeometry,
  splits: number,
  win: TapWindow,
  accumulate: boolean,
  what: string,
): void {
  const partSize = s.o * s.c * win.winH * win.winW;
  const size = s.o * s.c * s.kh * s.kw;
  SUM_PARTIALS.get(g, null).dispatch(
    [{ buffer: part, offset: 0, size: splits * partSize * 4 }, {
      buffer: dw,
      offset: 0,
      size: size * 4,
    }],
    {
      size,
      splits,
      accumulate: accumulate ? 1 : 0,
      partSize,
      kh: s.kh,
      kw: s.kw,
      kh0: win.kh0,
      kw0: win.kw0,
      winH: win.winH,
      winW: win.winW,
    },
    grid1d(size, SUM_WG),
    what,
  );
}
