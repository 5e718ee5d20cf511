// Reads a PyTorch .pth / .pt file (torch.save, zip format of PyTorch >= 1.6)
// in memory: `<archive>/data.pkl` is the pickled object, `<archive>/data/<key>`
// the raw bytes of each storage. Web-standard only: the caller passes bytes.

import { unzipSync } from "fflate";
import { isHostTensor, type StateDict } from "./host_tensor.ts";
import { unpickle, UnsafePickleError } from "./pickle.ts";
import { decodeStorage, storageTypeOf, torchGlobals, type TorchStorage } from "./torch_pickle.ts";
import { crc32, zipCrcs } from "./zip_crc.ts";

const CONVERT_HINT = `convert it with a recent PyTorch (>= 1.6): ` +
  `python3 -c "import torch; torch.save(torch.load('old.pth', map_location='cpu'), 'new.pth')"`;

/** What kind of weight file some bytes are, judged by their first bytes. */
export function sniffWeightFile(
  bytes: Uint8Array,
): "zip" | "legacy-pickle" | "legacy-tar" | "safetensors" | "unknown" {
  const b = bytes;
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5)) return "zip";
  // safetensors: a little-endian u64 header length that fits the file, then "{".
  if (b.length >= 10 && b[8] === 0x7b) {
    const n = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (n <= BigInt(b.length - 8)) return "safetensors";
  }
  // Legacy torch.save: a pickle (protocol 2+) whose first value is a LONG1 magic number.
  if (b.length >= 3 && b[0] === 0x80 && b[1] >= 2 && b[1] <= 5 && b[2] === 0x8a) {
    return "legacy-pickle";
  }
  if (b.length >= 262 && new TextDecoder().decode(b.subarray(257, 262)) === "ustar") {
    return "legacy-tar";
  }
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

  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    fail(
      name,
      `is a damaged zip archive (${(e as Error).message}); ` +
        `the file is probably truncated or corrupt, download or save it again`,
    );
  }
  const pkl = Object.keys(files).filter((f) => /^[^/]+\/data\.pkl$/.test(f));
  if (pkl.length !== 1) {
    fail(
      name,
      `is a zip archive but not a torch.save file (expected one <archive>/data.pkl, ` +
        `found ${pkl.length}; entries: ${Object.keys(files).slice(0, 5).join(", ")})`,
    );
  }
  const prefix = pkl[0].slice(0, -"data.pkl".length);
  const crcs = zipCrcs(bytes);
  const entry = (path: string): Uint8Array => {
    const data = files[path];
    if (!data) fail(name, `has no entry ${path} (the archive is incomplete)`);
    const crc = crcs.get(path);
    if (crc !== undefined && crc32(data) !== crc) {
      fail(
        name,
        `entry ${path} fails its CRC-32 check; the file is corrupt, download or save it again`,
      );
    }
    return data;
  };
  const order = files[prefix + "byteorder"];
  const bigEndian = order !== undefined && new TextDecoder().decode(order).trim() === "big";

  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: unknown): TorchStorage => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
      fail(name, `has a persistent id that is not a storage`);
    }
    const [, cls, key, , count] = pid as [string, unknown, string, string, number];
    const type = storageTypeOf(cls);
    if (!type) fail(name, `has a storage of an unknown type`);
    if (typeof key !== "string" || !Number.isInteger(count) || count < 0) {
      fail(name, `has a malformed storage id`);
    }
    // Tensors that share a storage get the same decoded storage.
    let st = storages.get(key);
    if (!st) {
      st = decodeStorage(key, type, count, entry(`${prefix}data/${key}`), bigEndian);
      storages.set(key, st);
    }
    return st;
  };

  try {
    return unpickle(entry(pkl[0]), { globals: torchGlobals(), persistentLoad });
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
