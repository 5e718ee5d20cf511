// Reads a PyTorch .pth / .pt file (torch.save, zip format of PyTorch >= 1.6)
// in memory: `<archive>/data.pkl` is the pickled object, `<archive>/data/<key>`
// the raw bytes of each storage. Web-standard only: the caller passes bytes.
// Sizes are checked before memory is taken: each storage's entry against the element
// count the pickle gives, their total against a cap, each view against its storage.

import { ArchiveError } from "../../base/errors.ts";
import { ZipArchive } from "../../base/zip.ts";
import { isHostTensor, type StateDict } from "./host_tensor.ts";
import { unpickle, UnsafePickleError } from "./pickle.ts";
import {
  decodeStorage,
  storageElementBytes,
  storageTypeOf,
  torchGlobals,
  type TorchStorage,
} from "./torch_pickle.ts";

/** Largest data.pkl read (a state dict's pickle is a few tens of KiB). */
const MAX_PICKLE_BYTES = 1 << 28;
/** Largest total of tensor data read from one file (ResNet18 has 45 MB). */
export const MAX_PTH_TENSOR_BYTES = 2 ** 31 - 1;

const CONVERT_HINT = `convert it with a recent PyTorch (>= 1.6): ` +
  `python3 -c "import torch; torch.save(torch.load('old.pth', map_location='cpu'), 'new.pth')"`;

/** What kind of weight file some bytes are, judged by their first bytes. */
export function sniffWeightFile(
  bytes: Uint8Array,
): "zip" | "legacy-pickle" | "legacy-tar" | "safetensors" | "unknown" {
  const b = bytes;
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5)) return "zip";
  // safetensors has no magic number: a little-endian u64 header length, then the JSON
  // header. A length that fits the file followed by "{" is safetensors for sure...
  const headerLen = b.length >= 8
    ? new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true)
    : -1n;
  const fits = headerLen >= 0n && headerLen <= BigInt(b.length - 8);
  if (b.length >= 10 && b[8] === 0x7b && fits) return "safetensors";
  // Legacy torch.save: a pickle (protocol 2+) whose first value is a LONG1 magic number.
  if (b.length >= 3 && b[0] === 0x80 && b[1] >= 2 && b[1] <= 5 && b[2] === 0x8a) {
    return "legacy-pickle";
  }
  if (b.length >= 262 && new TextDecoder().decode(b.subarray(257, 262)) === "ustar") {
    return "legacy-tar";
  }
  // ...and a "{" after an impossible length, or a plausible length before something else,
  // is a damaged safetensors file: its own reader says what is wrong (header too long,
  // not an object, empty) rather than "not a .pth".
  if (b.length >= 9 && (b[8] === 0x7b || fits)) return "safetensors";
  return "unknown";
}

function fail(name: string, what: string): never {
  throw new Error(`${name}: ${what}`);
}

/**
 * Reads the whole object saved by torch.save (a state dict, or a checkpoint
 * dict with other entries). Tensors come back as contiguous HostTensors,
 * dicts as Maps. Only allow-listed pickle globals are accepted.
 */
