// Separable bilinear resampling of a rectangle of a uint8 HWC image, with optional
// antialiasing: when shrinking by a factor s the triangle filter is widened to s input
// pixels (the scheme of PIL and of torch's _upsample_bilinear2d_aa). Without antialias,
// or when enlarging, it is plain bilinear with half-pixel centres (align_corners=False).
// Arithmetic is in float and rounded once at the end, as torchvision does for uint8
// tensors (PIL rounds between the passes too, so PIL can differ by 1).

import { type Image, makeImage } from "../image.ts";

interface Taps {
  start: Int32Array;
  count: Int32Array;
  weights: Float32Array; // count[i] weights of output i at i * maxTaps
  maxTaps: number;
}

/** Input taps and normalised weights for each of outSize outputs over [offset, offset+inSize). */
function computeTaps(inSize: number, outSize: number, offset: number, antialias: boolean): Taps {
  const scale = inSize / outSize;
  const support = antialias && scale > 1 ? scale : 1;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    const n = hi - lo;
    for (let j = 0; j < n; j++) {
      const w = Math.max(0, 1 - Math.abs((j + lo - center + 0.5) / support));
      weights[i * maxTaps + j] = w;
      total += w;
    }
    for (let j = 0; j < n; j++) weights[i * maxTaps + j] /= total || 1;
    start[i] = lo + offset;
    count[i] = n;
  }
  return { start, count, weights, maxTaps };
}

/**
 * Clamps to [0, 255] and rounds half up, as Math.round: for v >= 0.5 the sum v + 0.5 never
 * rounds up across an integer in f64, so truncating it is exact (and much faster).
 */
function toByte(v: number): number {
  return v < 0.5 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
}

/**
 * Resamples the rectangle (top, left, height, width) of img to outH x outW.
 * The rectangle must lie inside the image.
 */
export function resizeRegion(
  img: Image,
  top: number,
  left: number,
  height: number,
  width: number,
  outH: number,
  outW: number,
  antialias = true,
): Image {
  const C = img.channels, W = img.width, src = img.data;
  const tx = computeTaps(width, outW, left, antialias);
  const ty = computeTaps(height, outH, top, antialias);
  // Horizontal pass over only the rows the vertical pass will read.
  const rowLo = ty.start[0], rowHi = ty.start[outH - 1] + ty.count[outH - 1];
  const rows = rowHi - rowLo;
  const mid = new Float32Array(rows * outW * C);
  const xw = tx.weights, xStart = tx.start, xCount = tx.count, xTaps = tx.maxTaps;
  // Loops are ordered for speed; each output still sums its taps in order k = 0..n-1 in
  // f64, so results are the same bits as the plain per-channel loop.
  for (let r = 0; r < rows; r++) {
    const rowBase = (rowLo + r) * W * C;
    const midBase = r * outW * C;
    if (C === 3) {
      for (let x = 0; x < outW; x++) {
        const n = xCount[x], wb = x * xTaps;
        let a0 = 0, a1 = 0, a2 = 0;
        for (let k = 0, p = rowBase + xStart[x] * 3; k < n; k++, p += 3) {
          const wk = xw[wb + k];
          a0 += wk * src[p];
          a1 += wk * src[p + 1];
          a2 += wk * src[p + 2];
        }
        const m = midBase + x * 3;
        mid[m] = a0;
        mid[m + 1] = a1;
        mid[m + 2] = a2;
      }
      continue;
    }
    for (let x = 0; x < outW; x++) {
      const s0 = xStart[x], n = xCount[x], wb = x * xTaps;
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += xw[wb + k] * src[rowBase + (s0 + k) * C + c];
        mid[midBase + x * C + c] = acc;
      }
    }
  }
  const out = makeImage(outW, outH, C);
  const dst = out.data, rowLen = outW * C;
  const yw = ty.weights;
  for (let y = 0; y < outH; y++) {
    const n = ty.count[y], wb = y * ty.maxTaps, o = y * rowLen;
    const m0 = (ty.start[y] - rowLo) * rowLen;
    // up to four taps unrolled: the sum is still ((w0 a + w1 b) + w2 c) + w3 d, in order
    if (n <= 4) {
      const w0 = yw[wb], w1 = n > 1 ? yw[wb + 1] : 0, w2 = n > 2 ? yw[wb + 2] : 0;
      const w3 = n > 3 ? yw[wb + 3] : 0;
      const m1 = n > 1 ? m0 + rowLen : m0, m2 = n > 2 ? m0 + 2 * rowLen : m0;
      const m3 = n > 3 ? m0 + 3 * rowLen : m0;
      for (let i = 0; i < rowLen; i++) {
        let v = w0 * mid[m0 + i];
        if (n > 1) v += w1 * mid[m1 + i];
        if (n > 2) v += w2 * mid[m2 + i];
        if (n > 3) v += w3 * mid[m3 + i];
        dst[o + i] = toByte(v);
      }
      continue;
    }
    for (let i = 0; i < rowLen; i++) {
      let v = 0;
      for (let k = 0, m = m0 + i; k < n; k++, m += rowLen) v += yw[wb + k] * mid[m];
      dst[o + i] = toByte(v);
    }
  }
  return out;
}
