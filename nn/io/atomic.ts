// Atomic file replacement (Deno): the bytes go to a temporary file in the same
// directory, are flushed to disk, and only then renamed over the target. A
// rename within one file system is atomic, so a reader (or a crash, or a
// kill -9 mid-write) sees either the complete old file or the complete new one.
//
// The temporary file has a name no one else uses (pid and a random part) and is
// created exclusively (O_CREAT|O_EXCL, which never follows a symlink), so a file
// planted under a predictable name cannot redirect the write, and two writers of
// the same path never share a temporary file. The rename replaces a symlink at the
// target itself, never the file it points to.

const TEMP_SUFFIX = ".partial";

/** True for the names of temporary files left by atomicWriteFile (e.g. after kill -9). */
export function isTempName(name: string): boolean {
  return name.startsWith(".") && name.endsWith(TEMP_SUFFIX);
}

/** A fresh temporary path for writing `path`: `.<name>.<pid>-<random>.partial` beside it. */
export function tempPathFor(path: string): string {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const unique = `${Deno.pid}-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`;
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${unique}${TEMP_SUFFIX}`;
}

function dirOf(path: string): string {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let p = 0; p < bytes.length;) p += await file.write(bytes.subarray(p));
}

/**
 * Creates a new file that did not exist (never following a symlink) under a unique
 * temporary name beside `path`; the caller writes it and then calls `commit` to rename
 * it over `path`, or `discard`.
 */
export async function createTemp(path: string): Promise<{
  file: Deno.FsFile;
  tmp: string;
  commit(): Promise<void>;
  discard(): Promise<void>;
}> {
  const tmp = tempPathFor(path);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
  } catch (e) {
    throw new Error(
      `${path}: cannot create the temporary file ${tmp} (${(e as Error).message}); ` +
        `check that the directory exists and is writable`,
    );
  }
  return {
    file,
    tmp,
    async commit() {
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
    },
    async discard() {
      await Deno.remove(tmp).catch(() => {});
    },
  };
}

/** Writes `data` (one array, or chunks written in order) to `path` atomically. */
export async function atomicWriteFile(
  path: string,
  data: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const t = await createTemp(path);
  try {
    if (data instanceof Uint8Array) await writeAll(t.file, data);
    else for await (const chunk of data) await writeAll(t.file, chunk);
    await t.file.sync(); // the data must be on disk before the rename makes it visible
  } catch (e) {
    t.file.close();
    await t.discard();
    throw new Error(
      `${path}: writing failed (${(e as Error).message}); the previous file is unchanged`,
    );
  }
  t.file.close();
  await t.commit();
}

/** atomicWriteFile of a string (UTF-8). */
export function atomicWriteText(path: string, text: string): Promise<void> {
  return atomicWriteFile(path, new TextEncoder().encode(text));
}
