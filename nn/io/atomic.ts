// Atomic file replacement (Deno): the bytes go to a temporary file in the same
// directory, are flushed to disk, and only then renamed over the target. A
// rename within one file system is atomic, so a reader (or a crash, or a
// kill -9 mid-write) sees either the complete old file or the complete new one.

/** The temporary file used while writing `path` (a stale one is overwritten). */
export function tempPathFor(path: string): string {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.partial`;
}

function dirOf(path: string): string {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let p = 0; p < bytes.length;) p += await file.write(bytes.subarray(p));
}

/**
 * Writes `data` (one array, or chunks written in order) to `path` atomically.
 * Two writers of the same path at the same time are not supported: they share
 * the temporary file.
 */
export async function atomicWriteFile(
  path: string,
  data: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const tmp = tempPathFor(path);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  } catch (e) {
    throw new Error(
      `${path}: cannot create the temporary file ${tmp} (${(e as Error).message}); ` +
        `check that the directory exists and is writable`,
    );
  }
  try {
    if (data instanceof Uint8Array) await writeAll(file, data);
    else for await (const chunk of data) await writeAll(file, chunk);
    await file.sync(); // the data must be on disk before the rename makes it visible
  } catch (e) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw new Error(
      `${path}: writing failed (${(e as Error).message}); the previous file is unchanged`,
    );
  }
  file.close();
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`${path}: could not replace the file (${(e as Error).message})`);
  }
  // Persist the rename itself; directories cannot be opened on every platform.
  try {
    const dir = await Deno.open(dirOf(path), { read: true });
    await dir.sync().catch(() => {});
    dir.close();
  } catch { /* best effort */ }
}