export function readPthObject(bytes: Uint8Array, name = "<.pth bytes>"): unknown {
  const kind = sniffWeightFile(bytes);
  if (kind === "legacy-pickle" || kind === "legacy-tar") {
    fail(
      name,
      `is a PyTorch file in the legacy (pre-1.6) format, which is not supported; ${CONVERT_HINT}`,
    );
  }
  if (kind === "safetensors") {
    fail(name, `is a safetensors file, not a PyTorch .pth; read it with readSafetensors`);
  }
  if (kind !== "zip") {
    fail(
      name,
      `is not a PyTorch .pth file (no zip signature at the start; ${bytes.length} bytes). ` +
        `Check that the file is complete and is what torch.save wrote`,
    );
  }

  let zip: ZipArchive;
  try {
    zip = ZipArchive.fromBytes(bytes, name);
  } catch (e) {
    fail(
      name,
      `is a damaged zip archive (${(e as ArchiveError).reason ?? (e as Error).message}); ` +
        `the file is probably truncated or corrupt, download or save it again`,
    );
  }
  const names = zip.entries.map((e) => e.name);
  const pkl = names.filter((f) => /^[^/]+\/data\.pkl$/.test(f));
  if (pkl.length !== 1) {
    fail(
      name,
      `is a zip archive but not a torch.save file (expected one <archive>/data.pkl, ` +
        `found ${pkl.length}; entries: ${names.slice(0, 5).join(", ")})`,
    );
  }
  const prefix = pkl[0].slice(0, -"data.pkl".length);
  // Entries are read only when the pickle refers to them (an unused entry is never
  // inflated), each within its cap, CRC-checked by the zip reader.
  let budget = MAX_PTH_TENSOR_BYTES;
  const entry = (path: string, maxBytes: number): Uint8Array => {
    if (!zip.has(path)) fail(name, `has no entry ${path} (the archive is incomplete)`);
    try {
      return zip.read(path, maxBytes);
    } catch (e) {
      if (!(e instanceof ArchiveError)) throw e;
      const why = e.reason.startsWith("CRC")
        ? "fails its CRC-32 check; the file is corrupt, download or save it again"
        : e.reason;
      fail(name, `entry ${path} ${why}`);
    }
  };
  const order = zip.has(prefix + "byteorder") ? entry(prefix + "byteorder", 16) : undefined;
  const bigEndian = order !== undefined && new TextDecoder().decode(order).trim() === "big";

  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: unknown): TorchStorage => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
      fail(name, `has a persistent id that is not a storage`);
    }
    const [, cls, key, , count] = pid as [string, unknown, string, string, number];
    const type = storageTypeOf(cls);
    if (!type) fail(name, `has a storage of an unknown type`);
    if (typeof key !== "string" || !Number.isSafeInteger(count) || count < 0) {
      fail(name, `has a malformed storage id`);
    }
    // Tensors that share a storage get the same decoded storage.
    let st = storages.get(key);
    if (!st) {
      const path = `${prefix}data/${key}`;
      const need = count * storageElementBytes(type);
      const declared = zip.has(path) ? zip.entry(path).size : 0;
      if (zip.has(path) && declared < need) {
        fail(
          name,
          `storage ${path} holds ${declared} bytes but the pickle says ${count} elements ` +
            `(${need} bytes); the file is corrupt`,
        );
      }
      const size = Math.max(need, declared);
      if (size > budget) {
        fail(
          name,
          `its tensors need more than ${MAX_PTH_TENSOR_BYTES} bytes in all; ` +
            `this is not a ResNet-sized weight file (or it is corrupt)`,
        );
      }
      budget -= size;
      st = decodeStorage(key, type, count, entry(path, size), bigEndian);
      storages.set(key, st);
    }
    return st;
  };

  try {
    return unpickle(entry(pkl[0], MAX_PICKLE_BYTES), { globals: torchGlobals(), persistentLoad });
  } catch (e) {
    if (e instanceof UnsafePickleError) {
      throw new UnsafePickleError(e.global, name);
    }
    const msg = (e as Error).message;
    if (msg.startsWith(name + ":")) throw e;
    fail(name, `${msg}`);
  }
}

const NESTED_KEYS = ["state_dict", "model_state_dict", "model"];

function asStateDict(v: unknown): StateDict | undefined {
  if (!(v instanceof Map) || v.size === 0) return undefined;
  const out: StateDict = new Map();
  for (const [k, t] of v) {
    if (typeof k !== "string") return undefined;
    if (k.endsWith("_extra_state")) continue; // module extra state: not a tensor
    if (!isHostTensor(t)) return undefined;
    out.set(k, t);
  }
  return out;
}

/**
 * Finds the state dict in what torch.save wrote: the object itself, or its
 * "state_dict" / "model_state_dict" / "model" entry. A DataParallel
 * "module." prefix on every key is stripped.
 */
export function extractStateDict(obj: unknown, name = "<.pth bytes>"): StateDict {
  let sd = asStateDict(obj);
  if (!sd && obj instanceof Map) {
    for (const k of NESTED_KEYS) {
      sd = asStateDict(obj.get(k));
      if (sd) break;
    }
  }
  if (!sd) {
    const keys = obj instanceof Map ? [...obj.keys()].slice(0, 8).join(", ") : typeof obj;
    fail(
      name,
      `holds no state dict: expected a dict of tensors, or a dict with a ` +
        `${NESTED_KEYS.map((k) => `"${k}"`).join("/")} entry holding one (found: ${keys})`,
    );
  }
  const keys = [...sd.keys()];
  if (keys.every((k) => k.startsWith("module."))) {
    return new Map(keys.map((k) => [k.slice("module.".length), sd!.get(k)!]));
  }
  return sd;
}

/** Reads a .pth file's state dict (bare, or inside a checkpoint dict). */
export function readPth(bytes: Uint8Array, name = "<.pth bytes>"): StateDict {
  return extractStateDict(readPthObject(bytes, name), name);
}
