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
  for (let r = 0; r < rows; r++) {
    const rowBase = (rowLo + r) * W * C;
    const midBase = r * outW * C;
    for (let x = 0; x < outW; x++) {
      const s0 = tx.start[x], n = tx.count[x], wb = x * tx.maxTaps;
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += tx.weights[wb + k] * src[rowBase + (s0 + k) * C + c];
        mid[midBase + x * C + c] = acc;
      }
    }
  }
  const out = makeImage(outW, outH, C);
  const dst = out.data, rowLen = outW * C;
  for (let y = 0; y < outH; y++) {
    const s0 = ty.start[y] - rowLo, n = ty.count[y], wb = y * ty.maxTaps;
    const o = y * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += ty.weights[wb + k] * mid[(s0 + k) * rowLen + i];
      dst[o + i] = acc <= 0 ? 0 : acc >= 255 ? 255 : Math.round(acc);
    }
  }
  return out;
}
