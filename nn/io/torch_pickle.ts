// The PyTorch side of unpickling a torch.save file: the allow-list of globals
// that a state dict or a training checkpoint needs, storages, and rebuilding
// (possibly strided) tensors into contiguous HostTensors. Web-standard only.

import { allocData, type HostData, type HostDType, type HostTensor } from "./host_tensor.ts";
import type { PickleCallable } from "./pickle.ts";

/** A storage type as named in the pickle (torch.FloatStorage, ...). */
export class TorchStorageType {
  constructor(
    readonly torchName: string,
    /** Element type in the file. */
    readonly fileType: FileElement,
  ) {}
}

/** A loaded storage: every element of one `data/<key>` record. */
export interface TorchStorage {
  key: string;
  dtype: HostDType;
  data: HostData;
}

type FileElement = "f32" | "f16" | "bf16" | "i64" | "i32" | "f64" | "u8" | "i8" | "i16" | "bool";

const STORAGE_TYPES: Record<string, FileElement> = {
  FloatStorage: "f32",
  HalfStorage: "f16",
  BFloat16Storage: "bf16",
  LongStorage: "i64",
  IntStorage: "i32",
  // Widened on load to the nearest supported dtype (f64 -> f32, small ints/bool -> i32).
  DoubleStorage: "f64",
  ByteStorage: "u8",
  CharStorage: "i8",
  ShortStorage: "i16",
  BoolStorage: "bool",
};

const FILE_BYTES: Record<FileElement, number> = {
  f32: 4,
  f16: 2,
  bf16: 2,
  i64: 8,
  i32: 4,
  f64: 8,
  u8: 1,
  i8: 1,
  i16: 2,
  bool: 1,
};

/** Bytes per element of a storage type in the file. */
export function storageElementBytes(type: TorchStorageType): number {
  return FILE_BYTES[type.fileType];
}

/**
 * Decodes the raw bytes of a storage record into a typed array of a supported
 * dtype. `bigEndian` is set when the archive's `byteorder` record says "big".
 */
export function decodeStorage(
  key: string,
  type: TorchStorageType,
  count: number,
  raw: Uint8Array,
  bigEndian: boolean,
): TorchStorage {
  const size = FILE_BYTES[type.fileType];
  if (raw.byteLength < count * size) {
    throw new Error(
      `storage data/${key} (torch.${type.torchName}) holds ${raw.byteLength} bytes ` +
        `but ${count} elements need ${count * size}`,
    );
  }
  // Copy into a fresh buffer: aligned for the typed array, and byte-swapped if needed.
  const bytes = raw.slice(0, count * size);
  if (bigEndian && size > 1) {
    for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  }
  const buf = bytes.buffer;
  switch (type.fileType) {
    case "f32":
    case "i32":
    case "i64":
    case "f16":
    case "bf16": {
      const data = allocData(type.fileType, 0).constructor as new (b: ArrayBuffer) => HostData;
      return { key, dtype: type.fileType, data: new data(buf) };
    }
    case "f64":
      return { key, dtype: "f32", data: Float32Array.from(new Float64Array(buf)) };
    case "u8":
    case "bool":
      return { key, dtype: "i32", data: Int32Array.from(new Uint8Array(buf)) };
    case "i8":
      return { key, dtype: "i32", data: Int32Array.from(new Int8Array(buf)) };
    case "i16":
      return { key, dtype: "i32", data: Int32Array.from(new Int16Array(buf)) };
  }
}

/** Largest expanded (stride-0 or overlapping) view materialised: 1 Mi elements. */
export const MAX_EXPANDED_ELEMENTS = 1 << 20;

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0)) {
    throw new Error(`tensor ${what} is not a tuple of non-negative integers`);
  }
  return v as number[];
}

/**
 * torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): copies
 * the viewed elements into a contiguous tensor, so transposed or sliced views
 * come out exactly as PyTorch's `.contiguous()` would.
 */
