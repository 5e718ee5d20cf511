// Reading a file the user named, safely: only regular files are opened (a FIFO would block
// the open, a character device such as /dev/zero never ends, a directory is not data), and
// the size is checked against a cap before a byte is allocated. Errors name the file, say
// what it is instead and what to do.

/** What a non-regular file is, in words. */
function kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

export interface ReadLimits {
  /** What the file is, for messages: "weight", "image", ... */
  what: string;
  /** Largest size accepted, in bytes. */
  maxBytes: number;
  /** How to raise the cap, appended to the size error (e.g. a flag). */
  raiseHint?: string;
}

/** Throws unless `info` is a regular file within the size cap. */
export function checkRegularFile(path: string, info: Deno.FileInfo, limits: ReadLimits): void {
  if (!info.isFile) {
    throw new Error(
      `${path}: the ${limits.what} file is ${kindOf(info)}, not a regular file; pass a file`,
    );
  }
  if (info.size > limits.maxBytes) {
    throw new Error(
      `${path}: the ${limits.what} file has ${info.size} bytes, more than the limit of ` +
        `${limits.maxBytes}${limits.raiseHint ? ` (${limits.raiseHint})` : ""}`,
    );
  }
}

function notFound(path: string, what: string, e: unknown): Error {
  if (e instanceof Deno.errors.NotFound) {
    return new Error(`${path}: ${what} file not found; check the path`);
  }
  return new Error(`${path}: cannot read the ${what} file (${(e as Error).message})`);
}

/** Reads the bytes of a regular file, refusing anything else and anything over the cap. */
export async function readRegularFile(path: string, limits: ReadLimits): Promise<Uint8Array> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path); // before open: opening a FIFO blocks until a writer comes
  } catch (e) {
    throw notFound(path, limits.what, e);
  }
  checkRegularFile(path, info, limits);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw notFound(path, limits.what, e);
  }
  try {
    const opened = await file.stat(); // the file actually opened (it may have been swapped)
    checkRegularFile(path, opened, limits);
    const out = new Uint8Array(opened.size);
    let got = 0;
    while (got < out.length) {
      const n = await file.read(out.subarray(got));
      if (n === null) break;
      got += n;
    }
    return got === out.length ? out : out.subarray(0, got);
  } finally {
    file.close();
  }
}

/** readRegularFile, synchronously (for decoders that run in loader workers). */
export function readRegularFileSync(path: string, limits: ReadLimits): Uint8Array {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    throw notFound(path, limits.what, e);
  }
  checkRegularFile(path, info, limits);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    throw notFound(path, limits.what, e);
  }
  try {
    const opened = file.statSync();
    checkRegularFile(path, opened, limits);
    const out = new Uint8Array(opened.size);
    let got = 0;
    while (got < out.length) {
      const n = file.readSync(out.subarray(got));
      if (n === null) break;
      got += n;
    }
    return got === out.length ? out : out.subarray(0, got);
  } finally {
    file.close();
  }
}
