// Error types that more than one room throws, each naming what is wrong and where.

/** An archive (zip, tar, gzip) that is malformed or uses an unsupported feature. */
export class ArchiveError extends Error {
  /** `file` names the archive, `reason` says what is wrong with it. */
  constructor(readonly file: string, readonly reason: string) {
    super(`cannot read archive "${file}": ${reason}`);
    this.name = "ArchiveError";
  }
}

/**
 * A shape, dtype or argument that an nn/ function or layer cannot take. The message starts
 * with the function's name; callers (train/, the CLI) show it as it is, no wrapping needed.
 */
export class ArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArgumentError";
  }
}
