// Checkpoint files: the bytes of nn/io/checkpoint_bytes.ts written atomically and read back
// as regular files only (re-exported here, so one import serves both).

import { readRegularFile } from "../../data/regular_file.ts";
import { atomicWriteFile } from "./atomic.ts";
import { type Checkpoint, decodeCheckpoint, encodeCheckpoint } from "./checkpoint_bytes.ts";

export * from "./checkpoint_bytes.ts";

/** Writes a checkpoint atomically: a kill mid-write leaves the previous file intact. */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  await atomicWriteFile(path, encodeCheckpoint(ckpt));
}

/** Reads a checkpoint written by saveCheckpoint. */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return decodeCheckpoint(await readFileNamed(path, "checkpoint"), path);
}

/** Largest weight or checkpoint file read (ResNet18's are 45 MB). */
export const MAX_WEIGHT_FILE_BYTES = 2 ** 31 - 1;

/**
 * Reads a weight or checkpoint file: a regular file only (a FIFO, device or directory is a
 * named error), within MAX_WEIGHT_FILE_BYTES; errors say which file and what to do.
 */
export function readFileNamed(path: string, what: string): Promise<Uint8Array> {
  return readRegularFile(path, { what, maxBytes: MAX_WEIGHT_FILE_BYTES });
}