export function rebuildTensor(
  storage: unknown,
  offsetArg: unknown,
  sizeArg: unknown,
  strideArg: unknown,
): HostTensor {
  if (typeof storage !== "object" || storage === null || !("data" in storage)) {
    throw new Error(`tensor storage is not a torch storage`);
  }
  const st = storage as TorchStorage;
  const shape = intList(sizeArg, "size");
  const stride = intList(strideArg, "stride");
  const offset = offsetArg as number;
  if (!Number.isInteger(offset) || offset < 0) throw new Error(`tensor storage offset is invalid`);
  if (stride.length !== shape.length) {
    throw new Error(`tensor size [${shape}] and stride [${stride}] differ in rank`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return { dtype: st.dtype, shape, data: allocData(st.dtype, 0) };

  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
  if (!Number.isSafeInteger(last) || last >= st.data.length) {
    throw new Error(
      `tensor [${shape}] at offset ${offset} with stride [${stride}] reaches element ${last} ` +
        `of storage data/${st.key}, which has only ${st.data.length}`,
    );
  }
  // A view with more elements than its storage repeats elements (a stride of 0, as
  // torch.expand makes, or overlapping strides). Materialised like .contiguous() when
  // small; a large one would take far more memory than the file holds (a 1 KB file can
  // expand to gigabytes), so it is refused. A state dict of weights never holds one.
  if (n > st.data.length && n > MAX_EXPANDED_ELEMENTS) {
    throw new Error(
      `tensor [${shape}] with stride [${stride}] is an expanded or overlapping view of ` +
        `${n} elements over storage data/${st.key} of ${st.data.length}; save it with ` +
        `.contiguous() (or .clone()) in PyTorch`,
    );
  }
  const out = allocData(st.dtype, n);

  const src = st.data;
  let contiguous = true;
  for (let d = shape.length - 1, expect = 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= shape[d];
  }
  if (contiguous) {
    out.set(src.subarray(offset, offset + n) as never);
    return { dtype: st.dtype, shape, data: out };
  }

  // Walk the output in row-major order, keeping a multi-index and a source position.
  const rank = shape.length;
  const idx = new Array(rank).fill(0);
  let pos = offset;
  for (let i = 0; i < n; i++) {
    out[i] = src[pos];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      pos += stride[d];
      if (idx[d] < shape[d]) break;
      pos -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return { dtype: st.dtype, shape, data: out };
}

/** Marker for torch.Tensor / torch.nn.Parameter as a type argument. */
const TENSOR_TYPE = Object.freeze({ torchType: "Tensor" });

/**
 * The globals a state dict or a plain training checkpoint needs. Each is a
 * data constructor; none can reach the file system, the network or eval.
 */
export function torchGlobals(): Map<string, PickleCallable> {
  const g = new Map<string, PickleCallable>();
  for (const [name, fileType] of Object.entries(STORAGE_TYPES)) {
    const type = new TorchStorageType(name, fileType);
    g.set(`torch.${name}`, () => {
      throw new Error(`torch.${name} may only appear inside a storage persistent id`);
    });
    // The pickle names the storage class; the persistent-id handler needs the type.
    (g.get(`torch.${name}`) as PickleCallable & { storageType?: TorchStorageType }).storageType =
      type;
  }
  const rebuild: PickleCallable = ([storage, offset, size, stride]) =>
    rebuildTensor(storage, offset, size, stride);
  g.set("torch._utils._rebuild_tensor_v2", rebuild);
  g.set("torch._utils._rebuild_tensor", rebuild);
  // Parameters (in whole-model or optimizer pickles) load as their tensor.
  g.set("torch._utils._rebuild_parameter", ([data]) => data);
  g.set("torch._utils._rebuild_parameter_with_state", ([data]) => data);
  g.set("torch._tensor._rebuild_from_type_v2", ([fn, _type, args]) => {
    if (typeof fn !== "function" || !Array.isArray(args)) {
      throw new Error(`torch._tensor._rebuild_from_type_v2 has unexpected arguments`);
    }
    return (fn as PickleCallable)(args);
  });
  g.set("torch.Tensor", () => TENSOR_TYPE);
  g.set("torch.nn.parameter.Parameter", () => TENSOR_TYPE);
  g.set("collections.OrderedDict", (args) => new Map(args.length ? (args[0] as []) : []));
  g.set("torch.Size", ([dims]) => intList(dims, "torch.Size"));
  g.set("torch.device", (args) => args.join(":"));
  for (const m of ["builtins", "__builtin__"]) {
    g.set(`${m}.set`, (args) => new Set((args[0] as unknown[]) ?? []));
    g.set(`${m}.frozenset`, (args) => new Set((args[0] as unknown[]) ?? []));
  }
  // Protocol 2 spells bytes as _codecs.encode(text, "latin1").
  g.set("_codecs.encode", ([text, encoding]) => {
    if (typeof text !== "string" || !/^latin-?1$/i.test(String(encoding))) {
      throw new Error(`_codecs.encode is allowed only for latin1 bytes`);
    }
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  });
  return g;
}

/** The storage type a pickled storage class stands for, if it is one. */
export function storageTypeOf(v: unknown): TorchStorageType | undefined {
  return (v as { storageType?: TorchStorageType } | null)?.storageType;
}
