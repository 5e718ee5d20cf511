// The geometry of one conv2d and the words and sizes derived from it. Shared by every
// strategy of the family and by its callers; imports nothing.

/** One conv2d: input [n, c, h, w], weight [o, c / groups, kh, kw], output [n, o, oh, ow]. */
export interface Conv2dGeometry {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  /** Channel groups (PyTorch's `groups`); default 1, the only value implemented so far. */
  groups?: number;
}

/** Output height and width; throws when the kernel does not fit the padded input. */
export function conv2dOutputSize(s: Conv2dGeometry): { oh: number; ow: number } {
  const oh = Math.floor((s.h + 2 * s.padH - s.kh) / s.strideH) + 1;
  const ow = Math.floor((s.w + 2 * s.padW - s.kw) / s.strideW) + 1;
  if (!(oh > 0 && ow > 0)) {
    throw new Error(
      `conv2d: a ${s.kh}x${s.kw} kernel does not fit a ${s.h}x${s.w} input with padding ` +
        `${s.padH},${s.padW}`,
    );
  }
  return { oh, ow };
}

/** Throws unless `s` is a conv the kernels implement (groups = 1). */
export function checkSupported(s: Conv2dGeometry): void {
  const groups = s.groups ?? 1;
  if (groups !== 1) {
    throw new Error(
      `conv2d ${describeConv(s)}: groups = ${groups} is not implemented (only groups = 1); ` +
        `a grouped or depthwise conv needs its own kernels in kernels/conv2d/`,
    );
  }
}

/** Words for error messages and benchmark rows, e.g. "N8 C3->64 224x224 k7 s2 p3". */
export function describeConv(s: Conv2dGeometry): string {
  const k = s.kh === s.kw ? `k${s.kh}` : `k${s.kh}x${s.kw}`;
  const st = s.strideH === s.strideW ? `s${s.strideH}` : `s${s.strideH}x${s.strideW}`;
  const p = s.padH === s.padW ? `p${s.padH}` : `p${s.padH}x${s.padW}`;
  const g = (s.groups ?? 1) !== 1 ? ` g${s.groups}` : "";
  return `N${s.n} C${s.c}->${s.o} ${s.h}x${s.w} ${k} ${st} ${p}${g}`;
}
