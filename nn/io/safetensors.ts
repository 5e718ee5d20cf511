// safetensors read and write: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {string: string}} padded with spaces, then the tensor bytes (offsets are
// relative to the end of the header). Web-standard only.

import { concatBytes } from "../../base/bytes.ts";
import {
  dtypeSize,
  type HostDType,
  numel,
  type StateDict,
  tensorBytes,
  tensorFromBytes,
} from "./host_tensor.ts";

const TO_FILE: Record<HostDType, string> = {
  f32: "F32",
  f16: "F16",
  bf16: "BF16",
  i64: "I64",
  i32: "I32",
};
const FROM_FILE: Record<string, HostDType> = {
  F32: "f32",
  F16: "f16",
  BF16: "bf16",
  I64: "i64",
  I32: "i32",
};
const MAX_HEADER = 100 * 1024 * 1024;

/** A parsed safetensors file. */
export interface Safetensors {
  /** The tensors, in the header's order. */
  tensors: StateDict;
  /** The `__metadata__` string map ({} when absent). */
  metadata: Record<string, string>;
}

/**
 * The first key that appears twice in one object of a JSON text (JSON.parse keeps only the
 * last), or null. The text must already be valid JSON.
 */
export function firstDuplicateKey(json: string): string | null {
  const open: (Set<string> | null)[] = []; // per open container: its keys, null for an array
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    if (ch === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === "\\" ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        const keys = open[open.length - 1]!;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (ch === "{") {
      open.push(new Set());
      expectKey = true;
    } else if (ch === "[") open.push(null);
    else if (ch === "}" || ch === "]") open.pop();
    else if (ch === ",") expectKey = open[open.length - 1] instanceof Set;
  }
  return null;
}

function fail(name: string, what: string): never {
  throw new Error(`${name}: ${what}`);
}

/** Parses a safetensors file, validating the header, dtypes and every offset. */
export function readSafetensors(bytes: Uint8Array, name = "<safetensors bytes>"): Safetensors {
  if (bytes.length < 8) fail(name, `is too short to be a safetensors file (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) {
    fail(
      name,
      `header length ${headerLen} exceeds the file (${bytes.length} bytes); ` +
        `the file is truncated or not a safetensors file`,
    );
  }
  const dataStart = 8 + Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart)),
    );
  } catch (e) {
    fail(
      name,
      `header is not valid JSON (${(e as Error).message}); the file is corrupt or not safetensors`,
    );
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail(name, `header is not a JSON object`);
  }
  const duplicate = firstDuplicateKey(new TextDecoder().decode(bytes.subarray(8, dataStart)));
  if (duplicate !== null) {
    fail(name, `header names "${duplicate}" twice (safetensors refuses duplicate keys)`);
  }
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const spans: { key: string; begin: number; end: number }[] = [];
  const tensors: StateDict = new Map();

  for (const [key, entry] of Object.entries(header as Record<string, unknown>)) {
    if (key === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        fail(name, `__metadata__ is not an object of strings`);
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") fail(name, `__metadata__["${k}"] is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== "object" || e === null) fail(name, `tensor "${key}" has no header object`);
    const dtype = FROM_FILE[e.dtype as string];
    if (!dtype) {
      fail(
        name,
        `tensor "${key}" has dtype ${JSON.stringify(e.dtype)}; supported: ` +
          `${Object.keys(FROM_FILE).join(", ")} (convert the file, e.g. to F32)`,
      );
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(name, `tensor "${key}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offs = e.data_offsets;
    if (
      !Array.isArray(offs) || offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(name, `tensor "${key}" has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end || end > dataLen) {
      fail(
        name,
        `tensor "${key}" spans bytes [${begin}, ${end}) but the data section has ` +
          `${dataLen} bytes; the file is truncated or corrupt`,
      );
    }
    const need = numel(shape) * dtypeSize(dtype);
    if (end - begin !== need) {
      fail(
        name,
        `tensor "${key}" of shape [${shape}] ${e.dtype} needs ${need} bytes ` +
          `but its data_offsets span ${end - begin}`,
      );
    }
    if (end > begin) spans.push({ key, begin, end }); // empty tensors take no bytes
    tensors.set(
      key,
      tensorFromBytes(dtype, shape, bytes.subarray(dataStart + begin, dataStart + end)),
    );
  }
  // As the safetensors format requires: the tensors tile the data section exactly, with
  // neither overlaps nor gaps (a gap is bytes no header entry accounts for).
  spans.sort((a, b) => a.begin - b.begin);
  let covered = 0;
  for (let i = 0; i < spans.length; i++) {
    if (spans[i].begin < covered) {
      fail(name, `tensors "${spans[i - 1].key}" and "${spans[i].key}" overlap in the data section`);
    }
    if (spans[i].begin > covered) {
      fail(
        name,
        `the data section has a gap: bytes [${covered}, ${spans[i].begin}) before tensor ` +
          `"${spans[i].key}" belong to no tensor; the file is corrupt`,
      );
    }
    covered = spans[i].end;
  }
  if (covered !== dataLen) {
    fail(
      name,
      `the data section has ${dataLen} bytes but the tensors account for ${covered}; ` +
        `the file is corrupt or has trailing data`,
    );
  }
  return { tensors, metadata };
}

/**
 * The file as a list of byte chunks (header, then each tensor's bytes as a
 * view), so a large file can be written without one extra full copy.
 * Tensors are laid out by decreasing element size, keeping each aligned.
 */
export function safetensorsChunks(
  tensors: StateDict,
  metadata: Record<string, string> = {},
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") throw new Error(`safetensors metadata "${k}" must be a string`);
  }
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const order = [...tensors.keys()].sort((a, b) =>
    dtypeSize(tensors.get(b)!.dtype) - dtypeSize(tensors.get(a)!.dtype)
  );
  // The header lists tensors in their given order (kept on read); the data
  // section holds them in layout order.
  const entries: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> = {};
  for (const [key, t] of tensors) {
    if (key === "__metadata__") throw new Error(`a tensor may not be named "__metadata__"`);
    if (t.data.length !== numel(t.shape)) {
      throw new Error(`tensor "${key}" has ${t.data.length} elements but shape [${t.shape}]`);
    }
    entries[key] = header[key] = { dtype: TO_FILE[t.dtype], shape: t.shape, data_offsets: [] };
  }
  let offset = 0;
  const chunks: Uint8Array[] = [new Uint8Array(0)];
  for (const key of order) {
    const bytes = tensorBytes(tensors.get(key)!);
    entries[key].data_offsets = [offset, offset + bytes.length];
    offset += bytes.length;
    chunks.push(bytes);
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8; // data starts 8-byte aligned
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(json, 8);
  chunks[0] = head;
  return chunks;
}

/** The whole safetensors file as one byte array. */
export function encodeSafetensors(
  tensors: StateDict,
  metadata: Record<string, string> = {},
): Uint8Array {
  return concatBytes(safetensorsChunks(tensors, metadata));
}
