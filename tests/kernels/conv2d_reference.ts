// Plain-loop f64 references for conv2d and its gradients, written from the definition
// (cross-correlation with zero padding), used by the kernel and op tests.

import type { Conv2dGeometry } from "../../kernels/conv2d/mod.ts";

export function outSize(s: Conv2dGeometry): [number, number] {
  return [
    Math.floor((s.h + 2 * s.padH - s.kh) / s.strideH) + 1,
    Math.floor((s.w + 2 * s.padW - s.kw) / s.strideW) + 1,
  ];
}

/** Calls f(x index, y index, w index, o) for every product x*w that lands inside the image. */
function eachProduct(
  s: Conv2dGeometry,
  f: (xi: number, yi: number, wi: number, o: number) => void,
): void {
  const [oh, ow] = outSize(s);
  for (let n = 0; n < s.n; n++) {
    for (let o = 0; o < s.o; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const yi = ((n * s.o + o) * oh + oy) * ow + ox;
          for (let c = 0; c < s.c; c++) {
            for (let ky = 0; ky < s.kh; ky++) {
              const iy = oy * s.strideH - s.padH + ky;
              if (iy < 0 || iy >= s.h) continue;
              for (let kx = 0; kx < s.kw; kx++) {
                const ix = ox * s.strideW - s.padW + kx;
                if (ix < 0 || ix >= s.w) continue;
                f(
                  ((n * s.c + c) * s.h + iy) * s.w + ix,
                  yi,
                  ((o * s.c + c) * s.kh + ky) * s.kw + kx,
                  o,
                );
              }
            }
          }
        }
      }
    }
  }
}

export function conv2dRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  s: Conv2dGeometry,
): Float64Array {
  const [oh, ow] = outSize(s);
  const y = new Float64Array(s.n * s.o * oh * ow);
  if (b) { for (let i = 0; i < y.length; i++) y[i] = b[Math.floor(i / (oh * ow)) % s.o]; }
  eachProduct(s, (xi, yi, wi) => (y[yi] += x[xi] * w[wi]));
  return y;
}

export function conv2dInputGradRef(
  dy: ArrayLike<number>,
  w: ArrayLike<number>,
  s: Conv2dGeometry,
): Float64Array {
  const dx = new Float64Array(s.n * s.c * s.h * s.w);
  eachProduct(s, (xi, yi, wi) => (dx[xi] += dy[yi] * w[wi]));
  return dx;
}

export function conv2dWeightGradRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  s: Conv2dGeometry,
): Float64Array {
  const dw = new Float64Array(s.o * s.c * s.kh * s.kw);
  eachProduct(s, (xi, yi, wi) => (dw[wi] += dy[yi] * x[xi]));
  return dw;
}

export function conv2dBiasGradRef(dy: ArrayLike<number>, s: Conv2dGeometry): Float64Array {
  const [oh, ow] = outSize(s);
  const db = new Float64Array(s.o);
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / (oh * ow)) % s.o] += dy[i];
  return db;
}

/** A geometry from the fields tests usually vary. */
export function geometry(
  n: number,
  c: number,
  h: number,
  w: number,
  o: number,
  k: number | [number, number],
  stride: number | [number, number] = 1,
  pad: number | [number, number] = 0,
): Conv2dGeometry {
  const [kh, kw] = typeof k === "number" ? [k, k] : k;
  const [strideH, strideW] = typeof stride === "number" ? [stride, stride] : stride;
  const [padH, padW] = typeof pad === "number" ? [pad, pad] : pad;
  return { n, c, h, w, o, kh, kw, strideH, strideW, padH, padW };
}
