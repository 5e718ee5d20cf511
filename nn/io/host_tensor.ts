// A tensor that lives in host memory: what weight files are read into and
// written from, before anything is uploaded to the GPU. Web-standard only.

/** Element types a weight file may hold. */
export type HostDType = "f32" | "f16" | "bf16" | "i64" | "i32";

/** The typed array that backs each dtype. f16 and bf16 keep their raw bits. */
export type HostData = Float32Array | Uint16Array | BigInt64Array | Int32Array;

/** A tensor on the CPU, as read from or written to a weight file. */
export interface HostTensor {
  /** The element type of `data`. */
  dtype: HostDType;
  /** The dimensions ([] for a scalar). */
  shape: number[];
  /** Row-major (contiguous) elements, exactly numel(shape) of them. */
  data: HostData;
}

/** Named tensors in insertion order, as in a PyTorch state dict. */
export type StateDict = Map<string, HostTensor>;

const BYTES: Record<HostDType, number> = { f32: 4, f16: 2, bf16: 2, i64: 8, i32: 4 };

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: HostDType): number {
  return BYTES[dtype];
}

/** Number of elements of a shape ([] is a scalar: 1 element). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** An empty typed array of the right kind for a dtype. */
export function allocData(dtype: HostDType, length: number): HostData {
  switch (dtype) {
    case "f32":
      return new Float32Array(length);
    case "f16":
    case "bf16":
      return new Uint16Array(length);
    case "i64":
      return new BigInt64Array(length);
    case "i32":
      return new Int32Array(length);
  }
}

/** Builds a tensor, checking that the data matches dtype and shape. */
export function hostTensor(dtype: HostDType, shape: number[], data: HostData): HostTensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid tensor shape [${shape}]`);
  }
  const expected = allocData(dtype, 0).constructor;
  if (data.constructor !== expected) {
    throw new Error(`dtype ${dtype} needs a ${expected.name}, got a ${data.constructor.name}`);
  }
  if (data.length !== numel(shape)) {
    throw new Error(`shape [${shape}] has ${numel(shape)} elements but data has ${data.length}`);
  }
  return { dtype, shape, data };
}

/**
 * Copies little-endian element bytes into a new, aligned tensor. The byte
 * order of the host is assumed little-endian (true of every WebGPU platform).
 */
export function tensorFromBytes(dtype: HostDType, shape: number[], bytes: Uint8Array): HostTensor {
  const n = numel(shape);
  if (bytes.byteLength !== n * BYTES[dtype]) {
    throw new Error(
      `shape [${shape}] of ${dtype} needs ${n * BYTES[dtype]} bytes, got ${bytes.byteLength}`,
    );
  }
  const data = allocData(dtype, n);
  new Uint8Array(data.buffer).set(bytes);
  return { dtype, shape, data };
}

/** The tensor's elements as little-endian bytes (a view, not a copy). */
export function tensorBytes(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** True for values shaped like a HostTensor. */
export function isHostTensor(v: unknown): v is HostTensor {
  if (typeof v !== "object" || v === null) return false;
  const t = v as HostTensor;
  return typeof t.dtype === "string" && t.dtype in BYTES && Array.isArray(t.shape) &&
    ArrayBuffer.isView(t.data);
}

/** IEEE half-precision bits to a number (subnormals, infinities and NaN included). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The tensor's values as float32 (a copy; f16/bf16 widened, integers converted). */
export function toFloat32(t: HostTensor): Float32Array {
  const n = t.data.length;
  switch (t.dtype) {
    case "f32":
      return (t.data as Float32Array).slice();
    case "f16": {
      const src = t.data as Uint16Array;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(src[i]);
      return out;
    }
    case "bf16": {
      // bfloat16 is the top half of a float32: shift the bits back into place.
      const src = t.data as Uint16Array;
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case "i64": {
      const src = t.data as BigInt64Array;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return out;
    }
    case "i32":
      return Float32Array.from(t.data as Int32Array);
  }
}

const f32Scratch = new Float32Array(1);
const f32Bits = new Uint32Array(f32Scratch.buffer);

/** A number as IEEE half-precision bits, rounded to nearest even (as PyTorch's .half()):
 * too large gives infinity, too small a subnormal or zero, NaN stays NaN. */
export function floatToHalf(x: number): number {
  f32Scratch[0] = x; // a float32 first, so rounding is from the value a Float32Array holds
  const b = f32Bits[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  // keep the top bits of the (implicit-1) significand, rounding the `shift` dropped bits
  const [kept, shift] = e > 0 ? [(e << 10) | (mant >>> 13), 13] : [0, 14 - e];
  if (shift > 24) return sign;
  const sig = e > 0 ? mant : mant | 0x800000;
  let h = e > 0 ? kept : sig >>> shift;
  const rest = sig & ((1 << shift) - 1), half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1))) h++; // a carry into the exponent is right
  return sign | h;
}

/** A float tensor as f16 (the values rounded to nearest even); other dtypes are returned as
 * they are. */
export function toFloat16(t: HostTensor): HostTensor {
  if (t.dtype !== "f32" && t.dtype !== "bf16") return t;
  const src = toFloat32(t);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]);
  return { dtype: "f16", shape: [...t.shape], data: out };
}
